//! Fold-in for the user-based autoencoder: a new user's ratings are one
//! more input vector, so their code is one forward pass through the fitted
//! encoder and their scores are the decoder's outputs, with no refit. The
//! item-based autoencoder encodes items over users: a new user would be a
//! new input dimension, which the fitted network does not have.

use movierec_core::ItemIdx;
use pulp::Arch;

use super::{AutoencoderModel, ScoreUnits};
use crate::pass::{Batch, Workspace};

impl AutoencoderModel {
    /// True when [`fold_in_scores`](Self::fold_in_scores) works (the
    /// user-based mode).
    pub fn can_fold_in(&self) -> bool {
        self.user_based
    }

    /// Scores every item for a user who is not in the training ratings:
    /// their `ratings` encoded as an input vector (no dropout), then every
    /// output unit of an item with training ratings; NaN for the others.
    ///
    /// # Panics
    /// If the model is item-based, `out.len() != n_items`, or an item is
    /// outside the index space.
    #[track_caller]
    pub fn fold_in_scores(&self, ratings: &[(ItemIdx, f32)], out: &mut [f32]) {
        assert!(
            self.user_based,
            "fold_in_scores: an item-based autoencoder cannot fold in"
        );
        assert_eq!(out.len(), self.n_items, "fold_in_scores: output length");
        let mut rated: Vec<(u32, f32)> = ratings.iter().map(|&(i, r)| (i.0, r)).collect();
        rated.sort_unstable_by_key(|&(i, _)| i);
        rated.dedup_by_key(|&mut (i, _)| i);
        assert!(
            rated
                .last()
                .is_none_or(|&(i, _)| (i as usize) < self.n_items),
            "fold_in_scores: item out of range"
        );
        let batch = Batch {
            in_ptr: vec![0],
            in_idx: Vec::new(),
            in_val: Vec::new(),
            tg_ptr: vec![0, rated.len()],
            tg_idx: rated.iter().map(|&(i, _)| i).collect(),
            tg_val: rated.iter().map(|&(_, r)| r).collect(),
            same: true,
        };
        let mut ws = Workspace::new(crate::Path::Sparse, &self.net);
        let code = ws.encode(&self.net, &batch).to_vec();
        out.fill(f32::NAN);
        Arch::new().dispatch(ScoreUnits {
            model: self,
            code: &code,
            out,
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::{AutoencoderConfig, Output};
    use movierec_core::RunContext;
    use movierec_core::{
        Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings, Recommender,
        UserIdx,
    };

    /// A training user's own ratings, folded in, give their fitted scores.
    #[test]
    fn folding_in_a_training_user_matches_their_scores() {
        let mut entries = Vec::new();
        for u in 0..12u32 {
            for i in 0..9u32 {
                if (u + 2 * i) % 3 != 0 {
                    entries.push(Rating::new(u, i, ((u * i) % 9 + 1) as f32 / 2.0));
                }
            }
        }
        let train =
            RatingMatrix::new(&Ratings::new(entries, 12, 9, RatingScale::default())).unwrap();
        let cfg = AutoencoderConfig {
            hidden: vec![6],
            output: Output::Identity,
            epochs: 5,
            batch: 4,
            user_based: true,
            seed: Some(3),
            ..Default::default()
        };
        let model = cfg
            .fit(&train, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        assert!(model.can_fold_in());
        for u in 0..12 {
            let (items, values) = train.user_ratings(UserIdx(u));
            let rated: Vec<(ItemIdx, f32)> = items
                .iter()
                .zip(values)
                .map(|(&i, &r)| (ItemIdx(i as u32), r))
                .collect();
            let mut want = vec![0.0; 9];
            model.score_into(UserIdx(u), &mut want);
            let mut got = vec![0.0; 9];
            model.fold_in_scores(&rated, &mut got);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "user {u}: {g} vs {w}");
            }
        }
        let item_based = AutoencoderConfig {
            user_based: false,
            ..cfg
        }
        .fit(&train, None, &RunContext::default(), &mut NoopObserver)
        .unwrap();
        assert!(!item_based.can_fold_in());
    }
}
