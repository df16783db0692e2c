use thiserror::Error;

/// Errors of the core types.
#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// The same (user, item) pair appears twice in one rating set.
    #[error("duplicate rating for user index {user}, item index {item}")]
    DuplicatePair {
        /// Dense user index.
        user: u32,
        /// Dense item index.
        item: u32,
    },
    /// A rating refers to an index outside the declared index space.
    #[error(
        "rating ({user}, {item}) is outside the index space {n_users} users x {n_items} items"
    )]
    OutOfRange {
        /// Dense user index.
        user: u32,
        /// Dense item index.
        item: u32,
        /// Number of users declared.
        n_users: usize,
        /// Number of items declared.
        n_items: usize,
    },
    /// A rating set that must not be empty is empty.
    #[error("{0}: the rating set is empty")]
    Empty(&'static str),
    /// A configuration value is out of its domain.
    #[error("invalid config: {0}")]
    Config(String),
    /// The model cannot do what was asked (fold in a user, compare items...).
    #[error("{0}")]
    Unsupported(String),
    /// A fit produced numbers that are not finite (NaN or infinite): the
    /// model would score nothing, so none is returned.
    #[error("training diverged at epoch {epoch}: {what}")]
    Diverged {
        /// 1-based epoch (or step, or iteration) at which it was seen.
        epoch: usize,
        /// What was not finite, and what to change.
        what: String,
    },
    /// A model read from outside is inconsistent (an index out of range, a
    /// NaN weight): it was edited or damaged.
    #[error("invalid model: {0}")]
    InvalidModel(String),
}

/// Result with the core error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
