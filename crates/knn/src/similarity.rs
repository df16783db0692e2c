//! Item-item similarities: the sparse build (the model's), the dense
//! `X^T X` build through faer (benchmark and test oracle), and the store.

use movierec_core::RunContext;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use movierec_core::{BiasBaseline, BiasConfig, Fit, ItemIdx, NoopObserver, RatingMatrix, UserIdx};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{KnnConfig, Similarity};
use crate::error::{Error, Result};

mod capped;
mod exact;

pub use capped::CappedBlock;
use capped::{build_capped, build_capped_by_rows};
use exact::{build_exact, UpperRow};

/// Every item's neighbours with a similarity: a compressed sparse row
/// matrix (items x items), each row sorted by item index, the diagonal left
/// out.
///
/// Rows are sorted by index (not by similarity) so that the build emits them
/// without a sort and a prediction intersects a row with the user's sorted
/// rated items in one merge. Exact (no `max_neighbours`), the store is
/// symmetric, bit for bit: `get(i, j) == get(j, i)`.
///
/// Memory: 4 + 4 bytes per stored pair plus 8 per item. On ml-latest-small
/// (9,724 items) the exact store holds about 26 M pairs with negative
/// similarities (210 MB) and roughly half that without; a dense f32 matrix
/// would hold 378 MB whatever the sparsity, which is why the dense path is
/// only an oracle and a benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Similarities {
    ptr: Vec<usize>,
    items: Vec<u32>,
    sims: Vec<f32>,
}

impl Similarities {
    /// Number of items (rows).
    pub fn n_items(&self) -> usize {
        self.ptr.len() - 1
    }

    /// Number of stored (ordered) pairs.
    pub fn nnz(&self) -> usize {
        self.items.len()
    }

    /// The neighbours of `item`, sorted by index, and their similarities.
    #[inline]
    pub fn neighbours(&self, item: usize) -> (&[u32], &[f32]) {
        let r = self.ptr[item]..self.ptr[item + 1];
        (&self.items[r.clone()], &self.sims[r])
    }

    /// The stored similarity of `i` and `j` (binary search), `None` when the
    /// pair has none (no co-rating user, too little support, zero, or
    /// dropped by the neighbour cap or the sign rule).
    pub fn get(&self, i: usize, j: usize) -> Option<f32> {
        let (items, sims) = self.neighbours(i);
        items.binary_search(&(j as u32)).ok().map(|p| sims[p])
    }

    /// Checks a store read from outside against `n` items: `n + 1` row
    /// offsets from 0, ascending, ending at the number of pairs; as many
    /// similarities as items; each row's items strictly ascending and below
    /// `n`; every similarity finite. What every lookup and scorer relies on.
    pub(crate) fn check(&self, n: usize) -> Result<(), String> {
        if self.ptr.len() != n.saturating_add(1) || self.ptr[0] != 0 {
            return Err(format!(
                "the similarity store has {} row offsets for {n} rows",
                self.ptr.len()
            ));
        }
        if self.items.len() != self.sims.len() {
            return Err(format!(
                "the similarity store has {} neighbours and {} similarities",
                self.items.len(),
                self.sims.len()
            ));
        }
        check_csr("similarity store", &self.ptr, &self.items, n)?;
        if let Some(p) = self.sims.iter().position(|s| !s.is_finite()) {
            return Err(format!("similarity {p} is not a finite number"));
        }
        Ok(())
    }

    /// True when the store is consistent with its own row count (what the
    /// lookup index needs before it is built on load).
    pub(crate) fn is_consistent(&self) -> bool {
        !self.ptr.is_empty() && self.check(self.ptr.len() - 1).is_ok()
    }

    /// Bytes held by the store's buffers.
    pub fn memory_bytes(&self) -> usize {
        self.ptr.len() * std::mem::size_of::<usize>()
            + self.items.len() * std::mem::size_of::<u32>()
            + self.sims.len() * std::mem::size_of::<f32>()
    }

    /// The store as a dense matrix, 0 where no pair is stored (for tests and
    /// small examples).
    pub fn to_dense(&self) -> Mat<f32> {
        let n = self.n_items();
        let mut m = Mat::<f32>::zeros(n, n);
        for i in 0..n {
            let (items, sims) = self.neighbours(i);
            for (&j, &s) in items.iter().zip(sims) {
                m[(i, j as usize)] = s;
            }
        }
        m
    }
}

/// The order of neighbours by preference: larger similarity first, then the
/// smaller index (a total order, so every selection is deterministic).
#[inline]
pub(crate) fn by_preference(a: (f32, u32), b: (f32, u32)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The rules that turn co-rating sums into a stored similarity, shared by
/// the sparse and the dense path so that both filter alike.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    min_support: u32,
    shrinkage: f32,
    keep_negative: bool,
}

impl Rule {
    pub(crate) fn new(cfg: &KnnConfig) -> Self {
        Self {
            min_support: cfg.min_support.clamp(1, u32::MAX as usize) as u32,
            shrinkage: cfg.shrinkage,
            keep_negative: cfg.keep_negative,
        }
    }

    /// `dot / sqrt(sq_i * sq_j)`, clamped to [-1, 1], shrunk by
    /// `n / (n + shrinkage)`; `None` for too little support, a zero norm, a
    /// zero similarity, or a negative one when those are dropped. The sums
    /// come in f64; the normalisation runs in f32 (the stored precision),
    /// where square root and division are several times cheaper.
    #[inline]
    pub(crate) fn similarity(&self, dot: f64, sq_i: f64, sq_j: f64, n: u32) -> Option<f32> {
        let s = self.value(dot, sq_i, sq_j, n);
        (s != 0.0).then_some(s)
    }

    /// [`similarity`](Self::similarity) with 0 for `None`, computed without
    /// data-dependent branches (the sign test is a coin flip for the
    /// predictor in the sparse build's hot loop).
    #[inline(always)]
    pub(crate) fn value(&self, dot: f64, sq_i: f64, sq_j: f64, n: u32) -> f32 {
        // Round each norm to f32 first: then `sqrt(a * a) == a` exactly, so
        // an item and its copy get a similarity of exactly 1.
        let den = sq_i as f32 * sq_j as f32;
        let valid = (n >= self.min_support) & (den > 0.0) & den.is_finite();
        let mut s = (dot as f32 / den.sqrt()).clamp(-1.0, 1.0);
        if self.shrinkage > 0.0 {
            let n = n as f32;
            s *= n / (n + self.shrinkage);
        }
        let keep = valid & (s != 0.0) & (self.keep_negative | (s > 0.0));
        if keep {
            s
        } else {
            0.0
        }
    }
}

/// The training matrix in the model's orientation (transposed in user-based
/// mode, so rows are always the "users" and columns the compared "items"),
/// with the bias baseline fitted in that orientation.
pub(crate) fn orient<'a>(
    train: &'a RatingMatrix,
    cfg: &KnnConfig,
) -> Result<(Cow<'a, RatingMatrix>, BiasBaseline)> {
    let (m, bias_cfg) = if cfg.user_based {
        let swapped = BiasConfig {
            reg_user: cfg.baseline.reg_item,
            reg_item: cfg.baseline.reg_user,
            ..cfg.baseline
        };
        (Cow::Owned(train.transposed()), swapped)
    } else {
        (Cow::Borrowed(train), cfg.baseline)
    };
    let baseline = bias_cfg.fit(&m, None, &RunContext::default(), &mut NoopObserver)?;
    Ok((m, baseline))
}

/// The centre subtracted from rating `(u, i)` before the cosine.
#[inline]
fn centre(kind: Similarity, m: &RatingMatrix, b: &BiasBaseline, u: usize, i: usize) -> f32 {
    match kind {
        Similarity::Cosine => 0.0,
        Similarity::AdjustedCosine => m.user_mean(UserIdx(u as u32)),
        Similarity::Pearson => m.item_mean(ItemIdx(i as u32)),
        Similarity::PearsonBaseline => b.estimate(UserIdx(u as u32), ItemIdx(i as u32)),
    }
}

/// Centred ratings in both orientations with compact `u32` indices: what
/// the sparse kernel reads. Rows hold their items in ascending order;
/// columns their users in ascending order, each with the position of that
/// rating in its user's row (`col_pos`), so that the exact build can start a
/// row just after the target item.
struct Centred {
    row_ptr: Vec<usize>,
    row_cols: Vec<u32>,
    /// Per rating, the multiplier of the accumulator update:
    /// `[x, 1, x * x, 1]` in f64 (see [`Scratch::accumulate`]); empty in
    /// the compact form, whose kernel rebuilds it from `row_x`.
    row_xx: Vec<[f64; 4]>,
    /// Per rating, the centred value (the compact form only; empty
    /// otherwise): 4 bytes read per co-rating instead of 32, what the
    /// capped build streams from heavy users' rows.
    row_x: Vec<f32>,
    col_ptr: Vec<usize>,
    col_rows: Vec<u32>,
    col_x: Vec<f32>,
    col_pos: Vec<u32>,
}

impl Centred {
    fn new(m: &RatingMatrix, b: &BiasBaseline, kind: Similarity, compact: bool) -> Self {
        let nnz = m.nnz();
        let mut row_ptr = Vec::with_capacity(m.n_users() + 1);
        let mut row_cols = Vec::with_capacity(nnz);
        let mut row_x: Vec<f32> = Vec::with_capacity(nnz);
        let mut col_ptr = vec![0usize; m.n_items() + 1];
        row_ptr.push(0);
        for u in 0..m.n_users() {
            // Sorted by item (a `RatingMatrix` invariant).
            let (items, values) = m.user_ratings(UserIdx(u as u32));
            for (&i, &r) in items.iter().zip(values) {
                row_cols.push(i as u32);
                row_x.push(r - centre(kind, m, b, u, i));
                col_ptr[i + 1] += 1;
            }
            row_ptr.push(row_cols.len());
        }
        for i in 0..m.n_items() {
            col_ptr[i + 1] += col_ptr[i];
        }
        // Scatter the rows into columns: users come in ascending order.
        let mut next = col_ptr[..m.n_items()].to_vec();
        let mut col_rows = vec![0u32; nnz];
        let mut col_x = vec![0f32; nnz];
        let mut col_pos = vec![0u32; nnz];
        for u in 0..m.n_users() {
            for q in row_ptr[u]..row_ptr[u + 1] {
                let i = row_cols[q] as usize;
                let p = next[i];
                next[i] += 1;
                col_rows[p] = u as u32;
                col_x[p] = row_x[q];
                col_pos[p] = q as u32;
            }
        }
        let row_xx = if compact {
            Vec::new()
        } else {
            std::mem::take(&mut row_x)
                .iter()
                .map(|&x| {
                    let x = f64::from(x);
                    [x, 1.0, x * x, 1.0]
                })
                .collect()
        };
        Self {
            row_ptr,
            row_cols,
            row_xx,
            row_x,
            col_ptr,
            col_rows,
            col_x,
            col_pos,
        }
    }
}

/// Co-rating sums of one (target, candidate) pair: the dot product, the
/// target's and the candidate's sums of squares, and the count (exact in
/// f64), as one array so that an update is one vector multiply and add.
type Acc = [f64; 4];

/// Per-task scratch of the sparse kernel: one accumulator per item, a
/// bitmap of the items touched, whose set bits come out in index order, and
/// the touched sums gathered into columns, then the row being emitted.
struct Scratch {
    acc: Vec<Acc>,
    touched: Vec<u64>,
    dot: Vec<f64>,
    sq_i: Vec<f64>,
    sq_j: Vec<f64>,
    n: Vec<f64>,
    items: Vec<u32>,
    sims: Vec<f32>,
}

impl Scratch {
    fn new(n_items: usize) -> Self {
        Self {
            acc: vec![[0.0; 4]; n_items],
            touched: vec![0; n_items.div_ceil(64)],
            dot: vec![0.0; n_items],
            sq_i: vec![0.0; n_items],
            sq_j: vec![0.0; n_items],
            n: vec![0.0; n_items],
            items: vec![0; n_items],
            sims: vec![0.0; n_items],
        }
    }

    /// Adds every co-rating of `i` with the items after it in each rater's
    /// row (`upper`), or with every item (`!upper`).
    #[inline(always)]
    fn accumulate(&mut self, i: usize, input: &Centred, upper: bool) {
        let (acc, touched) = (self.acc.as_mut_slice(), self.touched.as_mut_slice());
        // An opaque 1, so that the compiler keeps the four lanes alike
        // (one vector multiply) instead of dropping the products by 1.
        let one = std::hint::black_box(1.0f64);
        for p in input.col_ptr[i]..input.col_ptr[i + 1] {
            let u = input.col_rows[p] as usize;
            let xi = f64::from(input.col_x[p]);
            // `[xi, xi^2, 1, 1] * [xj, 1, xj^2, 1]` is `[xi xj, xi^2, xj^2, 1]`
            // exactly (a product by 1 is exact): one multiply and one add of
            // four lanes per co-rating.
            let l = [xi, xi * xi, one, one];
            let from = if upper {
                input.col_pos[p] as usize + 1
            } else {
                input.row_ptr[u]
            };
            let r = from..input.row_ptr[u + 1];
            if input.row_xx.is_empty() {
                // The compact form: the same multiplier, rebuilt (the
                // same f64 operations, so the same bits).
                // No bitmap: [`emit`](Self::emit) scans the accumulators
                // instead, cheaper than one dependent read-modify-write of
                // a bitmap word per co-rating where heavy raters touch
                // nearly every item.
                for (&j, &x) in input.row_cols[r.clone()].iter().zip(&input.row_x[r]) {
                    let x = f64::from(x);
                    let rx = [x, 1.0, x * x, 1.0];
                    let a = &mut acc[j as usize];
                    let old = *a;
                    *a = std::array::from_fn(|k| old[k] + l[k] * rx[k]);
                }
                continue;
            }
            for (&j, rx) in input.row_cols[r.clone()].iter().zip(&input.row_xx[r]) {
                // Unconditional: cheaper than a mispredicted `if a.n == 0`.
                touched[j as usize / 64] |= 1 << (j % 64);
                let (a, rx) = (&mut acc[j as usize], *rx);
                let old = *a;
                *a = std::array::from_fn(|k| old[k] + l[k] * rx[k]);
            }
        }
    }

    /// Emits the touched items from word `first_word` on, in index order,
    /// into `items`/`sims` (kept ones only: not `i`, similarity not 0), and
    /// clears the accumulators; returns how many were kept. With `scan`
    /// (the compact form, which sets no bitmap) the touched items are found
    /// by their nonzero count.
    ///
    /// Three passes, so that no iteration waits on the one before: gather
    /// the sums into columns, compute every similarity (a loop the compiler
    /// vectorises), then keep the nonzero ones without a branch.
    #[inline(always)]
    fn emit(&mut self, i: usize, first_word: usize, rule: Rule, scan: bool) -> usize {
        let (acc, touched) = (self.acc.as_mut_slice(), self.touched.as_mut_slice());
        let (dot, sq_i) = (self.dot.as_mut_slice(), self.sq_i.as_mut_slice());
        let (sq_j, n) = (self.sq_j.as_mut_slice(), self.n.as_mut_slice());
        let (items, sims) = (self.items.as_mut_slice(), self.sims.as_mut_slice());
        let mut len = 0;
        if scan {
            // The compact form sets no bitmap: every accumulator from the
            // first word on, kept where its count is not 0 (in index
            // order, as the bitmap gives them).
            for (j, a) in acc.iter_mut().enumerate().skip(first_word * 64) {
                let a = std::mem::replace(a, [0.0; 4]);
                items[len] = j as u32;
                dot[len] = a[0];
                sq_i[len] = a[1];
                sq_j[len] = a[2];
                n[len] = a[3];
                len += usize::from(a[3] != 0.0);
            }
        }
        for (w, word) in touched.iter_mut().enumerate().skip(first_word) {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let j = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let a = std::mem::replace(&mut acc[j], [0.0; 4]);
                items[len] = j as u32;
                dot[len] = a[0];
                sq_i[len] = a[1];
                sq_j[len] = a[2];
                n[len] = a[3];
                len += 1;
            }
        }
        let (dot, sq_i, sq_j, n) = (&dot[..len], &sq_i[..len], &sq_j[..len], &n[..len]);
        for (k, s) in sims[..len].iter_mut().enumerate() {
            *s = rule.value(dot[k], sq_i[k], sq_j[k], n[k] as u32);
        }
        let mut kept = 0;
        for k in 0..len {
            let (j, s) = (items[k], sims[k]);
            items[kept] = j;
            sims[kept] = s;
            kept += usize::from((s != 0.0) & (j as usize != i));
        }
        kept
    }
}

/// Items per parallel task of the sparse build: large enough that the
/// per-task scratch (40 bytes per item) is allocated a few hundred times at
/// most, small enough for rayon to balance the uneven rows.
const TASK: usize = 32;

/// Row ranges of the mirror per thread: a few, so that rayon can balance
/// them, each writing into few enough rows that their current cache lines
/// stay in cache.
const RANGES_PER_THREAD: usize = 4;

/// Rows of the mirror filled at once (see [`build_exact`]).
const MIRROR_TILE: usize = 256;

/// The sparse build of item-item similarities in the model's orientation.
///
/// Exact (no `max_neighbours`), it computes each pair once: item `i`
/// accumulates only over the items after it in each rater's row (half of
/// `sum_u n_u^2`), and the lower triangle is the upper one mirrored. Every
/// sum runs over the co-raters in ascending user order in both builds, so
/// `sim(i, j)` is bit for bit what a full row of `i` or of `j` would give.
/// Peak memory is the store plus its upper half. With a cap, each pair is
/// also computed once and offered to both items' bounded lists (see
/// [`build_capped`]); `progress(done, total)` is called there as blocks of
/// rows finish, from the worker threads.
///
/// # Errors
/// [`Error::TooLarge`] when the exact store could exceed
/// [`EXACT_PAIR_LIMIT`] pairs (checked before anything is allocated).
pub(crate) fn build_sparse(
    m: &RatingMatrix,
    b: &BiasBaseline,
    cfg: &KnnConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Similarities> {
    if cfg.max_neighbours.is_none() {
        check_exact_size(m, cfg.user_based)?;
    }
    let rule = Rule::new(cfg);
    let n = m.n_items();
    Ok(match cfg.max_neighbours {
        None => build_exact(n, &Centred::new(m, b, cfg.similarity, false), rule),
        Some(cap) if pairwise_pays(m) => {
            let input = Centred::new(m, b, cfg.similarity, true);
            build_capped(n, &input, rule, cap, progress)
        }
        Some(cap) => {
            let input = Centred::new(m, b, cfg.similarity, false);
            build_capped_by_rows(n, &input, rule, cap, progress)
        }
    })
}

/// Whether the capped build should compute each pair once and offer it to
/// two bounded lists ([`build_capped`]) rather than compute every item's
/// full row and cut it ([`build_capped_by_rows`]): when the co-ratings
/// (`sum_u n_u^2`, the full rows' work) exceed four times the item pairs,
/// so that the half they save outweighs two offers per pair. ml-25m's
/// shape: 40 times (pairwise); ml-latest-small: 0.64 (by rows). Both give
/// the same store, bit for bit.
fn pairwise_pays(m: &RatingMatrix) -> bool {
    let co = sum_over_rows(m, |len| len.saturating_mul(len));
    let n = m.n_items();
    co / 4 > n.saturating_mul(n.saturating_sub(1))
}

/// `sum_u f(len_u)` over the rows of `m`, saturating.
fn sum_over_rows(m: &RatingMatrix, f: impl Fn(usize) -> usize) -> usize {
    (0..m.n_users()).fold(0usize, |acc, u| {
        acc.saturating_add(f(m.user_count(UserIdx(u as u32))))
    })
}

/// The capped store by both builds (tests: they must agree bit for bit).
/// A compressed sparse matrix of `ptr.len() - 1` rows whose entries are
/// strictly ascending indices below `n_cols`; `what` names it in the error.
pub(crate) fn check_csr(
    what: &str,
    ptr: &[usize],
    idx: &[u32],
    n_cols: usize,
) -> Result<(), String> {
    if ptr.first() != Some(&0) || ptr.last() != Some(&idx.len()) {
        return Err(format!(
            "the {what} offsets do not run from 0 to its {} entries",
            idx.len()
        ));
    }
    for (r, w) in ptr.windows(2).enumerate() {
        let Some(row) = idx.get(w[0]..w[1]) else {
            return Err(format!("the {what} offsets of row {r} are out of order"));
        };
        if row.windows(2).any(|p| p[0] >= p[1]) || row.last().is_some_and(|&c| c as usize >= n_cols)
        {
            return Err(format!(
                "row {r} of the {what} is not ascending indices below {n_cols}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) fn capped_both_ways(
    train: &RatingMatrix,
    cfg: &KnnConfig,
    cap: usize,
) -> (Similarities, Similarities) {
    let (m, b) = orient(train, cfg).expect("valid config");
    let rule = Rule::new(cfg);
    let n = m.n_items();
    let pairwise = build_capped(
        n,
        &Centred::new(&m, &b, cfg.similarity, true),
        rule,
        cap,
        &|_, _| {},
    );
    let by_rows = build_capped_by_rows(
        n,
        &Centred::new(&m, &b, cfg.similarity, false),
        rule,
        cap,
        &|_, _| {},
    );
    (pairwise, by_rows)
}

/// The most (ordered) pairs the exact store may hold: 8 bytes each, 2 GB,
/// and half as much again while it is built. Larger problems cap each list
/// (`max_neighbours`), whose build holds one block of rows at a time.
pub const EXACT_PAIR_LIMIT: usize = 250_000_000;

/// The exact store's size bound for `m` in the model's orientation (the
/// compared "items" are its columns): a pair needs a common rater, so at
/// most `min(n (n - 1), sum_rows len (len - 1))` pairs; above
/// [`EXACT_PAIR_LIMIT`] an error naming the size, the limit and the ways out.
pub(crate) fn check_exact_size(m: &RatingMatrix, user_based: bool) -> Result<()> {
    let n = m.n_items();
    let by_rows = sum_over_rows(m, |len| len.saturating_mul(len.saturating_sub(1)));
    let pairs = n.saturating_mul(n.saturating_sub(1)).min(by_rows);
    if pairs > EXACT_PAIR_LIMIT {
        return Err(Error::TooLarge {
            compared: if user_based { "users" } else { "movies" },
            n,
            pairs,
            limit: EXACT_PAIR_LIMIT,
            way_out: if user_based {
                "use item-based KNN (no --user-based), or cap each list with --max-neighbours N"
            } else {
                "cap each list with --max-neighbours N"
            },
        });
    }
    Ok(())
}

/// Item-item similarities computed densely: `X^T X` and the co-rating norms
/// `(X∘X)^T M` and counts `M^T M` as three faer matrix products, where `X`
/// holds the centred ratings (0 where unrated) and `M` the rated mask.
///
/// Same similarity, support, shrinkage and sign rules as the model's sparse
/// build, in the model's orientation (users when `user_based`); the
/// `max_neighbours` cap is not applied. Returns an items x items matrix, 0
/// on the diagonal and where no similarity is defined. Holds three dense
/// n x n f32 matrices at its peak (1.1 GB for ml-latest-small's 9,724
/// items): a benchmark and a test oracle, not a production path.
///
/// # Errors
/// Only if the bias baseline cannot be fitted (invalid baseline settings).
pub fn dense_similarities(train: &RatingMatrix, cfg: &KnnConfig, par: Par) -> Result<Mat<f32>> {
    let (m, b) = orient(train, cfg)?;
    let (nu, ni) = (m.n_users(), m.n_items());
    let mut x = Mat::<f32>::zeros(nu, ni);
    let mut x2 = Mat::<f32>::zeros(nu, ni);
    let mut mask = Mat::<f32>::zeros(nu, ni);
    for i in 0..ni {
        let (users, values) = m.item_ratings(ItemIdx(i as u32));
        for (&u, &r) in users.iter().zip(values) {
            let v = r - centre(cfg.similarity, &m, &b, u, i);
            x[(u, i)] = v;
            x2[(u, i)] = v * v;
            mask[(u, i)] = 1.0;
        }
    }
    let mut dot = Mat::<f32>::zeros(ni, ni);
    let mut sq = Mat::<f32>::zeros(ni, ni);
    let mut count = Mat::<f32>::zeros(ni, ni);
    matmul(&mut dot, Accum::Replace, x.transpose(), &x, 1.0, par);
    matmul(&mut sq, Accum::Replace, x2.transpose(), &mask, 1.0, par);
    matmul(
        &mut count,
        Accum::Replace,
        mask.transpose(),
        &mask,
        1.0,
        par,
    );
    drop((x, x2, mask));
    let rule = Rule::new(cfg);
    // Overwrite `dot` column by column with the similarities; `sq` and
    // `count` are only read.
    for j in 0..ni {
        for i in 0..ni {
            let s = if i == j {
                None
            } else {
                rule.similarity(
                    f64::from(dot[(i, j)]),
                    f64::from(sq[(i, j)]),
                    f64::from(sq[(j, i)]),
                    count[(i, j)] as u32,
                )
            };
            dot[(i, j)] = s.unwrap_or(0.0);
        }
    }
    Ok(dot)
}

/// Item-item similarities by the model's sparse build, in the model's
/// orientation (users when `user_based`): what [`KnnModel`](crate::KnnModel)
/// stores.
///
/// # Errors
/// An invalid configuration.
pub fn sparse_similarities(train: &RatingMatrix, cfg: &KnnConfig) -> Result<Similarities> {
    cfg.validate()?;
    let (m, b) = orient(train, cfg)?;
    build_sparse(&m, &b, cfg, &|_, _| {})
}

/// A constant-time index into a [`Similarities`] store: per item, a bitmap
/// of its neighbours and the number of neighbours before each 64-item word,
/// so that `sim(m, j)` is one bit test and one popcount away. It costs
/// 12 bytes per 64 item pairs (17.7 MB for ml-latest-small's 9,724 items)
/// and is built only where that is at most the store's own size (a store
/// at least 2.3% dense); elsewhere predictions intersect sorted lists.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lookup {
    words: usize,
    bits: Vec<u64>,
    rank: Vec<u32>,
}

impl Lookup {
    /// The index of `s`, `None` where it would outweigh the store.
    pub(crate) fn build(s: &Similarities) -> Option<Self> {
        let n = s.n_items();
        let words = n.div_ceil(64);
        if n == 0 || n * words * 12 > s.nnz() * 8 {
            return None;
        }
        let mut bits = vec![0u64; n * words];
        let mut rank = vec![0u32; n * words];
        bits.par_chunks_mut(words)
            .zip(rank.par_chunks_mut(words))
            .enumerate()
            .for_each(|(m, (b, r))| {
                for &j in s.neighbours(m).0 {
                    b[j as usize / 64] |= 1 << (j % 64);
                }
                let mut before = 0;
                for (w, rw) in b.iter().zip(r.iter_mut()) {
                    *rw = before;
                    before += w.count_ones();
                }
            });
        Some(Self { words, bits, rank })
    }

    /// `sim(m, j)` if stored.
    #[inline]
    pub(crate) fn get(&self, s: &Similarities, m: usize, j: u32) -> Option<f32> {
        let w = m * self.words + j as usize / 64;
        let word = self.bits[w];
        let bit = 1u64 << (j % 64);
        if word & bit == 0 {
            return None;
        }
        let pos = s.ptr[m] + self.rank[w] as usize + (word & (bit - 1)).count_ones() as usize;
        Some(s.sims[pos])
    }

    /// Bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.bits.len() * 8 + self.rank.len() * 4
    }
}
