//! `Recommender for KnnModel`: scores, predictions and top-N lists (in the
//! model's orientation), and fold-in and similar items through the trait.

use movierec_core::Error as CoreError;
use movierec_core::{top_k, ItemIdx, RatingMatrix, Recommender, UserIdx};

use super::kernel::BUF;
use super::KnnModel;

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
        movierec_core::check_rated(rated, self.n_items)?;
        self.fold_in_scores(rated, out);
        Ok(())
    }

    /// Every offset, index, length and float of the similarity store, the
    /// training ratings, the baseline and the cuts, and the settings.
    fn validate(&self) -> Result<(), CoreError> {
        self.check()
            .map_err(|e| CoreError::InvalidModel(format!("knn: {e}")))
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
