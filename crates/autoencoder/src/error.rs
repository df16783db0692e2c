//! What can go wrong in a fit: [`Error`], and [`ConfigError`] for an invalid setting.

use thiserror::Error;

/// A setting out of its domain, found by
/// [`AutoencoderConfig::validate`](crate::AutoencoderConfig::validate) before
/// any work.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No hidden layer, or a hidden layer of zero units.
    #[error("hidden must list at least one layer and every size must be >= 1, got {0:?}")]
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
    /// The training loss became NaN or infinite (learning rate too high).
    #[error("autoencoder: the training loss is not finite at epoch {epoch}; lower lr")]
    Diverged {
        /// 1-based epoch at which it happened.
        epoch: usize,
    },
}

/// Result with the autoencoder error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
