//! MovieLens readers, the movie catalog, train/validation/test splits and
//! synthetic data for movierec.
//!
//! [`load`] reads a dataset folder, detected by its files: ml-latest (and
//! ml-20m/25m/32m, `ratings.csv` + `movies.csv`), ml-100k (`u.data`,
//! `u.item`), ml-1m/10m (`ratings.dat`, `movies.dat`), or one generic CSV
//! file. The ratings define the index space (dense ids in order of first
//! appearance); the [`Catalog`] keeps every listed movie, rated or not.
//! Readers stream (one reused record buffer, hand-parsed numbers), and bad
//! input is an error naming file, line and problem, never a panic or a
//! silently skipped row.
//!
//! [`make_splits`] turns ratings into the report's repeated holdout, k-fold,
//! per-user holdout or per-user temporal splits; [`write_synthetic`] writes
//! a MovieLens-format folder of any size from a low-rank model.
//!
//! ```
//! use movierec_data::{load, make_splits, LoadOptions, SplitConfig};
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(
//!     dir.path().join("ratings.csv"),
//!     "userId,movieId,rating,timestamp\n1,10,4.0,100\n1,20,3.5,101\n2,10,5.0,102\n",
//! )
//! .unwrap();
//! std::fs::write(
//!     dir.path().join("movies.csv"),
//!     "movieId,title,genres\n10,\"Heat, the Remake (1995)\",Action|Crime\n20,Solaris (1972),Drama\n30,Unrated (2001),Drama\n",
//! )
//! .unwrap();
//! let ds = load(dir.path(), &LoadOptions::default()).unwrap();
//! assert_eq!((ds.ratings.len(), ds.users.len(), ds.items.len()), (3, 2, 2));
//! assert_eq!(ds.catalog.len(), 3); // movie 30 has no rating but stays listed
//! assert_eq!(ds.catalog.get(10).unwrap().year, Some(1995));
//! let splits = make_splits(&ds.ratings, ds.timestamps.as_deref(), &SplitConfig::default()).unwrap();
//! assert_eq!(splits.len(), 5);
//! ```

mod catalog;
mod error;
mod fields;
mod ratings;
mod split;
mod synth;

use std::path::Path;
use std::str::FromStr;

use movierec_core::{IdMap, RatingScale, Ratings};

pub use catalog::{year_from_title, Catalog, Link, Movie};
pub use error::{DataError, Result};
pub use fields::{ReadProgress, MAX_LINE_BYTES};
pub use ratings::{parse_scale, read_interactions, Column, Columns, GenericCsv};
pub use split::{
    carve_validation, check_against, make_split, make_splits, split_count, splits, Protocol, Split,
    SplitConfig, MAX_REPEATS,
};
pub use synth::{write_synthetic, SynthConfig, SynthSummary};

/// A loaded dataset: ratings in a dense index space, their raw ids, and the
/// catalog.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Folder (or, for a generic CSV, file stem) name, e.g. `ml-latest-small`.
    pub name: String,
    /// Which layout it was read from.
    pub format: Format,
    /// All ratings, in file order; the index space is the distinct users and
    /// rated movies, dense ids in order of first appearance.
    pub ratings: Ratings,
    /// Unix timestamps parallel to `ratings.entries`, when the source has them.
    pub timestamps: Option<Vec<i64>>,
    /// Raw user ids <-> dense user indices.
    pub users: IdMap,
    /// Raw movie ids <-> dense item indices.
    pub items: IdMap,
    /// Movie metadata by raw id; empty when the source has none.
    pub catalog: Catalog,
}

impl Dataset {
    /// A dataset from parallel columns (a data frame's: the Python
    /// package's `from_pandas`), read with the rating files' rules: ids
    /// indexed in order of first appearance, ratings checked against
    /// `scale`, duplicates handled by `on_duplicate`. No catalogue.
    ///
    /// # Errors
    /// Columns of different lengths or none at all, and the rating files'
    /// errors, naming `name` and the 0-based row where a file names its line.
    pub fn from_columns(
        name: &str,
        users: &[u64],
        items: &[u64],
        ratings: &[f32],
        timestamps: Option<&[i64]>,
        scale: RatingScale,
        on_duplicate: OnDuplicate,
    ) -> Result<Self> {
        let n = users.len();
        if items.len() != n || ratings.len() != n || timestamps.is_some_and(|t| t.len() != n) {
            return Err(DataError::Config(format!(
                "{name}: the columns differ in length: {n} users, {} movies, {} ratings{}",
                items.len(),
                ratings.len(),
                timestamps.map_or_else(String::new, |t| format!(", {} timestamps", t.len()))
            )));
        }
        if n == 0 {
            return Err(DataError::Config(format!("{name}: no ratings")));
        }
        // Row r stands where a file has line r; the kept duplicate stays
        // where its row is, as in a file.
        let mut c = ratings::Collector::new(Path::new(name), scale, 0, timestamps.is_some());
        for (row, ((&u, &i), &r)) in users.iter().zip(items).zip(ratings).enumerate() {
            c.push(row as u64, u, i, r, timestamps.map(|t| t[row]))?;
        }
        let c = c.finish(on_duplicate)?;
        Ok(Self {
            name: name.to_string(),
            format: Format::Generic,
            ratings: c.ratings,
            timestamps: c.timestamps,
            users: c.users,
            items: c.items,
            catalog: Catalog::default(),
        })
    }
}

/// The layout a dataset was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ml-latest family (incl. ml-20m/25m/32m): `ratings.csv`, `movies.csv`, scale 0.5..5.
    MovieLensCsv,
    /// ml-100k: `u.data` (tab-separated), `u.item` (Latin-1, `|`), scale 1..5.
    MovieLens100k,
    /// ml-1m / ml-10m: `ratings.dat`, `movies.dat` (`::`-separated).
    MovieLensDat,
    /// One ratings file read with [`GenericCsv`] settings.
    Generic,
}

/// What to do when a (user, movie) pair is rated twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Refuse the file, naming both lines.
    #[default]
    Error,
    /// Keep the rating with the newest timestamp, or the later line where
    /// timestamps are absent or equal.
    Latest,
}

impl FromStr for OnDuplicate {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "error" => Ok(Self::Error),
            "latest" => Ok(Self::Latest),
            _ => Err(DataError::Config(format!(
                "on-duplicate `{s}`: expected error or latest"
            ))),
        }
    }
}

/// Reader settings.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Duplicate (user, movie) pairs: error (default) or keep the latest.
    pub on_duplicate: OnDuplicate,
    /// When set, `path` is one ratings file read with these settings.
    pub generic: Option<GenericCsv>,
    /// Where the ratings reader counts the bytes it has read (for a
    /// progress bar on large files).
    pub progress: ReadProgress,
}

/// Loads a dataset.
///
/// A folder is detected by its files: `ratings.csv` (with `movies.csv`,
/// `tags.csv`, `links.csv` when present) is the ml-latest family; `u.data`
/// (with `u.item`, `u.genre`) is ml-100k; `ratings.dat` (with `movies.dat`,
/// `tags.dat`) is ml-1m or ml-10m. A path to one of those rating files
/// loads its folder. With `opts.generic` set, `path` is one ratings file read
/// with those settings and the catalog is empty.
///
/// The `.dat` scale is 0.5..5 when any rating is a half star (ml-10m) and
/// 1..5 otherwise (ml-1m): both ship as `ratings.dat`, and only the values
/// tell them apart.
///
/// # Errors
/// A missing or unrecognised folder, and any bad file content (see
/// [`DataError`]), each naming file and line.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Dataset> {
    if let Some(g) = &opts.generic {
        let c = ratings::read_generic(path, g, opts.on_duplicate, &opts.progress)?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        return finish(
            path,
            name,
            Format::Generic,
            c,
            Catalog::new(),
            if g.has_header { 2 } else { 1 },
        );
    }
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    let dir = if meta.is_dir() {
        path.to_path_buf()
    } else {
        match path.file_name().and_then(|n| n.to_str()) {
            Some("ratings.csv" | "u.data" | "ratings.dat") => {
                path.parent().unwrap_or(Path::new(".")).to_path_buf()
            }
            _ => {
                return Err(DataError::Format {
                    path: path.to_path_buf(),
                    problem: "not a MovieLens ratings file (ratings.csv, u.data or ratings.dat); \
                              give the columns to read it as a generic CSV"
                        .into(),
                })
            }
        }
    };
    let name = std::fs::canonicalize(&dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
    let (csv, udata, dat) = (
        dir.join("ratings.csv"),
        dir.join("u.data"),
        dir.join("ratings.dat"),
    );
    if csv.is_file() {
        let c = ratings::read_ml_latest(&csv, opts.on_duplicate, &opts.progress)?;
        finish(
            &csv,
            name,
            Format::MovieLensCsv,
            c,
            Catalog::read_ml_latest(&dir)?,
            2,
        )
    } else if udata.is_file() {
        let c = ratings::read_separated(
            &udata,
            b"\t",
            RatingScale::new(1.0, 5.0),
            opts.on_duplicate,
            &opts.progress,
        )?;
        finish(
            &udata,
            name,
            Format::MovieLens100k,
            c,
            Catalog::read_ml100k(&dir)?,
            1,
        )
    } else if dat.is_file() {
        let mut c = ratings::read_separated(
            &dat,
            b"::",
            RatingScale::new(0.5, 5.0),
            opts.on_duplicate,
            &opts.progress,
        )?;
        if c.ratings.entries.iter().all(|r| r.value.fract() == 0.0) {
            c.ratings.scale = RatingScale::new(1.0, 5.0);
        }
        finish(
            &dat,
            name,
            Format::MovieLensDat,
            c,
            Catalog::read_dat(&dir)?,
            1,
        )
    } else {
        Err(DataError::Format {
            path: dir,
            problem:
                "no MovieLens ratings here: expected ratings.csv (ml-latest), u.data (ml-100k) \
                      or ratings.dat (ml-1m, ml-10m)"
                    .into(),
        })
    }
}

fn finish(
    file: &Path,
    name: Option<String>,
    format: Format,
    c: ratings::Collected,
    catalog: Catalog,
    first_row_line: u64,
) -> Result<Dataset> {
    if c.ratings.is_empty() {
        return Err(DataError::parse(
            file,
            first_row_line,
            "no ratings in the file",
        ));
    }
    Ok(Dataset {
        name: name.unwrap_or_else(|| "dataset".into()),
        format,
        ratings: c.ratings,
        timestamps: c.timestamps,
        users: c.users,
        items: c.items,
        catalog,
    })
}

#[cfg(test)]
mod tests;

/// The ml-latest-small folder for the workspace's real-data tests, or `None`
/// after printing `SKIPPED: <what> ...` where the test output shows it.
///
/// `MOVIELENS_DIR` when set (a relative path is taken from the workspace
/// root, since cargo runs each test in its crate's folder), else the fetch
/// script's `data/ml-latest-small` under the workspace root. A variable that
/// names no folder panics: a wrong path is a mistake, not a skip.
/// `manifest_dir` is the caller's `env!("CARGO_MANIFEST_DIR")`.
#[doc(hidden)]
pub fn dataset_for_tests(manifest_dir: &str, what: &str) -> Option<std::path::PathBuf> {
    use std::io::Write as _;
    let root = Path::new(manifest_dir)
        .ancestors()
        .find(|d| d.join("crates").is_dir() && d.join("Cargo.toml").is_file())
        .unwrap_or(Path::new(manifest_dir))
        .to_path_buf();
    let dir = match std::env::var_os("MOVIELENS_DIR") {
        Some(given) => {
            let dir = root.join(given);
            assert!(
                dir.is_dir(),
                "MOVIELENS_DIR={} is not a folder (relative paths start at {})",
                dir.display(),
                root.display()
            );
            dir
        }
        None => root.join("data/ml-latest-small"),
    };
    if dir.join("ratings.csv").is_file() {
        return Some(dir);
    }
    // Written to the stream itself: the test harness captures `eprintln!`
    // of a passing test, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED: {what}: no {} (run scripts/fetch-movielens.sh or set MOVIELENS_DIR)",
        dir.join("ratings.csv").display()
    );
    None
}
