//! Hyperparameters of the KNN recommender and their validation.

use std::fmt;
use std::str::FromStr;

use movierec_core::BiasConfig;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// How two items (or, in user-based mode, two users) are compared.
///
/// Every similarity is a cosine over the users who rated both items (the
/// co-rating users) of ratings centred in some way; they differ only in the
/// centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Similarity {
    /// Ratings centred by each user's mean (Sarwar et al. 2001): the
    /// report's similarity, "considering user's difference".
    AdjustedCosine,
    /// Raw ratings, no centring.
    Cosine,
    /// Ratings centred by each item's mean over all its training ratings.
    /// (Surprise's `pearson` centres on the mean over the co-rating users
    /// instead; the two agree when the items share all their raters.)
    Pearson,
    /// Residuals after the bias baseline `mu + b_u + b_i` (Koren 2010,
    /// Surprise's `pearson_baseline`); meant to be used with shrinkage.
    PearsonBaseline,
}

/// Which items form the neighbourhood of a target item for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Neighbourhood {
    /// The report's `N_u^K(m)`: the K items most similar to `m`, then only
    /// those that `u` rated (top K first, then filter), so a user may have
    /// fewer than K neighbours, or none.
    Report,
    /// The K items most similar to `m` among the items `u` rated (Surprise,
    /// LensKit).
    Rated,
}

/// How the neighbours' ratings become a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Prediction {
    /// The report's weighted mean `sum(sim * r_uj) / sum(|sim|)`.
    Report,
    /// `mean_m + sum(sim * (r_uj - mean_j)) / sum(|sim|)`, with the means of
    /// the target and neighbour items (Surprise's `KNNWithMeans`; in
    /// user-based mode the means are the users' means, the textbook form).
    MeanCentred,
    /// `b_um + sum(sim * (r_uj - b_uj)) / sum(|sim|)` with the bias baseline
    /// `b` (Surprise's `KNNBaseline`).
    Baseline,
}

macro_rules! names {
    ($ty:ty, $what:literal, $($variant:ident => $name:literal),+ $(,)?) => {
        impl $ty {
            /// Every value with its command-line name.
            pub const ALL: &'static [($ty, &'static str)] = &[$((<$ty>::$variant, $name)),+];

            /// The command-line (and serde) name.
            pub fn name(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),+ }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $ty {
            type Err = ConfigError;

            fn from_str(s: &str) -> Result<Self, ConfigError> {
                match s {
                    $($name => Ok(<$ty>::$variant),)+
                    _ => Err(ConfigError::UnknownName {
                        what: $what,
                        got: s.to_string(),
                        expected: vec![$($name),+].join(", "),
                    }),
                }
            }
        }
    };
}

names!(Similarity, "similarity",
    AdjustedCosine => "adjusted-cosine",
    Cosine => "cosine",
    Pearson => "pearson",
    PearsonBaseline => "pearson-baseline",
);
names!(Neighbourhood, "neighbourhood", Report => "report", Rated => "rated");
names!(Prediction, "prediction",
    Report => "report",
    MeanCentred => "mean-centred",
    Baseline => "baseline",
);

/// Hyperparameters of the KNN recommender.
///
/// [`Default`] is the best configuration found so far (one place to change:
/// [`KnnConfig::default`]); [`KnnConfig::report`] is the report's model.
///
/// ```
/// use movierec_knn::{KnnConfig, Similarity};
/// let cfg: KnnConfig = serde_json::from_str(r#"{"k": 20, "similarity": "adjusted-cosine"}"#).unwrap();
/// assert_eq!(cfg.k, 20);
/// assert_eq!(cfg.similarity, Similarity::AdjustedCosine);
/// assert_eq!(cfg.shrinkage, KnnConfig::default().shrinkage);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KnnConfig {
    /// Neighbours per prediction (K). Used as is when `k_grid` is empty or no
    /// validation set is given. Default: 80.
    pub k: usize,
    /// Candidate Ks (`--k auto`): when non-empty and a validation set is
    /// given, fit builds the similarities once and keeps the K with the
    /// lowest validation RMSE (recorded in the model). Default: empty.
    pub k_grid: Vec<usize>,
    /// Similarity measure. Default: adjusted-cosine.
    pub similarity: Similarity,
    /// Neighbourhood rule. Default: rated.
    pub neighbourhood: Neighbourhood,
    /// Prediction form. Default: baseline.
    pub prediction: Prediction,
    /// Pairs with fewer co-rating users than this get no similarity.
    /// Default: 1 (0 acts as 1).
    pub min_support: usize,
    /// Shrinkage `lambda`: a similarity over `n` co-rating users is
    /// multiplied by `n / (n + lambda)`; 0 turns it off. Default: 100.
    pub shrinkage: f32,
    /// Keep neighbours with a negative similarity. The report's formula
    /// divides by `sum(|sim|)`, so it allows them; Surprise and LensKit use
    /// positive similarities only (dropping them also halves the memory).
    /// Default: false.
    pub keep_negative: bool,
    /// Keep only each item's `n` most similar items (memory grows with
    /// items x n instead of items squared); `None` keeps all (exact).
    /// Default: `None`.
    pub max_neighbours: Option<usize>,
    /// Compare users instead of items (the same code on the transposed
    /// matrix). Default: false.
    pub user_based: bool,
    /// The bias baseline behind `pearson-baseline` and the baseline
    /// prediction form (also the fallback used while choosing K), in the
    /// original orientation. Default: [`BiasConfig::default`].
    pub baseline: BiasConfig,
}

/// Neighbours kept per movie by [`KnnConfig::large`].
pub const LARGE_NEIGHBOURS: usize = 200;

impl Default for KnnConfig {
    /// The winner of `movierec tune --model knn` on ml-latest-small's
    /// validation sets (results/ml-latest-small/tuning-knn.json; a test keeps
    /// the two equal): adjusted cosine shrunk by 100, K = 80 among the rated
    /// items, baseline-centred prediction.
    fn default() -> Self {
        Self {
            k: 80,
            k_grid: Vec::new(),
            similarity: Similarity::AdjustedCosine,
            neighbourhood: Neighbourhood::Rated,
            prediction: Prediction::Baseline,
            min_support: 1,
            shrinkage: 100.0,
            keep_negative: false,
            max_neighbours: None,
            user_based: false,
            baseline: BiasConfig::default(),
        }
    }
}

impl KnnConfig {
    /// The report's model (its 5.2.1): adjusted cosine, the report's
    /// neighbourhood (top K first, then the items the user rated), the
    /// report's weighted mean over `|sim|` with negative similarities kept,
    /// no shrinkage.
    ///
    /// The report gives no K: `k_grid` holds the candidates and K is chosen
    /// on the validation set (`k` = 40 is used only when fit gets none).
    pub fn report() -> Self {
        Self {
            k: 40,
            k_grid: vec![5, 10, 20, 40, 80, 160, 320],
            similarity: Similarity::AdjustedCosine,
            neighbourhood: Neighbourhood::Report,
            prediction: Prediction::Report,
            min_support: 1,
            shrinkage: 0.0,
            keep_negative: true,
            max_neighbours: None,
            user_based: false,
            baseline: BiasConfig::default(),
        }
    }

    /// Settings for catalogues of tens of thousands of movies (the CLI's
    /// `--preset large`): the defaults with each movie's list capped at its
    /// [`LARGE_NEIGHBOURS`] most similar movies, so that the similarity build
    /// runs by blocks of movies in memory that grows with movies x 200
    /// instead of movies squared (see `max_neighbours`), the store that
    /// `movierec train` keeps anyway.
    pub fn large() -> Self {
        Self {
            max_neighbours: Some(LARGE_NEIGHBOURS),
            ..Self::default()
        }
    }

    /// Checks the settings before a fit.
    ///
    /// # Errors
    /// [`ConfigError::K`] for K = 0 (in `k` or `k_grid`),
    /// [`ConfigError::Shrinkage`] for a negative or non-finite shrinkage,
    /// [`ConfigError::MaxNeighbours`] for `Some(0)`, [`ConfigError::Baseline`]
    /// for invalid baseline settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.k == 0 || self.k_grid.contains(&0) {
            return Err(ConfigError::K);
        }
        if !(self.shrinkage.is_finite() && self.shrinkage >= 0.0) {
            return Err(ConfigError::Shrinkage(self.shrinkage));
        }
        if self.max_neighbours == Some(0) {
            return Err(ConfigError::MaxNeighbours);
        }
        self.baseline
            .validate()
            .map_err(|e| ConfigError::Baseline(e.to_string()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_report_are_valid() {
        KnnConfig::default().validate().unwrap();
        KnnConfig::report().validate().unwrap();
    }

    #[test]
    fn k_cannot_be_zero() {
        let cfg = KnnConfig {
            k: 0,
            ..Default::default()
        };
        assert!(matches!(cfg.validate(), Err(ConfigError::K)));
        let cfg = KnnConfig {
            k_grid: vec![10, 0],
            ..Default::default()
        };
        assert!(matches!(cfg.validate(), Err(ConfigError::K)));
    }

    #[test]
    fn shrinkage_must_be_finite_and_non_negative() {
        for s in [-1.0, f32::NAN, f32::INFINITY] {
            let cfg = KnnConfig {
                shrinkage: s,
                ..Default::default()
            };
            assert!(matches!(cfg.validate(), Err(ConfigError::Shrinkage(_))));
        }
    }

    #[test]
    fn max_neighbours_cannot_be_zero() {
        let cfg = KnnConfig {
            max_neighbours: Some(0),
            ..Default::default()
        };
        assert!(matches!(cfg.validate(), Err(ConfigError::MaxNeighbours)));
    }

    #[test]
    fn baseline_is_validated() {
        let mut cfg = KnnConfig::default();
        cfg.baseline.reg_item = -1.0;
        assert!(matches!(cfg.validate(), Err(ConfigError::Baseline(_))));
    }

    #[test]
    fn names_round_trip_through_from_str_and_serde() {
        for &(s, name) in Similarity::ALL {
            assert_eq!(name.parse::<Similarity>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{name}\""));
        }
        for &(n, name) in Neighbourhood::ALL {
            assert_eq!(name.parse::<Neighbourhood>().unwrap(), n);
            assert_eq!(serde_json::to_string(&n).unwrap(), format!("\"{name}\""));
        }
        for &(p, name) in Prediction::ALL {
            assert_eq!(name.parse::<Prediction>().unwrap(), p);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{name}\""));
        }
        let err = "cosinus".parse::<Similarity>().unwrap_err();
        assert!(err.to_string().contains("adjusted-cosine"), "{err}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<KnnConfig>(r#"{"kk": 3}"#).is_err());
        let cfg: KnnConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg, KnnConfig::default());
    }
}
