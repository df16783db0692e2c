//! Implicit alternating least squares (iALS; Hu, Koren and Volinsky,
//! "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008)
//! for movierec's top-N lists.
//!
//! Every rating is a positive preference with confidence `1 + alpha r`
//! (or `1 + alpha`, [`Confidence::Binary`]); every unrated pair is a
//! negative one of weight `unobserved_weight`. The fit alternates exact or
//! conjugate-gradient item solves with exact (Cholesky, faer) user solves,
//! each row independent, in parallel on the context's threads: the same
//! data and seed give the same model bit for bit, for any thread count.
//! The Gram matrix `Y^T Y` is computed once per half-step.
//!
//! ```
//! use movierec_core::{Fit, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings,
//!     Recommender, RunContext, UserIdx};
//! use movierec_ials::IalsConfig;
//! let ratings = Ratings::new(
//!     vec![Rating::new(0, 0, 5.0), Rating::new(0, 1, 4.0), Rating::new(1, 0, 3.0)],
//!     2,
//!     3,
//!     RatingScale::default(),
//! );
//! let train = RatingMatrix::new(&ratings).unwrap();
//! let config = IalsConfig { factors: 4, iterations: 3, ..IalsConfig::default() };
//! let model = config.fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
//! let mut scores = vec![0.0; model.n_items()];
//! model.score_into(UserIdx(1), &mut scores);
//! assert!(scores[0].is_finite() && scores[2].is_nan()); // item 2 has no rating
//! // Folding in user 1's own ratings reproduces its fitted factors exactly.
//! let x = model.fold_in(&[(movierec_core::ItemIdx(0), 3.0)]).unwrap();
//! assert_eq!(x.as_slice(), model.user_vector(UserIdx(1)).unwrap());
//! ```

mod config;
mod error;
mod fit;
mod model;
mod solve;
#[cfg(test)]
mod tests;

pub use config::{Confidence, IalsConfig, MAX_FACTORS};
pub use error::IalsError;
pub use model::IalsModel;
