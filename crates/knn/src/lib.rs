//! Item-based k-nearest-neighbour recommender (the report's first model),
//! with a user-based variant: adjusted cosine, cosine, Pearson and
//! pearson-baseline similarities computed from the sparse rating matrix in
//! parallel, the report's neighbourhood and weighted mean, and the
//! mean-centred and baseline-centred forms.
//!
//! Fit on the configuration ([`KnnConfig`], `movierec_core::Fit`), score on
//! the model ([`KnnModel`], `movierec_core::Recommender`).
//!
//! When not to use it: exact item-item similarities grow with the square of
//! the catalogue where items share raters (26 M pairs, about 210 MB, on
//! ml-latest-small with negative similarities kept); on large catalogues set
//! `max_neighbours`, or use matrix factorisation.
//!
//! ```
//! use movierec_core::{Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings,
//!     Recommender, UserIdx, RunContext};
//! use movierec_knn::{KnnConfig, Neighbourhood, Prediction, Similarity};
//! // Items 0 and 1 are rated alike by users 0-2; user 3 rated item 0 only.
//! let entries = vec![
//!     Rating::new(0, 0, 5.0), Rating::new(0, 1, 4.5), Rating::new(0, 2, 1.0),
//!     Rating::new(1, 0, 2.0), Rating::new(1, 1, 1.5), Rating::new(1, 2, 4.0),
//!     Rating::new(2, 0, 4.0), Rating::new(2, 1, 4.0), Rating::new(2, 2, 2.0),
//!     Rating::new(3, 0, 4.5), Rating::new(3, 2, 2.5),
//! ];
//! let train = RatingMatrix::new(&Ratings::new(entries, 4, 3, RatingScale::default())).unwrap();
//! let cfg = KnnConfig {
//!     k: 1,
//!     similarity: Similarity::AdjustedCosine,
//!     neighbourhood: Neighbourhood::Rated,
//!     prediction: Prediction::Report,
//!     shrinkage: 0.0,
//!     ..KnnConfig::default()
//! };
//! let model = cfg.fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
//! // User 3's one neighbour of item 1 is item 0, rated 4.5.
//! assert_eq!(model.predict(UserIdx(3), ItemIdx(1)), Some(4.5));
//! ```

mod config;
mod error;
mod model;
mod similarity;
#[cfg(test)]
mod tests;

pub use config::{KnnConfig, Neighbourhood, Prediction, Similarity, LARGE_NEIGHBOURS};
pub use error::{ConfigError, Error, Result};
pub use model::{KScore, KnnModel, Neighbour};
pub use similarity::{
    dense_similarities, sparse_similarities, CappedBlock, Similarities, EXACT_PAIR_LIMIT,
};

/// faer's parallelism setting, re-exported for [`dense_similarities`].
pub use faer::Par;
