//! The DSGD blocking of the training ratings ([`Layout`]): user and item
//! strata balanced by rating count, the ratings grouped by block, the
//! factors in the strata's row order ([`State`]), and one epoch run over
//! the blocks in a [`Schedule`]'s order, on one thread or many.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use movierec_core::{rng_for, ItemIdx, RatingMatrix, UserIdx};
use rand::seq::SliceRandom;

use crate::kernel::{Aligned, BlockPass, Entry, Step, CHUNK};
use crate::schedule::{chunk_stream, Schedule};
use crate::train::{Exec, View};

/// Numbers of user and item strata `(U, I)`: `U` enough that one user
/// stratum's factors fit in [`STRATUM_BYTES`], rounded up to a multiple
/// of the thread count; `I` enough that one item stratum's factors fit
/// there too, and at least `2 U` when there are fewer than two user
/// strata per thread (so that a stratum can run ahead of the next, see
/// `Schedule`), rounded up to a multiple of `U`.
pub(crate) fn strata(
    threads: usize,
    n_users: usize,
    n_items: usize,
    stride: usize,
) -> (usize, usize) {
    let for_cache = |rows: usize| (rows * stride * 4).div_ceil(STRATUM_BYTES).max(1);
    let t = threads.max(1);
    let users = for_cache(n_users).div_ceil(t) * t;
    let slack = if t > 1 && users < 2 * t {
        2 * users
    } else {
        users
    };
    let items = for_cache(n_items).max(slack).div_ceil(users) * users;
    (users, items)
}

/// Most bytes of factors in one stratum: a block's user and item rows
/// together, about 1 MiB, stay in a core's L2 cache (1.25 MiB or more on
/// current server cores) while the block runs.
const STRATUM_BYTES: usize = 1 << 19;

/// Factors and biases in the layout's internal row order.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub p: Aligned,
    pub q: Aligned,
    pub bu: Vec<f32>,
    pub bi: Vec<f32>,
}

impl State {
    /// Whether every factor and bias is a finite number (one pass over the
    /// parameters, a small fraction of an epoch's work).
    pub fn is_finite(&self) -> bool {
        [&self.p[..], &self.q[..], &self.bu, &self.bi]
            .iter()
            .all(|v| v.iter().all(|x| x.is_finite()))
    }

    pub fn view(&self, k: usize, mu: f32) -> View<'_> {
        View {
            k,
            p: &self.p,
            q: &self.q,
            bu: &self.bu,
            bi: &self.bi,
            mu,
        }
    }
}

/// A permutation of users (or items) grouping each stratum's rows together.
#[derive(Debug, Clone)]
pub(crate) struct Strata {
    /// External index -> internal row.
    pub pos: Vec<u32>,
    /// First internal row of each stratum, plus the total (`B + 1` values).
    pub start: Vec<usize>,
    /// Stratum of each external index.
    pub of: Vec<u32>,
}

impl Strata {
    /// Greedy balancing: rows by decreasing rating count go to the stratum
    /// with the fewest ratings so far (ties by index), then each stratum's
    /// rows keep their external order.
    pub fn balance(counts: &[usize], b: usize) -> Self {
        let n = counts.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&x, &y| counts[y].cmp(&counts[x]).then(x.cmp(&y)));
        let mut load = vec![0usize; b];
        let mut of = vec![0u32; n];
        for &x in &order {
            let s = (0..b).min_by_key(|&s| (load[s], s)).unwrap_or(0);
            load[s] += counts[x];
            of[x] = s as u32;
        }
        let mut size = vec![0usize; b + 1];
        for &s in &of {
            size[s as usize + 1] += 1;
        }
        let mut start = size;
        for s in 0..b {
            start[s + 1] += start[s];
        }
        let mut next = start.clone();
        let mut pos = vec![0u32; n];
        for x in 0..n {
            let s = of[x] as usize;
            pos[x] = next[s] as u32;
            next[s] += 1;
        }
        Self { pos, start, of }
    }

    /// Rows of `width` values from external order to internal order, each
    /// row zero-padded to `stride` values.
    pub fn to_internal(&self, ext: &[f32], width: usize, stride: usize) -> Aligned {
        let mut out = Aligned::zeroed(self.pos.len() * stride);
        for (x, &p) in self.pos.iter().enumerate() {
            let p = p as usize;
            out[p * stride..p * stride + width].copy_from_slice(&ext[x * width..(x + 1) * width]);
        }
        out
    }

    /// Rows of `stride` values (internal order) back to external order,
    /// keeping the first `width` of each.
    pub fn to_external(&self, int: &[f32], width: usize, stride: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.pos.len() * width];
        for (x, &p) in self.pos.iter().enumerate() {
            let p = p as usize;
            out[x * width..(x + 1) * width].copy_from_slice(&int[p * stride..p * stride + width]);
        }
        out
    }

    /// Splits `rows` (internal order, `width` per row) into one slice per stratum.
    pub fn split<'a, T>(&self, rows: &'a mut [T], width: usize) -> Vec<&'a mut [T]> {
        let bounds: Vec<usize> = self.start.iter().map(|&s| s * width).collect();
        split_at_bounds(rows, &bounds)
    }
}

/// The DSGD blocking of the training ratings.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// User strata.
    pub bu: usize,
    /// Item strata, a multiple of `bu`.
    pub bi: usize,
    pub users: Strata,
    pub items: Strata,
    /// Ratings grouped by block `a * bi + c` (user stratum a, item stratum
    /// c), with rows relative to their strata's first rows; shuffled once
    /// within each block.
    pub entries: Vec<Entry>,
    /// First entry of each block, plus the total.
    pub block_start: Vec<usize>,
    /// First chunk of each block in the chunk-order list, plus the total.
    pub chunk_start: Vec<usize>,
}

impl Layout {
    pub fn new(train: &RatingMatrix, (bu, bi): (usize, usize), seed: u64) -> Self {
        debug_assert_eq!(bi % bu, 0, "item strata are a multiple of user strata");
        let user_counts: Vec<usize> = (0..train.n_users())
            .map(|u| train.user_count(UserIdx(u as u32)))
            .collect();
        let item_counts: Vec<usize> = (0..train.n_items())
            .map(|i| train.item_count(ItemIdx(i as u32)))
            .collect();
        let users = Strata::balance(&user_counts, bu);
        let items = Strata::balance(&item_counts, bi);
        let n_blocks = bu * bi;
        let block_of = |u: usize, i: usize| users.of[u] as usize * bi + items.of[i] as usize;
        let mut block_start = vec![0usize; n_blocks + 1];
        for u in 0..train.n_users() {
            for &i in train.user_ratings(UserIdx(u as u32)).0 {
                block_start[block_of(u, i) + 1] += 1;
            }
        }
        for x in 0..n_blocks {
            block_start[x + 1] += block_start[x];
        }
        let mut next = block_start.clone();
        let mut entries = vec![Entry { u: 0, i: 0, r: 0.0 }; train.nnz()];
        for u in 0..train.n_users() {
            let (items_u, values) = train.user_ratings(UserIdx(u as u32));
            for (&i, &r) in items_u.iter().zip(values) {
                let blk = block_of(u, i);
                let (su, si) = (users.of[u] as usize, items.of[i] as usize);
                entries[next[blk]] = Entry {
                    u: users.pos[u] - users.start[su] as u32,
                    i: items.pos[i] - items.start[si] as u32,
                    r,
                };
                next[blk] += 1;
            }
        }
        let mut chunk_start = vec![0usize; n_blocks + 1];
        for x in 0..n_blocks {
            let blk = &mut entries[block_start[x]..block_start[x + 1]];
            blk.shuffle(&mut rng_for(seed, x as u64 + 1));
            chunk_start[x + 1] = chunk_start[x] + blk.len().div_ceil(CHUNK);
        }
        Self {
            bu,
            bi,
            users,
            items,
            entries,
            block_start,
            chunk_start,
        }
    }

    /// Every block's chunks in index order.
    pub fn initial_order(&self) -> Vec<u32> {
        self.chunk_start
            .windows(2)
            .flat_map(|w| 0..(w[1] - w[0]) as u32)
            .collect()
    }

    /// One epoch: every block once, in the order of a [`Schedule`] drawn
    /// for this epoch; each block's chunk order is reshuffled just before
    /// it runs. One thread runs the blocks step by step; more run each
    /// block as soon as the blocks it depends on are done (rayon tasks, no
    /// barrier between steps).
    #[allow(clippy::too_many_arguments)]
    pub fn epoch(
        &self,
        order: &mut [u32],
        preds: &mut [f32],
        state: &mut State,
        k: usize,
        step: Step,
        seed: u64,
        epoch: usize,
        exec: &Exec,
    ) {
        let schedule = Schedule::for_epoch(self.bu, self.bi, seed, epoch);
        let biases = !state.bu.is_empty();
        let mut orders = split_at_bounds(order, &self.chunk_start).into_iter();
        let mut preds = split_at_bounds(preds, &self.block_start).into_iter();
        // Without biases `bu` and `bi` are empty: width 0 gives every stratum
        // an empty slice.
        let bias_width = usize::from(biases);
        let ps = self.users.split(&mut state.p, k);
        let bus = self.users.split(&mut state.bu, bias_width);
        let users: Vec<Mutex<UserStratum<'_>>> = ps
            .into_iter()
            .zip(bus)
            .map(|(p, bu)| {
                Mutex::new(UserStratum {
                    p,
                    bu,
                    blocks: (&mut orders).zip(&mut preds).take(self.bi).collect(),
                })
            })
            .collect();
        let qs = self.items.split(&mut state.q, k);
        let bis = self.items.split(&mut state.bi, bias_width);
        let items: Vec<Mutex<(&mut [f32], &mut [f32])>> =
            qs.into_iter().zip(bis).map(Mutex::new).collect();
        // Runs block (a, t): its user stratum's rows and its item stratum's
        // rows are free by the schedule, so the locks are never contended.
        let run = |a: usize, t: usize| {
            let c = schedule.item_stratum(a, t);
            let mut user = users[a]
                .try_lock()
                .expect("one block per user stratum at a time");
            let mut item = items[c]
                .try_lock()
                .expect("one block per item stratum at a time");
            let UserStratum { p, bu, blocks } = &mut *user;
            let (q, bi) = &mut *item;
            let (order, preds) = &mut blocks[c];
            let blk = a * self.bi + c;
            order.shuffle(&mut rng_for(seed, chunk_stream(epoch, blk)));
            BlockPass {
                k,
                p,
                q,
                bu,
                bi,
                entries: &self.entries[self.block_start[blk]..self.block_start[blk + 1]],
                preds,
                order,
                step,
                biases,
            }
            .run();
        };
        if !exec.parallel() {
            for t in 0..schedule.items {
                for a in 0..schedule.users {
                    run(a, t);
                }
            }
            return;
        }
        let pending: Vec<AtomicU8> = (0..schedule.users * schedule.items)
            .map(|x| AtomicU8::new(schedule.waits_for(x % schedule.items)))
            .collect();
        // Runs (a, t), then whichever blocks that made ready: the next one of
        // the same user stratum here, the next one of the item stratum as a
        // new task.
        fn chain<'s, F: Fn(usize, usize) + Sync>(
            scope: &rayon::Scope<'s>,
            schedule: &'s Schedule,
            pending: &'s [AtomicU8],
            run: &'s F,
            a: usize,
            mut t: usize,
        ) {
            loop {
                run(a, t);
                if let Some((a2, t2)) = schedule.next_of_item(a, t) {
                    if pending[a2 * schedule.items + t2].fetch_sub(1, Ordering::AcqRel) == 1 {
                        scope.spawn(move |s| chain(s, schedule, pending, run, a2, t2));
                    }
                }
                t += 1;
                if t == schedule.items
                    || pending[a * schedule.items + t].fetch_sub(1, Ordering::AcqRel) != 1
                {
                    return;
                }
            }
        }
        let (schedule, pending, run) = (&schedule, &pending[..], &run);
        exec.run(|| {
            rayon::scope(|s| {
                for a in 0..schedule.users {
                    s.spawn(move |s| chain(s, schedule, pending, run, a, 0));
                }
            })
        });
    }
}

/// A user stratum's rows and biases, and the chunk orders and prediction
/// slots of its `I` blocks (by item stratum).
struct UserStratum<'a> {
    p: &'a mut [f32],
    bu: &'a mut [f32],
    blocks: Vec<(&'a mut [u32], &'a mut [f32])>,
}

/// `values` cut at `bounds` (first offsets plus the total).
fn split_at_bounds<'a, T>(mut values: &'a mut [T], bounds: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    for w in bounds.windows(2) {
        let (head, tail) = values.split_at_mut(w[1] - w[0]);
        out.push(head);
        values = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ROW_ALIGN;
    use crate::tests::random_ratings;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Every training rating lands in exactly one block, with rows that
        /// map back to its user and item.
        #[test]
        fn blocks_partition_the_ratings(nu in 1usize..30, ni in 1usize..30, bu in 1usize..5, spread in 1usize..4, seed in 0u64..100) {
            let train = RatingMatrix::new(&random_ratings(nu, ni, 0.3, seed)).unwrap();
            let bi = bu * spread;
            let layout = Layout::new(&train, (bu, bi), seed);
            prop_assert_eq!(layout.entries.len(), train.nnz());
            prop_assert_eq!(layout.block_start.len(), bu * bi + 1);
            let inv = |s: &Strata| {
                let mut inv = vec![0usize; s.pos.len()];
                for (x, &p) in s.pos.iter().enumerate() { inv[p as usize] = x; }
                inv
            };
            let (iu, ii) = (inv(&layout.users), inv(&layout.items));
            let mut seen = Vec::new();
            for a in 0..bu {
                for c in 0..bi {
                    let blk = a * bi + c;
                    for e in &layout.entries[layout.block_start[blk]..layout.block_start[blk + 1]] {
                        let u = iu[layout.users.start[a] + e.u as usize];
                        let i = ii[layout.items.start[c] + e.i as usize];
                        prop_assert_eq!(layout.users.of[u] as usize, a);
                        prop_assert_eq!(layout.items.of[i] as usize, c);
                        prop_assert_eq!(train.get(UserIdx(u as u32), ItemIdx(i as u32)), Some(e.r));
                        seen.push((u, i));
                    }
                }
            }
            seen.sort_unstable();
            seen.dedup();
            prop_assert_eq!(seen.len(), train.nnz());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// Threads run an epoch's blocks in whatever order their timing
        /// gives, yet every row sees its updates in the schedule's order: the
        /// result is bit-identical to running the schedule step by step.
        #[test]
        fn parallel_epochs_equal_the_schedule_run_in_order(users in 2usize..5, spread in 2usize..4, biases: bool, seed in 0u64..1000) {
            let train = RatingMatrix::new(&random_ratings(40, 60, 0.3, seed)).unwrap();
            let layout = Layout::new(&train, (users, users * spread), seed);
            let k = ROW_ALIGN;
            let row = |x: usize| ((x as f32) * 0.37).sin() * 0.1;
            let state = State {
                p: Aligned::from_slice(&(0..40 * k).map(row).collect::<Vec<_>>()),
                q: Aligned::from_slice(&(0..60 * k).map(|x| row(x + 7)).collect::<Vec<_>>()),
                bu: if biases { vec![0.0; 40] } else { Vec::new() },
                bi: if biases { vec![0.0; 60] } else { Vec::new() },
            };
            let step = Step { lr_factors: 0.05, reg_factors: 0.02, lr_biases: 0.01, reg_biases: 0.05, mu: 3.5 };
            let run = |threads: usize| {
                let (exec, _) = Exec::new(threads).unwrap();
                let (mut state, mut order, mut preds) = (state.clone(), layout.initial_order(), vec![0.0; train.nnz()]);
                for epoch in 1..=3 {
                    layout.epoch(&mut order, &mut preds, &mut state, k, step, seed, epoch, &exec);
                }
                (state.p.to_vec(), state.q.to_vec(), state.bu, state.bi, preds)
            };
            let in_order = run(1);
            for threads in [2, 3] {
                prop_assert!(run(threads) == in_order, "{} threads", threads);
            }
        }
    }

    #[test]
    fn strata_count_follows_threads_and_cache_size() {
        // ml-latest-small at k = 200 (stride 208): users 610 x 832 B = 508 KB
        // -> 1 stratum, items 9,724 x 832 B = 8.1 MB -> 16 strata.
        assert_eq!(strata(1, 610, 9_724, 208), (1, 16));
        assert_eq!(strata(2, 610, 9_724, 208), (2, 16));
        assert_eq!(strata(1, 610, 9_724, 112), (1, 9));
        assert_eq!(strata(2, 610, 9_724, 112), (2, 10));
        assert_eq!(strata(1, 610, 9_724, 16), (1, 2));
        assert_eq!(strata(3, 10, 100, 16), (3, 6));
        // A large catalogue: 162k users at k = 112 -> 139 user strata, rounded to 140.
        assert_eq!(strata(2, 162_541, 59_047, 112).0, 140);
    }

    #[test]
    fn strata_are_balanced_by_rating_count() {
        let counts = [100, 1, 1, 50, 50, 3, 2, 1, 0, 40];
        let s = Strata::balance(&counts, 3);
        let mut load = [0usize; 3];
        for (x, &c) in counts.iter().enumerate() {
            load[s.of[x] as usize] += c;
        }
        // Greedy: 100 | 50 + 40 | 50 + 3 + 2 + 1 + 1 + 1 (+ 0); the greedy
        // rule's bound is total / B + the largest count.
        assert_eq!(load, [100, 90, 58]);
        let ext: Vec<f32> = (0..counts.len() * 2).map(|x| x as f32).collect();
        assert_eq!(s.to_external(&s.to_internal(&ext, 2, 5), 2, 5), ext);
        assert_eq!(s.start, {
            let mut st = vec![0usize];
            for b in 0..3 {
                st.push(st[b] + s.of.iter().filter(|&&o| o as usize == b).count());
            }
            st
        });
    }
}
