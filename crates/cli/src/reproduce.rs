//! `movierec reproduce`: every model of the report, the baselines and our
//! best configuration of each, on the report's protocol, written as the
//! report's Table 1 and Table 2 rebuilt beside its own figures, the report's
//! way of measuring beside the held-out figure, and the curves.
//!
//! Files, under `<out-dir>/<dataset>/` (`<dataset>` is the data folder's name):
//! `table1-accuracy.{md,csv,json}`, `table2-mse.{md,csv,json}`,
//! `report-protocol.{md,json}`, `reproduce.{md,json}` (every row in the
//! usual evaluate format, curves included), `curves-autoencoder.svg`,
//! `curves-mf-sgd.svg`, `curves-mf-dense.svg`, `time-to-accuracy.{svg,md}`.
//!
//! `--sweep` runs the sweep of the report's open readings instead ([`sweep`]):
//! it writes its own section of `report-protocol.md`, which a later full
//! `reproduce` keeps, `report-sweep.json` and `curves-report-sweep.svg`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser};
use movierec_core::{Fallback, Fit};
use movierec_data::{Dataset, LoadOptions, Protocol, SplitConfig};
use movierec_eval::{
    evaluate_report, table1, table2, write_atomic, write_curves_svg, write_time_to_accuracy,
    EvalOptions, ModelReport, RankingOptions, Report, ReportFigures, ReportProtocolModel,
    ReportProtocolReport, TableRow,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::evaluate::provenance;
use crate::models::{with_model, ModelArgs, ModelKind, ModelVisitor};
use crate::progress::Bar;

pub mod sweep;

/// Steps of the report's dense-GD MF in a full run: each step is a dense
/// `users x items` product, so the row runs under a budget (stated in the
/// tables), not to convergence.
const DENSE_STEPS: usize = 150;
/// Steps of the dense-GD MF under `--quick`.
const DENSE_STEPS_QUICK: usize = 30;
/// Repeats of the dense-GD MF: the report ran its MF twice (its 7.2).
const DENSE_REPEATS: usize = 2;

/// Arguments of `movierec reproduce`.
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Dataset folder; its name names the results folder.
    #[arg(long, env = "MOVIELENS_DIR", default_value = "data/ml-latest-small")]
    data: PathBuf,
    /// One repeat instead of the report's five (and a shorter dense-GD budget).
    #[arg(long)]
    quick: bool,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder under which `<dataset>/` receives the tables and plots
    /// (default `results`; `results/quick` with --quick, so that a quick run
    /// never overwrites the five-repeat tables).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// The report's published figures (TOML). Default: the repository's
    /// `results/report-figures.toml`, compiled into the program.
    #[arg(long, value_name = "FILE.toml")]
    figures: Option<PathBuf>,
    /// Steps of the report's dense-GD MF (default 150; 30 with --quick).
    #[arg(long)]
    dense_steps: Option<usize>,
    /// Skip the top-10 lists (precision, recall, NDCG, hit rate, coverage
    /// in reproduce.md, and the `popular` row), which cost a few seconds.
    #[arg(long)]
    no_ranking: bool,
    /// Run only the sweep of the readings the report's autoencoder code
    /// leaves open (DATA_SIZE, training length, noise, loss reduction) on
    /// repeat 0, and write its section of report-protocol.md,
    /// report-sweep.json and curves-report-sweep.svg.
    #[arg(long)]
    sweep: bool,
    /// Epochs of the sweep's one-factor runs.
    #[arg(long, default_value_t = 300, requires = "sweep")]
    sweep_epochs: usize,
    /// Epochs of the sweep's combinations (few movies, no decay).
    #[arg(long, default_value_t = 2000, requires = "sweep")]
    sweep_long: usize,
}

/// One row of the tables: a model, its flags, and what it is.
struct RowSpec {
    label: &'static str,
    kind: ModelKind,
    flags: Vec<String>,
    what: String,
    repeats: usize,
}

fn rows(repeats: usize, dense_steps: usize, ranking: bool) -> Vec<RowSpec> {
    let row = |label, kind, flags: &[&str], what: &str| RowSpec {
        label,
        kind,
        flags: flags.iter().map(|s| s.to_string()).collect(),
        what: what.to_string(),
        repeats,
    };
    let dense_repeats = repeats.min(DENSE_REPEATS);
    let mut rows = vec![
        row(
            "constant",
            ModelKind::Constant,
            &[],
            "baseline: 3.0 everywhere (the report's fallback)",
        ),
        row(
            "global-mean",
            ModelKind::GlobalMean,
            &[],
            "baseline: the mean training rating",
        ),
        row(
            "bias",
            ModelKind::Bias,
            &[],
            "baseline: global mean + user and item biases",
        ),
        row(
            "knn-report",
            ModelKind::Knn,
            &["--preset", "report"],
            "the report's KNN: item-based, adjusted cosine, its neighbourhood and formula",
        ),
        row("knn", ModelKind::Knn, &[], "our best KNN (tuned defaults)"),
        RowSpec {
            label: "mf-dense-report",
            kind: ModelKind::MfDense,
            flags: vec!["--epochs".into(), dense_steps.to_string()],
            what: format!(
                "the report's MF as it trained it: dense full-batch GD, budget of {dense_steps} \
                 steps, {dense_repeats} repeat(s) (the report ran it twice)"
            ),
            repeats: dense_repeats,
        },
        row(
            "mf-sgd-report",
            ModelKind::MfSgd,
            &["--preset", "report"],
            "the report's MF objective (no biases) by sparse SGD",
        ),
        row(
            "mf-sgd",
            ModelKind::MfSgd,
            &[],
            "our best MF: sparse SGD (tuned defaults)",
        ),
        row(
            "autoencoder-report",
            ModelKind::Autoencoder,
            &["--preset", "report"],
            "the report's final autoencoder: one hidden layer of 100, ReLU output",
        ),
        row(
            "autoencoder",
            ModelKind::Autoencoder,
            &[],
            "our best autoencoder (tuned defaults)",
        ),
    ];
    if ranking {
        rows.insert(
            3,
            row(
                "popular",
                ModelKind::Popular,
                &[],
                "ranking baseline: most-rated movies first; it estimates no rating, \
                 so its accuracy columns are the bias fallback's",
            ),
        );
    }
    rows
}

/// Model flags parsed as on the command line, so a row reads like
/// `scripts/models.sh` and resolves exactly as `evaluate` does.
#[derive(Debug, Parser)]
struct RowFlags {
    #[command(flatten)]
    model_args: ModelArgs,
}

/// Runs one model with [`evaluate_report`]: the held-out report and the
/// report's way of measuring, from the same fits. Shared by `reproduce`
/// and `evaluate --protocol report`.
pub struct ReportRun<'a> {
    /// The data.
    pub dataset: &'a Dataset,
    /// The protocol.
    pub opts: &'a EvalOptions,
    /// Text before the model's name on its progress bar.
    pub prefix: String,
    /// No progress bar.
    pub quiet: bool,
}

impl ModelVisitor for ReportRun<'_> {
    type Output = (ModelReport, ReportProtocolModel);
    fn visit<F>(&mut self, _: ModelKind, name: &str, config: F) -> anyhow::Result<Self::Output>
    where
        F: Fit + Serialize + DeserializeOwned + Clone,
    {
        let mut bar = Bar::new(&format!("{}{name}", self.prefix), self.quiet);
        let ds = self.dataset;
        let result = evaluate_report(
            name,
            &config,
            &ds.ratings,
            ds.timestamps.as_deref(),
            self.opts,
            &mut bar,
        );
        bar.finish();
        Ok(result?)
    }
}

/// The protocol options of a reproduce row.
fn options(seed: u64, repeats: usize, ranking: bool, threads: usize) -> EvalOptions {
    EvalOptions {
        split: SplitConfig {
            protocol: Protocol::Holdout,
            repeats,
            seed,
            ..SplitConfig::default()
        },
        fallback: Fallback::Bias,
        refit: true,
        ranking: ranking.then(RankingOptions::default),
        ranking_also: Vec::new(),
        threads,
    }
}

/// A finished row.
struct Done {
    what: String,
    report: ModelReport,
    protocol: ReportProtocolModel,
    peak_mib: f64,
}

/// Runs `movierec reproduce`.
pub fn run(args: ReproduceArgs, quiet: bool, threads: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    let figures = match &args.figures {
        Some(path) => ReportFigures::read(path)?,
        None => ReportFigures::parse(
            include_str!("../../../results/report-figures.toml"),
            Path::new("results/report-figures.toml"),
        )?,
    };
    let dataset = crate::load_data(&args.data, &LoadOptions::default(), quiet)?;
    if args.sweep {
        let dir = crate::out_dir(args.out_dir.as_deref(), args.quick).join(&dataset.name);
        let s = sweep::SweepArgs {
            epochs: args.sweep_epochs,
            long: args.sweep_long,
            seed: args.seed,
        };
        return sweep::run(&dataset, &figures, &dir, &s, quiet, start);
    }
    let repeats = if args.quick { 1 } else { 5 };
    let dense_steps = args.dense_steps.unwrap_or(if args.quick {
        DENSE_STEPS_QUICK
    } else {
        DENSE_STEPS
    });
    let specs = rows(repeats, dense_steps, !args.no_ranking);
    let n = specs.len();
    let mut done = Vec::with_capacity(n);
    for (i, spec) in specs.into_iter().enumerate() {
        let flags = RowFlags::try_parse_from(
            std::iter::once("movierec".to_string()).chain(spec.flags.iter().cloned()),
        )
        .with_context(|| format!("row {}: bad flags {:?}", spec.label, spec.flags))?;
        flags.model_args.check_flags(&[spec.kind])?;
        let opts = options(args.seed, spec.repeats, !args.no_ranking, threads);
        let mut v = ReportRun {
            dataset: &dataset,
            opts: &opts,
            prefix: format!("{}/{n} ", i + 1),
            quiet,
        };
        crate::PEAK_ALLOC.reset_peak_usage();
        let (mut report, mut protocol) = with_model(spec.kind, &flags.model_args, &mut v)?;
        let peak_mib = crate::PEAK_ALLOC.peak_usage() as f64 / (1024.0 * 1024.0);
        report.model = spec.label.to_string();
        protocol.model = spec.label.to_string();
        done.push(Done {
            what: spec.what,
            report,
            protocol,
            peak_mib,
        });
    }
    let dir = crate::out_dir(args.out_dir.as_deref(), args.quick).join(&dataset.name);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
    write_outputs(&dir, &dataset, &args, &figures, &done)?;
    // The report's Table 1 beside ours is what a first run should show.
    let table1 = crate::read_text(&dir.join("table1-accuracy.md"), "Table 1")?;
    crate::emit(&table1)?;
    if !quiet {
        eprintln!(
            "reproduce: {} rows on {} in {:.1} s; wrote {}",
            done.len(),
            dataset.name,
            start.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    Ok(())
}

fn write_outputs(
    dir: &Path,
    dataset: &Dataset,
    args: &ReproduceArgs,
    figures: &ReportFigures,
    done: &[Done],
) -> anyhow::Result<()> {
    let prov = provenance();
    let rows: Vec<TableRow<'_>> = done
        .iter()
        .map(|d| TableRow {
            what: &d.what,
            report: &d.report,
            protocol: &d.protocol,
            peak_mib: Some(d.peak_mib),
        })
        .collect();
    table1(&dataset.name, figures, &rows, Some(prov.clone()))
        .write_all(&dir.join("table1-accuracy"))?;
    table2(&dataset.name, figures, &rows, Some(prov.clone())).write_all(&dir.join("table2-mse"))?;

    let full = Report {
        dataset: dataset.name.clone(),
        protocol: Protocol::Holdout.to_string(),
        seed: args.seed,
        provenance: Some(prov.clone()),
        models: done.iter().map(|d| d.report.clone()).collect(),
    };
    full.write(&dir.join("reproduce.md"))?;
    full.write(&dir.join("reproduce.json"))?;

    let proto = ReportProtocolReport {
        dataset: dataset.name.clone(),
        seed: args.seed,
        provenance: Some(prov),
        models: done.iter().map(|d| d.protocol.clone()).collect(),
    };
    let mut md = proto.to_markdown();
    md.push_str(&explain_77(done, figures));
    // The sweep's section (`reproduce --sweep`) is kept.
    let md_path = dir.join("report-protocol.md");
    let json_path = dir.join("report-protocol.json");
    let old_md = std::fs::read_to_string(&md_path).unwrap_or_default();
    if let Some(section) = sweep::extract(&old_md) {
        md = sweep::splice(&md, section);
    }
    write_atomic(&md_path, md.as_bytes())?;
    proto.write(&json_path)?;

    let find = |label: &str| {
        done.iter()
            .find(|d| d.report.model == label)
            .map(|d| &d.report)
    };
    let curves = [
        (
            "autoencoder-report",
            ModelKind::Autoencoder,
            "curves-autoencoder.svg",
            "the report's autoencoder",
        ),
        (
            "mf-sgd-report",
            ModelKind::MfSgd,
            "curves-mf-sgd.svg",
            "the report's MF by sparse SGD",
        ),
        (
            "mf-dense-report",
            ModelKind::MfDense,
            "curves-mf-dense.svg",
            "the report's MF by dense full-batch GD",
        ),
    ];
    let mut timed = Vec::new();
    for (label, kind, file, title) in curves {
        if let Some(m) = find(label) {
            let title = format!("{title} ({label}), {}, repeat 0", dataset.name);
            write_curves_svg(m, &title, kind.curve_unit(), &dir.join(file))?;
            timed.push(m);
        }
    }
    write_time_to_accuracy(
        &timed,
        &dir.join("time-to-accuracy.svg"),
        &dir.join("time-to-accuracy.md"),
    )?;
    Ok(())
}

/// The explanation of the report's 77%, from the measured figures.
fn explain_77(done: &[Done], figures: &ReportFigures) -> String {
    use movierec_eval::Metric;
    let mut s = String::from("\n## The report's 77%\n\n");
    let Some(ae) = done.iter().find(|d| d.report.model == "autoencoder-report") else {
        s.push_str("(no `autoencoder-report` row in this run)\n");
        return s;
    };
    let f = &ae.protocol.summary;
    let fig = |m: Metric| {
        figures
            .get("autoencoder-report", m)
            .map_or("—".to_string(), |f| format!("{:.4}", f.value))
    };
    let _ = write!(
        s,
        "The report's Table 1 gives its autoencoder a test accuracy of {} and a validation \
         accuracy of {}. Its code (6.1.3) computed both by feeding the network a matrix that \
         already held the ratings being scored, `X = train + noise + validate (+ test)`, and \
         comparing the rounded output with every rated entry of `X`: the training ratings \
         count, and the test ratings are in the input they are compared against. That measures \
         how well the network reconstructs its input, not how well it predicts a rating it has \
         not seen.\n\n",
        fig(Metric::TestAccuracy),
        fig(Metric::ValidationAccuracy),
    );
    let _ = write!(
        s,
        "Measured here on the same fitted model (`autoencoder-report`, fitted on the training \
         part, means over {} repeat(s)):\n\n\
         | how | half-star accuracy | MSE |\n| --- | --- | --- |\n\
         | the report's way: fed train + validation + test, every rated entry scored ({:.0}% of them training ratings) | {:.4} | {:.4} |\n\
         | the training ratings, model fed the training matrix (training accuracy) | {:.4} | {:.4} |\n\
         | of those, the test ratings alone, their own ratings in the input | {:.4} | {:.4} |\n\
         | the report's validation way: fed train + validation, every rated entry scored | {:.4} | {:.4} |\n\
         | **held out**: the test ratings, not in the input | **{:.4}** | **{:.4}** |\n\
         | held out, refitted on train + validation (Table 1's figure) | {:.4} | {:.4} |\n\n",
        ae.protocol.repeats.len(),
        ae.protocol.train_share * 100.0,
        f.test_report.accuracy.mean,
        f.test_report.mse.mean,
        f.train.accuracy.mean,
        f.train.mse.mean,
        f.test_report_test_entries.accuracy.mean,
        f.test_report_test_entries.mse.mean,
        f.validation_report.accuracy.mean,
        f.validation_report.mse.mean,
        f.test_held_out.accuracy.mean,
        f.test_held_out.mse.mean,
        ae.report.mean.accuracy,
        ae.report.mean.mse,
    );
    let gap = f.test_report.accuracy.mean - f.test_held_out.accuracy.mean;
    let _ = write!(
        s,
        "Scoring the report's way adds {:+.4} to the accuracy of the very same model: the \
         difference is the measurement, not the model. Most of the report's test figure comes \
         from training ratings, which the network was fitted to reproduce, and the test \
         ratings themselves sit in its input. Only a held-out figure says how a recommender \
         does on a rating it has not seen (for comparison, the bias baseline reaches {:.4} \
         held out), and the tables compare every model that way. A network that copied \
         its input would score 100% the report's way and no better than its fallback held \
         out; the report's training accuracy of {} says its network reproduced most training \
         ratings, and {:.0}% of the entries behind its 77% are training ratings.",
        gap,
        done.iter()
            .find(|d| d.report.model == "bias")
            .map_or(f64::NAN, |d| d.report.mean.accuracy),
        fig(Metric::TrainingAccuracy),
        ae.protocol.train_share * 100.0,
    );
    // The rows' gains: the report's way tracks how closely a model fits its
    // training ratings, not how well it predicts.
    if let Some(top) = done.iter().max_by(|a, b| {
        let gain = |d: &Done| {
            d.protocol.summary.test_report.accuracy.mean
                - d.protocol.summary.test_held_out.accuracy.mean
        };
        gain(a).total_cmp(&gain(b))
    }) {
        let t = &top.protocol.summary;
        let _ = write!(
            s,
            " Across the rows of the table above, the report's way follows training accuracy, \
             not held-out accuracy: the largest gain is `{}`'s, {:.4} the report's way against \
             {:.4} held out, with a training accuracy of {:.4}.",
            top.report.model,
            t.test_report.accuracy.mean,
            t.test_held_out.accuracy.mean,
            t.train.accuracy.mean,
        );
    }
    let reported = figures
        .get("autoencoder-report", Metric::TestAccuracy)
        .map(|f| f.value);
    if let Some(r) = reported {
        if f.test_report.accuracy.mean + 0.05 < r {
            let _ = write!(
                s,
                " Our report-way figure stays below the report's {r:.4}: the report's split, \
                 training length and noise ratings are not ours (its listing leaves out its \
                 iteration count); what this table shows is the direction and size of the \
                 gap between the two ways of measuring one model."
            );
        }
    }
    s.push('\n');
    s
}
