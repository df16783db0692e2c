//! Core types of movierec: dense ids, rating sets, the sparse rating matrix,
//! the `Fit` / `Recommender` traits, the per-epoch `Observer`, the metrics
//! every model and the harness share, and the baseline models; for the
//! model crates, the one training loop ([`training`]: epochs, early
//! stopping, best-state snapshot) and the SIMD kernels they share
//! ([`kernels`]).
//!
//! This crate does no I/O: readers live in `movierec-data`, the protocol
//! runner in `movierec-eval`.
//!
//! ```
//! use movierec_core::{BiasConfig, Fit, ItemIdx, NoopObserver, Rating, RatingMatrix,
//!     RatingScale, Ratings, Recommender, RunContext, UserIdx};
//! let ratings = Ratings::new(
//!     vec![
//!         Rating::new(0, 0, 5.0),
//!         Rating::new(0, 1, 3.0),
//!         Rating::new(1, 0, 4.0),
//!     ],
//!     2,
//!     2,
//!     RatingScale::new(0.5, 5.0),
//! );
//! let train = RatingMatrix::new(&ratings).unwrap();
//! let model = BiasConfig::default()
//!     .fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
//! let p = model.predict(UserIdx(1), ItemIdx(1)).unwrap();
//! assert!(p > 0.5 && p < 5.0);
//! ```

mod baseline;
mod context;
mod error;
mod ids;
pub mod kernels;
mod matrix;
pub mod metrics;
mod model;
mod ratings;
pub mod text;
pub mod training;

pub use baseline::{
    BiasBaseline, BiasConfig, Constant, ConstantConfig, Fallback, FallbackModel, GlobalMeanConfig,
    Popular, PopularConfig,
};
pub use context::RunContext;
pub use error::{Error, Result};
pub use ids::{IdMap, ItemIdx, UserIdx};
pub use matrix::RatingMatrix;
pub use metrics::{Accumulator, SetMetrics};
pub use model::{
    check_rated, nearest_by_cosine, top_k, Control, EpochRecord, Fit, NoopObserver, Observer,
    Recommender, ScoreKind,
};
pub use ratings::{Rating, RatingScale, Ratings};

/// The one random number generator of the workspace: portable across
/// platforms and rand versions (unlike `StdRng`), so a seed always gives the
/// same split and the same model.
pub type Rng = rand_chacha::ChaCha8Rng;

/// Builds the workspace RNG from a seed and a stream index, so that parallel
/// tasks get independent, reproducible streams (never seeded from thread ids).
pub fn rng_for(seed: u64, stream: u64) -> Rng {
    use rand::SeedableRng;
    let mut rng = Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}
