//! Item-item similarities: the sparse build (the model's), the dense
//! `X^T X` build through faer (benchmark and test oracle), and the store.

use std::borrow::Cow;
use std::cmp::Ordering;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use movierec_core::{BiasBaseline, BiasConfig, Fit, ItemIdx, NoopObserver, RatingMatrix, UserIdx};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{KnnConfig, Similarity};
use crate::error::Result;

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
    #[inline]
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
    let baseline = bias_cfg.fit(&m, None, &mut NoopObserver)?;
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
/// the sparse kernel reads.
struct Centred {
    row_ptr: Vec<usize>,
    row_cols: Vec<u32>,
    row_x: Vec<f32>,
    col_ptr: Vec<usize>,
    col_rows: Vec<u32>,
    col_x: Vec<f32>,
}

impl Centred {
    fn new(m: &RatingMatrix, b: &BiasBaseline, kind: Similarity) -> Self {
        let nnz = m.nnz();
        let mut row_ptr = Vec::with_capacity(m.n_users() + 1);
        let mut row_cols = Vec::with_capacity(nnz);
        let mut row_x = Vec::with_capacity(nnz);
        row_ptr.push(0);
        for u in 0..m.n_users() {
            let (items, values) = m.user_ratings(UserIdx(u as u32));
            for (&i, &r) in items.iter().zip(values) {
                row_cols.push(i as u32);
                row_x.push(r - centre(kind, m, b, u, i));
            }
            row_ptr.push(row_cols.len());
        }
        let mut col_ptr = Vec::with_capacity(m.n_items() + 1);
        let mut col_rows = Vec::with_capacity(nnz);
        let mut col_x = Vec::with_capacity(nnz);
        col_ptr.push(0);
        for i in 0..m.n_items() {
            let (users, values) = m.item_ratings(ItemIdx(i as u32));
            for (&u, &r) in users.iter().zip(values) {
                col_rows.push(u as u32);
                col_x.push(r - centre(kind, m, b, u, i));
            }
            col_ptr.push(col_rows.len());
        }
        Self {
            row_ptr,
            row_cols,
            row_x,
            col_ptr,
            col_rows,
            col_x,
        }
    }
}

/// Co-rating sums of one (target, candidate) pair.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    dot: f64,
    sq_i: f64,
    sq_j: f64,
    n: u32,
}

/// Per-task scratch of the sparse kernel: one accumulator per item and a
/// bitmap of the items touched, whose set bits come out in index order.
struct Scratch {
    acc: Vec<Acc>,
    touched: Vec<u64>,
}

impl Scratch {
    fn new(n_items: usize) -> Self {
        Self {
            acc: vec![Acc::default(); n_items],
            touched: vec![0; n_items.div_ceil(64)],
        }
    }
}

/// Items per parallel block: the per-item lists of one block are appended
/// to the store before the next block starts, so the build's peak memory is
/// the store plus one block.
const BLOCK: usize = 1024;

/// The sparse build of item-item similarities in the model's orientation.
pub(crate) fn build_sparse(m: &RatingMatrix, b: &BiasBaseline, cfg: &KnnConfig) -> Similarities {
    let n = m.n_items();
    let input = Centred::new(m, b, cfg.similarity);
    let rule = Rule::new(cfg);
    let mut ptr = Vec::with_capacity(n + 1);
    ptr.push(0);
    let mut items = Vec::new();
    let mut sims = Vec::new();
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let rows: Vec<(Vec<u32>, Vec<f32>)> = (start..end)
            .into_par_iter()
            .with_min_len(16)
            .map_init(
                || Scratch::new(n),
                |s, i| item_row(i, &input, rule, cfg.max_neighbours, s),
            )
            .collect();
        for (ri, rs) in rows {
            items.extend_from_slice(&ri);
            sims.extend_from_slice(&rs);
            ptr.push(items.len());
        }
    }
    items.shrink_to_fit();
    sims.shrink_to_fit();
    Similarities { ptr, items, sims }
}

/// One item's row: accumulate over its raters' rows, then emit the touched
/// items in index order.
fn item_row(
    i: usize,
    input: &Centred,
    rule: Rule,
    cap: Option<usize>,
    s: &mut Scratch,
) -> (Vec<u32>, Vec<f32>) {
    let Scratch { acc, touched } = s;
    for p in input.col_ptr[i]..input.col_ptr[i + 1] {
        let u = input.col_rows[p] as usize;
        let xi = f64::from(input.col_x[p]);
        let xi2 = xi * xi;
        let r = input.row_ptr[u]..input.row_ptr[u + 1];
        for (&j, &xj) in input.row_cols[r.clone()].iter().zip(&input.row_x[r]) {
            // Unconditional: cheaper than a mispredicted `if a.n == 0`.
            touched[j as usize / 64] |= 1 << (j % 64);
            let a = &mut acc[j as usize];
            let xj = f64::from(xj);
            a.dot += xi * xj;
            a.sq_i += xi2;
            a.sq_j += xj * xj;
            a.n += 1;
        }
    }
    // Emit the touched items in index order into buffers sized for all of
    // them, advancing only over kept ones (no unpredictable branch).
    let touched_count: u32 = touched.iter().map(|w| w.count_ones()).sum();
    let mut items = vec![0u32; touched_count as usize];
    let mut sims = vec![0f32; touched_count as usize];
    let mut len = 0;
    for (w, word) in touched.iter_mut().enumerate() {
        let mut bits = std::mem::take(word);
        while bits != 0 {
            let j = w * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let a = std::mem::take(&mut acc[j]);
            let sim = rule.value(a.dot, a.sq_i, a.sq_j, a.n);
            items[len] = j as u32;
            sims[len] = sim;
            len += usize::from((sim != 0.0) & (j != i));
        }
    }
    items.truncate(len);
    sims.truncate(len);
    if let Some(cap) = cap {
        if items.len() > cap {
            let mut pairs: Vec<(f32, u32)> =
                sims.iter().copied().zip(items.iter().copied()).collect();
            pairs.select_nth_unstable_by(cap - 1, |a, b| by_preference(*a, *b));
            pairs.truncate(cap);
            pairs.sort_unstable_by_key(|p| p.1);
            items = pairs.iter().map(|p| p.1).collect();
            sims = pairs.iter().map(|p| p.0).collect();
        }
    }
    (items, sims)
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
    Ok(build_sparse(&m, &b, cfg))
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
