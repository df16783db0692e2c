//! The fitted model: user and item factors, scoring, fold-in, similar
//! movies and reasons.

use std::sync::OnceLock;

use movierec_core::{top_k, Error, ItemIdx, Recommender, ScoreKind, UserIdx};
use serde::{Deserialize, Serialize};

use crate::solve::{contributions, dot, solve_exact, weighted_gram, Scratch, Weights};
use crate::IalsConfig;

/// A fitted iALS model: a score is `x_u . y_i`.
///
/// Users and items without training ratings have zero factors and no
/// score (NaN). The settings of the fit are kept, since folding in a new
/// user solves the fit's own user step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IalsModel {
    pub(crate) k: usize,
    pub(crate) user_factors: Vec<f32>,
    pub(crate) item_factors: Vec<f32>,
    pub(crate) user_counts: Vec<u32>,
    pub(crate) item_counts: Vec<u32>,
    pub(crate) config: IalsConfig,
    pub(crate) iterations: usize,
    /// `w0 Y^T Y` of the item factors, computed on first use.
    #[serde(skip)]
    gram: OnceLock<Vec<f32>>,
}

impl IalsModel {
    /// Assembles a model (the fit's last step; lengths are the caller's duty).
    pub(crate) fn from_parts(
        config: IalsConfig,
        iterations: usize,
        user_factors: Vec<f32>,
        item_factors: Vec<f32>,
        user_counts: Vec<u32>,
        item_counts: Vec<u32>,
        gram: Option<Vec<f32>>,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(g) = gram {
            let _ = cell.set(g);
        }
        Self {
            k: config.factors,
            user_factors,
            item_factors,
            user_counts,
            item_counts,
            config,
            iterations,
            gram: cell,
        }
    }

    /// Number of latent factors `k`.
    pub fn factors(&self) -> usize {
        self.k
    }

    /// Size of the user index space.
    pub fn n_users(&self) -> usize {
        self.user_counts.len()
    }

    /// Iterations the factors come from (the best on validation when the fit
    /// early-stopped).
    pub fn iterations(&self) -> usize {
        self.iterations
    }

    /// The settings of the fit.
    pub fn config(&self) -> &IalsConfig {
        &self.config
    }

    /// User factors, row-major `n_users x k`.
    pub fn user_factors(&self) -> &[f32] {
        &self.user_factors
    }

    /// Item factors, row-major `n_items x k`.
    pub fn item_factors(&self) -> &[f32] {
        &self.item_factors
    }

    /// The factors of `user`, `None` outside the index space.
    pub fn user_vector(&self, user: UserIdx) -> Option<&[f32]> {
        let k = self.k;
        self.user_factors
            .get(user.get().checked_mul(k)?..user.get().checked_add(1)?.checked_mul(k)?)
    }

    /// The factors of `item`, `None` outside the index space.
    pub fn item_vector(&self, item: ItemIdx) -> Option<&[f32]> {
        let k = self.k;
        self.item_factors
            .get(item.get().checked_mul(k)?..item.get().checked_add(1)?.checked_mul(k)?)
    }

    /// Number of training ratings of `item` (0 outside the index space).
    pub fn item_count(&self, item: ItemIdx) -> u32 {
        self.item_counts.get(item.get()).copied().unwrap_or(0)
    }

    /// Number of training ratings of `user` (0 outside the index space).
    pub fn user_count(&self, user: UserIdx) -> u32 {
        self.user_counts.get(user.get()).copied().unwrap_or(0)
    }

    fn gram(&self) -> &[f32] {
        self.gram.get_or_init(|| {
            weighted_gram(&self.item_factors, self.k, self.config.unobserved_weight)
        })
    }

    fn weights(&self) -> Weights<'_> {
        Weights {
            config: &self.config,
            n_other: self.item_counts.len(),
        }
    }

    /// Checks and sorts a new user's ratings into (items, values).
    fn rated_rows(&self, rated: &[(ItemIdx, f32)]) -> Result<(Vec<usize>, Vec<f32>), Error> {
        let n = self.item_counts.len();
        let mut pairs: Vec<(usize, f32)> = Vec::with_capacity(rated.len());
        for &(i, r) in rated {
            if i.get() >= n {
                return Err(Error::Unsupported(format!(
                    "fold-in: movie index {} is outside the model's {n} movies",
                    i.0
                )));
            }
            if !r.is_finite() {
                return Err(Error::Unsupported(format!(
                    "fold-in: the rating of movie index {} is not a finite number ({r})",
                    i.0
                )));
            }
            pairs.push((i.get(), r));
        }
        // The fit's rows are sorted by item: the same order gives the same bits.
        pairs.sort_by_key(|&(i, _)| i);
        Ok(pairs.into_iter().unzip())
    }

    /// The factors of a user who rated `rated`: one exact user step of the
    /// fit with the item factors fixed. For a training user's own training
    /// ratings (in any order) this is the fitted user vector, bit for bit.
    /// Each entry counts once (a repeated movie counts twice); an empty list
    /// gives zero factors.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a movie outside the index space or a
    /// rating that is not finite; [`Error::InvalidModel`] if the system is
    /// not positive definite (a damaged model).
    pub fn fold_in(&self, rated: &[(ItemIdx, f32)]) -> Result<Vec<f32>, Error> {
        let (items, values) = self.rated_rows(rated)?;
        let mut x = vec![0.0f32; self.k];
        let mut s = Scratch::new(self.k);
        solve_exact(
            self.gram(),
            &self.item_factors,
            &items,
            &values,
            &self.weights(),
            &mut s,
            &mut x,
        )
        .map_err(|_| {
            Error::InvalidModel("fold-in: the user's system is not positive definite".into())
        })?;
        Ok(x)
    }

    /// Scores of a user vector `x` into `out` (NaN for items without
    /// training ratings and past the index space).
    pub fn score_vector(&self, x: &[f32], out: &mut [f32]) {
        let k = self.k;
        out.fill(f32::NAN);
        if x.len() != k || k == 0 {
            return;
        }
        for ((o, y), &c) in out
            .iter_mut()
            .zip(self.item_factors.chunks_exact(k))
            .zip(&self.item_counts)
        {
            if c > 0 {
                *o = dot(x, y);
            }
        }
    }
}

impl Recommender for IalsModel {
    fn n_items(&self) -> usize {
        self.item_counts.len()
    }

    fn n_users(&self) -> Option<usize> {
        Some(IalsModel::n_users(self))
    }

    /// `x_u . y_i`; NaN for a user or an item without training ratings.
    fn score_into(&self, user: UserIdx, out: &mut [f32]) {
        match self.user_vector(user) {
            Some(x) if self.user_count(user) > 0 => self.score_vector(x, out),
            _ => out.fill(f32::NAN),
        }
    }

    fn score_kind(&self) -> ScoreKind {
        ScoreKind::Ranking
    }

    /// The new user's factors by [`IalsModel::fold_in`] (the fit's exact
    /// user step), then `x . y_i`; NaN everywhere for an empty list.
    fn score_new_user(&self, rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), Error> {
        if out.len() != self.n_items() {
            return Err(Error::Unsupported(format!(
                "fold-in: {} scores asked of a model of {} movies",
                out.len(),
                self.n_items()
            )));
        }
        let x = self.fold_in(rated)?;
        if rated.is_empty() {
            out.fill(f32::NAN);
        } else {
            self.score_vector(&x, out);
        }
        Ok(())
    }

    /// Cosine of item factors, among items with training ratings.
    fn similar_items(&self, item: ItemIdx, k: usize) -> Result<Vec<(ItemIdx, f32)>, Error> {
        let n = self.n_items();
        let Some(q) = self.item_vector(item).filter(|_| item.get() < n) else {
            return Err(Error::Unsupported(format!(
                "movie index {} is outside the model's {n} movies",
                item.0
            )));
        };
        let qn = dot(q, q).sqrt();
        if self.item_count(item) == 0 || qn.is_nan() || qn <= 0.0 {
            return Err(Error::Unsupported(format!(
                "movie index {} has no training rating, so no factors to compare",
                item.0
            )));
        }
        let mut sims = vec![f32::NAN; n];
        for (j, (s, y)) in sims
            .iter_mut()
            .zip(self.item_factors.chunks_exact(self.k))
            .enumerate()
        {
            if j == item.get() || self.item_counts[j] == 0 {
                continue;
            }
            let yn = dot(y, y).sqrt();
            if yn > 0.0 {
                *s = dot(q, y) / (qn * yn);
            }
        }
        Ok(top_k(&sims, k))
    }

    /// Hu et al. (2008, section 5): with `W = (Y^T C Y + reg I)^-1` the
    /// user's system, the score of `item` is exactly
    /// `sum_j c_j (y_item^T W y_j)` over the rated movies `j`; each term is
    /// that movie's contribution (the sum over all of them is the fold-in
    /// score). Up to `k` largest first; empty for an unknown item or an
    /// invalid list.
    fn reasons(&self, rated: &[(ItemIdx, f32)], item: ItemIdx, k: usize) -> Vec<(ItemIdx, f32)> {
        let Some(target) = self.item_vector(item) else {
            return Vec::new();
        };
        if item.get() >= self.n_items() || self.item_count(item) == 0 {
            return Vec::new();
        }
        let Ok((items, values)) = self.rated_rows(rated) else {
            return Vec::new();
        };
        let mut s = Scratch::new(self.k);
        let Ok(contrib) = contributions(
            self.gram(),
            &self.item_factors,
            &items,
            &values,
            target,
            &self.weights(),
            &mut s,
        ) else {
            return Vec::new();
        };
        // Sum the contributions of a movie listed twice.
        let mut merged: Vec<(ItemIdx, f32)> = Vec::with_capacity(items.len());
        for (&i, c) in items.iter().zip(contrib) {
            match merged.last_mut() {
                Some(last) if last.0.get() == i => last.1 += c,
                _ => merged.push((ItemIdx(i as u32), c)),
            }
        }
        merged.retain(|p| p.1.is_finite());
        merged.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        merged.truncate(k);
        merged
    }

    /// Every length against the factor count and the counts, every factor
    /// finite, and the stored settings valid.
    fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::InvalidModel(m));
        if let Err(e) = self.config.validate() {
            return bad(format!("ials settings: {e}"));
        }
        if self.k != self.config.factors {
            return bad(format!(
                "ials: {} factors but the settings say {}",
                self.k, self.config.factors
            ));
        }
        for (name, v, n) in [
            ("user", &self.user_factors, self.user_counts.len()),
            ("item", &self.item_factors, self.item_counts.len()),
        ] {
            if n.checked_mul(self.k) != Some(v.len()) {
                return bad(format!(
                    "ials: {} {name} factors for {n} {name}s of {} factors",
                    v.len(),
                    self.k
                ));
            }
            if let Some(p) = v.iter().position(|x| !x.is_finite()) {
                return bad(format!(
                    "ials: {name} factor {p} is not a finite number ({})",
                    v[p]
                ));
            }
        }
        if u32::try_from(self.item_counts.len()).is_err()
            || u32::try_from(self.user_counts.len()).is_err()
        {
            return bad("ials: index space larger than u32".into());
        }
        if self.iterations > self.config.iterations {
            return bad(format!(
                "ials: {} iterations kept of at most {}",
                self.iterations, self.config.iterations
            ));
        }
        if let Some(g) = self.gram.get() {
            if g.len() != self.k * self.k || g.iter().any(|x| !x.is_finite()) {
                return bad("ials: cached Gram matrix is damaged".into());
            }
        }
        Ok(())
    }
}
