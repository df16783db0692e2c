//! The fitted KNN model: fit (similarities, K on validation), prediction,
//! scoring and similar items.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::time::Instant;

use movierec_core::Error as CoreError;
use movierec_core::{
    top_k, BiasBaseline, Control, EpochRecord, Fit, ItemIdx, Observer, RatingMatrix, RatingScale,
    Ratings, Recommender, RunContext, SetMetrics, UserIdx,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{KnnConfig, Neighbourhood, Prediction};
use crate::error::{Error, Result};
use crate::similarity::{build_sparse, by_preference, orient, Lookup, Similarities};

// Fold-in and the rated neighbourhood's scorers live in child modules:
// they read the model's private parts.
mod fold_in;
mod rated;

/// One neighbour of an item, as [`KnnModel::similar`] returns it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    /// The neighbouring item.
    pub item: ItemIdx,
    /// Its similarity (after shrinkage).
    pub similarity: f32,
    /// Number of users who rated both items.
    pub support: u32,
}

/// The validation score of one candidate K (`--k auto`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    /// The candidate K.
    pub k: usize,
    /// Metrics on the validation set, the model's own bias baseline standing
    /// in where KNN has no estimate.
    pub validation: SetMetrics,
}

/// The training ratings in the model's orientation (rows = users, columns =
/// items; swapped in user-based mode), with what prediction needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Oriented {
    row_ptr: Vec<usize>,
    row_cols: Vec<u32>,
    row_values: Vec<f32>,
    col_ptr: Vec<usize>,
    col_rows: Vec<u32>,
    col_mean: Vec<f32>,
    baseline: BiasBaseline,
    scale: RatingScale,
}

impl Oriented {
    fn new(m: &RatingMatrix, baseline: BiasBaseline) -> Self {
        let mut row_ptr = vec![0];
        let (mut row_cols, mut row_values) =
            (Vec::with_capacity(m.nnz()), Vec::with_capacity(m.nnz()));
        for u in 0..m.n_users() {
            let (items, values) = m.user_ratings(UserIdx(u as u32));
            row_cols.extend(items.iter().map(|&i| i as u32));
            row_values.extend_from_slice(values);
            row_ptr.push(row_cols.len());
        }
        let mut col_ptr = vec![0];
        let mut col_rows = Vec::with_capacity(m.nnz());
        for i in 0..m.n_items() {
            col_rows.extend(
                m.item_ratings(ItemIdx(i as u32))
                    .0
                    .iter()
                    .map(|&u| u as u32),
            );
            col_ptr.push(col_rows.len());
        }
        let col_mean = (0..m.n_items())
            .map(|i| m.item_mean(ItemIdx(i as u32)))
            .collect();
        Self {
            row_ptr,
            row_cols,
            row_values,
            col_ptr,
            col_rows,
            col_mean,
            baseline,
            scale: m.scale(),
        }
    }

    #[inline]
    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let s = self.row_ptr[r]..self.row_ptr[r + 1];
        (&self.row_cols[s.clone()], &self.row_values[s])
    }

    #[inline]
    fn col(&self, c: usize) -> &[u32] {
        &self.col_rows[self.col_ptr[c]..self.col_ptr[c + 1]]
    }

    fn n_cols(&self) -> usize {
        self.col_ptr.len() - 1
    }

    fn memory_bytes(&self) -> usize {
        (self.row_ptr.len() + self.col_ptr.len()) * 8
            + (self.row_cols.len()
                + self.row_values.len()
                + self.col_rows.len()
                + self.col_mean.len())
                * 4
            + (self.baseline.user_bias.len() + self.baseline.item_bias.len()) * 4
    }
}

/// A neighbour candidate of one prediction: a rated item with a similarity.
#[derive(Debug, Clone, Copy)]
struct Cand {
    j: u32,
    sim: f32,
    r: f32,
}

/// The report neighbourhood's cut of one target: its K-th neighbour in
/// preference order, `None` when it has at most K.
type Cut = Option<(f32, u32)>;

/// Reusable per-thread buffers of a prediction.
#[derive(Debug, Default)]
struct Buf {
    cands: Vec<Cand>,
    keys: Vec<(f32, u32)>,
}

thread_local! {
    static BUF: RefCell<Buf> = RefCell::new(Buf::default());
}

/// The rated items of a row that have a similarity with the target: a
/// sorted intersection, in ascending item order, by binary search from the
/// shorter side when the lengths differ much, else by a linear merge.
fn intersect(a: &[u32], ar: &[f32], b: &[u32], bs: &[f32], out: &mut Vec<Cand>) {
    out.clear();
    if a.len() * 8 < b.len() {
        let mut lo = 0;
        for (p, &j) in a.iter().enumerate() {
            lo += b[lo..].partition_point(|&x| x < j);
            if lo == b.len() {
                break;
            }
            if b[lo] == j {
                out.push(Cand {
                    j,
                    sim: bs[lo],
                    r: ar[p],
                });
                lo += 1;
            }
        }
    } else if b.len() * 8 < a.len() {
        let mut lo = 0;
        for (q, &j) in b.iter().enumerate() {
            lo += a[lo..].partition_point(|&x| x < j);
            if lo == a.len() {
                break;
            }
            if a[lo] == j {
                out.push(Cand {
                    j,
                    sim: bs[q],
                    r: ar[lo],
                });
                lo += 1;
            }
        }
    } else {
        let (mut p, mut q) = (0, 0);
        while p < a.len() && q < b.len() {
            match a[p].cmp(&b[q]) {
                std::cmp::Ordering::Less => p += 1,
                std::cmp::Ordering::Greater => q += 1,
                std::cmp::Ordering::Equal => {
                    out.push(Cand {
                        j: a[p],
                        sim: bs[q],
                        r: ar[p],
                    });
                    p += 1;
                    q += 1;
                }
            }
        }
    }
}

/// Item-based k-nearest-neighbour recommender (user-based on request), the
/// report's first model.
///
/// ## Algorithm
/// Fit computes, for every pair of items `i, j` rated by at least
/// `min_support` common users `U_ij`, the cosine of centred ratings
/// `x_ui = r_ui - c_ui` over those users,
/// `sim(i, j) = sum_U x_ui x_uj / sqrt(sum_U x_ui^2 * sum_U x_uj^2)`,
/// shrunk by `n / (n + shrinkage)` with `n = |U_ij|`. The centre `c_ui` is 0
/// (cosine), the user's mean (adjusted cosine, the report's), the item's mean
/// (Pearson) or the bias baseline `mu + b_u + b_i` (pearson-baseline).
///
/// To predict user `u` on item `m`, the neighbourhood is either the report's
/// `N_u^K(m)` (the K items most similar to `m`, of which those `u` rated) or
/// the K items most similar to `m` among those `u` rated; ties go to the
/// smaller index. The prediction is
/// `b(u, m) + sum_N sim(m, j) (r_uj - b(u, j)) / sum_N |sim(m, j)|` with
/// `b = 0` (the report's weighted mean), the item means (mean-centred) or
/// the bias baseline. No neighbour gives no estimate (NaN in
/// [`score_into`](Recommender::score_into), `None` from `predict`): the
/// harness uses its fallback and counts it.
///
/// With `k_grid` and a validation set, fit builds the similarities once,
/// sorts each validation pair's candidates once and scores every K of the
/// grid from prefix sums, then keeps the K with the lowest RMSE
/// ([`k`](Self::k), [`k_scores`](Self::k_scores)).
///
/// User-based mode runs the same code on the transposed matrix: rows are
/// items, the compared "items" are users.
///
/// ## Complexity
/// With `n_u` ratings per user, the similarity build costs `sum_u n_u^2`
/// multiply-adds (61 M on ml-latest-small), plus one pass over each item's
/// touched items. Memory: 8 bytes per stored pair (see [`Similarities`]) and
/// 12 per training rating, plus a lookup index of 12 bytes per 64 item
/// pairs where the store is dense enough (17.7 MB on ml-latest-small). One
/// prediction finds the similarities of the user's `n_u` rated items with
/// the target, by the index (`n_u` bit tests and popcounts) or by a sorted
/// intersection, then selects the K best in `O(n_u)`. Scoring every item for
/// one user accumulates over the neighbour lists of the items the user rated
/// when every rated neighbour counts (report neighbourhood, or `n_u <= K`,
/// exact store); for the rated neighbourhood with `n_u > K` it accumulates
/// the same way block by block, keeping each crowded item's K best by an
/// integer selection (mid-size users), or walks each item's list best
/// first to its K-th rated neighbour (heavy users); else it walks or
/// predicts item by item.
///
/// ## Parallelisation
/// The similarity build runs over items with rayon: exact, each pair once
/// (item `i` against the items after it) and mirrored in parallel over row
/// ranges; capped, full rows in blocks of 1,024 items. Each item's list is
/// computed by one task with its own dense accumulator (f64) and collected
/// in order, so the store is the same bit
/// for bit whatever the thread count (no float reduction crosses threads).
/// Choosing K predicts the validation pairs in parallel and sums serially.
/// Prediction is sequential per call; callers parallelise over pairs or
/// users. Scoring a row of more than K ratings (rated neighbourhood, exact
/// store) also runs over blocks of columns with rayon; every column is
/// computed by one task alone, so the scores are the same bits whatever the
/// thread count.
///
/// ## Example
/// ```
/// use movierec_core::{Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings,
///     Recommender, UserIdx, RunContext};
/// use movierec_knn::KnnConfig;
/// // Rows are users, columns items; 0 means unrated (the report's 5x4 example).
/// let dense = [[5., 0., 3., 0.], [4., 0., 1., 1.], [2., 1., 0., 5.], [1., 0., 3., 2.], [0., 1., 4., 0.]];
/// let mut entries = Vec::new();
/// for (u, row) in dense.iter().enumerate() {
///     for (i, &r) in row.iter().enumerate() {
///         if r > 0.0 {
///             entries.push(Rating::new(u as u32, i as u32, r));
///         }
///     }
/// }
/// let train = RatingMatrix::new(&Ratings::new(entries, 5, 4, RatingScale::new(1.0, 5.0))).unwrap();
/// let model = KnnConfig::report().fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
/// // Item 1 is similar to item 0 (+1) and opposite to item 2 (-1); user 0
/// // rated both: (1 * 5 - 1 * 3) / (1 + 1) = 1.
/// let p = model.predict(UserIdx(0), ItemIdx(1)).unwrap();
/// assert!((p - 1.0).abs() < 1e-6);
/// assert_eq!(model.similar(ItemIdx(1), 1)[0].item, ItemIdx(0));
/// ```
///
/// References: B. Sarwar, G. Karypis, J. Konstan, J. Riedl, "Item-based
/// collaborative filtering recommendation algorithms", WWW 2001;
/// Y. Koren, "Factor in the neighbors", ACM TKDD 4(1), 2010.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct KnnModel {
    config: KnnConfig,
    k_scores: Vec<KScore>,
    n_items: usize,
    data: Oriented,
    sims: Similarities,
    /// Report neighbourhood: per target column, the K-th neighbour in
    /// preference order (`None` when the target has at most K).
    cuts: Vec<Option<(f32, u32)>>,
    /// Constant-time similarity lookup, derived from `sims` (not saved).
    lookup: Option<Lookup>,
    /// Each neighbour list in preference order, derived from `sims` on the
    /// first scoring that needs it (not saved).
    pref: Derived<PrefOrder>,
}

/// A cache derived from the model on first use: not saved, not compared
/// (two models that differ only in it are equal), shown only as built or not.
#[derive(Clone)]
struct Derived<T>(OnceLock<T>);

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Self(OnceLock::new())
    }
}

impl<T> PartialEq for Derived<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let built = if self.0.get().is_some() {
            "built"
        } else {
            "not built"
        };
        write!(f, "Derived({built})")
    }
}

/// The head of every neighbour list in preference order (similarity
/// descending, then item ascending), as contiguous `(item, similarity)`
/// pairs, so a walk reads memory in order: the first K of each list for the
/// report neighbourhood (its cut looks no further), the first
/// [`PrefOrder::rated_cap`] for the rated one (a walk that runs past the head
/// falls back to a gather).
#[derive(Debug, Clone)]
struct PrefOrder {
    ptr: Vec<usize>,
    items: Vec<u32>,
    sims: Vec<f32>,
}

impl PrefOrder {
    /// The head length kept for the rated neighbourhood: a few times K,
    /// at least 256 (tests go lower, to reach the gather fallback).
    fn rated_cap(k: usize) -> usize {
        let head = k.saturating_mul(4);
        if cfg!(test) {
            head
        } else {
            head.max(256)
        }
    }

    fn build(sims: &Similarities, cap: usize) -> Self {
        let lists: Vec<Vec<(f32, u32)>> = (0..sims.n_items())
            .into_par_iter()
            .map(|col| {
                let (ni, ns) = sims.neighbours(col);
                let mut keys: Vec<(f32, u32)> =
                    ns.iter().copied().zip(ni.iter().copied()).collect();
                let by = |a: &(f32, u32), b: &(f32, u32)| by_preference(*a, *b);
                if cap < keys.len() {
                    if cap > 0 {
                        keys.select_nth_unstable_by(cap - 1, by);
                    }
                    keys.truncate(cap);
                }
                keys.sort_unstable_by(by);
                keys
            })
            .collect();
        let total = lists.iter().map(Vec::len).sum();
        let mut ptr = Vec::with_capacity(lists.len() + 1);
        ptr.push(0);
        let (mut items, mut sims) = (Vec::with_capacity(total), Vec::with_capacity(total));
        for l in lists {
            items.extend(l.iter().map(|x| x.1));
            sims.extend(l.iter().map(|x| x.0));
            ptr.push(items.len());
        }
        Self { ptr, items, sims }
    }

    /// The head of `col`'s list: items and similarities, best first.
    #[inline]
    fn head(&self, col: usize) -> (&[u32], &[f32]) {
        let r = self.ptr[col]..self.ptr[col + 1];
        (&self.items[r.clone()], &self.sims[r])
    }

    fn memory_bytes(&self) -> usize {
        self.ptr.len() * 8 + self.items.len() * 8
    }
}

/// What a saved model holds: everything but the derived lookup index.
#[derive(Serialize, Deserialize)]
struct Stored {
    config: KnnConfig,
    k_scores: Vec<KScore>,
    n_items: usize,
    data: Oriented,
    sims: Similarities,
    cuts: Vec<Option<(f32, u32)>>,
}

impl From<Stored> for KnnModel {
    fn from(s: Stored) -> Self {
        let lookup = Lookup::build(&s.sims);
        Self {
            config: s.config,
            k_scores: s.k_scores,
            n_items: s.n_items,
            data: s.data,
            sims: s.sims,
            cuts: s.cuts,
            lookup,
            pref: Derived::default(),
        }
    }
}

impl From<KnnModel> for Stored {
    fn from(m: KnnModel) -> Self {
        Self {
            config: m.config,
            k_scores: m.k_scores,
            n_items: m.n_items,
            data: m.data,
            sims: m.sims,
            cuts: m.cuts,
        }
    }
}

impl KnnModel {
    /// The configuration as fitted, its `k` the K in use.
    pub fn config(&self) -> &KnnConfig {
        &self.config
    }

    /// The K in use (the grid's winner when K was chosen on validation).
    pub fn k(&self) -> usize {
        self.config.k
    }

    /// The validation score of every K of the grid, in grid order (empty
    /// when K was not chosen on validation).
    pub fn k_scores(&self) -> &[KScore] {
        &self.k_scores
    }

    /// The similarity store (items x items, or users x users in user-based
    /// mode).
    pub fn similarities(&self) -> &Similarities {
        &self.sims
    }

    /// Bytes held by the model: the similarity store, its lookup index, and
    /// its copy of the training ratings.
    pub fn memory_bytes(&self) -> usize {
        self.sims.memory_bytes()
            + self.data.memory_bytes()
            + self.cuts.len() * 12
            + self.lookup.as_ref().map_or(0, Lookup::memory_bytes)
            + self.pref.0.get().map_or(0, PrefOrder::memory_bytes)
    }

    /// The `n` items most similar to `item`, best first (ties by index), with
    /// their similarity and support.
    ///
    /// In user-based mode the model holds user-user similarities, so this
    /// returns an empty list.
    pub fn similar(&self, item: ItemIdx, n: usize) -> Vec<Neighbour> {
        if self.config.user_based || n == 0 {
            return Vec::new();
        }
        let (items, sims) = self.sims.neighbours(item.get());
        let mut keys: Vec<(f32, u32)> = sims.iter().copied().zip(items.iter().copied()).collect();
        if n < keys.len() {
            keys.select_nth_unstable_by(n - 1, |a, b| by_preference(*a, *b));
            keys.truncate(n);
        }
        keys.sort_unstable_by(|a, b| by_preference(*a, *b));
        let raters = self.data.col(item.get());
        keys.into_iter()
            .map(|(s, j)| Neighbour {
                item: ItemIdx(j),
                similarity: s,
                support: common(raters, self.data.col(j as usize)),
            })
            .collect()
    }

    /// The centre `b(row, col)` of the prediction form.
    #[inline]
    fn base(&self, row: usize, col: usize) -> f32 {
        match self.config.prediction {
            Prediction::Report => 0.0,
            Prediction::MeanCentred => self.data.col_mean[col],
            Prediction::Baseline => self
                .data
                .baseline
                .estimate(UserIdx(row as u32), ItemIdx(col as u32)),
        }
    }

    /// One neighbour's share of the numerator: `sim * (r - b(row, j))`.
    #[inline]
    fn term(&self, row: usize, c: Cand) -> f64 {
        f64::from(c.sim) * (f64::from(c.r) - f64::from(self.base(row, c.j as usize)))
    }

    #[inline]
    fn finish(&self, row: usize, col: usize, num: f64, den: f64) -> f32 {
        if den > 0.0 {
            (f64::from(self.base(row, col)) + num / den) as f32
        } else {
            f32::NAN
        }
    }

    /// The rated items of `row` with a similarity to `col`, ascending: by
    /// the lookup index where there is one and the row is not much longer
    /// than the neighbour list, else by a sorted intersection.
    #[inline]
    fn gather(&self, row: usize, col: usize, out: &mut Vec<Cand>) {
        let (ri, rv) = self.data.row(row);
        let (ni, ns) = self.sims.neighbours(col);
        match &self.lookup {
            Some(lk) if ri.len() <= 8 * ni.len() => {
                out.clear();
                for (&j, &r) in ri.iter().zip(rv) {
                    if let Some(sim) = lk.get(&self.sims, col, j) {
                        out.push(Cand { j, sim, r });
                    }
                }
            }
            _ => intersect(ri, rv, ni, ns, out),
        }
    }

    /// The least-preferred `(sim, item)` the neighbourhood rule keeps among
    /// the candidates in `buf.cands` for column `col`, or `None` to keep all.
    fn neighbourhood_cut(&self, col: usize, buf: &mut Buf) -> Option<(f32, u32)> {
        match self.config.neighbourhood {
            Neighbourhood::Report => self.cuts.get(col).copied().flatten(),
            Neighbourhood::Rated if buf.cands.len() > self.config.k => {
                buf.keys.clear();
                buf.keys.extend(buf.cands.iter().map(|c| (c.sim, c.j)));
                let k = self.config.k;
                buf.keys
                    .select_nth_unstable_by(k - 1, |a, b| by_preference(*a, *b));
                Some(buf.keys[k - 1])
            }
            Neighbourhood::Rated => None,
        }
    }

    /// The estimate from the candidates in `buf.cands` (ascending items):
    /// the neighbourhood rule picks among them, then the prediction form
    /// sums in ascending item order, as the accumulating scorer does.
    fn estimate_candidates(&self, row: usize, col: usize, buf: &mut Buf) -> f32 {
        let cut = self.neighbourhood_cut(col, buf);
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for &c in &buf.cands {
            if cut.is_none_or(|cut| by_preference((c.sim, c.j), cut).is_le()) {
                num += self.term(row, c);
                den += f64::from(c.sim.abs());
            }
        }
        self.finish(row, col, num, den)
    }

    /// The estimate for (row, col) in the model's orientation; NaN without a
    /// neighbour.
    fn estimate(&self, row: usize, col: usize, buf: &mut Buf) -> f32 {
        self.gather(row, col, &mut buf.cands);
        self.estimate_candidates(row, col, buf)
    }

    fn estimate_one(&self, row: usize, col: usize) -> f32 {
        BUF.with(|b| self.estimate(row, col, &mut b.borrow_mut()))
    }

    /// Scores every column for one row, all ways giving the bits `estimate`
    /// gives (the same neighbours, summed in ascending item order), by the
    /// cheapest of:
    /// - accumulating over the neighbour lists of the rated items,
    ///   `sum_j |N(j)|` steps, where the store is exact (symmetric): every
    ///   rated neighbour counts for the report neighbourhood (within its
    ///   cut); for the rated neighbourhood a first pass counts each column's
    ///   rated neighbours, the second sums the columns with at most K and
    ///   collects the others' candidates (in item order) to keep their K best;
    /// - walking the head of each column's list in preference order (built
    ///   once, on first need) and marking rated neighbours in a bitset over
    ///   the columns until K are found (rated neighbourhood) or the K-entry
    ///   head ends (report neighbourhood), then summing the marked ones in
    ///   item order: about `n_cols * K * n_cols / n_ratings` steps, short for
    ///   heavy rows whose rated items fill the head of every list (a column
    ///   whose head runs out first is gathered);
    /// - else, for a light row of a capped store, gathering column by
    ///   column: `n_cols * n_ratings` lookups.
    ///
    /// The rated neighbourhood on the exact store, for a row of more than K
    /// ratings, has its own two (in [`rated`]): below `n_cols / 20` ratings
    /// the blocked sift ([`score_sift`](Self::score_sift)), above it the
    /// parallel walk with a cheap fallback ([`score_walk`](Self::score_walk)).
    ///
    /// Columns set in `skip` may be left unscored (NaN or anything): the
    /// walk skips them.
    fn score_row(&self, row: usize, out: &mut [f32], skip: Option<&[u64]>) {
        let (ri, rv) = self.data.row(row);
        let n = self.data.n_cols();
        let k = self.config.k;
        let exact = self.config.max_neighbours.is_none();
        let report = self.config.neighbourhood == Neighbourhood::Report;
        let spread: usize = ri
            .iter()
            .map(|&j| self.sims.neighbours(j as usize).0.len())
            .sum();
        // Steps of a walk: each column's head up to K of the row's ratings,
        // spread evenly, then a gather where the head runs out.
        let walk_steps = if report {
            n.saturating_mul(k)
        } else {
            let head = PrefOrder::rated_cap(k);
            let per_col = k.saturating_mul(n) / ri.len().max(1);
            if per_col <= head {
                n.saturating_mul(per_col)
            } else {
                n.saturating_mul(head + ri.len())
            }
        };
        let accumulate_steps = if report || ri.len() <= k {
            spread
        } else {
            spread.saturating_mul(2)
        };
        if exact && !report && ri.len() > k {
            if ri.len().saturating_mul(20) >= n {
                self.score_walk(row, ri, rv, out, skip);
            } else {
                self.score_sift(row, ri, rv, out);
            }
        } else if exact && accumulate_steps <= walk_steps {
            self.score_accumulate(row, ri, rv, out);
        } else if !exact && ri.len().saturating_mul(n) <= walk_steps.min(self.sims.nnz()) {
            BUF.with(|b| {
                let buf = &mut b.borrow_mut();
                for (col, o) in out.iter_mut().enumerate() {
                    *o = self.estimate(row, col, buf);
                }
            });
        } else {
            let mut walk = Walk::new(self, row, ri, rv);
            for (col, o) in out.iter_mut().enumerate() {
                *o = walk.estimate(row, col);
            }
        }
    }

    /// The accumulating scorer of [`score_row`](Self::score_row) (exact
    /// store only).
    fn score_accumulate(&self, row: usize, ri: &[u32], rv: &[f32], out: &mut [f32]) {
        let n = self.data.n_cols();
        let k = self.config.k;
        let report = self.config.neighbourhood == Neighbourhood::Report;
        let mut num = vec![0.0f64; n];
        let mut den = vec![0.0f64; n];
        // Rated neighbourhood with more than K ratings: count first; the
        // columns with more than K rated neighbours get their candidates
        // collected at `start[m]..` instead of summed.
        let sift = !report && ri.len() > k;
        let mut start = Vec::new();
        let mut cands: Vec<Cand> = Vec::new();
        if sift {
            let mut count = vec![0u32; n];
            for &j in ri {
                for &m in self.sims.neighbours(j as usize).0 {
                    count[m as usize] += 1;
                }
            }
            start = vec![u32::MAX; n + 1];
            let mut total = 0u32;
            for (m, &c) in count.iter().enumerate() {
                if c as usize > k {
                    start[m] = total;
                    total += c;
                }
            }
            start[n] = total;
            cands.resize(
                total as usize,
                Cand {
                    j: 0,
                    sim: 0.0,
                    r: 0.0,
                },
            );
        }
        let mut fill = start.clone();
        for (&j, &r) in ri.iter().zip(rv) {
            let (ni, ns) = self.sims.neighbours(j as usize);
            for (&m, &s) in ni.iter().zip(ns) {
                let m = m as usize;
                if report {
                    if let Some(cut) = self.cuts[m] {
                        if by_preference((s, j), cut).is_gt() {
                            continue;
                        }
                    }
                } else if sift && fill[m] != u32::MAX {
                    cands[fill[m] as usize] = Cand { j, sim: s, r };
                    fill[m] += 1;
                    continue;
                }
                num[m] += self.term(row, Cand { j, sim: s, r });
                den[m] += f64::from(s.abs());
            }
        }
        let mut keys: Vec<(f32, u32)> = Vec::new();
        for (col, o) in out.iter_mut().enumerate() {
            if sift && start[col] != u32::MAX {
                // The K best of this column's candidates (in item order).
                let c = &cands[start[col] as usize..fill[col] as usize];
                keys.clear();
                keys.extend(c.iter().map(|c| (c.sim, c.j)));
                keys.select_nth_unstable_by(k - 1, |a, b| by_preference(*a, *b));
                let cut = keys[k - 1];
                let (mut sn, mut sd) = (0.0f64, 0.0f64);
                for &c in c {
                    if by_preference((c.sim, c.j), cut).is_le() {
                        sn += self.term(row, c);
                        sd += f64::from(c.sim.abs());
                    }
                }
                *o = self.finish(row, col, sn, sd);
            } else {
                *o = self.finish(row, col, num[col], den[col]);
            }
        }
    }

    /// The preference order of every list, built on first call.
    fn pref(&self) -> &PrefOrder {
        self.pref.0.get_or_init(|| {
            let cap = match self.config.neighbourhood {
                Neighbourhood::Report => self.config.k,
                Neighbourhood::Rated => PrefOrder::rated_cap(self.config.k),
            };
            PrefOrder::build(&self.sims, cap)
        })
    }

    /// The report neighbourhood's cut of every column for K = `self.k()`.
    fn compute_cuts(&mut self) {
        if self.config.neighbourhood != Neighbourhood::Report {
            self.cuts.clear();
            return;
        }
        let k = self.config.k;
        let sims = &self.sims;
        self.cuts = (0..sims.n_items())
            .into_par_iter()
            .map_init(Vec::new, |keys: &mut Vec<(f32, u32)>, col| {
                let (ni, ns) = sims.neighbours(col);
                if ni.len() <= k {
                    return None;
                }
                keys.clear();
                keys.extend(ns.iter().copied().zip(ni.iter().copied()));
                keys.select_nth_unstable_by(k - 1, |a, b| by_preference(*a, *b));
                Some(keys[k - 1])
            })
            .collect();
    }

    /// Validation metrics of every K in `grid`: each pair's candidates are
    /// sorted once in preference order, and every K takes a prefix of them
    /// (the K best for the rated neighbourhood; those inside the target's
    /// top K for the report's).
    fn grid_scores(&self, validation: &Ratings, grid: &[usize]) -> Vec<KScore> {
        let orient = |u: UserIdx, i: ItemIdx| {
            if self.config.user_based {
                (i.get(), u.get())
            } else {
                (u.get(), i.get())
            }
        };
        // Report neighbourhood: the cut of each validation target for each K.
        let mut cuts: Vec<Option<Vec<Cut>>> = vec![None; self.data.n_cols()];
        if self.config.neighbourhood == Neighbourhood::Report {
            let mut cols: Vec<usize> = validation
                .entries
                .iter()
                .map(|r| orient(r.user, r.item).1)
                .collect();
            cols.sort_unstable();
            cols.dedup();
            let computed: Vec<(usize, Vec<Cut>)> = cols
                .into_par_iter()
                .map(|col| {
                    let (ni, ns) = self.sims.neighbours(col);
                    let mut keys: Vec<(f32, u32)> =
                        ns.iter().copied().zip(ni.iter().copied()).collect();
                    keys.sort_unstable_by(|a, b| by_preference(*a, *b));
                    (
                        col,
                        grid.iter()
                            .map(|&k| (k < keys.len()).then(|| keys[k - 1]))
                            .collect(),
                    )
                })
                .collect();
            for (col, c) in computed {
                cuts[col] = Some(c);
            }
        }
        let preds: Vec<Vec<f32>> = validation
            .entries
            .par_iter()
            .map_init(Buf::default, |buf, r| {
                let (row, col) = orient(r.user, r.item);
                let fallback = self
                    .data
                    .baseline
                    .estimate(UserIdx(row as u32), ItemIdx(col as u32));
                self.gather(row, col, &mut buf.cands);
                buf.cands
                    .sort_unstable_by(|a, b| by_preference((a.sim, a.j), (b.sim, b.j)));
                let (mut num, mut den) = (
                    Vec::with_capacity(buf.cands.len() + 1),
                    Vec::with_capacity(buf.cands.len() + 1),
                );
                let (mut sn, mut sd) = (0.0f64, 0.0f64);
                num.push(0.0);
                den.push(0.0);
                for &c in &buf.cands {
                    sn += self.term(row, c);
                    sd += f64::from(c.sim.abs());
                    num.push(sn);
                    den.push(sd);
                }
                grid.iter()
                    .enumerate()
                    .map(|(g, &k)| {
                        let len = match &cuts[col] {
                            Some(cs) => match cs[g] {
                                Some(cut) => buf
                                    .cands
                                    .partition_point(|c| by_preference((c.sim, c.j), cut).is_le()),
                                None => buf.cands.len(),
                            },
                            None => k.min(buf.cands.len()),
                        };
                        let p = self.finish(row, col, num[len], den[len]);
                        if p.is_finite() {
                            p
                        } else {
                            fallback
                        }
                    })
                    .collect()
            })
            .collect();
        grid.iter()
            .enumerate()
            .map(|(g, &k)| KScore {
                k,
                validation: SetMetrics::compute(
                    preds
                        .iter()
                        .zip(&validation.entries)
                        .map(|(p, r)| (p[g], r.value)),
                    self.data.scale,
                ),
            })
            .collect()
    }
}

impl KnnModel {
    /// The row's residuals `r - b(row, j)` by column (as [`KnnModel::term`]
    /// computes them, NaN where unrated) and one bit per column it rated:
    /// the per-row state of both column walks.
    pub(super) fn residuals(&self, row: usize, ri: &[u32], rv: &[f32]) -> (Vec<f64>, Vec<u64>) {
        let n = self.data.n_cols();
        let mut resid = vec![f64::NAN; n];
        let mut rated = vec![0u64; n.div_ceil(64)];
        for (&j, &r) in ri.iter().zip(rv) {
            let j = j as usize;
            resid[j] = f64::from(r) - f64::from(self.base(row, j));
            rated[j / 64] |= 1 << (j % 64);
        }
        (resid, rated)
    }
}

/// Scores columns of one row by walking the heads of their lists in
/// preference order (see [`KnnModel::score_row`]).
struct Walk<'a> {
    model: &'a KnnModel,
    pref: &'a PrefOrder,
    /// `r - b(row, j)` of each rated column `j` (as [`KnnModel::term`]
    /// computes it), NaN where unrated.
    resid: Vec<f64>,
    /// One bit per column: rated by the row (a small, cache-resident test).
    rated: Vec<u64>,
    /// One bit per column: a chosen neighbour of the current target.
    bits: Vec<u64>,
    /// The chosen neighbours' similarities, by column.
    sim: Vec<f32>,
    /// Buffers of the gather fallback.
    buf: Buf,
}

impl<'a> Walk<'a> {
    fn new(model: &'a KnnModel, row: usize, ri: &[u32], rv: &[f32]) -> Self {
        let n = model.data.n_cols();
        let (resid, rated) = model.residuals(row, ri, rv);
        Self {
            model,
            pref: model.pref(),
            resid,
            rated,
            bits: vec![0; n.div_ceil(64)],
            sim: vec![0.0; n],
            buf: Buf::default(),
        }
    }

    /// The estimate for (row, col): the same neighbours as
    /// [`KnnModel::estimate_candidates`] picks, summed in the same
    /// (ascending item) order, so the same bits.
    fn estimate(&mut self, row: usize, col: usize) -> f32 {
        let m = self.model;
        let k = m.config.k;
        let rated_rule = m.config.neighbourhood == Neighbourhood::Rated;
        let (hi, hs) = self.pref.head(col);
        let (mut found, mut lo_w, mut hi_w) = (0usize, usize::MAX, 0usize);
        let mut complete = false;
        for (&j, &s) in hi.iter().zip(hs) {
            let j = j as usize;
            if self.rated[j / 64] >> (j % 64) & 1 != 0 {
                self.bits[j / 64] |= 1 << (j % 64);
                self.sim[j] = s;
                lo_w = lo_w.min(j / 64);
                hi_w = hi_w.max(j / 64);
                found += 1;
                if rated_rule && found == k {
                    complete = true;
                    break;
                }
            }
        }
        // The report rule's head is its whole neighbourhood; the rated rule
        // is done when it found K or its head is the whole list.
        let complete = complete || !rated_rule || hi.len() == m.sims.neighbours(col).0.len();
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for w in lo_w..hi_w.wrapping_add(1).max(lo_w) {
            let mut x = std::mem::take(&mut self.bits[w]);
            while x != 0 {
                let j = w * 64 + x.trailing_zeros() as usize;
                x &= x - 1;
                let s = self.sim[j];
                num += f64::from(s) * self.resid[j];
                den += f64::from(s.abs());
            }
        }
        if complete {
            m.finish(row, col, num, den)
        } else {
            m.estimate(row, col, &mut self.buf)
        }
    }
}

/// Number of common entries of two sorted lists.
fn common(a: &[u32], b: &[u32]) -> u32 {
    let (mut p, mut q, mut n) = (0, 0, 0);
    while p < a.len() && q < b.len() {
        match a[p].cmp(&b[q]) {
            std::cmp::Ordering::Less => p += 1,
            std::cmp::Ordering::Greater => q += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                p += 1;
                q += 1;
            }
        }
    }
    n
}

impl Fit for KnnConfig {
    type Model = KnnModel;
    type Error = Error;

    /// Builds the similarities; with a non-empty `k_grid` and a validation
    /// set, chooses K on it (one [`EpochRecord`] per candidate K, in grid
    /// order, `epoch` its 1-based position); with a validation set and no
    /// grid, reports one record for the fixed K.
    /// The refit keeps the K that validation chose, with no grid.
    fn refit_config(&self, model: &KnnModel) -> Self {
        Self {
            k: model.k(),
            k_grid: Vec::new(),
            ..self.clone()
        }
    }

    /// Runs on a pool of `ctx.threads` workers; the model is the same for
    /// any thread count.
    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<KnnModel> {
        ctx.install(|| self.fit_here(train, validation, observer))?
    }
}

impl KnnConfig {
    /// [`Fit::fit`] on the current rayon pool.
    fn fit_here(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        observer: &mut dyn Observer,
    ) -> Result<KnnModel> {
        self.validate()?;
        if let Some(v) = validation {
            if v.n_users != train.n_users() || v.n_items != train.n_items() {
                return Err(Error::Shape {
                    n_users: train.n_users(),
                    n_items: train.n_items(),
                    got_users: v.n_users,
                    got_items: v.n_items,
                });
            }
        }
        let start = Instant::now();
        let (m, baseline) = orient(train, self)?;
        let sims = build_sparse(&m, &baseline, self);
        let data = Oriented::new(&m, baseline);
        drop(m);
        let mut model = KnnModel {
            config: self.clone(),
            k_scores: Vec::new(),
            n_items: train.n_items(),
            data,
            lookup: Lookup::build(&sims),
            sims,
            cuts: Vec::new(),
            pref: Derived::default(),
        };
        if let Some(v) = validation {
            let grid = if self.k_grid.is_empty() {
                vec![self.k]
            } else {
                self.k_grid.clone()
            };
            let scores = model.grid_scores(v, &grid);
            let seconds = start.elapsed().as_secs_f64();
            for (e, s) in scores.iter().enumerate() {
                let record = EpochRecord {
                    epoch: e + 1,
                    loss: None,
                    train: None,
                    validation: Some(s.validation),
                    seconds,
                };
                if observer.on_epoch(&record) == Control::Stop {
                    break;
                }
            }
            if !self.k_grid.is_empty() {
                let best = scores
                    .iter()
                    .min_by(|a, b| {
                        a.validation
                            .rmse
                            .total_cmp(&b.validation.rmse)
                            .then(a.k.cmp(&b.k))
                    })
                    .expect("the grid is not empty");
                model.config.k = best.k;
                model.k_scores = scores;
            }
        }
        model.compute_cuts();
        Ok(model)
    }
}

impl Recommender for KnnModel {
    fn n_items(&self) -> usize {
        self.n_items
    }

    fn n_users(&self) -> Option<usize> {
        let d = &self.data;
        let rows = if self.config.user_based {
            &d.col_ptr
        } else {
            &d.row_ptr
        };
        Some(rows.len().saturating_sub(1))
    }

    /// # Panics
    /// If `out.len() != self.n_items()` or `user` is outside the training
    /// matrix's index space.
    fn score_into(&self, user: UserIdx, out: &mut [f32]) {
        assert_eq!(out.len(), self.n_items, "score_into: output length");
        if self.config.user_based {
            BUF.with(|b| {
                let buf = &mut b.borrow_mut();
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.estimate(i, user.get(), buf);
                }
            });
        } else {
            self.score_row(user.get(), out, None);
        }
    }

    /// As the provided method (score, drop the seen items, keep the `k`
    /// best, ties by index), but without scoring the seen items where the
    /// scorer can skip columns.
    fn recommend(&self, user: UserIdx, k: usize, seen: &RatingMatrix) -> Vec<(ItemIdx, f32)> {
        let mut scores = vec![0.0; self.n_items];
        let (rated, _) = seen.user_ratings(user);
        if self.config.user_based {
            self.score_into(user, &mut scores);
        } else {
            let mut skip = vec![0u64; self.n_items.div_ceil(64)];
            for &i in rated {
                if i < self.n_items {
                    skip[i / 64] |= 1 << (i % 64);
                }
            }
            self.score_row(user.get(), &mut scores, Some(&skip));
        }
        for &i in rated {
            scores[i] = f32::NAN;
        }
        top_k(&scores, k)
    }

    fn predict(&self, user: UserIdx, item: ItemIdx) -> Option<f32> {
        let p = if self.config.user_based {
            self.estimate_one(item.get(), user.get())
        } else {
            self.estimate_one(user.get(), item.get())
        };
        p.is_finite().then_some(p)
    }

    fn score_new_user(&self, rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), CoreError> {
        if !self.can_fold_in() {
            return Err(CoreError::Unsupported(
                "a user-based KNN model cannot fold in a new user (it would need their similarity to every training user): train an item-based one".into(),
            ));
        }
        if let Some(&(i, _)) = rated.iter().find(|(i, _)| i.get() >= self.n_items) {
            return Err(CoreError::Unsupported(format!(
                "movie index {} is outside the model's {} movies",
                i.0, self.n_items
            )));
        }
        self.fold_in_scores(rated, out);
        Ok(())
    }

    /// The model's own similarities (capped lists keep the most similar).
    fn similar_items(&self, item: ItemIdx, k: usize) -> Result<Vec<(ItemIdx, f32)>, CoreError> {
        if !self.can_fold_in() {
            return Err(CoreError::Unsupported(
                "a user-based KNN model holds user-user similarities, not movie ones: train an item-based one".into(),
            ));
        }
        Ok(self
            .similar(item, k)
            .into_iter()
            .map(|n| (n.item, n.similarity))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_modes_agree() {
        let a: Vec<u32> = (0..200).filter(|x| x % 3 == 0).collect();
        let ar: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        for b in [
            vec![3u32, 4, 99, 150],
            (0..200).filter(|x| x % 2 == 0).collect(),
            (0..2000).collect::<Vec<u32>>(),
        ] {
            let bs: Vec<f32> = b.iter().map(|&x| -(x as f32)).collect();
            let mut got = Vec::new();
            intersect(&a, &ar, &b, &bs, &mut got);
            let want: Vec<u32> = a.iter().copied().filter(|x| b.contains(x)).collect();
            assert_eq!(got.iter().map(|c| c.j).collect::<Vec<_>>(), want);
            assert!(got
                .iter()
                .all(|c| c.r == c.j as f32 && c.sim == -(c.j as f32)));
            // And from the other side.
            intersect(&b, &bs, &a, &ar, &mut got);
            assert_eq!(got.iter().map(|c| c.j).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn common_counts_shared_entries() {
        assert_eq!(common(&[1, 3, 5, 7], &[0, 3, 7, 8]), 2);
        assert_eq!(common(&[], &[1]), 0);
    }
}

#[cfg(test)]
mod lookup_tests {
    use super::*;
    use movierec_core::{NoopObserver, Rating};

    /// Predictions through the lookup index equal those through sorted
    /// intersection, bit for bit, and the index is not saved.
    #[test]
    fn lookup_and_intersection_agree() {
        let mut t = Vec::new();
        for u in 0..40u32 {
            for i in 0..30u32 {
                if (u * 7 + i * 13) % 5 < 2 || u % 9 == 0 {
                    t.push(Rating::new(u, i, ((u + i) % 10 + 1) as f32 / 2.0));
                }
            }
        }
        let train = RatingMatrix::new(&Ratings::new(t, 40, 30, RatingScale::default())).unwrap();
        for cfg in [
            KnnConfig::default(),
            KnnConfig {
                k_grid: vec![],
                ..KnnConfig::report()
            },
        ] {
            let model = cfg
                .fit(&train, None, &RunContext::default(), &mut NoopObserver)
                .unwrap();
            assert!(model.lookup.is_some());
            let plain = KnnModel {
                lookup: None,
                ..model.clone()
            };
            for u in 0..40 {
                for i in 0..30 {
                    let (a, b) = (
                        model.predict(UserIdx(u), ItemIdx(i)),
                        plain.predict(UserIdx(u), ItemIdx(i)),
                    );
                    assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
                }
            }
            let json = serde_json::to_string(&model).unwrap();
            assert!(!json.contains("lookup"));
            assert_eq!(serde_json::from_str::<KnnModel>(&json).unwrap(), model);
        }
    }
}

#[cfg(test)]
mod walk_tests {
    use super::*;
    use movierec_core::{NoopObserver, Rating};

    /// 60 users x 50 items, user u rating about u / 60 of the items, so
    /// rows run from light to nearly full.
    fn train() -> RatingMatrix {
        let mut t = Vec::new();
        for u in 0..60u32 {
            for i in 0..50u32 {
                if (u * 31 + i * 17) % 60 < u.max(3) {
                    t.push(Rating::new(u, i, ((u * 3 + i * 7) % 10 + 1) as f32 / 2.0));
                }
            }
        }
        RatingMatrix::new(&Ratings::new(t, 60, 50, RatingScale::default())).unwrap()
    }

    /// Every way of scoring (accumulate, walk, gather) gives the bits of
    /// one prediction at a time, for both neighbourhoods, exact and capped
    /// stores, and Ks below and above the row lengths.
    #[test]
    fn walk_and_score_into_match_predictions_bitwise() {
        let train = train();
        for neighbourhood in [Neighbourhood::Rated, Neighbourhood::Report] {
            for max_neighbours in [None, Some(7)] {
                for k in [1, 3, 10, 30, 80] {
                    let cfg = KnnConfig {
                        k,
                        neighbourhood,
                        max_neighbours,
                        keep_negative: neighbourhood == Neighbourhood::Report,
                        ..KnnConfig::default()
                    };
                    let model = cfg
                        .fit(&train, None, &RunContext::default(), &mut NoopObserver)
                        .unwrap();
                    let mut out = vec![0.0f32; 50];
                    for u in 0..60 {
                        let want: Vec<u32> = (0..50)
                            .map(|i| model.estimate_one(u, i).to_bits())
                            .collect();
                        let (ri, rv) = model.data.row(u);
                        let mut walk = Walk::new(&model, u, ri, rv);
                        let walked: Vec<u32> =
                            (0..50).map(|i| walk.estimate(u, i).to_bits()).collect();
                        assert_eq!(walked, want, "walk: {cfg:?}, user {u}");
                        model.score_into(UserIdx(u as u32), &mut out);
                        let scored: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
                        assert_eq!(scored, want, "score_into: {cfg:?}, user {u}");
                        // Top-N skips the seen columns, and keeps the rest.
                        let mut unseen: Vec<(u32, f32)> = (0..50u32)
                            .filter(|i| !ri.contains(i))
                            .map(|i| (i, out[i as usize]))
                            .filter(|x| x.1.is_finite())
                            .collect();
                        unseen.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                        unseen.truncate(7);
                        let top: Vec<(u32, f32)> = model
                            .recommend(UserIdx(u as u32), 7, &train)
                            .into_iter()
                            .map(|(i, s)| (i.0, s))
                            .collect();
                        assert_eq!(top, unseen, "recommend: {cfg:?}, user {u}");
                        // The rated neighbourhood's scorers, whichever
                        // score_row would pick: the walk on any store, the
                        // sift on the exact (symmetric) one.
                        if neighbourhood == Neighbourhood::Rated {
                            model.score_walk(u, ri, rv, &mut out, None);
                            let walked: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
                            assert_eq!(walked, want, "score_walk: {cfg:?}, user {u}");
                            if max_neighbours.is_none() && ri.len() > k {
                                model.score_sift(u, ri, rv, &mut out);
                                let sifted: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
                                assert_eq!(sifted, want, "score_sift: {cfg:?}, user {u}");
                            }
                        }
                    }
                    assert!(model.pref.0.get().is_some(), "the walk built its order");
                    let json = serde_json::to_string(&model).unwrap();
                    let back = serde_json::from_str::<KnnModel>(&json).unwrap();
                    assert!(back.pref.0.get().is_none(), "the order is not saved");
                    assert_eq!(back, model);
                }
            }
        }
    }
}
