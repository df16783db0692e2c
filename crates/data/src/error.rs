use std::path::PathBuf;

use thiserror::Error;

/// Errors of the data crate. Every error about a file names the file, and
/// every error about its contents names the line (1-based, the header is
/// line 1), so that one printed line says what to fix and where.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file or folder could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file holds nothing, not even a header.
    #[error("{path}:1: empty file{expected}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// `" (expected header `...`)"` where the format has a header, else empty.
        expected: String,
    },
    /// A line that cannot be read: wrong header, wrong field count, malformed
    /// number, rating not finite or outside the scale.
    #[error("{path}:{line}: {problem}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1).
        line: u64,
        /// What is wrong, with the offending value.
        problem: String,
    },
    /// The same (user, movie) pair is rated twice, at `first_line` and `line`.
    #[error(
        "{path}:{line}: duplicate rating for user {user}, movie {item} \
         (lines {first_line} and {line}; keep the newest with --on-duplicate latest)"
    )]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The later line.
        line: u64,
        /// The earlier line with the same pair.
        first_line: u64,
        /// Raw user id.
        user: u64,
        /// Raw movie id.
        item: u64,
    },
    /// A folder whose files match no known dataset layout.
    #[error("{path}: {problem}")]
    Format {
        /// The folder or file.
        path: PathBuf,
        /// What was expected.
        problem: String,
    },
    /// A split, synthetic-data or reader setting is out of its domain.
    #[error("invalid config: {0}")]
    Config(String),
}

/// Result with [`DataError`].
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    /// A [`DataError::Parse`] at `path:line`.
    pub(crate) fn parse(path: &std::path::Path, line: u64, problem: impl Into<String>) -> Self {
        Self::Parse {
            path: path.to_path_buf(),
            line,
            problem: problem.into(),
        }
    }

    /// A [`DataError::Io`] on `path`.
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_and_line() {
        let e = DataError::parse(
            std::path::Path::new("a/ratings.csv"),
            7,
            "malformed rating `x`",
        );
        assert_eq!(e.to_string(), "a/ratings.csv:7: malformed rating `x`");
    }
}
