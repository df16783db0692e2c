//! Settings of an iALS fit.

use movierec_core::Error;
use serde::{Deserialize, Serialize};

/// How a rating becomes the confidence `c_ui` of an observed pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confidence {
    /// `c = 1 + alpha * r` (Hu, Koren, Volinsky, eq. 2 with `r` the rating).
    #[default]
    Linear,
    /// `c = 1 + alpha` for every observed pair, whatever its rating.
    Binary,
}

/// Settings of implicit alternating least squares.
///
/// The loss, over every user `u` and item `i`, is
/// `sum c_ui (p_ui - x_u . y_i)^2 + reg_u |x_u|^2 + reg_i |y_i|^2`, where
/// `p_ui = 1` for a rated pair (0 otherwise), `c_ui` is the rated pair's
/// [`confidence`](Self::confidence) and `unobserved_weight` for an unrated
/// pair (1 in Hu et al.). The regularisation of a row is
/// `reg * (sum of the row's weights)^reg_exponent` (Rendle et al. 2022's
/// frequency scaling; `reg_exponent = 0` gives the plain `reg`).
///
/// One iteration solves every item (users fixed), then every user (items
/// fixed). User solves are always exact (Cholesky), so the fitted user
/// factors are exactly what [`fold_in`](crate::IalsModel::fold_in) computes
/// from the user's training ratings; item solves are exact or a few
/// warm-started conjugate-gradient steps ([`cg_steps`](Self::cg_steps)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IalsConfig {
    /// Latent factors per user and item. Default: 64.
    pub factors: usize,
    /// Iterations (an item step then a user step each); with validation
    /// and early stopping, the most. Default: 15.
    pub iterations: usize,
    /// Slope of the confidence of a rated pair. Default: 1.
    pub alpha: f32,
    /// Rating -> confidence. Default: [`Confidence::Linear`].
    pub confidence: Confidence,
    /// Regularisation `reg` (scaled by `reg_exponent`). Default: 0.01
    /// (with the default exponent 1, about 100 for a user and 1 to 10 for an
    /// item of ml-latest-small; chosen on validation).
    pub reg: f32,
    /// Frequency-scaling exponent `nu` of the regularisation, in `0..=1`
    /// (0: the plain `reg` for every row). Default: 1, so the
    /// regularisation grows with the data and the default carries across
    /// dataset sizes (Rendle et al. 2022).
    pub reg_exponent: f32,
    /// Weight of the unrated pairs (`alpha_0` of Rendle et al.). Default: 1.
    pub unobserved_weight: f32,
    /// Conjugate-gradient steps of each item solve, warm-started from the
    /// previous iteration (Takacs et al. 2011); 0 solves exactly (Cholesky).
    /// Default: 3.
    pub cg_steps: usize,
    /// Standard deviation of the initial factors, divided by
    /// `sqrt(factors)`. Default: 0.1.
    pub init_std: f32,
    /// With a validation set, keep the iteration of best validation
    /// NDCG@10 and stop after `patience` iterations without a gain.
    /// Default: true.
    pub early_stopping: bool,
    /// Iterations without a validation gain before stopping. Default: 3.
    pub patience: usize,
    /// Seed of the initial factors; `None` takes the run's seed.
    pub seed: Option<u64>,
}

impl Default for IalsConfig {
    fn default() -> Self {
        Self {
            factors: 64,
            iterations: 15,
            alpha: 1.0,
            confidence: Confidence::Linear,
            reg: 0.01,
            reg_exponent: 1.0,
            unobserved_weight: 1.0,
            cg_steps: 3,
            init_std: 0.1,
            early_stopping: true,
            patience: 3,
            seed: None,
        }
    }
}

/// Largest number of factors accepted (a `factors x factors` system is
/// solved per row).
pub const MAX_FACTORS: usize = 4096;

impl IalsConfig {
    /// Checks the settings before a fit.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting: `factors` outside
    /// `1..=4096`, `iterations` or `patience` 0, `alpha`, `init_std` or
    /// `unobserved_weight` negative or not finite, `reg` not finite and
    /// positive, `reg_exponent` outside `0..=1`.
    pub fn validate(&self) -> Result<(), Error> {
        if !(1..=MAX_FACTORS).contains(&self.factors) {
            return Err(Error::Config(format!(
                "ials factors must be in 1..={MAX_FACTORS}, got {}",
                self.factors
            )));
        }
        if self.iterations == 0 {
            return Err(Error::Config("ials iterations must be at least 1".into()));
        }
        if self.patience == 0 {
            return Err(Error::Config("ials patience must be at least 1".into()));
        }
        for (name, v) in [
            ("alpha", self.alpha),
            ("unobserved_weight", self.unobserved_weight),
            ("init_std", self.init_std),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config(format!(
                    "ials {name} must be finite and >= 0, got {v}"
                )));
            }
        }
        if !(self.reg.is_finite() && self.reg > 0.0) {
            return Err(Error::Config(format!(
                "ials reg must be finite and > 0 (it keeps every system positive definite), got {}",
                self.reg
            )));
        }
        if !(0.0..=1.0).contains(&self.reg_exponent) {
            return Err(Error::Config(format!(
                "ials reg_exponent must be in 0..=1, got {}",
                self.reg_exponent
            )));
        }
        if self.cg_steps > 1000 {
            return Err(Error::Config(format!(
                "ials cg_steps must be at most 1000 (0 = exact solve), got {}",
                self.cg_steps
            )));
        }
        Ok(())
    }

    /// The confidence of a rated pair with rating `r` (never negative).
    #[inline]
    pub fn confidence_of(&self, r: f32) -> f32 {
        let c = match self.confidence {
            Confidence::Linear => 1.0 + self.alpha * r,
            Confidence::Binary => 1.0 + self.alpha,
        };
        c.max(0.0)
    }
}
