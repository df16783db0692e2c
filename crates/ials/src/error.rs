use thiserror::Error;

/// What can go wrong while fitting iALS.
#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum IalsError {
    /// A core error: an invalid setting, a thread pool that would not start.
    #[error(transparent)]
    Core(#[from] movierec_core::Error),
    /// A least-squares system was not positive definite in floating point
    /// (only possible with extreme settings, e.g. a huge `alpha` and a tiny
    /// `reg`).
    #[error(
        "iALS: the {side} system of index {index} is not positive definite; raise `reg` or lower `alpha`"
    )]
    NotPositiveDefinite {
        /// `"user"` or `"item"`.
        side: &'static str,
        /// The dense index of the row whose solve failed.
        index: usize,
    },
}
