//! What can go wrong in a fit: [`Error`], and [`ConfigError`] for an invalid setting.

use thiserror::Error;

/// A setting out of its domain, found by `validate()` before any work.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The latent dimension is zero or over [`MAX_FACTORS`](crate::MAX_FACTORS).
    #[error("factors must be in 1..={max}, got {0}", max = crate::MAX_FACTORS)]
    Factors(usize),
    /// The epoch (step) budget is zero.
    #[error("epochs must be at least 1")]
    Epochs,
    /// A learning rate is negative or not finite.
    #[error("{name} must be finite and >= 0, got {value}")]
    LearningRate {
        /// Which setting.
        name: &'static str,
        /// The value given.
        value: f32,
    },
    /// A regularisation weight is negative or not finite.
    #[error("{name} must be finite and >= 0, got {value}")]
    Regularisation {
        /// Which setting.
        name: &'static str,
        /// The value given.
        value: f32,
    },
    /// The per-epoch learning-rate decay is outside (0, 1].
    #[error("lr_decay must be in (0, 1], got {0}")]
    LrDecay(f32),
    /// The initialisation scale is negative or not finite.
    #[error("{name} must be finite and >= 0, got {value}")]
    Init {
        /// Which setting.
        name: &'static str,
        /// The value given.
        value: f32,
    },
    /// Evaluation every zero steps.
    #[error("eval_every must be at least 1")]
    EvalEvery,
}

/// What can go wrong while fitting a matrix factorisation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration failed validation.
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    /// An error of the core types; training that diverged to NaN
    /// ([`movierec_core::Error::Diverged`]).
    #[error(transparent)]
    Core(#[from] movierec_core::Error),
    /// The training matrix has no rating.
    #[error("{model}: the training set is empty")]
    EmptyTrain {
        /// Which optimiser.
        model: &'static str,
    },
    /// The dense optimiser would need more memory than is sensible.
    #[error(
        "dense GD: the {n_users} x {n_items} matrix has {cells} cells, above the limit of {limit}"
    )]
    TooLarge {
        /// Users in the index space.
        n_users: usize,
        /// Items in the index space.
        n_items: usize,
        /// `n_users * n_items`.
        cells: usize,
        /// The largest number of cells the dense path accepts.
        limit: usize,
    },
    /// A validation rating lies outside the training index space.
    #[error("validation rating ({user}, {item}) is outside the {n_users} x {n_items} index space")]
    ValidationOutOfRange {
        /// Dense user index.
        user: u32,
        /// Dense item index.
        item: u32,
        /// Users in the training index space.
        n_users: usize,
        /// Items in the training index space.
        n_items: usize,
    },
    /// A worker thread pool could not be built.
    #[error("building a rayon pool of {threads} threads: {message}")]
    ThreadPool {
        /// Requested threads.
        threads: usize,
        /// rayon's message.
        message: String,
    },
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
