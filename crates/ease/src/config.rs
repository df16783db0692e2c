//! Settings of an EASE fit.

use movierec_core::Error;
use serde::{Deserialize, Serialize};

/// What enters the user x item matrix X for one training rating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weighting {
    /// 1 for every rating kept (the paper's binary X).
    Binary,
    /// The rating itself divided by the scale's maximum (5 stars -> 1.0),
    /// the default: on ml-latest-small it beat binary X on validation
    /// NDCG@10 in every one of the 5 repeats (mean 0.2215 against 0.2037).
    #[default]
    Rating,
}

/// Which side's Gram matrix is factorised. Both give the same weights up to
/// rounding (Woodbury's identity); the cost differs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Solver {
    /// Users when there are fewer users than items, else items.
    #[default]
    Auto,
    /// The item x item Gram matrix `X^T X + Lambda` (Steck's form), one
    /// Cholesky per lambda tried.
    Items,
    /// The user x user matrix `I + X Lambda^-1 X^T` (Woodbury): a lambda on
    /// the grid costs `users^3 / 3 + users * nnz`, the final weights
    /// `nnz * items`.
    Users,
}

/// EASE settings (Steck, WWW 2019): `B = I - P diag(1 / diag P)` with
/// `P = (X^T X + Lambda)^-1`, `Lambda = diag(lambda + diag_weight * diag(X^T X))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EaseConfig {
    /// L2 penalty on the weights, used when `lambda_grid` is empty or there
    /// is no validation set. Default: 100.
    pub lambda: f32,
    /// Lambdas tried on the validation set (NDCG@10, relevant = rating >= 4);
    /// the best is kept. Empty: `lambda` is used as is. Default:
    /// 25, 50, 100, 200, 400, 800, 1600 (the paper used about 500 on ML-20M).
    pub lambda_grid: Vec<f32>,
    /// Extra penalty proportional to each item's own Gram diagonal (the
    /// dropout emphasis of Steck's DLAE, `p / (1 - p)`). Default: 0 (plain EASE).
    pub diag_weight: f32,
    /// What a kept rating puts into X. Default: the rating / scale maximum
    /// (see [`Weighting::Rating`]); `binary` is the paper's EASE.
    pub weighting: Weighting,
    /// Ratings below this are left out of X (they still exclude their movie
    /// from the user's recommendations in the harness). Default: none.
    pub min_rating: Option<f32>,
    /// Most items (with a training rating) the dense item x item weights
    /// may have. One such matrix takes `items^2 x 4` bytes (1.6 GB at 20,000
    /// items); the item-side solver holds 3 of them (4 during a lambda
    /// search), the user-side one the weights plus `users x items x 12`
    /// bytes. Default: 20,000.
    pub max_items: usize,
    /// Above `max_items`, keep only the `max_items` most-rated items (ties
    /// by index) instead of refusing. An approximation: ratings of the other
    /// items are left out of X, and those items get no score. Default: false.
    pub most_rated_only: bool,
    /// Which Gram matrix to factorise. Default: auto.
    pub solver: Solver,
}

impl Default for EaseConfig {
    fn default() -> Self {
        Self {
            lambda: 100.0,
            lambda_grid: vec![25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0],
            diag_weight: 0.0,
            weighting: Weighting::Rating,
            min_rating: None,
            max_items: 20_000,
            most_rated_only: false,
            solver: Solver::Auto,
        }
    }
}

impl EaseConfig {
    /// Checks every setting before a fit.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting out of its domain.
    pub fn validate(&self) -> Result<(), Error> {
        let positive = |name: &str, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::Config(format!(
                    "ease {name} must be finite and > 0, got {v}"
                )))
            }
        };
        positive("lambda", self.lambda)?;
        for &l in &self.lambda_grid {
            positive("lambda_grid value", l)?;
        }
        if !(self.diag_weight.is_finite() && self.diag_weight >= 0.0) {
            return Err(Error::Config(format!(
                "ease diag_weight must be finite and >= 0, got {}",
                self.diag_weight
            )));
        }
        if let Some(m) = self.min_rating {
            if !m.is_finite() {
                return Err(Error::Config(format!(
                    "ease min_rating must be a finite rating, got {m}"
                )));
            }
        }
        if self.max_items == 0 {
            return Err(Error::Config("ease max_items must be at least 1".into()));
        }
        Ok(())
    }

    /// What one training rating `r` puts into X (`None`: left out), on a
    /// scale whose maximum is `scale_max`.
    pub fn input_value(&self, r: f32, scale_max: f32) -> Option<f32> {
        input_value(self.min_rating, self.weighting, r, scale_max)
    }
}

/// The value a rating puts into X, shared by the fit and the fold-in.
pub(crate) fn input_value(
    min_rating: Option<f32>,
    weighting: Weighting,
    r: f32,
    scale_max: f32,
) -> Option<f32> {
    if !r.is_finite() || min_rating.is_some_and(|m| r < m) {
        return None;
    }
    let x = match weighting {
        Weighting::Binary => 1.0,
        Weighting::Rating => r / scale_max,
    };
    (x.is_finite() && x != 0.0).then_some(x)
}
