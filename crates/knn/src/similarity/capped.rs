//! The capped store for large catalogues: each pair computed once and
//! offered to both items' bounded lists, block by block, or (where that does
//! not pay) every item's full row cut to its best.

use super::*;

/// The capped build for large catalogues (see [`pairwise_pays`]): each
/// pair computed once, as in the exact build (item
/// `i` accumulates over the items after it in each rater's row), and each
/// similarity offered to both items' bounded lists of their `cap` best
/// neighbours by [`by_preference`].
///
/// Rows are taken [`TASK`] at a time from a shared counter by one worker
/// per thread; each worker holds its own lists (at most `cap` entries of
/// 8 bytes per item) and a threshold per item (the worst entry of a full
/// list), so that a candidate below it is dropped with one comparison. The
/// workers' lists are merged at the end. The best `cap` under a total
/// order do not depend on the order of the offers, and every similarity is
/// bit for bit what a full row gives (see [`build_sparse`]), so the store
/// is the same for any thread count and equals the exact store's rows cut
/// to their best `cap`.
///
/// Memory: the input in its compact form (see [`Centred`]: 20 bytes per
/// rating, 500 MB at 25 million), per worker one [`Scratch`]
/// (about 80 bytes per item) plus its lists (at most `8 * cap` bytes per
/// item and a 12-byte threshold), then the store (`8 * cap` bytes per item
/// at most): on the ml-25m shape (59,047 movies, cap 200) about 95 MB per
/// worker and 95 MB for the store. No all-pairs structure is ever held.
pub(super) fn build_capped(
    n: usize,
    input: &Centred,
    rule: Rule,
    cap: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Similarities {
    let n_chunks = n.div_ceil(TASK);
    let workers = rayon::current_num_threads().clamp(1, n_chunks.max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let lists: Vec<TopLists> = (0..workers)
        .into_par_iter()
        .map(|_| {
            let mut s = Scratch::new(n);
            let mut lists = TopLists::new(n, cap);
            loop {
                let c = next.fetch_add(1, AtomicOrdering::Relaxed);
                if c >= n_chunks {
                    break;
                }
                let rows = c * TASK..((c + 1) * TASK).min(n);
                let count = rows.len();
                capped_rows(&mut s, &mut lists, input, rule, rows);
                progress(done.fetch_add(count, AtomicOrdering::Relaxed) + count, n);
            }
            lists
        })
        .collect();
    // Merge the workers' lists, item by item.
    let rows: Vec<(Vec<u32>, Vec<f32>)> = (0..n)
        .into_par_iter()
        .with_min_len(TASK)
        .map_init(Vec::new, |pairs: &mut Vec<(f32, u32)>, i| {
            pairs.clear();
            for l in &lists {
                pairs.extend(l.heaps[i].iter().map(|c| (c.0, c.1)));
            }
            best_of(pairs, cap)
        })
        .collect();
    drop(lists);
    let nnz = rows.iter().map(|r| r.0.len()).sum();
    let mut store = Similarities {
        ptr: Vec::with_capacity(n + 1),
        items: Vec::with_capacity(nnz),
        sims: Vec::with_capacity(nnz),
    };
    store.ptr.push(0);
    store.append_rows(rows);
    store
}

/// The capped build for small catalogues (see [`pairwise_pays`]): full
/// rows, [`BLOCK`] items at a time, each cut to its `cap` best neighbours
/// before the next block starts; peak memory is the capped store plus one
/// block of full rows.
pub(super) fn build_capped_by_rows(
    n: usize,
    input: &Centred,
    rule: Rule,
    cap: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Similarities {
    let mut store = Similarities {
        ptr: Vec::with_capacity(n + 1),
        items: Vec::new(),
        sims: Vec::new(),
    };
    store.ptr.push(0);
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let rows: Vec<(Vec<u32>, Vec<f32>)> = (start..end)
            .into_par_iter()
            .with_min_len(TASK)
            .map_init(
                || Scratch::new(n),
                |s, i| {
                    s.accumulate(i, input, false);
                    let len = s.emit(i, 0, rule, false);
                    capped(&s.items[..len], &s.sims[..len], cap)
                },
            )
            .collect();
        store.append_rows(rows);
        progress(end, n);
    }
    store.items.shrink_to_fit();
    store.sims.shrink_to_fit();
    store
}

impl Similarities {
    /// Appends rows `(items, similarities)` to the store, one offset each.
    fn append_rows(&mut self, rows: Vec<(Vec<u32>, Vec<f32>)>) {
        for (ri, rs) in rows {
            self.items.extend_from_slice(&ri);
            self.sims.extend_from_slice(&rs);
            self.ptr.push(self.items.len());
        }
    }
}

/// Items per block of [`build_capped_by_rows`].
const BLOCK: usize = 1024;

/// A row kept to its `cap` best neighbours by [`by_preference`], in index
/// order.
fn capped(items: &[u32], sims: &[f32], cap: usize) -> (Vec<u32>, Vec<f32>) {
    if items.len() <= cap {
        return (items.to_vec(), sims.to_vec());
    }
    let mut pairs: Vec<(f32, u32)> = sims.iter().copied().zip(items.iter().copied()).collect();
    best_of(&mut pairs, cap)
}

/// The `cap` best `(similarity, item)` pairs by [`by_preference`], in index
/// order, as `(items, similarities)`.
fn best_of(pairs: &mut Vec<(f32, u32)>, cap: usize) -> (Vec<u32>, Vec<f32>) {
    if pairs.len() > cap {
        pairs.select_nth_unstable_by(cap - 1, |a, b| by_preference(*a, *b));
        pairs.truncate(cap);
    }
    pairs.sort_unstable_by_key(|p| p.1);
    (
        pairs.iter().map(|p| p.1).collect(),
        pairs.iter().map(|p| p.0).collect(),
    )
}

/// Upper rows `rows` of the capped build: each pair's similarity offered
/// to both items' lists; returns the number of pairs offered.
fn capped_rows(
    s: &mut Scratch,
    lists: &mut TopLists,
    input: &Centred,
    rule: Rule,
    rows: Range<usize>,
) -> usize {
    let mut offered = 0;
    for i in rows {
        let len = pulp::Arch::new().dispatch(UpperRow {
            scratch: s,
            i,
            input,
            rule,
        });
        for (&j, &v) in s.items[..len].iter().zip(&s.sims[..len]) {
            lists.offer(i, v, j);
            lists.offer(j as usize, v, i as u32);
        }
        offered += len;
    }
    offered
}

/// One block of the capped similarity build on a prepared input: what a
/// benchmark at a large shape times without building all of it.
pub struct CappedBlock {
    input: Centred,
    rule: Rule,
    n: usize,
    cap: usize,
}

impl CappedBlock {
    /// The build's input for `train` under `cfg` (its `max_neighbours`, or
    /// [`LARGE_NEIGHBOURS`](crate::LARGE_NEIGHBOURS) when it has none).
    ///
    /// # Errors
    /// An invalid configuration.
    pub fn new(train: &RatingMatrix, cfg: &KnnConfig) -> Result<Self> {
        cfg.validate()?;
        let (m, b) = orient(train, cfg)?;
        Ok(Self {
            input: Centred::new(&m, &b, cfg.similarity, true),
            rule: Rule::new(cfg),
            n: m.n_items(),
            cap: cfg.max_neighbours.unwrap_or(crate::LARGE_NEIGHBOURS),
        })
    }

    /// Number of compared items.
    pub fn n_items(&self) -> usize {
        self.n
    }

    /// Runs rows `rows` (clamped to the items) of the build into fresh
    /// lists, on this thread; returns the number of pairs offered.
    pub fn run(&self, rows: Range<usize>) -> usize {
        let rows = rows.start.min(self.n)..rows.end.min(self.n);
        let mut s = Scratch::new(self.n);
        let mut lists = TopLists::new(self.n, self.cap);
        capped_rows(&mut s, &mut lists, &self.input, self.rule, rows)
    }
}

/// A candidate neighbour `(similarity, item)`, ordered so that a worse one
/// is greater: a [`BinaryHeap`] of them keeps the worst on top.
#[derive(Debug, Clone, Copy)]
struct Cand(f32, u32);

impl PartialEq for Cand {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Cand {}

impl PartialOrd for Cand {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cand {
    fn cmp(&self, other: &Self) -> Ordering {
        by_preference((self.0, self.1), (other.0, other.1))
    }
}

/// Every item's best `cap` candidates so far (a heap each), and the worst
/// kept candidate of each full list, the bar a new one must pass.
struct TopLists {
    cap: usize,
    heaps: Vec<BinaryHeap<Cand>>,
    /// `Some(worst)` once the item's list is full.
    bar: Vec<Option<Cand>>,
}

impl TopLists {
    fn new(n: usize, cap: usize) -> Self {
        Self {
            cap,
            heaps: (0..n).map(|_| BinaryHeap::new()).collect(),
            bar: vec![None; n],
        }
    }

    /// Offers `j` with similarity `s` as a neighbour of `i`.
    #[inline]
    fn offer(&mut self, i: usize, s: f32, j: u32) {
        let c = Cand(s, j);
        match self.bar[i] {
            Some(worst) if c >= worst => {}
            Some(_) => {
                let h = &mut self.heaps[i];
                if let Some(mut top) = h.peek_mut() {
                    *top = c;
                }
                self.bar[i] = h.peek().copied();
            }
            None => {
                let h = &mut self.heaps[i];
                if h.capacity() == 0 {
                    h.reserve_exact(self.cap);
                }
                h.push(c);
                if h.len() == self.cap {
                    self.bar[i] = h.peek().copied();
                }
            }
        }
    }
}
