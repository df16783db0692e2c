//! Python bindings of movierec: the native half (`movierec._native`) of the
//! `movierec` package (`python/movierec/__init__.py` is the other half).
//!
//! No model logic lives here. Settings are parsed by the CLI's own clap
//! arguments (`ModelArgs`, `ProtocolArgs`), so a keyword argument means what
//! the flag of the same name means; configurations come from the CLI's
//! model table (`with_model`); fitted models are kept as the bytes of the
//! CLI's model file and read back with its store (`Saved`), so a model
//! fitted here scores as `movierec train` then `movierec predict` does.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, ensure, Context};
use clap::{Parser, ValueEnum};
use movierec_cli::evaluate::{
    provenance_of, report_protocol, ProtocolArgs, ProtocolRun, RankingArgs,
};
use movierec_cli::models::{with_model, ModelArgs, ModelKind, ModelVisitor};
use movierec_cli::progress::{Bar, FitProgress};
use movierec_cli::recommend::{ranked, resolve_movie};
use movierec_cli::store::{CatalogMovie, Contents, Saved};
use movierec_cli::train::{fit_as_train, FitWatch, TrainParts};
use movierec_core::{
    Control, EpochRecord, Fit, IdMap, ItemIdx, Observer, Rating, RatingMatrix, RatingScale,
    Ratings, RunContext, UserIdx,
};
use movierec_data::{carve_validation, Dataset, OnDuplicate, Protocol, SplitConfig};
use movierec_eval::{EvalOptions, Report};
use pyo3::exceptions::{PyException, PyKeyboardInterrupt};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;

pyo3::create_exception!(
    movierec,
    MovieRecError,
    PyException,
    "An error of movierec; its message is the line the CLI prints after `error: `."
);

/// The CLI's one-line message of `e`, as a Python exception.
fn py_err(e: anyhow::Error) -> PyErr {
    MovieRecError::new_err(movierec_cli::one_line(&e))
}

/// Parses `args` (flags as the CLI spells them) with clap, the error as the
/// first line of clap's message.
fn parse<P: Parser>(args: &[String]) -> PyResult<P> {
    let argv = std::iter::once("movierec".to_string()).chain(args.iter().cloned());
    P::try_parse_from(argv).map_err(|e| {
        let text = e.render().to_string();
        let line = text
            .lines()
            .next()
            .unwrap_or("bad arguments")
            .trim_start_matches("error: ");
        MovieRecError::new_err(line.to_string())
    })
}

/// The settings of a fit: `movierec train`'s flags (less --out).
#[derive(Debug, Parser)]
struct FitCli {
    #[arg(long, value_enum)]
    model: ModelKind,
    #[command(flatten)]
    model_args: ModelArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    #[arg(long, default_value_t = movierec_knn::LARGE_NEIGHBOURS)]
    knn_cap: usize,
    #[arg(long, default_value_t = 0)]
    threads: u16,
}

/// The settings of `movierec evaluate` for one model.
#[derive(Debug, Parser)]
struct EvalCli {
    #[arg(long, value_enum)]
    model: ModelKind,
    #[command(flatten)]
    model_args: ModelArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    #[arg(long)]
    no_refit: bool,
    #[command(flatten)]
    ranking: RankingArgs,
    #[arg(long, default_value_t = 0)]
    threads: u16,
}

/// The reading flags of `--data`.
#[derive(Debug, Parser)]
struct LoadCli {
    #[command(flatten)]
    protocol: ProtocolArgs,
}

/// A rating set with its ids, timestamps and catalogue (a `Dataset`).
#[pyclass(module = "movierec._native", frozen)]
struct Data {
    ds: Arc<Dataset>,
}

#[pymethods]
impl Data {
    /// Number of ratings.
    fn __len__(&self) -> usize {
        self.ds.ratings.len()
    }

    /// The dataset's name (its folder, or the name given).
    #[getter]
    fn name(&self) -> String {
        self.ds.name.clone()
    }

    /// Distinct users.
    #[getter]
    fn n_users(&self) -> usize {
        self.ds.users.len()
    }

    /// Distinct rated movies.
    #[getter]
    fn n_items(&self) -> usize {
        self.ds.items.len()
    }

    /// The rating scale as (min, max).
    #[getter]
    fn scale(&self) -> (f32, f32) {
        (self.ds.ratings.scale.min, self.ds.ratings.scale.max)
    }

    /// Raw user ids (u64), movie ids (u64), ratings (f32) and timestamps
    /// (i64, or None), in rating order, as little-endian bytes.
    #[allow(clippy::type_complexity)]
    fn arrays<'py>(
        &self,
        py: Python<'py>,
    ) -> (
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Bound<'py, PyBytes>,
        Option<Bound<'py, PyBytes>>,
    ) {
        let e = &self.ds.ratings.entries;
        let users: Vec<u8> = e
            .iter()
            .flat_map(|r| self.ds.users.raw(r.user.0).to_le_bytes())
            .collect();
        let items: Vec<u8> = e
            .iter()
            .flat_map(|r| self.ds.items.raw(r.item.0).to_le_bytes())
            .collect();
        let values: Vec<u8> = e.iter().flat_map(|r| r.value.to_le_bytes()).collect();
        let ts = self.ds.timestamps.as_ref().map(|t| {
            let b: Vec<u8> = t.iter().flat_map(|x| x.to_le_bytes()).collect();
            PyBytes::new(py, &b)
        });
        (
            PyBytes::new(py, &users),
            PyBytes::new(py, &items),
            PyBytes::new(py, &values),
            ts,
        )
    }

    /// The catalogue: (movie id, title, year, genres joined by `|`).
    fn movies(&self) -> Vec<(u64, String, Option<i32>, String)> {
        CatalogMovie::all_of(&self.ds.catalog)
            .into_iter()
            .map(|m| (m.id, m.title, m.year, m.genres.join("|")))
            .collect()
    }
}

/// Reads a dataset as `--data PATH` with the given reading flags does.
#[pyfunction]
fn load(py: Python<'_>, args: Vec<String>) -> PyResult<Data> {
    let cli: LoadCli = parse(&args)?;
    let ds = py.detach(|| cli.protocol.load(true)).map_err(py_err)?;
    Ok(Data { ds: Arc::new(ds) })
}

/// A column of little-endian values (numpy's `<u8`, `<f4`, `<i8` bytes).
fn le_column<const N: usize, T>(
    bytes: &[u8],
    what: &str,
    from: fn([u8; N]) -> T,
) -> anyhow::Result<Vec<T>> {
    ensure!(
        bytes.len().is_multiple_of(N),
        "{what}: {} bytes is not a whole number of values",
        bytes.len()
    );
    Ok(bytes
        .chunks_exact(N)
        .map(|c| from(c.try_into().expect("chunk of N bytes")))
        .collect())
}

/// Builds a dataset from parallel arrays (little-endian bytes: u64 user and
/// movie ids, f32 ratings, optional i64 timestamps). Ids are indexed in
/// order of first appearance, as the CLI's readers do; a rating outside the
/// scale or a repeated pair is an error (or, with `latest`, keeps the newest).
#[pyfunction]
#[pyo3(signature = (name, users, items, ratings, timestamps, scale, on_duplicate))]
#[allow(clippy::too_many_arguments)]
fn from_arrays(
    name: String,
    users: &[u8],
    items: &[u8],
    ratings: &[u8],
    timestamps: Option<&[u8]>,
    scale: (f32, f32),
    on_duplicate: &str,
) -> PyResult<Data> {
    build_dataset(name, users, items, ratings, timestamps, scale, on_duplicate)
        .map(|ds| Data { ds: Arc::new(ds) })
        .map_err(py_err)
}

fn build_dataset(
    name: String,
    users: &[u8],
    items: &[u8],
    ratings: &[u8],
    timestamps: Option<&[u8]>,
    (min, max): (f32, f32),
    on_duplicate: &str,
) -> anyhow::Result<Dataset> {
    ensure!(
        min.is_finite() && max.is_finite() && min < max,
        "scale {min}..{max}: expected MIN < MAX"
    );
    let scale = RatingScale::new(min, max);
    let on_duplicate = on_duplicate.parse::<OnDuplicate>()?;
    let u = le_column(users, "user ids", u64::from_le_bytes)?;
    let i = le_column(items, "movie ids", u64::from_le_bytes)?;
    let r = le_column(ratings, "ratings", f32::from_le_bytes)?;
    let t = timestamps
        .map(|t| le_column(t, "timestamps", i64::from_le_bytes))
        .transpose()?;
    Ok(Dataset::from_columns(
        &name,
        &u,
        &i,
        &r,
        t.as_deref(),
        scale,
        on_duplicate,
    )?)
}

/// Attaches a catalogue (id, title, genres) to a dataset.
#[pyfunction]
fn with_movies(data: &Data, movies: Vec<(u64, String, Vec<String>)>) -> Data {
    let mut ds = (*data.ds).clone();
    let mut catalog = movierec_data::Catalog::new();
    for (id, title, genres) in movies {
        catalog.insert(movierec_data::Movie::new(id, title, genres));
    }
    ds.catalog = catalog;
    Data { ds: Arc::new(ds) }
}

/// The ratings of `ds` at `positions`, re-indexed in order of first
/// appearance (as the CLI reads the CSV file `movierec split` writes).
fn subset(ds: &Dataset, positions: &[usize]) -> Dataset {
    let mut users = IdMap::new();
    let mut items = IdMap::new();
    let entries: Vec<Rating> = positions
        .iter()
        .map(|&p| {
            let r = ds.ratings.entries[p];
            let u = users.insert(ds.users.raw(r.user.0));
            let i = items.insert(ds.items.raw(r.item.0));
            Rating::new(u, i, r.value)
        })
        .collect();
    let ratings = Ratings::new(entries, users.len(), items.len(), ds.ratings.scale);
    Dataset {
        name: ds.name.clone(),
        format: ds.format,
        ratings,
        timestamps: ds
            .timestamps
            .as_ref()
            .map(|t| positions.iter().map(|&p| t[p]).collect()),
        users,
        items,
        catalog: ds.catalog.clone(),
    }
}

/// One split of the protocol as (train, test), as `movierec split` writes
/// it: train holds train + validation in rating order.
#[pyfunction]
#[pyo3(signature = (data, protocol, repeat, test_fraction, folds, seed))]
fn split(
    data: &Data,
    protocol: &str,
    repeat: usize,
    test_fraction: f64,
    folds: usize,
    seed: u64,
) -> PyResult<(Data, Data)> {
    let run = || -> anyhow::Result<(Data, Data)> {
        let protocol: Protocol = protocol.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        let cfg = SplitConfig {
            protocol,
            test_fraction,
            folds,
            seed,
            ..SplitConfig::default()
        };
        movierec_cli::split::check_used(&cfg)?;
        let ds = &*data.ds;
        let (train, test) = movierec_cli::split::train_test(ds, &cfg, repeat)?;
        Ok((
            Data {
                ds: Arc::new(subset(ds, &train)),
            },
            Data {
                ds: Arc::new(subset(ds, &test)),
            },
        ))
    };
    run().map_err(py_err)
}

/// The CLI's progress (when asked), and a stop on Ctrl-C after each epoch.
struct Watch {
    progress: FitProgress,
    interrupted: bool,
}

impl Observer for Watch {
    fn on_epoch(&mut self, r: &EpochRecord) -> Control {
        self.progress.on_epoch(r);
        if Python::attach(|py| py.check_signals()).is_err() {
            self.interrupted = true;
            return Control::Stop;
        }
        Control::Continue
    }

    fn on_progress(&mut self, phase: &str, done: usize, total: usize) {
        self.progress.on_progress(phase, done, total);
    }

    fn wants_training_metrics(&self) -> bool {
        self.progress.wants_training_metrics()
    }
}

/// An interrupted fit.
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// `movierec train`'s fit (choices on validation, then a refit on all
/// ratings) of a dataset in memory; returns the model file's bytes.
struct FitRun<'a> {
    ctx: RunContext,
    /// The matrix of train + validation (taken by the fit).
    full: Option<RatingMatrix>,
    contents: Option<Contents>,
    train: &'a Ratings,
    validation: &'a Ratings,
    quiet: bool,
}

/// The Python side's [`FitWatch`]: a spinner when asked, Ctrl-C checked
/// after each epoch.
struct Watches {
    quiet: bool,
}

impl FitWatch for Watches {
    type Observer = Watch;
    fn start(&mut self, what: &str) -> Watch {
        Watch {
            progress: FitProgress::new(Bar::spinner(what, self.quiet), what.to_string()),
            interrupted: false,
        }
    }
    fn finish(&mut self, w: Watch) -> anyhow::Result<()> {
        w.progress.finish();
        if w.interrupted {
            return Err(Interrupted.into());
        }
        Ok(())
    }
}

impl ModelVisitor for FitRun<'_> {
    type Output = Vec<u8>;
    fn visit<F>(&mut self, kind: ModelKind, name: &str, config: F) -> anyhow::Result<Vec<u8>>
    where
        F: Fit + Serialize + DeserializeOwned + Clone,
        F::Model: Serialize + DeserializeOwned,
    {
        let parts = TrainParts {
            train: self.train,
            validation: self.validation,
            full: self.full.take(),
            no_refit: false,
        };
        let mut watch = Watches { quiet: self.quiet };
        let (model, chosen) = fit_as_train(config, name, parts, &self.ctx, &mut watch)?;
        let mut contents = self.contents.take().context("one fit per run")?;
        contents.meta.name = name.to_string();
        contents.meta.config = serde_json::to_string(&chosen)?;
        contents.to_bytes(kind, &model)
    }
}

/// Fits as `movierec train --data ... FLAGS` does, on `ds`.
fn fit_dataset(cli: &FitCli, ds: &Dataset, quiet: bool) -> anyhow::Result<Vec<u8>> {
    let threads = RunContext::new(usize::from(cli.threads), 0).threads;
    let opts = cli.protocol.options(true, threads);
    let ctx = opts.context();
    let seed = opts.split.seed;
    let (fit, validation) =
        carve_validation(ds.ratings.len(), opts.split.validation_fraction, seed);
    let train = ds.ratings.select(&fit);
    let validation = ds.ratings.select(&validation);
    let matrix = RatingMatrix::new(&train.concat(&validation))?;
    let saved_train = movierec_cli::train::train_ratings(&matrix);
    let fallback = opts.fallback.fit(&matrix);
    let mut model_args = cli.model_args.clone();
    model_args.saving_cap = (cli.knn_cap > 0).then_some(cli.knn_cap);
    let mut run = FitRun {
        ctx,
        full: Some(matrix),
        contents: Some(Contents::for_dataset(
            ds,
            false,
            seed,
            ctx.threads,
            saved_train,
            fallback,
        )),
        train: &train,
        validation: &validation,
        quiet,
    };
    with_model(cli.model, &model_args, &mut run)
}

/// A fitted model: the bytes of its model file and the model read from them.
#[pyclass(module = "movierec._native", frozen)]
struct Fitted {
    bytes: Vec<u8>,
    saved: Saved,
}

fn to_py_err(e: anyhow::Error) -> PyErr {
    if e.downcast_ref::<Interrupted>().is_some() {
        PyKeyboardInterrupt::new_err("fit interrupted")
    } else {
        py_err(e)
    }
}

/// Fits a model with the flags of `movierec train` (`--model KIND ...`).
#[pyfunction]
#[pyo3(signature = (data, args, progress=false))]
fn fit(py: Python<'_>, data: &Data, args: Vec<String>, progress: bool) -> PyResult<Fitted> {
    let cli: FitCli = parse(&args)?;
    cli.model_args
        .check_flags(&[cli.model])
        .map_err(to_py_err)?;
    let ds = data.ds.clone();
    let bytes = py
        .detach(|| fit_dataset(&cli, &ds, !progress))
        .map_err(to_py_err)?;
    let saved = Saved::from_bytes(&bytes).map_err(py_err)?;
    Ok(Fitted { bytes, saved })
}

/// Reads a model file written by `movierec train` or `Fitted.save`.
#[pyfunction]
fn load_model(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Fitted> {
    py.detach(|| -> anyhow::Result<Fitted> {
        let bytes = std::fs::read(&path)
            .with_context(|| format!("{}: cannot read the model file", path.display()))?;
        let saved = Saved::from_bytes(&bytes).with_context(|| format!("{}", path.display()))?;
        Ok(Fitted { bytes, saved })
    })
    .map_err(py_err)
}

/// Reads the bytes of a model file (`Fitted.to_bytes`): how a pickled model
/// comes back, checked as a file from disk is.
#[pyfunction]
fn model_from_bytes(py: Python<'_>, bytes: Vec<u8>) -> PyResult<Fitted> {
    py.detach(|| -> anyhow::Result<Fitted> {
        let saved = Saved::from_bytes(&bytes).context("pickled model")?;
        Ok(Fitted { bytes, saved })
    })
    .map_err(py_err)
}

type MovieRow = (u64, String, Option<i32>, String, f32);

impl Fitted {
    fn row(&self, id: u64, score: f32) -> MovieRow {
        match self.saved.movie(id) {
            Some(m) => (id, m.title.clone(), m.year, m.genres.join("|"), score),
            None => (id, String::new(), None, String::new(), score),
        }
    }

    /// The top `n` of `scores`, skipping `seen` items and items without a
    /// training rating, as `movierec recommend` ranks them.
    fn top(&self, scores: &[f32], seen: &[bool], n: usize) -> Vec<MovieRow> {
        ranked(&self.saved, scores, seen, 1, n, |_| true)
            .into_iter()
            .map(|(shown, id, _)| self.row(id, shown))
            .collect()
    }
}

#[pymethods]
impl Fitted {
    /// The model's name in tables (with a preset's suffix).
    #[getter]
    fn name(&self) -> String {
        self.saved.meta.name.clone()
    }

    /// The configuration the model was fitted with (JSON).
    #[getter]
    fn config(&self) -> String {
        self.saved.meta.config.clone()
    }

    /// The seed and threads of the fit.
    #[getter]
    fn seed(&self) -> u64 {
        self.saved.meta.seed
    }

    /// The bytes of the model file [`Fitted::save`] writes.
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.bytes)
    }

    /// Writes the model file (temporary file, then rename).
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        py.detach(|| movierec_eval::write_atomic(Path::new(&path), &self.bytes))
            .map_err(|e| py_err(e.into()))
    }

    /// Estimates for raw (user, movie) id pairs (u64 little-endian bytes),
    /// as `movierec predict`: clamped to the scale, the fallback for ids
    /// the model does not know. Returns f32 little-endian bytes.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        users: &[u8],
        items: &[u8],
    ) -> PyResult<Bound<'py, PyBytes>> {
        let out = py
            .detach(|| -> anyhow::Result<Vec<u8>> {
                let u = le_column(users, "users", u64::from_le_bytes)?;
                let i = le_column(items, "movies", u64::from_le_bytes)?;
                ensure!(
                    u.len() == i.len(),
                    "{} users but {} movies",
                    u.len(),
                    i.len()
                );
                let s = &self.saved;
                let scores: Vec<f32> = u
                    .par_iter()
                    .zip(i.par_iter())
                    .map(|(u, i)| {
                        let u = s.users.get(*u).map(UserIdx);
                        let i = s.items.get(*i).map(ItemIdx);
                        s.estimate(u, i)
                    })
                    .collect();
                Ok(scores.iter().flat_map(|x| x.to_le_bytes()).collect())
            })
            .map_err(py_err)?;
        Ok(PyBytes::new(py, &out))
    }

    /// Top-`n` movies for a known user (raw id), as `movierec recommend`:
    /// (movie id, title, year, genres, score).
    #[pyo3(signature = (user, n=10, exclude_rated=true))]
    fn recommend(&self, user: u64, n: usize, exclude_rated: bool) -> PyResult<Vec<MovieRow>> {
        let s = &self.saved;
        let u = s.user(user).map_err(py_err)?;
        let k = s.items.len();
        let mut scores = vec![f32::NAN; k];
        s.model.score_into(u, &mut scores);
        let mut seen = vec![false; k];
        if exclude_rated {
            for &i in s.train.row(u).0 {
                seen[i as usize] = true;
            }
        }
        Ok(self.top(&scores, &seen, n))
    }

    /// Top-`n` movies for a new user's ratings (raw movie ids, ratings),
    /// folded in without refitting, as `movierec recommend --ratings`.
    #[pyo3(signature = (movies, ratings, n=10))]
    fn recommend_new(
        &self,
        movies: Vec<u64>,
        ratings: Vec<f32>,
        n: usize,
    ) -> PyResult<Vec<MovieRow>> {
        let s = &self.saved;
        let run = || -> anyhow::Result<Vec<MovieRow>> {
            ensure!(
                movies.len() == ratings.len(),
                "{} movies but {} ratings",
                movies.len(),
                ratings.len()
            );
            let scale = s.meta.scale;
            let mut rated = Vec::new();
            let mut firsts = std::collections::HashMap::new();
            for (row, (&id, &r)) in movies.iter().zip(&ratings).enumerate() {
                ensure!(
                    r.is_finite() && scale.contains(r),
                    "row {row}: rating {r} is not a number in {}..{}",
                    scale.min,
                    scale.max
                );
                if let Some(first) = firsts.insert(id, row) {
                    bail!("row {row}: movie {id} is rated twice (first in row {first})");
                }
                if let Some(i) = s.items.get(id) {
                    rated.push((ItemIdx(i), r));
                }
            }
            ensure!(
                !rated.is_empty(),
                "no rated movie the model knows (it knows the {} movies with training ratings)",
                s.items.len()
            );
            let k = s.items.len();
            let mut scores = vec![f32::NAN; k];
            s.model.score_new_user(&rated, &mut scores)?;
            let mut seen = vec![false; k];
            for &(i, _) in &rated {
                seen[i.get()] = true;
            }
            Ok(self.top(&scores, &seen, n))
        };
        run().map_err(py_err)
    }

    /// The `n` movies nearest to `movie` (an id, or a title as the CLI
    /// takes it), as `movierec similar`: (movie id, title, year, genres,
    /// similarity).
    #[pyo3(signature = (movie, n=10))]
    fn similar(&self, movie: &str, n: usize) -> PyResult<Vec<MovieRow>> {
        let s = &self.saved;
        let run = || -> anyhow::Result<Vec<MovieRow>> {
            let id = resolve_movie(movie, s).context("movie")?;
            let Some(item) = s.items.get(id).map(ItemIdx) else {
                bail!("movie {id} has no training rating in the model: nothing to compare it with");
            };
            let found = s.model.similar_items(item, n)?;
            Ok(found
                .iter()
                .map(|&(i, sim)| self.row(s.items.raw(i.0), sim))
                .collect())
        };
        run().map_err(py_err)
    }
}

/// Evaluates models with the protocol, as `movierec evaluate --json`: one
/// list of flags per model (`--model KIND`, its settings and the protocol's
/// flags). Returns the report as JSON and as the CLI's CSV.
#[pyfunction]
#[pyo3(signature = (data, models, progress=false))]
fn evaluate(
    py: Python<'_>,
    data: &Data,
    models: Vec<Vec<String>>,
    progress: bool,
) -> PyResult<(String, String)> {
    let clis: Vec<EvalCli> = models
        .iter()
        .map(|a| parse::<EvalCli>(a))
        .collect::<PyResult<_>>()?;
    for cli in &clis {
        cli.model_args
            .check_flags(&[cli.model])
            .map_err(to_py_err)?;
        cli.protocol.check_split_flags().map_err(to_py_err)?;
    }
    let ds = data.ds.clone();
    if clis.first().is_some_and(|c| c.protocol.is_report()) {
        return py
            .detach(|| evaluate_report(&clis, &ds, progress))
            .map_err(py_err);
    }
    py.detach(|| -> anyhow::Result<(String, String)> {
        let mut reports = Vec::new();
        let mut head = None;
        for cli in &clis {
            let threads = RunContext::new(usize::from(cli.threads), 0).threads;
            let opts = EvalOptions {
                ranking: cli.ranking.options()?,
                ranking_also: cli.ranking.also(),
                ..cli.protocol.options(!cli.no_refit, threads)
            };
            ensure!(
                !cli.protocol.is_report(),
                "protocol `report` applies to every model of one call"
            );
            let mut run = ProtocolRun {
                dataset: &ds,
                opts: &opts,
                trials: None,
                quiet: !progress,
            };
            reports.push(with_model(cli.model, &cli.model_args, &mut run)?);
            head.get_or_insert((opts.split.protocol.to_string(), opts.split.seed));
        }
        let (protocol, seed) = head.context("no model to evaluate")?;
        let report = Report {
            dataset: ds.name.clone(),
            protocol,
            seed,
            provenance: Some(provenance_of("(python) movierec.evaluate")),
            models: reports,
        };
        Ok((report.to_json(), report.to_csv()))
    })
    .map_err(py_err)
}

/// `movierec evaluate --protocol report`: each model measured the report's
/// way beside its held-out figures; JSON and CSV as the CLI writes them.
fn evaluate_report(
    clis: &[EvalCli],
    ds: &Dataset,
    progress: bool,
) -> anyhow::Result<(String, String)> {
    for cli in clis {
        ensure!(
            cli.protocol.is_report(),
            "protocol `report` applies to every model of one call"
        );
        ensure!(
            cli.ranking.options()?.is_none(),
            "protocol `report` measures rating estimates the report's way: pass ranking_at=None"
        );
    }
    // The protocol's settings are the call's, the same for every model.
    let first = clis.first().context("no model to evaluate")?;
    let threads = RunContext::new(usize::from(first.threads), 0).threads;
    let opts = first.protocol.options(!first.no_refit, threads);
    let models = clis.iter().map(|c| (c.model, &c.model_args));
    let provenance = provenance_of("(python) movierec.evaluate(protocol=\"report\")");
    let report = report_protocol(ds, models, &opts, !progress, provenance)?;
    Ok((report.to_json(), report.to_csv()))
}

/// The CLI flags (without `--`) that set one of the model's settings: the
/// keyword arguments of its Python class, which a test keeps equal.
#[pyfunction]
fn model_flags(kind: &str) -> PyResult<Vec<&'static str>> {
    ModelKind::from_str(kind, false)
        .map(|k| k.flags().to_vec())
        .map_err(MovieRecError::new_err)
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MovieRecError", m.py().get_type::<MovieRecError>())?;
    m.add_class::<Data>()?;
    m.add_class::<Fitted>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(from_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(with_movies, m)?)?;
    m.add_function(wrap_pyfunction!(split, m)?)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(load_model, m)?)?;
    m.add_function(wrap_pyfunction!(model_from_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(model_flags, m)?)?;
    Ok(())
}
