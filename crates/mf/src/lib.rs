//! Matrix factorisation recommenders: `r_ui ~ [mu + b_u + b_i +] p_u . q_i`.
//!
//! Two optimisers fit the same [`MfModel`]:
//! - [`SgdConfig`]: sparse stochastic gradient descent over the observed
//!   ratings only (Koren, Bell and Volinsky 2009), with optional biases,
//!   per-group learning rates and regularisation, learning-rate decay, early
//!   stopping on validation RMSE, and deterministic parallel epochs (DSGD
//!   blocking over rayon). This is the one to use.
//! - [`DenseGdConfig`]: the report's full-batch gradient descent over the
//!   whole dense `users x items` matrix (its section 6.2), kept faithful as
//!   the baseline whose cost the benchmarks explain.
//!
//! When not to use it: with very few ratings per user, a neighbourhood
//! model or the bias baseline of `movierec-core` is as good and needs no
//! tuning; the dense optimiser is only for reproducing the report.
//!
//! ```
//! use movierec_core::{Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale,
//!     Ratings, Recommender, UserIdx, RunContext};
//! use movierec_mf::SgdConfig;
//!
//! let ratings = Ratings::new(
//!     vec![Rating::new(0, 0, 5.0), Rating::new(0, 1, 3.0), Rating::new(1, 0, 4.0)],
//!     2,
//!     2,
//!     RatingScale::new(0.5, 5.0),
//! );
//! let train = RatingMatrix::new(&ratings).unwrap();
//! let config = SgdConfig { factors: 8, epochs: 20, seed: Some(1), ..Default::default() };
//! let model = config.fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
//! let p = model.predict(UserIdx(1), ItemIdx(1)).unwrap();
//! assert!(p > 2.0 && p < 5.0);
//! ```

mod config;
mod dense;
pub mod dsgd;
mod error;
mod fold_in;
mod kernel;
mod layout;
mod model;
mod schedule;
mod sgd;
mod train;

pub use config::{DenseGdConfig, SgdConfig, MAX_FACTORS};
pub use dense::{DenseTrainer, DENSE_CELL_LIMIT};
pub use error::{ConfigError, Error, Result};
pub use fold_in::FoldedUser;
pub use model::{Biases, MfModel, UserReg, FOLD_IN_MAX_FACTORS};
pub use sgd::SgdTrainer;

#[cfg(test)]
mod tests;
