//! `movierec evaluate`: the report's protocol on a dataset, or a given train/test pair.

use std::path::{Path, PathBuf};

use anyhow::{ensure, Context};
use clap::Args;
use movierec_core::{Fallback, Fit, RatingScale};
use movierec_data::{
    parse_scale, Columns, Dataset, GenericCsv, LoadOptions, OnDuplicate, Protocol, SplitConfig,
};
use movierec_eval::{
    evaluate, evaluate_given, evaluate_tuned, grid, write_atomic, EvalOptions, GivenOptions,
    ModelReport, RankingOptions, Report, ReportProtocolReport,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::models::{load_grid, with_model, ModelArgs, ModelKind, ModelVisitor};
use crate::progress::Bar;

/// Arguments of `movierec evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Models to evaluate, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "bias")]
    model: Vec<ModelKind>,
    #[command(flatten)]
    model_args: ModelArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Score test with the model fitted on train alone, instead of refitting
    /// on train + validation with the settings validation chose.
    #[arg(long)]
    no_refit: bool,
    /// Tune inside each repeat (nested validation): search the model's grid
    /// on that repeat's validation part, refit the winner, score its test
    /// part. Slower, and free of any choice made on other repeats' ratings.
    /// Not with --train/--test: there, run `movierec tune` first.
    #[arg(long, conflicts_with = "train")]
    tune: bool,
    /// The search space of --tune (TOML, `[MODEL]` tables of value lists);
    /// default: the built-in grid of `movierec tune`.
    #[arg(long, value_name = "FILE.toml", requires = "tune")]
    grid: Option<PathBuf>,
    /// Name the model's row LABEL instead of the model's name (one --model only).
    #[arg(long)]
    label: Option<String>,
    /// Print JSON (every repeat, means, confidence intervals) instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the results to FILE (.md, .csv or .json by extension); repeatable.
    #[arg(long, value_name = "FILE", value_parser = crate::report_file)]
    out: Vec<PathBuf>,
    /// A given train file (CSV with header holding user,item,rating; raw ids).
    #[arg(long, requires = "test", value_name = "FILE")]
    train: Option<PathBuf>,
    /// The test file of the pair, read only after the fit.
    #[arg(long, requires = "train", value_name = "FILE")]
    test: Option<PathBuf>,
    /// Write test predictions (user,item,rating,prediction; test file order) to FILE.
    #[arg(long, requires = "test", value_name = "FILE")]
    predictions: Option<PathBuf>,
    #[command(flatten)]
    ranking: RankingArgs,
}

/// Top-N ranking metrics on the test set.
#[derive(Debug, Args)]
pub struct RankingArgs {
    /// Also score top-N lists on test: precision, recall, NDCG and MAP at K,
    /// hit rate and catalogue coverage (candidates: items with a training
    /// rating the user did not rate in training; ties by item index).
    #[arg(long, help_heading = "Ranking")]
    ranking: bool,
    /// List lengths of --ranking, comma-separated: the table shows the
    /// first, the JSON keeps all (`movierec table --at K` shows another).
    #[arg(long, value_name = "K,...", default_value = "10", requires = "ranking",
        value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..),
        help_heading = "Ranking")]
    at: Vec<u32>,
    /// A test rating of at least MIN is relevant (--ranking).
    #[arg(
        long,
        value_name = "MIN",
        default_value_t = 4.0,
        requires = "ranking",
        help_heading = "Ranking"
    )]
    relevant: f32,
}

impl RankingArgs {
    /// The ranking options, when --ranking is set.
    pub fn options(&self) -> anyhow::Result<Option<RankingOptions>> {
        ensure!(
            self.relevant.is_finite(),
            "--relevant must be a number, got {}",
            self.relevant
        );
        Ok(self.ranking.then_some(RankingOptions {
            k: self.at.first().copied().unwrap_or(10) as usize,
            threshold: self.relevant,
        }))
    }

    /// The list lengths after the first.
    pub fn also(&self) -> Vec<usize> {
        self.at.iter().skip(1).map(|&k| k as usize).collect()
    }
}

/// The dataset and the protocol run on it (shared by `evaluate` and `tune`).
#[derive(Debug, Args)]
pub struct ProtocolArgs {
    /// Dataset folder (ml-latest*, ml-100k, ml-1m, ml-10m, ...), or with
    /// `--columns` one ratings file.
    #[arg(long, env = "MOVIELENS_DIR", default_value = "data/ml-latest-small")]
    pub data: PathBuf,
    /// Protocol: holdout (the report's repeated 90/10), kfold, user-holdout or
    /// temporal; or `report`: the holdout splits measured the report's way
    /// (fed train + validation + test, every rated entry scored, training
    /// ones included) beside the held-out figure of the same model.
    #[arg(long, default_value = "holdout")]
    protocol: ProtocolChoice,
    /// Repeats of holdout and user-holdout (repeat r uses seed stream r).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Folds of kfold.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Share of ratings held out as test.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
    /// Share of the remaining ratings held out as validation.
    #[arg(long, default_value_t = 0.1)]
    validation_fraction: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Prediction for pairs a model cannot score: bias, report (3.0) or mean.
    #[arg(long, default_value = "bias")]
    fallback: Fallback,
    #[command(flatten)]
    input: InputArgs,
}

/// How to read ratings.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// What to do with a repeated (user, movie) pair: error, or keep the latest.
    #[arg(long, default_value = "error")]
    on_duplicate: OnDuplicate,
    /// Read `--data` as one generic CSV file with these columns (names, or
    /// 0-based positions without a header): `user,item,rating[,timestamp]`.
    #[arg(long)]
    columns: Option<Columns>,
    /// Field delimiter of a generic CSV file (one ASCII character).
    #[arg(long, default_value = ",")]
    delimiter: char,
    /// The generic CSV file has no header row.
    #[arg(long)]
    no_header: bool,
    /// Rating scale MIN..MAX of a generic CSV file or a given train/test pair.
    #[arg(long, default_value = "0.5..5", value_parser = |s: &str| parse_scale(s))]
    scale: RatingScale,
}

/// `--protocol`: a way of splitting, or the report's way of measuring.
///
/// `report` is not a split (its splits are the holdout's): it changes what
/// is scored, so it is a scoring option of the runner
/// ([`movierec_eval::evaluate_report`]) chosen here, and the split
/// protocols of `movierec-data` stay what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolChoice {
    /// A split protocol, scored on held-out test ratings.
    Split(Protocol),
    /// The holdout splits, also measured the report's way.
    Report,
}

impl std::str::FromStr for ProtocolChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "report" => Ok(Self::Report),
            _ => s
                .parse()
                .map(Self::Split)
                .map_err(|e| format!("{e}; or `report`")),
        }
    }
}

impl std::fmt::Display for ProtocolChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Split(p) => p.fmt(f),
            Self::Report => f.write_str("report"),
        }
    }
}

impl ProtocolArgs {
    /// Refuses a split setting the protocol does not use (see
    /// [`crate::split::check_used`]).
    ///
    /// # Errors
    /// One line naming the flag and the protocols that use it.
    pub fn check_split_flags(&self) -> anyhow::Result<()> {
        crate::split::check_used(&self.options(false, 1).split)
    }

    /// True for `--protocol report`.
    pub fn is_report(&self) -> bool {
        self.protocol == ProtocolChoice::Report
    }

    /// Reads the dataset (with a progress bar on a large file unless `quiet`).
    pub fn load(&self, quiet: bool) -> anyhow::Result<Dataset> {
        let input = &self.input;
        ensure!(
            input.delimiter.is_ascii(),
            "--delimiter must be one ASCII character"
        );
        let opts = LoadOptions {
            on_duplicate: input.on_duplicate,
            generic: input.columns.clone().map(|columns| GenericCsv {
                columns,
                delimiter: input.delimiter as u8,
                has_header: !input.no_header,
                scale: input.scale,
            }),
            ..LoadOptions::default()
        };
        crate::load_data(&self.data, &opts, quiet)
    }

    /// The protocol's options.
    pub fn options(&self, refit: bool, threads: usize) -> EvalOptions {
        EvalOptions {
            split: SplitConfig {
                protocol: match self.protocol {
                    ProtocolChoice::Split(p) => p,
                    ProtocolChoice::Report => Protocol::Holdout,
                },
                test_fraction: self.test_fraction,
                validation_fraction: self.validation_fraction,
                folds: self.folds,
                repeats: self.repeats,
                seed: self.seed,
            },
            fallback: self.fallback,
            refit,
            ranking: None,
            ranking_also: Vec::new(),
            threads,
        }
    }
}

/// Runs `movierec evaluate`.
pub fn run(args: EvaluateArgs, quiet: bool, threads: usize) -> anyhow::Result<()> {
    ensure!(
        args.label.is_none() || args.model.len() == 1,
        "--label takes exactly one --model"
    );
    args.model_args.check_flags(&args.model)?;
    args.protocol.check_split_flags()?;
    if args.protocol.is_report() {
        return run_report(&args, quiet, threads);
    }
    let mut report = match (&args.train, &args.test) {
        (Some(train), Some(test)) => run_given(&args, train, test, quiet, threads)?,
        _ => run_protocol(&args, quiet, threads)?,
    };
    if let (Some(label), [m]) = (&args.label, report.models.as_mut_slice()) {
        m.model = label.clone();
    }
    publish(
        args.json,
        &args.out,
        |out| report.write(out),
        || report.to_json(),
        || report.to_markdown(),
    )
}

/// Writes a report to every `--out` file, then prints it: JSON with
/// `--json`, else markdown.
fn publish(
    json: bool,
    outs: &[PathBuf],
    write: impl Fn(&Path) -> movierec_eval::Result<()>,
    to_json: impl FnOnce() -> String,
    to_markdown: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    for out in outs {
        write(out)?;
    }
    crate::emit(&if json { to_json() } else { to_markdown() })?;
    Ok(())
}

fn run_protocol(args: &EvaluateArgs, quiet: bool, threads: usize) -> anyhow::Result<Report> {
    let p = &args.protocol;
    let dataset = p.load(quiet)?;
    let eval = EvalOptions {
        ranking: args.ranking.options()?,
        ranking_also: args.ranking.also(),
        ..p.options(!args.no_refit, threads)
    };
    let mut models = Vec::new();
    for &kind in &args.model {
        let trials = match args.tune {
            true => Some(grid(&load_grid(kind, args.grid.as_deref())?)),
            false => None,
        };
        let mut v = ProtocolRun {
            dataset: &dataset,
            opts: &eval,
            trials: trials.as_deref(),
            quiet,
        };
        models.push(with_model(kind, &args.model_args, &mut v)?);
    }
    Ok(Report {
        dataset: dataset.name.clone(),
        protocol: p.protocol.to_string(),
        seed: p.seed,
        provenance: Some(provenance()),
        models,
    })
}

/// `--protocol report`: every model measured the report's way beside the
/// held-out figure of the same fitted model.
fn run_report(args: &EvaluateArgs, quiet: bool, threads: usize) -> anyhow::Result<()> {
    ensure!(
        args.train.is_none() && !args.tune,
        "--protocol report runs on --data splits, without --train/--test or --tune"
    );
    ensure!(
        args.ranking.options()?.is_none(),
        "--protocol report measures rating estimates the report's way: drop --ranking"
    );
    let p = &args.protocol;
    let dataset = p.load(quiet)?;
    let eval = p.options(!args.no_refit, threads);
    let models = args.model.iter().map(|&kind| (kind, &args.model_args));
    let mut report = report_protocol(&dataset, models, &eval, quiet, provenance())?;
    if let (Some(label), [m]) = (&args.label, report.models.as_mut_slice()) {
        m.model = label.clone();
    }
    publish(
        args.json,
        &args.out,
        |out| report.write(out),
        || report.to_json(),
        || report.to_markdown(),
    )
}

/// Every model of `models` measured the report's way beside its held-out
/// figures, on the holdout splits of `opts`: `evaluate --protocol report`
/// and the Python package's `evaluate(protocol="report")`.
pub fn report_protocol<'m>(
    dataset: &Dataset,
    models: impl IntoIterator<Item = (ModelKind, &'m ModelArgs)>,
    opts: &EvalOptions,
    quiet: bool,
    provenance: String,
) -> anyhow::Result<ReportProtocolReport> {
    let mut out = Vec::new();
    for (kind, model_args) in models {
        let mut v = crate::reproduce::ReportRun {
            dataset,
            opts,
            prefix: String::new(),
            quiet,
        };
        out.push(with_model(kind, model_args, &mut v)?.1);
    }
    Ok(ReportProtocolReport {
        dataset: dataset.name.clone(),
        seed: opts.split.seed,
        provenance: Some(provenance),
        models: out,
    })
}

/// Evaluates one model of the table on `dataset` with the protocol (tuned
/// on `trials` when given), with a progress bar unless `quiet`.
pub struct ProtocolRun<'a> {
    /// The dataset the protocol splits.
    pub dataset: &'a Dataset,
    /// The protocol's options.
    pub opts: &'a EvalOptions,
    /// The tuning trials to choose from, if any.
    pub trials: Option<&'a [serde_json::Map<String, serde_json::Value>]>,
    /// No progress bar.
    pub quiet: bool,
}

impl ModelVisitor for ProtocolRun<'_> {
    type Output = ModelReport;
    fn visit<F>(&mut self, _: ModelKind, name: &str, config: F) -> anyhow::Result<ModelReport>
    where
        F: Fit + Serialize + DeserializeOwned + Clone,
    {
        let mut bar = Bar::new(name, self.quiet);
        let ds = self.dataset;
        let (ratings, ts) = (&ds.ratings, ds.timestamps.as_deref());
        let report = match self.trials {
            Some(trials) => {
                let name = format!("{name}-tuned");
                evaluate_tuned(&name, &config, trials, ratings, ts, self.opts, &mut bar)
            }
            None => evaluate(name, &config, ratings, ts, self.opts, &mut bar),
        };
        bar.finish();
        Ok(report?)
    }
}

fn run_given(
    args: &EvaluateArgs,
    train: &Path,
    test: &Path,
    quiet: bool,
    threads: usize,
) -> anyhow::Result<Report> {
    ensure!(
        args.predictions.is_none() || args.model.len() == 1,
        "--predictions takes exactly one --model"
    );
    let p = &args.protocol;
    let opts = GivenOptions {
        scale: p.input.scale,
        on_duplicate: p.input.on_duplicate,
        validation_fraction: p.validation_fraction,
        seed: p.seed,
        fallback: p.fallback,
        refit: !args.no_refit,
        ranking: args.ranking.options()?,
        ranking_also: args.ranking.also(),
        threads,
    };
    let mut models = Vec::new();
    for &kind in &args.model {
        let mut v = GivenRun {
            train,
            test,
            opts: &opts,
            predictions: args.predictions.as_deref(),
            quiet,
        };
        models.push(with_model(kind, &args.model_args, &mut v)?);
    }
    let name = train.file_name().map_or_else(
        || train.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Report {
        dataset: name,
        protocol: "given".to_string(),
        seed: p.seed,
        provenance: Some(provenance()),
        models,
    })
}

struct GivenRun<'a> {
    train: &'a Path,
    test: &'a Path,
    opts: &'a GivenOptions,
    predictions: Option<&'a Path>,
    quiet: bool,
}

impl ModelVisitor for GivenRun<'_> {
    type Output = ModelReport;
    fn visit<F: Fit + Serialize + Clone>(
        &mut self,
        _: ModelKind,
        name: &str,
        config: F,
    ) -> anyhow::Result<ModelReport> {
        let mut bar = Bar::new(name, self.quiet);
        let result = evaluate_given(name, &config, self.train, self.test, self.opts, &mut bar);
        bar.finish();
        let result = result?;
        if let Some(path) = self.predictions {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(["user", "item", "rating", "prediction"])?;
            for (r, &p) in result.test.entries.iter().zip(&result.predictions) {
                w.write_record([
                    result.users.raw(r.user.0).to_string(),
                    result.items.raw(r.item.0).to_string(),
                    r.value.to_string(),
                    self.opts.scale.clamp(p).to_string(),
                ])?;
            }
            let bytes = w.into_inner().context("writing predictions")?;
            write_atomic(path, &bytes)?;
        }
        Ok(result.report)
    }
}

/// Which command, commit and machine produced a result.
pub fn provenance() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    provenance_of(&args.join(" "))
}

/// [`provenance`] with the command described by `command`.
pub fn provenance_of(command: &str) -> String {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "movierec {} {command}; commit {commit}; {cores} cores, {} threads",
        env!("CARGO_PKG_VERSION"),
        rayon::current_num_threads()
    )
}
