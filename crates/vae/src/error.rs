use thiserror::Error;

/// What can go wrong in a fit.
#[derive(Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum VaeError {
    /// A setting out of its domain, an empty training set, or a thread pool
    /// that could not start.
    #[error(transparent)]
    Core(#[from] movierec_core::Error),
    /// The loss became NaN or infinite (learning rate too high).
    #[error("the training loss is not finite at epoch {epoch}: lower lr")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
    },
}
