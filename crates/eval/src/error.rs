use std::path::PathBuf;

use thiserror::Error;

/// Errors of the evaluation harness.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EvalError {
    /// Reading a dataset, a train file or a test file failed.
    #[error(transparent)]
    Data(#[from] movierec_data::DataError),
    /// Building the training matrix failed.
    #[error(transparent)]
    Core(#[from] movierec_core::Error),
    /// The model failed to fit.
    #[error("fitting {model} failed: {source}")]
    Fit {
        /// Model name.
        model: String,
        /// What the model reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The protocol produced no split, or a split without test ratings.
    #[error("the {0} protocol produced no test ratings")]
    NoTestRatings(String),
    /// A given train or test file holds a header and no rating.
    #[error("{0}: no ratings in the file")]
    NoRatings(PathBuf),
    /// An option is out of its domain.
    #[error("{0}")]
    Options(String),
    /// A tuning grid or trial is unusable.
    #[error("tuning: {0}")]
    Tuning(String),
    /// A plot cannot be drawn (no curve, no metric, or a drawing failure).
    #[error("{path}: cannot plot: {reason}")]
    Plot {
        /// The plot being written.
        path: PathBuf,
        /// What is missing or what failed.
        reason: String,
    },
    /// The report's figures file is unreadable or malformed.
    #[error("{path}: {reason}")]
    ReportFigures {
        /// The figures file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing an output file failed.
    #[error("{path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with the harness error.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;
