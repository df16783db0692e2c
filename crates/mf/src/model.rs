use movierec_core::{ItemIdx, Recommender, UserIdx};
use serde::{Deserialize, Serialize};

use crate::kernel;

/// The bias terms of a biased factorisation: `mu + b_u + b_i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Biases {
    /// Global mean of the training ratings.
    pub mu: f32,
    /// One bias per user.
    pub user: Vec<f32>,
    /// One bias per item.
    pub item: Vec<f32>,
}

/// A fitted factorisation `r_ui ~ [mu + b_u + b_i +] p_u . q_i`.
///
/// Factors are stored row-major and contiguous (`n x k` `f32`), so a user's
/// or an item's vector is one slice. Fitted by [`SgdConfig`](crate::SgdConfig)
/// (with or without biases) or [`DenseGdConfig`](crate::DenseGdConfig) (the
/// report's plain `p_u . q_i`).
///
/// Users and items without a training rating have zero factors: their score
/// is the bias part alone (0 without biases); the evaluation harness sends
/// such pairs to its fallback anyway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfModel {
    factors: usize,
    user_factors: Vec<f32>,
    item_factors: Vec<f32>,
    biases: Option<Biases>,
    epochs: usize,
}

impl MfModel {
    /// Assembles a model. `user_factors` is `n_users x factors` and
    /// `item_factors` `n_items x factors`, both row-major.
    ///
    /// # Panics
    /// If a length does not match (factors times rows, or bias lengths).
    #[track_caller]
    pub fn new(
        factors: usize,
        user_factors: Vec<f32>,
        item_factors: Vec<f32>,
        biases: Option<Biases>,
        epochs: usize,
    ) -> Self {
        assert!(factors > 0, "factors must be at least 1");
        assert_eq!(
            user_factors.len() % factors,
            0,
            "user factors are not n_users x {factors}"
        );
        assert_eq!(
            item_factors.len() % factors,
            0,
            "item factors are not n_items x {factors}"
        );
        if let Some(b) = &biases {
            assert_eq!(
                b.user.len(),
                user_factors.len() / factors,
                "one bias per user"
            );
            assert_eq!(
                b.item.len(),
                item_factors.len() / factors,
                "one bias per item"
            );
        }
        Self {
            factors,
            user_factors,
            item_factors,
            biases,
            epochs,
        }
    }

    /// Latent dimension `k`.
    pub fn factors(&self) -> usize {
        self.factors
    }

    /// Number of users the model has factors for.
    pub fn n_users(&self) -> usize {
        self.user_factors.len() / self.factors
    }

    /// All user factors, `n_users x k` row-major.
    pub fn user_factors(&self) -> &[f32] {
        &self.user_factors
    }

    /// All item factors, `n_items x k` row-major (e.g. for similar movies).
    pub fn item_factors(&self) -> &[f32] {
        &self.item_factors
    }

    /// One user's vector `p_u`.
    ///
    /// # Panics
    /// If `user` is outside the index space.
    #[track_caller]
    pub fn user_vector(&self, user: UserIdx) -> &[f32] {
        let k = self.factors;
        &self.user_factors[user.get() * k..(user.get() + 1) * k]
    }

    /// One item's vector `q_i`.
    ///
    /// # Panics
    /// If `item` is outside the index space.
    #[track_caller]
    pub fn item_vector(&self, item: ItemIdx) -> &[f32] {
        let k = self.factors;
        &self.item_factors[item.get() * k..(item.get() + 1) * k]
    }

    /// The bias terms, when the model has them.
    pub fn biases(&self) -> Option<&Biases> {
        self.biases.as_ref()
    }

    /// The epochs (dense: steps) that produced these factors: the best
    /// epoch when early stopping restored one.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The raw (unclamped) estimate for one pair.
    ///
    /// # Panics
    /// If `user` or `item` is outside the index space.
    #[track_caller]
    pub fn estimate(&self, user: UserIdx, item: ItemIdx) -> f32 {
        let d = kernel::dot(self.user_vector(user), self.item_vector(item));
        match &self.biases {
            Some(b) => b.mu + b.user[user.get()] + b.item[item.get()] + d,
            None => d,
        }
    }
}

impl Recommender for MfModel {
    fn n_items(&self) -> usize {
        self.item_factors.len() / self.factors
    }

    /// One matrix-vector product `Q p_u` (SIMD dot per item) plus the biases.
    fn score_into(&self, user: UserIdx, out: &mut [f32]) {
        assert_eq!(
            out.len(),
            self.n_items(),
            "score_into: out must hold one score per item"
        );
        let p = self.user_vector(user);
        let (base, item_bias): (f32, &[f32]) = match &self.biases {
            Some(b) => (b.mu + b.user[user.get()], &b.item),
            None => (0.0, &[]),
        };
        kernel::score_rows(p, &self.item_factors, base, item_bias, out);
    }

    fn predict(&self, user: UserIdx, item: ItemIdx) -> Option<f32> {
        if user.get() >= self.n_users() || item.get() >= self.n_items() {
            return None;
        }
        Some(self.estimate(user, item)).filter(|s| s.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has_autotraits<T: Send + Sync + Sized + Unpin>() {}

    #[test]
    fn autotraits() {
        has_autotraits::<MfModel>();
    }

    #[test]
    fn scores_predictions_and_serde_agree() {
        let m = MfModel::new(
            2,
            vec![1.0, 0.5, -1.0, 2.0],
            vec![0.5, 0.5, 1.0, -1.0, 0.0, 2.0],
            Some(Biases {
                mu: 3.0,
                user: vec![0.1, -0.1],
                item: vec![0.0, 0.2, -0.2],
            }),
            7,
        );
        let mut out = vec![0.0; 3];
        m.score_into(UserIdx(1), &mut out);
        // 3 - 0.1 + b_i + (-1, 2) . q_i
        let want = [
            3.0 - 0.1 + 0.0 + 0.5,
            3.0 - 0.1 + 0.2 - 3.0,
            3.0 - 0.1 - 0.2 + 4.0,
        ];
        for (i, (&o, &w)) in out.iter().zip(&want).enumerate() {
            assert!((o - w).abs() < 1e-6);
            assert!((m.predict(UserIdx(1), ItemIdx(i as u32)).unwrap() - w).abs() < 1e-6);
        }
        assert_eq!(m.predict(UserIdx(2), ItemIdx(0)), None);
        let back: MfModel = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(m.epochs(), 7);
    }
}
