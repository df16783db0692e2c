//! Errors of the EASE crate.

use thiserror::Error;

/// What can go wrong while fitting an EASE model.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EaseError {
    /// An invalid configuration, or an error of the core types.
    #[error(transparent)]
    Core(#[from] movierec_core::Error),
    /// More items with a training rating than `max_items` allows.
    #[error(
        "EASE needs dense {n_items} x {n_items} f32 matrices (about {gib:.1} GiB each, up to 4 \
         working copies) for the {n_items} movies with a training rating, above ease \
         max_items = {max_items}; raise max_items if the memory allows, or set ease \
         most_rated_only = true to keep only the {max_items} most-rated movies (an \
         approximation: the others get no score)"
    )]
    TooManyItems {
        /// Items with a training rating (after `min_rating`).
        n_items: usize,
        /// The configured limit.
        max_items: usize,
        /// Size of one dense item x item f32 matrix in GiB.
        gib: f64,
    },
    /// No training rating survives `min_rating`.
    #[error("EASE: no training rating is at least ease min_rating = {0}; nothing to fit")]
    NoRatings(f32),
    /// The Cholesky factorisation failed (rounding with a tiny `lambda`).
    #[error(
        "EASE: the regularised Gram matrix is not numerically positive definite at \
         lambda = {lambda}; use a larger ease lambda"
    )]
    NotPositiveDefinite {
        /// The lambda that failed.
        lambda: f32,
    },
    /// The solve gave weights that are not finite numbers (an
    /// ill-conditioned system at a tiny `lambda`).
    #[error(
        "EASE: the weights at lambda = {lambda} are not finite numbers (the regularised Gram \
         matrix is too ill-conditioned); use a larger ease lambda"
    )]
    NotFinite {
        /// The lambda whose weights are not finite.
        lambda: f32,
    },
}

/// `NotFinite` where a weight is NaN or infinite: no such model is returned.
pub(crate) fn check_finite(weights: &[f32], lambda: f32) -> Result<()> {
    if weights.iter().all(|w| w.is_finite()) {
        Ok(())
    } else {
        Err(EaseError::NotFinite { lambda })
    }
}

/// Result with the EASE error.
pub type Result<T, E = EaseError> = std::result::Result<T, E>;
