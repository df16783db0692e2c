//! The report's autoencoder recommender (its 5.2.1 part 3 and 6.1), and an
//! improved AutoRec-style configuration of the same model.
//!
//! An item-based autoencoder reconstructs each movie's vector of user
//! ratings through sigmoid hidden layers; the reconstruction at user `u` is
//! the estimate of `u`'s rating (a user-based mode transposes). Fitting
//! lives on [`AutoencoderConfig`] (the [`Fit`](movierec_core::Fit) trait),
//! scoring on [`AutoencoderModel`], whose documentation gives the algorithm,
//! its cost and what runs in parallel.
//!
//! - [`AutoencoderConfig::default`]: the best configuration found on the
//!   validation sets of ml-latest-small (identity output, 50 hidden units,
//!   L2 weight decay under summed losses, input dropout 0.5, large
//!   batches).
//! - [`AutoencoderConfig::report`] and [`AutoencoderConfig::report_deep`]:
//!   the report's final network (100 hidden units, ReLU output, its code's
//!   mean reduction) and its first design (300 and 150 units).
//! - Two execution paths of the same math ([`Path`]): dense batch matrices
//!   through faer (what the report's numpy did) and a sparse pass over the
//!   observed ratings only, kept equal by a property test.
//! - [`Trainer`], [`Network`], [`Batch`] and [`Workspace`] expose single
//!   epochs and single passes for benchmarks and custom loops.
//!
//! When not to use it: on very sparse data (most items with a handful of
//! ratings) the item-based vectors carry little signal, and matrix
//! factorisation (`movierec-mf`) or the bias baseline fit faster with
//! comparable error; the report's own configuration is kept for
//! reproduction, not as a recommendation.
//!
//! ```
//! use movierec_autoencoder::AutoencoderConfig;
//! use movierec_core::{Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale,
//!     Ratings, Recommender, UserIdx, RunContext};
//!
//! let ratings = Ratings::new(
//!     vec![
//!         Rating::new(0, 0, 5.0),
//!         Rating::new(0, 1, 3.0),
//!         Rating::new(1, 0, 4.0),
//!         Rating::new(1, 1, 2.0),
//!         Rating::new(2, 0, 4.5),
//!     ],
//!     3,
//!     2,
//!     RatingScale::new(0.5, 5.0),
//! );
//! let train = RatingMatrix::new(&ratings).unwrap();
//! let config = AutoencoderConfig { hidden: vec![8], epochs: 50, batch: 2, seed: Some(7), ..Default::default() };
//! let model = config.fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
//! let p = model.predict(UserIdx(2), ItemIdx(1)).unwrap();
//! assert!(p > 0.5 && p < 5.0);
//! ```

mod config;
mod error;
mod kernel;
mod model;
mod net;
mod pass;
mod train;

pub use config::{AutoencoderConfig, Output, Path, Reduction, Update, MAX_HIDDEN};
pub use error::{ConfigError, Error, Result};
pub use model::AutoencoderModel;
pub use net::{Network, Penalties};
pub use pass::{Batch, Workspace};
pub use train::{Trainer, MAX_PARAMS};

#[cfg(test)]
mod tests;
