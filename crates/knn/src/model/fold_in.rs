//! Recommendations for a user outside the training ratings, from their own
//! ratings: item-based KNN needs nothing of a user but their ratings (the
//! similarities are between items), so a new user is scored without a refit.

use movierec_core::{ItemIdx, UserIdx};

use super::kernel::{intersect, Buf, Cand, BUF};
use super::KnnModel;
use crate::config::Prediction;
use crate::similarity::by_preference;

impl KnnModel {
    /// True when [`fold_in_scores`](Self::fold_in_scores) works: item-based
    /// mode (a user-based model would need the new user's similarities to
    /// every training user, which it does not store).
    pub fn can_fold_in(&self) -> bool {
        !self.config.user_based
    }

    /// Scores every item for a user who is not in the training ratings,
    /// from their `ratings` alone, with the model's neighbourhood rule and
    /// prediction form: NaN where no rated item is a neighbour. The
    /// baseline form needs the user's bias: the regularised mean of `r - mu
    /// - b_i` over the ratings, as one sweep of the bias fit gives it.
    ///
    /// Scoring a training user's own ratings this way gives their
    /// [`score_into`](movierec_core::Recommender::score_into) scores (the
    /// baseline form up to the user bias).
    ///
    /// # Panics
    /// If the model is user-based, `out.len() != n_items`, or an item is
    /// outside the index space.
    #[track_caller]
    pub fn fold_in_scores(&self, ratings: &[(ItemIdx, f32)], out: &mut [f32]) {
        assert!(
            self.can_fold_in(),
            "fold_in_scores: a user-based model cannot fold in"
        );
        assert_eq!(out.len(), self.n_items, "fold_in_scores: output length");
        let mut rated: Vec<(u32, f32)> = ratings.iter().map(|&(i, r)| (i.0, r)).collect();
        rated.sort_unstable_by_key(|&(i, _)| i);
        rated.dedup_by_key(|&mut (i, _)| i);
        let ri: Vec<u32> = rated.iter().map(|&(i, _)| i).collect();
        let rv: Vec<f32> = rated.iter().map(|&(_, r)| r).collect();
        assert!(
            ri.last().is_none_or(|&i| (i as usize) < self.n_items),
            "fold_in_scores: item out of range"
        );
        let b = &self.data.baseline;
        let user_bias = {
            let dev: f64 = ri
                .iter()
                .zip(&rv)
                .map(|(&i, &r)| f64::from(r - b.mu - b.item_bias[i as usize]))
                .sum();
            if ri.is_empty() {
                0.0
            } else {
                (dev / (f64::from(self.config.baseline.reg_user) + ri.len() as f64)) as f32
            }
        };
        let base = |col: usize| -> f32 {
            match self.config.prediction {
                Prediction::Report => 0.0,
                Prediction::MeanCentred => self.data.col_mean[col],
                Prediction::Baseline => b.mu + user_bias + b.item_bias[col],
            }
        };
        BUF.with(|cell| {
            let buf: &mut Buf = &mut cell.borrow_mut();
            for (col, o) in out.iter_mut().enumerate() {
                let (ni, ns) = self.sims.neighbours(col);
                match &self.lookup {
                    Some(lk) if ri.len() <= 8 * ni.len() => {
                        buf.cands.clear();
                        for (&j, &r) in ri.iter().zip(&rv) {
                            if let Some(sim) = lk.get(&self.sims, col, j) {
                                buf.cands.push(Cand { j, sim, r });
                            }
                        }
                    }
                    _ => intersect(&ri, &rv, ni, ns, &mut buf.cands),
                }
                let cut = self.neighbourhood_cut(col, buf);
                let (mut num, mut den) = (0.0f64, 0.0f64);
                for c in &buf.cands {
                    if cut.is_none_or(|cut| by_preference((c.sim, c.j), cut).is_le()) {
                        let bj = f64::from(base(c.j as usize));
                        num += f64::from(c.sim) * (f64::from(c.r) - bj);
                        den += f64::from(c.sim.abs());
                    }
                }
                *o = if den > 0.0 {
                    (f64::from(base(col)) + num / den) as f32
                } else {
                    f32::NAN
                };
            }
        });
    }

    /// The training ratings of `user` as (item, rating) pairs (item-based
    /// mode), e.g. to check a fold-in against the fitted user.
    pub fn user_ratings(&self, user: UserIdx) -> Vec<(ItemIdx, f32)> {
        if self.config.user_based {
            return Vec::new();
        }
        let (items, values) = self.data.row(user.get());
        items
            .iter()
            .zip(values)
            .map(|(&i, &r)| (ItemIdx(i), r))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{KnnConfig, Neighbourhood, Prediction};
    use movierec_core::RunContext;
    use movierec_core::{
        Fit, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings, Recommender, UserIdx,
    };

    /// A training user's own ratings, folded in, give their fitted scores
    /// bit for bit where the prediction form needs no user bias.
    #[test]
    fn folding_in_a_training_user_matches_their_scores() {
        let mut t = Vec::new();
        for u in 0..30u32 {
            for i in 0..25u32 {
                if (u * 7 + i * 11) % 4 < 2 || u % 7 == 0 {
                    t.push(Rating::new(u, i, ((u + 2 * i) % 10 + 1) as f32 / 2.0));
                }
            }
        }
        let train = RatingMatrix::new(&Ratings::new(t, 30, 25, RatingScale::default())).unwrap();
        for (neighbourhood, prediction, k) in [
            (Neighbourhood::Rated, Prediction::MeanCentred, 5),
            (Neighbourhood::Report, Prediction::Report, 4),
            (Neighbourhood::Rated, Prediction::Report, 50),
        ] {
            let cfg = KnnConfig {
                neighbourhood,
                prediction,
                k,
                keep_negative: true,
                ..KnnConfig::default()
            };
            let model = cfg
                .fit(&train, None, &RunContext::default(), &mut NoopObserver)
                .unwrap();
            assert!(model.can_fold_in());
            for u in 0..30 {
                let mut want = vec![0.0; 25];
                model.score_into(UserIdx(u), &mut want);
                let mut got = vec![0.0; 25];
                model.fold_in_scores(&model.user_ratings(UserIdx(u)), &mut got);
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-5,
                        "{neighbourhood:?} {prediction:?} user {u}: {g} vs {w}"
                    );
                }
            }
        }
    }
}
