//! What can go wrong in a fit: [`Error`], and [`ConfigError`] for an invalid setting.

use thiserror::Error;

/// A setting out of its domain, found by
/// [`AutoencoderConfig::validate`](crate::AutoencoderConfig::validate) before
/// any work.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No hidden layer, or a layer of zero units or over
    /// [`MAX_HIDDEN`](crate::MAX_HIDDEN).
    #[error(
        "hidden must list at least one layer, each of 1..={max} units, got {0:?}",
        max = crate::MAX_HIDDEN
    )]
    Hidden(Vec<usize>),
    /// The epoch budget is zero.
    #[error("epochs must be at least 1")]
    Epochs,
    /// The mini-batch size is zero.
    #[error("batch must be at least 1")]
    Batch,
    /// A rate or weight is negative or not finite.
    #[error("{name} must be finite and >= 0, got {value}")]
    NonNegative {
        /// Which setting.
        name: &'static str,
        /// The value given.
        value: f32,
    },
    /// A setting that must lie in a unit interval does not.
    #[error("{name} must be in {range}, got {value}")]
    Unit {
        /// Which setting.
        name: &'static str,
        /// The interval, as text (`[0, 1]`, `[0, 1)`, `(0, 1]`).
        range: &'static str,
        /// The value given.
        value: f32,
    },
    /// The decay period is zero.
    #[error("decay_every must be at least 1")]
    DecayEvery,
    /// Lazy Adam steps asked of the dense path, whose gradients are dense.
    #[error("update = lazy needs path = sparse")]
    LazyDense,
}

/// What can go wrong while fitting an autoencoder.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration failed validation.
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    /// An error of the shared core (a thread pool that cannot start).
    #[error(transparent)]
    Core(#[from] movierec_core::Error),
    /// The training matrix has no rating.
    #[error("autoencoder: the training set is empty")]
    EmptyTrain,
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
    /// The network would hold more weights than
    /// [`MAX_PARAMS`](crate::MAX_PARAMS).
    #[error(
        "autoencoder: {dim} inputs through hidden {hidden:?} make {params} weights, over the \
         limit of {limit} (16 bytes each): use smaller hidden layers, or the other \
         orientation (--user-based toggles it)"
    )]
    TooLarge {
        /// Inputs per vector.
        dim: usize,
        /// Hidden layer sizes.
        hidden: Vec<usize>,
        /// Weights and biases the network would hold.
        params: usize,
        /// The limit.
        limit: usize,
    },
    /// The training loss became NaN or infinite (learning rate too high).
    #[error("autoencoder: the training loss is not finite at epoch {epoch}; lower lr")]
    Diverged {
        /// 1-based epoch at which it happened.
        epoch: usize,
    },
}

/// Result with the autoencoder error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
