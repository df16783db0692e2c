//! Errors of the KNN crate.

use thiserror::Error;

/// An invalid [`KnnConfig`](crate::KnnConfig) value.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// K (in `k` or in `k_grid`) is zero.
    #[error("knn k must be at least 1")]
    K,
    /// The shrinkage is negative or not finite.
    #[error("knn shrinkage must be finite and >= 0, got {0}")]
    Shrinkage(f32),
    /// `max_neighbours` is `Some(0)`.
    #[error("knn max_neighbours must be at least 1 (or absent for all)")]
    MaxNeighbours,
    /// The bias baseline settings are invalid.
    #[error("knn baseline: {0}")]
    Baseline(String),
    /// A name that is not one of the known values.
    #[error("unknown {what} `{got}`; expected one of: {expected}")]
    UnknownName {
        /// Which setting.
        what: &'static str,
        /// The name given.
        got: String,
        /// The accepted names, comma-separated.
        expected: String,
    },
}

/// What can go wrong while fitting a KNN model.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("invalid config: {0}")]
    Config(#[from] ConfigError),
    /// An error from the core types (e.g. while fitting the baseline).
    #[error(transparent)]
    Core(#[from] movierec_core::Error),
    /// The validation set uses another index space than the training matrix.
    #[error("validation set is {got_users} users x {got_items} items, training matrix {n_users} x {n_items}")]
    Shape {
        /// Users in the training matrix.
        n_users: usize,
        /// Items in the training matrix.
        n_items: usize,
        /// Users in the validation set's index space.
        got_users: usize,
        /// Items in the validation set's index space.
        got_items: usize,
    },
    /// The exact similarity store could hold more pairs than
    /// [`EXACT_PAIR_LIMIT`](crate::EXACT_PAIR_LIMIT): refused before any
    /// allocation.
    #[error(
        "knn: the exact similarity store of {n} {compared} could hold up to {pairs} pairs \
         (about {} GB at 8 bytes each), above the limit of {limit} pairs ({} GB); {way_out}",
        gb(*pairs),
        gb(*limit)
    )]
    TooLarge {
        /// What is compared: "movies" (item-based) or "users" (user-based).
        compared: &'static str,
        /// How many of them.
        n: usize,
        /// The store's size bound in (ordered) pairs.
        pairs: usize,
        /// The limit in pairs.
        limit: usize,
        /// What to do instead.
        way_out: &'static str,
    },
}

/// `pairs` of 8 bytes in GB, one decimal.
fn gb(pairs: usize) -> String {
    format!("{:.1}", pairs as f64 * 8.0 / 1e9)
}

/// Result with the KNN error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
