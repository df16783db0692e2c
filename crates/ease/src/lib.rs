//! EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
//! WWW 2019) for movierec: a top-N model whose item x item weights have a
//! closed form.
//!
//! X is the user x movie matrix of training ratings: by default each
//! rating divided by the scale's maximum, a variant chosen on validation
//! (`weighting = binary` is the paper's 0/1 X; see [`Weighting`] and
//! `min_rating`). With
//! `P = (X^T X + lambda I)^-1`, the weights are `B = I - P diag(1 / diag P)`
//! (zero diagonal), the solution of
//! `min ||X - X B||^2 + lambda ||B||^2` subject to `diag(B) = 0`, and a
//! user's scores are `x_u B`. Only movies with a training rating get weights;
//! the others score NaN.
//!
//! The fit factorises whichever Gram matrix is smaller ([`Solver`]): the
//! movies' `X^T X + lambda I` (an f32 Cholesky by faer), or, when there are
//! fewer users than movies (ml-latest-small: 610 users, about 9,000 movies),
//! the users' `I + X X^T / lambda` (f64) through Woodbury's identity; there a
//! lambda on the validation grid costs one small factorisation and no
//! items x items product. Lambda is chosen on validation NDCG@10.
//!
//! Memory: the weights are dense, `items^2 x 4` bytes (324 MB at 9,000
//! movies); the item-side fit holds up to four such matrices, the user-side
//! one the weights and `users x items x 12` bytes. Above `max_items` the fit
//! refuses unless `most_rated_only` is set (then only the most-rated movies
//! get weights: an approximation).
//!
//! ```
//! use movierec_core::{Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings,
//!     Recommender, RunContext, UserIdx};
//! use movierec_ease::EaseConfig;
//! // Users 0-2 rated movies 0 and 1 together; user 3 rated movie 0 only.
//! let entries = vec![
//!     Rating::new(0, 0, 5.0), Rating::new(0, 1, 4.0),
//!     Rating::new(1, 0, 4.0), Rating::new(1, 1, 4.5), Rating::new(1, 2, 2.0),
//!     Rating::new(2, 0, 3.0), Rating::new(2, 1, 4.0),
//!     Rating::new(3, 0, 4.0), Rating::new(3, 2, 3.0),
//! ];
//! let train = RatingMatrix::new(&Ratings::new(entries, 4, 3, RatingScale::default())).unwrap();
//! let cfg = EaseConfig { lambda: 1.0, lambda_grid: vec![], ..EaseConfig::default() };
//! let model = cfg.fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
//! let mut scores = vec![0.0; 3];
//! model.score_into(UserIdx(3), &mut scores);
//! assert!(scores[1] > 0.0); // movie 1 goes with movie 0
//! assert_eq!(model.weight(ItemIdx(1), ItemIdx(1)), Some(0.0));
//! ```

mod config;
mod error;
mod fit;
mod input;
mod model;
mod solve;
#[cfg(test)]
mod tests;

pub use config::{EaseConfig, Solver, Weighting};
pub use error::{EaseError, Result};
pub use fit::{NDCG_K, RELEVANT};
pub use model::{EaseModel, LambdaScore};
