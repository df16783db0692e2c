//! The fitted model, [`MfModel`] (factors, optional biases), its scoring
//! and its checks.

use movierec_core::{nearest_by_cosine, Error, ItemIdx, Recommender, UserIdx};
use serde::{Deserialize, Serialize};

use crate::kernel;

/// The most factors a fold-in solves for: its `(k + 1) x (k + 1)` f64
/// system takes 134 MB at 4,096 (a model file could name any `k`).
pub const FOLD_IN_MAX_FACTORS: usize = 4096;

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
    /// How the fit regularised a user's side: fold-in solves the same problem.
    user_reg: UserReg,
}

/// The regularisation of a user's factors and bias in the fitted objective,
/// kept with the model so that fold-in solves the same problem.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct UserReg {
    /// L2 weight on the user's factors.
    pub factors: f32,
    /// L2 weight on the user's bias.
    pub bias: f32,
    /// The weights apply per rating (sparse SGD) rather than once (the
    /// report's dense descent).
    pub per_rating: bool,
}

impl UserReg {
    /// The weights `(factors, bias)` for a user with `n` ratings.
    pub fn for_ratings(&self, n: usize) -> (f32, f32) {
        if self.per_rating {
            (self.factors * n as f32, self.bias * n as f32)
        } else {
            (self.factors, self.bias)
        }
    }
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
            user_reg: UserReg::default(),
        }
    }

    /// The same model with the fit's user-side regularisation recorded.
    pub fn with_user_reg(self, user_reg: UserReg) -> Self {
        Self { user_reg, ..self }
    }

    /// The fit's user-side regularisation.
    pub fn user_reg(&self) -> UserReg {
        self.user_reg
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

    fn n_users(&self) -> Option<usize> {
        Some(MfModel::n_users(self))
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

    /// The user's side solved with the items fixed, regularised as the fit was.
    fn score_new_user(&self, rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), Error> {
        movierec_core::check_rated(rated, self.n_items())?;
        if self.factors > FOLD_IN_MAX_FACTORS {
            return Err(Error::Unsupported(format!(
                "fold-in solves a dense system of the model's {} factors, above the limit of {FOLD_IN_MAX_FACTORS}",
                self.factors
            )));
        }
        let (reg_factors, reg_bias) = self.user_reg.for_ratings(rated.len());
        let user = self.fold_in(rated, reg_factors, reg_bias);
        self.score_folded(&user, out);
        Ok(())
    }

    /// Cosine of the item factors (items without training ratings have zero
    /// factors and are skipped).
    fn similar_items(&self, item: ItemIdx, k: usize) -> Result<Vec<(ItemIdx, f32)>, Error> {
        let vectors = self.item_factors.chunks_exact(self.factors).map(Some);
        Ok(nearest_by_cosine(item, k, vectors))
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::InvalidModel(format!("matrix factorisation: {what}")));
        let k = self.factors;
        if k == 0
            || !self.user_factors.len().is_multiple_of(k)
            || !self.item_factors.len().is_multiple_of(k)
        {
            return bad("the factor matrices are not n x factors");
        }
        if let Some(b) = &self.biases {
            if b.user.len() != self.n_users() || b.item.len() != self.n_items() {
                return bad("the bias vectors do not match the factor matrices");
            }
            if !b.mu.is_finite() || !b.user.iter().chain(&b.item).all(|x| x.is_finite()) {
                return bad("a bias is not a finite number");
            }
        }
        if !self
            .user_factors
            .iter()
            .chain(&self.item_factors)
            .all(|x| x.is_finite())
        {
            return bad("a factor is not a finite number");
        }
        if self.n_items() == 0 {
            return bad("the model has no items");
        }
        let r = self.user_reg;
        if !(r.factors.is_finite() && r.factors >= 0.0 && r.bias.is_finite() && r.bias >= 0.0) {
            return bad("the fold-in regularisation is not a non-negative number");
        }
        Ok(())
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

    /// Damaged shapes, floats and settings are errors; a model with more
    /// factors than a fold-in solves for says so instead of allocating.
    #[test]
    fn validate_and_fold_in_refuse_damage() {
        let good = MfModel::new(2, vec![1.0; 4], vec![0.5; 6], None, 1);
        good.validate().unwrap();
        let mut out = vec![0.0; 3];
        good.score_new_user(&[(ItemIdx(1), 4.0)], &mut out).unwrap();
        assert!(good.score_new_user(&[(ItemIdx(3), 4.0)], &mut out).is_err());
        let json = serde_json::to_value(&good).unwrap();
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = json.clone();
            f(&mut v);
            serde_json::from_value::<MfModel>(v).unwrap()
        };
        for bad in [
            edit(&|v| v["factors"] = 0.into()),
            edit(&|v| v["factors"] = 3.into()),
            edit(&|v| v["item_factors"][2] = 1e300.into()),
            edit(&|v| v["item_factors"] = serde_json::json!([])),
            edit(&|v| v["user_reg"]["factors"] = (-1.0).into()),
            edit(&|v| {
                v["biases"] = serde_json::json!({"mu": 3.0, "user": [0.0], "item": [0.0, 0.0, 0.0]})
            }),
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::InvalidModel(_))),
                "{bad:?}"
            );
        }
        let k = FOLD_IN_MAX_FACTORS + 1;
        let wide = MfModel::new(k, vec![0.0; k], vec![0.0; k], None, 1);
        wide.validate().unwrap();
        let err = wide
            .score_new_user(&[(ItemIdx(0), 4.0)], &mut [0.0])
            .unwrap_err();
        assert!(err.to_string().contains("above the limit"), "{err}");
    }
}
