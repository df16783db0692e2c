//! The fitted KNN model: the [`KnnModel`] type, its neighbours
//! ([`Neighbour`]) and its public accessors. The work lives in the child
//! modules: `kernel` (the sorted intersection and per-thread buffers),
//! `storage` (the oriented training ratings, the caches derived from the
//! similarity store, its lookups and the saved form), `estimate` (the
//! prediction formula of one pair), `score` and `rated` (scoring a whole
//! row), `select_k` (K on validation), `fit` (`Fit for KnnConfig`),
//! `recommender` (`Recommender for KnnModel`) and `fold_in` (new users).

use movierec_core::ItemIdx;
use serde::{Deserialize, Serialize};

use crate::config::KnnConfig;
use crate::similarity::{by_preference, Lookup, Similarities};

// Each job in its own child module: children read the model's private parts.
mod check;
mod estimate;
mod fit;
mod fold_in;
mod kernel;
mod rated;
mod recommender;
mod score;
mod select_k;
mod storage;

use kernel::common;
pub use select_k::KScore;
use storage::{Derived, Oriented, PrefOrder, Stored};

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
/// [`score_into`](movierec_core::Recommender::score_into), `None` from `predict`): the
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
}
