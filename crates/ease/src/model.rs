//! The fitted EASE model and its scoring.

use movierec_core::{top_k, Error, ItemIdx, Recommender, ScoreKind, UserIdx};
use serde::{Deserialize, Serialize};

use crate::config::{input_value, Weighting};
use crate::input::NONE;

/// One lambda tried on the validation set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LambdaScore {
    /// The penalty.
    pub lambda: f32,
    /// Validation NDCG@10 (relevant = rating >= 4); NaN when no validation
    /// user had a relevant movie.
    pub ndcg: f64,
}

/// A fitted EASE model: the item x item weights `B` (zero diagonal) over the
/// items with a training rating, and the training rows `x_u` it scores
/// (`x_u B`). Items outside the model score NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EaseModel {
    /// The penalty of the weights (chosen on validation when a grid was given).
    pub lambda: f32,
    /// The diagonal-proportional penalty of the fit.
    pub diag_weight: f32,
    /// Every lambda tried on validation, in grid order (empty without a search).
    pub lambda_search: Vec<LambdaScore>,
    /// What a rating put into X (also used to fold in a new user).
    pub weighting: Weighting,
    /// Ratings below this were left out of X.
    pub min_rating: Option<f32>,
    /// The maximum of the rating scale (the `Rating` weighting divides by it).
    pub scale_max: f32,
    n_items: usize,
    /// Model item -> item index (ascending).
    items: Vec<u32>,
    /// Item index -> model item, or `u32::MAX`.
    slot: Vec<u32>,
    /// `B`, row-major, `items.len()^2`.
    weights: Vec<f32>,
    /// Training rows by user index: CSR over model items.
    user_ptr: Vec<usize>,
    user_items: Vec<u32>,
    user_values: Vec<f32>,
}

/// The pieces a fit hands to [`EaseModel::from_parts`].
pub(crate) struct Parts {
    pub lambda: f32,
    pub diag_weight: f32,
    pub lambda_search: Vec<LambdaScore>,
    pub weighting: Weighting,
    pub min_rating: Option<f32>,
    pub scale_max: f32,
    pub n_items: usize,
    pub n_users: usize,
    pub items: Vec<u32>,
    pub slot: Vec<u32>,
    pub weights: Vec<f32>,
    /// Active user -> user index, with the active users' CSR rows.
    pub users: Vec<u32>,
    pub u_ptr: Vec<usize>,
    pub u_idx: Vec<u32>,
    pub u_val: Vec<f32>,
}

impl EaseModel {
    pub(crate) fn from_parts(p: Parts) -> Self {
        let mut user_ptr = vec![0usize; p.n_users + 1];
        for (r, &u) in p.users.iter().enumerate() {
            user_ptr[u as usize + 1] = p.u_ptr[r + 1] - p.u_ptr[r];
        }
        for u in 0..p.n_users {
            user_ptr[u + 1] += user_ptr[u];
        }
        // Active users are ascending, so the compact CSR is already in user order.
        Self {
            lambda: p.lambda,
            diag_weight: p.diag_weight,
            lambda_search: p.lambda_search,
            weighting: p.weighting,
            min_rating: p.min_rating,
            scale_max: p.scale_max,
            n_items: p.n_items,
            items: p.items,
            slot: p.slot,
            weights: p.weights,
            user_ptr,
            user_items: p.u_idx,
            user_values: p.u_val,
        }
    }

    /// Number of users whose training rows the model keeps.
    pub fn n_users(&self) -> usize {
        self.user_ptr.len().saturating_sub(1)
    }

    /// The items the weights cover (those with a training rating in X),
    /// ascending.
    pub fn model_items(&self) -> impl ExactSizeIterator<Item = ItemIdx> + '_ {
        self.items.iter().map(|&i| ItemIdx(i))
    }

    /// `B[from, to]`: how much a rating of `from` adds to the score of `to`;
    /// `None` when either item is outside the model.
    pub fn weight(&self, from: ItemIdx, to: ItemIdx) -> Option<f32> {
        let (a, b) = (self.slot_of(from)?, self.slot_of(to)?);
        Some(self.weights[a * self.items.len() + b])
    }

    fn slot_of(&self, item: ItemIdx) -> Option<usize> {
        match self.slot.get(item.get()) {
            Some(&s) if s != NONE => Some(s as usize),
            _ => None,
        }
    }

    fn row(&self, a: usize) -> &[f32] {
        let n = self.items.len();
        &self.weights[a * n..(a + 1) * n]
    }

    /// `x B` over the model items for the row `(model item, x)`, scattered
    /// into `out` by item index, NaN elsewhere.
    fn score_row(&self, row: impl Iterator<Item = (usize, f32)>, out: &mut [f32]) {
        let mut acc = vec![0f32; self.items.len()];
        for (a, x) in row {
            for (s, &w) in acc.iter_mut().zip(self.row(a)) {
                *s += x * w;
            }
        }
        out.fill(f32::NAN);
        for (&i, &s) in self.items.iter().zip(&acc) {
            if let Some(o) = out.get_mut(i as usize) {
                *o = s;
            }
        }
    }

    /// The fold-in row of `rated`: model items and their X values.
    fn new_row(&self, rated: &[(ItemIdx, f32)]) -> Vec<(usize, f32)> {
        rated
            .iter()
            .filter_map(|&(i, r)| {
                let x = input_value(self.min_rating, self.weighting, r, self.scale_max)?;
                Some((self.slot_of(i)?, x))
            })
            .collect()
    }
}

impl Recommender for EaseModel {
    fn n_items(&self) -> usize {
        self.n_items
    }

    fn n_users(&self) -> Option<usize> {
        Some(EaseModel::n_users(self))
    }

    /// `x_u B` for the items in the model, NaN for the others (and for
    /// every item when `user` is outside the training index space).
    fn score_into(&self, user: UserIdx, out: &mut [f32]) {
        let u = user.get();
        if u >= self.n_users() {
            out.fill(f32::NAN);
            return;
        }
        let range = self.user_ptr[u]..self.user_ptr[u + 1];
        let row = self.user_items[range.clone()]
            .iter()
            .zip(&self.user_values[range])
            .map(|(&a, &x)| (a as usize, x));
        self.score_row(row, out);
    }

    fn score_kind(&self) -> ScoreKind {
        ScoreKind::Ranking
    }

    /// `x_new B`, with `x_new` built from `rated` as the training rows were
    /// (`weighting`, `min_rating`); movies outside the model add nothing.
    fn score_new_user(&self, rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), Error> {
        if let Some(&(i, _)) = rated.iter().find(|(i, _)| i.get() >= self.n_items) {
            return Err(Error::Unsupported(format!(
                "movie index {} is outside the model's {} movies",
                i.0, self.n_items
            )));
        }
        self.score_row(self.new_row(rated).into_iter(), out);
        Ok(())
    }

    /// The movies whose scores a rating of `item` raises most: row `item`
    /// of `B` (`B[item, j]`), positive weights only, largest first.
    fn similar_items(&self, item: ItemIdx, k: usize) -> Result<Vec<(ItemIdx, f32)>, Error> {
        if item.get() >= self.n_items {
            return Err(Error::Unsupported(format!(
                "movie index {} is outside the model's {} movies",
                item.0, self.n_items
            )));
        }
        let a = self.slot_of(item).ok_or_else(|| {
            Error::Unsupported(format!(
                "movie index {} has no training rating in this EASE model",
                item.0
            ))
        })?;
        let mut row: Vec<f32> = self
            .row(a)
            .iter()
            .map(|&w| if w > 0.0 { w } else { f32::NAN })
            .collect();
        row[a] = f32::NAN;
        Ok(top_k(&row, k)
            .into_iter()
            .map(|(b, w)| (ItemIdx(self.items[b.get()]), w))
            .collect())
    }

    /// The rated movies `j` with the largest positive `x_j * B[j, item]`.
    fn reasons(&self, rated: &[(ItemIdx, f32)], item: ItemIdx, k: usize) -> Vec<(ItemIdx, f32)> {
        let Some(t) = self.slot_of(item) else {
            return Vec::new();
        };
        let n = self.items.len();
        let mut out: Vec<(ItemIdx, f32)> = self
            .new_row(rated)
            .into_iter()
            .filter(|&(a, _)| a != t)
            .map(|(a, x)| (ItemIdx(self.items[a]), x * self.weights[a * n + t]))
            .filter(|(_, c)| *c > 0.0)
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.dedup_by_key(|p| p.0);
        out.truncate(k);
        out
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::InvalidModel(format!("EASE: {what}")));
        let n = self.items.len();
        if self.slot.len() != self.n_items {
            return bad("the item map does not cover the item index space");
        }
        if n.checked_mul(n) != Some(self.weights.len()) {
            return bad("the weight matrix is not items x items");
        }
        if self.items.windows(2).any(|w| w[0] >= w[1]) {
            return bad("the model items are not strictly ascending");
        }
        for (a, &i) in self.items.iter().enumerate() {
            if self.slot.get(i as usize) != Some(&(a as u32)) {
                return bad("the item maps disagree or an item index is out of range");
            }
        }
        if self.slot.iter().filter(|&&s| s != NONE).count() != n {
            return bad("the item maps disagree");
        }
        if self.user_ptr.first() != Some(&0)
            || self.user_ptr.windows(2).any(|w| w[0] > w[1])
            || self.user_ptr.last() != Some(&self.user_items.len())
            || self.user_values.len() != self.user_items.len()
        {
            return bad("the training rows are not a valid sparse matrix");
        }
        if self.user_items.iter().any(|&a| a as usize >= n) {
            return bad("a training row refers to an item outside the model");
        }
        if !self.weights.iter().all(|w| w.is_finite())
            || !self.user_values.iter().all(|x| x.is_finite())
        {
            return bad("a weight or a training value is not a finite number");
        }
        let positive = |x: f32| x.is_finite() && x > 0.0;
        let dw_ok = self.diag_weight.is_finite() && self.diag_weight >= 0.0;
        if !positive(self.lambda)
            || !dw_ok
            || !positive(self.scale_max)
            || self.min_rating.is_some_and(|m| !m.is_finite())
        {
            return bad("lambda, diag_weight, scale_max or min_rating is out of range");
        }
        Ok(())
    }
}
