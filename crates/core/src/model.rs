use serde::{Deserialize, Serialize};

use crate::{Error, ItemIdx, RatingMatrix, Ratings, RunContext, SetMetrics, UserIdx};

/// What a model's scores mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScoreKind {
    /// Estimates of the rating on the data's scale (bias, KNN, MF, the
    /// autoencoder): rating metrics and ranking metrics both apply.
    Rating,
    /// Ranking scores only (popular, EASE, Mult-VAE, iALS): the harness
    /// gives their rating columns the fallback's estimates and says so.
    Ranking,
}

/// A fitted model that scores items for a user.
///
/// One required method, [`score_into`](Self::score_into); prediction and top-N
/// are provided on top of it and overridden where a model has a faster way.
pub trait Recommender: Send + Sync {
    /// Size of the item index space the model scores.
    fn n_items(&self) -> usize;

    /// Size of the user index space the model scores by index, where it
    /// keeps per-user state (so a caller can check its id map against it);
    /// `None` for models that score any user the same way.
    fn n_users(&self) -> Option<usize> {
        None
    }

    /// Writes a score for every item into `out` (`out.len() == n_items()`),
    /// NaN where the model has no estimate (the caller then uses its fallback).
    fn score_into(&self, user: UserIdx, out: &mut [f32]);

    /// The model's estimate for one pair, `None` where it has none (always
    /// for a model whose scores only rank, [`ScoreKind::Ranking`]).
    fn predict(&self, user: UserIdx, item: ItemIdx) -> Option<f32> {
        if self.score_kind() == ScoreKind::Ranking {
            return None;
        }
        let mut scores = vec![0.0; self.n_items()];
        self.score_into(user, &mut scores);
        let s = scores[item.get()];
        s.is_finite().then_some(s)
    }

    /// The `k` best-scored items that `user` has not rated in `seen`, best
    /// first, ties broken by item index; items without a score are skipped.
    fn recommend(&self, user: UserIdx, k: usize, seen: &RatingMatrix) -> Vec<(ItemIdx, f32)> {
        let mut scores = vec![0.0; self.n_items()];
        self.score_into(user, &mut scores);
        let (rated, _) = seen.user_ratings(user);
        for &i in rated {
            scores[i] = f32::NAN;
        }
        top_k(&scores, k)
    }

    /// What the scores mean; rating estimates unless the model says otherwise.
    fn score_kind(&self) -> ScoreKind {
        ScoreKind::Rating
    }

    /// Scores every item for a new user from their `rated` movies, without
    /// refitting (fold-in). Models that cannot say why.
    fn score_new_user(&self, _rated: &[(ItemIdx, f32)], _out: &mut [f32]) -> Result<(), Error> {
        Err(Error::Unsupported(
            "this model cannot fold in a new user".into(),
        ))
    }

    /// The `k` items most similar to `item` by the model's own measure, best
    /// first. Models without item vectors or similarities say so.
    fn similar_items(&self, _item: ItemIdx, _k: usize) -> Result<Vec<(ItemIdx, f32)>, Error> {
        Err(Error::Unsupported(
            "this model has no movie vectors or similarities to compare".into(),
        ))
    }

    /// Why `item` is recommended to a user who rated `rated`: up to `k` of
    /// those movies with their contribution to the item's score, largest
    /// first. Empty where the model cannot attribute its scores.
    fn reasons(&self, _rated: &[(ItemIdx, f32)], _item: ItemIdx, _k: usize) -> Vec<(ItemIdx, f32)> {
        Vec::new()
    }

    /// The model fed `input` instead of its training matrix (the report's
    /// way of scoring feeds validation and test ratings as input). `None`
    /// for models whose estimates do not depend on an input.
    fn with_input(&self, _input: &RatingMatrix) -> Option<Box<dyn Recommender>> {
        None
    }

    /// Checks a model that came from outside (a file): every index, length
    /// and float in range, so that scoring cannot panic. The default has
    /// nothing to check.
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Checks a new user's rated movies against a model's `n_items` before a
/// fold-in indexes with them: the error names the first one outside.
pub fn check_rated(rated: &[(ItemIdx, f32)], n_items: usize) -> Result<(), Error> {
    match rated.iter().find(|(i, _)| i.get() >= n_items) {
        Some(&(i, _)) => Err(Error::Unsupported(format!(
            "movie index {} is outside the model's {n_items} movies",
            i.0
        ))),
        None => Ok(()),
    }
}

/// The `k` largest finite scores, best first, ties by index (partial sort):
/// the selection of [`Recommender::recommend`], for models that override it.
pub fn top_k(scores: &[f32], k: usize) -> Vec<(ItemIdx, f32)> {
    let cands: Vec<(ItemIdx, f32)> = scores
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_finite())
        .map(|(i, &s)| (ItemIdx(i as u32), s))
        .collect();
    best_of(cands, k)
}

/// The `k` best of `cands`, best first, ties by index (partial sort).
fn best_of(mut cands: Vec<(ItemIdx, f32)>, k: usize) -> Vec<(ItemIdx, f32)> {
    let better = |a: &(ItemIdx, f32), b: &(ItemIdx, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if k < cands.len() {
        if k == 0 {
            return Vec::new();
        }
        cands.select_nth_unstable_by(k - 1, better);
        cands.truncate(k);
    }
    cands.sort_unstable_by(better);
    cands
}

/// Fitting lives on the configuration (as in linfa): `config.fit(...)`.
pub trait Fit {
    /// The fitted model.
    type Model: Recommender + 'static;
    /// What can go wrong while fitting.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Fits on `train`. A model that early-stops or tunes uses `validation`
    /// (never the test set) and reports each epoch to `observer`. Threads and
    /// the seed of every random choice come from `ctx`.
    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<Self::Model, Self::Error>;

    /// The settings for a refit on train + validation once validation has
    /// made its choices (K, epochs, ...): the protocol may refit with them
    /// and no validation set. By default, the same settings.
    fn refit_config(&self, _model: &Self::Model) -> Self
    where
        Self: Sized + Clone,
    {
        self.clone()
    }

    /// Whether a fit given a validation set chooses anything on it (K,
    /// epochs, lambda). When it does not, a protocol that refits fits once
    /// on train + validation instead: the refit would be the same model.
    /// By default, true.
    fn chooses_on_validation(&self) -> bool {
        true
    }
}

/// What an iterative fit reports after each epoch: the data behind progress
/// bars, early stopping and the report's Figures 5 and 6.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch (or step) number.
    pub epoch: usize,
    /// Training loss as the model defines it, if it has one.
    pub loss: Option<f64>,
    /// Metrics on the training ratings.
    pub train: Option<SetMetrics>,
    /// Metrics on the validation ratings, when a validation set was given.
    pub validation: Option<SetMetrics>,
    /// Wall seconds since the fit started.
    pub seconds: f64,
}

/// Whether training should go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// Receives one record per epoch; may ask training to stop. `Send`, so that
/// a fit can run on the run context's thread pool.
pub trait Observer: Send {
    /// Called after each epoch.
    fn on_epoch(&mut self, record: &EpochRecord) -> Control;

    /// Whether the records should carry the training-set metrics (and, for
    /// MF, the loss), which cost a pass over the training ratings per epoch.
    /// With `false` a fit may skip them and leave those fields `None`.
    fn wants_training_metrics(&self) -> bool {
        true
    }

    /// Progress within a long step that is not an epoch (e.g. KNN's
    /// similarity blocks): `done` of `total` units of `phase`. Called now and
    /// then, from whichever thread finished the work (a fit holds the
    /// observer behind a lock for that); the default ignores it.
    fn on_progress(&mut self, _phase: &str, _done: usize, _total: usize) {}
}

/// An observer that records nothing and never stops training.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl Observer for NoopObserver {
    fn on_epoch(&mut self, _record: &EpochRecord) -> Control {
        Control::Continue
    }

    fn wants_training_metrics(&self) -> bool {
        false
    }
}

/// The `n` vectors with the largest cosine to `target`'s, best first, ties
/// by index; `None` vectors (no training ratings) and zero vectors skipped:
/// the [`Recommender::similar_items`] of models with item vectors.
pub fn nearest_by_cosine<'a>(
    target: ItemIdx,
    n: usize,
    vectors: impl Iterator<Item = Option<&'a [f32]>>,
) -> Vec<(ItemIdx, f32)> {
    let vectors: Vec<Option<&[f32]>> = vectors.collect();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let Some(t) = vectors.get(target.get()).copied().flatten() else {
        return Vec::new();
    };
    let nt = norm(t);
    if nt == 0.0 {
        return Vec::new();
    }
    let sims: Vec<(ItemIdx, f32)> = vectors
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != target.get())
        .filter_map(|(i, v)| {
            let v = (*v)?;
            let nv = norm(v);
            (nv > 0.0).then(|| {
                let dot: f64 = v
                    .iter()
                    .zip(t)
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum();
                (ItemIdx(i as u32), (dot / (nv * nt)) as f32)
            })
        })
        .collect();
    best_of(sims, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn top_k_matches_full_sort(scores in proptest::collection::vec(prop_oneof![Just(f32::NAN), (0u8..10).prop_map(f32::from)], 0..60), k in 0usize..70) {
            let got = top_k(&scores, k);
            let mut all: Vec<(ItemIdx, f32)> = scores.iter().enumerate()
                .filter(|(_, s)| s.is_finite()).map(|(i, &s)| (ItemIdx(i as u32), s)).collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(k);
            prop_assert_eq!(got, all);
        }
    }
}
