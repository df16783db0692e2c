//! Error metrics on one rating set, shared by training loops (per-epoch
//! curves) and the evaluation harness.

use serde::{Deserialize, Serialize};

use crate::RatingScale;

/// The report's half-star rounding: `round(2p) / 2` with ties to even, as
/// numpy's `np.round` does (so 3.25 -> 3.0 and 3.75 -> 4.0).
#[inline]
pub fn half_star(p: f32) -> f32 {
    (p * 2.0).round_ties_even() / 2.0
}

/// RMSE, MSE, MAE and half-star accuracy of predictions against ratings.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SetMetrics {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean squared error.
    pub mse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Share of ratings whose clamped, half-star-rounded prediction equals the rating.
    pub accuracy: f64,
    /// Number of ratings scored.
    pub n: usize,
}

impl SetMetrics {
    /// Scores `(prediction, rating)` pairs. Predictions are clamped to
    /// `scale` first (a model never gains from predicting outside it).
    /// An empty input gives all-zero metrics with `n = 0`.
    pub fn compute(pairs: impl IntoIterator<Item = (f32, f32)>, scale: RatingScale) -> Self {
        let mut acc = Accumulator::default();
        for (p, r) in pairs {
            acc.add(p, r, scale);
        }
        acc.finish()
    }
}

/// Streaming sums behind [`SetMetrics`] (f64 accumulation); serializable
/// and mergeable, so that workers can score their parts and add the sums.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Accumulator {
    sse: f64,
    sae: f64,
    hits: usize,
    n: usize,
}

impl Accumulator {
    /// Adds one prediction of rating `r`.
    #[inline]
    pub fn add(&mut self, prediction: f32, r: f32, scale: RatingScale) {
        let p = scale.clamp(prediction);
        let e = f64::from(p) - f64::from(r);
        self.sse += e * e;
        self.sae += e.abs();
        self.hits += usize::from(half_star(p) == r);
        self.n += 1;
    }

    /// Adds the sums of another accumulator (another part of the same set).
    pub fn merge(&mut self, other: &Self) {
        self.sse += other.sse;
        self.sae += other.sae;
        self.hits += other.hits;
        self.n += other.n;
    }

    /// The metrics of everything added.
    pub fn finish(&self) -> SetMetrics {
        if self.n == 0 {
            return SetMetrics::default();
        }
        let n = self.n as f64;
        let mse = self.sse / n;
        SetMetrics {
            rmse: mse.sqrt(),
            mse,
            mae: self.sae / n,
            accuracy: self.hits as f64 / n,
            n: self.n,
        }
    }
}

/// Mean NDCG@`k` of the users in `held_out` with a relevant item: the
/// definition of the harness's ranking metrics (candidates are the items with
/// a training rating that the user has not rated in `train`; relevant = a
/// held-out rating of at least `threshold` on a candidate; binary gains; ties
/// by item index), for models that choose settings or stop early on
/// validation. `score` writes a score for every item of one user (NaN: not
/// ranked). Users are scored in parallel and summed in order, so the result
/// does not depend on the thread count. NaN when no user has a relevant item.
pub fn ndcg_at(
    train: &crate::RatingMatrix,
    held_out: &crate::Ratings,
    k: usize,
    threshold: f32,
    score: impl Fn(crate::UserIdx, &mut [f32]) + Sync,
) -> f64 {
    use rayon::prelude::*;
    let n_items = train.n_items();
    let mut relevant: Vec<Vec<u32>> = vec![Vec::new(); train.n_users()];
    for r in &held_out.entries {
        let (u, i) = (r.user.get(), r.item.get());
        if r.value >= threshold && u < train.n_users() && i < n_items {
            let u_ok = train.user_count(r.user) > 0;
            if u_ok && train.item_count(r.item) > 0 && train.get(r.user, r.item).is_none() {
                relevant[u].push(i as u32);
            }
        }
    }
    let users: Vec<usize> = (0..relevant.len())
        .filter(|&u| !relevant[u].is_empty())
        .collect();
    if users.is_empty() || k == 0 {
        return f64::NAN;
    }
    // Items without a training rating are never candidates: found once, not per user.
    let uncatalogued: Vec<usize> = (0..n_items)
        .filter(|&i| train.item_count(crate::ItemIdx(i as u32)) == 0)
        .collect();
    let per_user: Vec<f64> = users
        .par_iter()
        .map_init(
            || vec![0f32; n_items],
            |scores, &u| {
                let user = crate::UserIdx(u as u32);
                score(user, scores);
                for &i in train.user_ratings(user).0 {
                    scores[i] = f32::NAN;
                }
                for &i in &uncatalogued {
                    scores[i] = f32::NAN;
                }
                let list = crate::top_k(scores, k);
                let rel = &relevant[u];
                let dcg: f64 = list
                    .iter()
                    .enumerate()
                    .filter(|(_, (i, _))| rel.contains(&i.0))
                    .map(|(p, _)| 1.0 / ((p + 2) as f64).log2())
                    .sum();
                let ideal: f64 = (0..k.min(rel.len()))
                    .map(|p| 1.0 / ((p + 2) as f64).log2())
                    .sum();
                dcg / ideal
            },
        )
        .collect();
    per_user.iter().sum::<f64>() / per_user.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use proptest::prelude::*;

    #[test]
    fn half_star_ties_to_even() {
        assert_eq!(half_star(3.25), 3.0);
        assert_eq!(half_star(3.75), 4.0);
        assert_eq!(half_star(3.4), 3.5);
        assert_eq!(half_star(3.65), 3.5);
        assert_eq!(half_star(0.24), 0.0);
    }

    #[test]
    fn clamps_before_scoring() {
        let m = SetMetrics::compute([(7.0, 5.0), (-1.0, 0.5)], RatingScale::default());
        assert_eq!(m.rmse, 0.0);
        assert_eq!(m.accuracy, 1.0);
    }

    proptest! {
        #[test]
        fn rmse_squared_is_mse_and_accuracy_in_unit_interval(
            pairs in proptest::collection::vec((0.0f32..6.0, 1u8..=10), 1..200)
        ) {
            let pairs: Vec<(f32, f32)> = pairs.into_iter().map(|(p, r)| (p, f32::from(r) / 2.0)).collect();
            let m = SetMetrics::compute(pairs.iter().copied(), RatingScale::default());
            prop_assert!((m.rmse * m.rmse - m.mse).abs() <= 1e-9 * m.mse.max(1.0));
            prop_assert!((0.0..=1.0).contains(&m.accuracy));
            prop_assert!(m.mae <= m.rmse + 1e-12);
            let exact = SetMetrics::compute(pairs.iter().map(|&(_, r)| (r, r)), RatingScale::default());
            prop_assert_eq!(exact.accuracy, 1.0);
            prop_assert_eq!(exact.rmse, 0.0);
        }
    }

    #[test]
    fn known_values() {
        let m = SetMetrics::compute([(4.0, 5.0), (3.0, 3.0)], RatingScale::default());
        assert_relative_eq!(m.mse, 0.5);
        assert_relative_eq!(m.mae, 0.5);
        assert_relative_eq!(m.accuracy, 0.5);
    }
}
