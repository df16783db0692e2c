//! `movierec`: evaluate movie recommenders on MovieLens with the report's
//! protocol, and write synthetic MovieLens-format data.
//!
//! Clap types stay in this crate: they are turned once into the validated
//! configurations of the library crates (ripgrep's low/high args).
//!
//! The crate is a library with a thin binary (`src/main.rs`) so that tests
//! (the fuzz suite) and other front ends reach the CLI's own code paths: the
//! model table, the model-file store and the readers. Its modules are not a
//! stable API.
#![allow(missing_docs)]

pub mod evaluate;
pub mod launch;
pub mod models;
pub mod movies;
pub mod predict;
pub mod progress;
pub mod recommend;
pub mod report;
pub mod reproduce;
pub mod similar;
pub mod split;
pub mod store;
pub mod synth;
pub mod table;
pub mod titles;
pub mod train;
pub mod tune;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Reads the heap counters of `peak_alloc`, for the peak memory of each row
/// of `movierec reproduce`. The counters are the crate's statics; they count
/// only when the binary installs `PeakAlloc` as its global allocator
/// (`src/main.rs` does).
pub(crate) static PEAK_ALLOC: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

/// Movie recommenders on MovieLens: reproduce the report's study, evaluate
/// and tune models honestly, train one and recommend movies with it.
#[derive(Debug, Parser)]
#[command(name = "movierec", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads (0 = all cores). The same seed and thread count give the same results.
    #[arg(long, global = true, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=1024))]
    threads: u16,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate models with the report's protocol (repeated 90/10 holdout by
    /// default) or on a given train/test pair of files.
    Evaluate(Box<evaluate::EvaluateArgs>),
    /// Write one split of the protocol as a train/test pair of CSV files.
    Split(split::SplitArgs),
    /// Merge `evaluate --out FILE.json` reports into one table.
    Table(table::TableArgs),
    /// Search model settings on validation sets only; writes
    /// `results/<dataset>/tuning-<model>.md` and `.json`.
    Tune(Box<tune::TuneArgs>),
    /// Write a synthetic MovieLens-format folder (ratings.csv, movies.csv).
    Synth(synth::SynthArgs),
    /// Rebuild the report's Tables 1 and 2 beside its figures, its way of
    /// measuring beside the held-out one, and its curves, under
    /// `<out-dir>/<dataset>/`.
    Reproduce(reproduce::ReproduceArgs),
    /// Fit one model on a dataset and save it (with ids, training ratings and titles).
    Train(Box<train::TrainArgs>),
    /// Top-N movies for a user of a saved model, or for a new user's ratings file.
    Recommend(recommend::RecommendArgs),
    /// The movies nearest to one movie in a saved model.
    Similar(similar::SimilarArgs),
    /// Score a CSV of user,item pairs with a saved model.
    Predict(predict::PredictArgs),
    /// Find movies by title, with id, year, genres and number of ratings.
    Movies(movies::MoviesArgs),
    /// Write the generated reports of the scripts: results/benchmarks.md
    /// and results/gap-analysis.md.
    Report(report::ReportArgs),
    /// Start N local processes of `train --workers` (timely over loopback) and restart them from the last complete epoch when one dies.
    Launch(launch::LaunchArgs),
}

/// The whole program: parses the command line, runs the command, prints an
/// error as one line and returns the exit code (1 for an error; clap exits
/// with 2 on a usage error).
pub fn main_with_args() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // Fits get the thread count as a value (their run context); the global
    // pool of the same size serves the rest (scoring, ranking).
    let threads = movierec_core::RunContext::new(usize::from(cli.threads), 0).threads;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    match cli.command {
        Command::Evaluate(args) => evaluate::run(*args, cli.quiet, threads),
        Command::Split(args) => split::run(args, cli.quiet),
        Command::Synth(args) => synth::run(args, cli.quiet),
        Command::Train(args) => train::run(*args, cli.quiet, threads),
        Command::Recommend(args) => recommend::run(args, cli.quiet),
        Command::Similar(args) => similar::run(args, cli.quiet),
        Command::Predict(args) => predict::run(args, cli.quiet),
        Command::Movies(args) => movies::run(args, cli.quiet),
        Command::Table(args) => table::run(args),
        Command::Tune(args) => tune::run(*args, cli.quiet, threads),
        Command::Reproduce(args) => reproduce::run(args, cli.quiet, threads),
        Command::Report(args) => report::run(args),
        Command::Launch(args) => launch::launch(args, cli.quiet),
    }
}

/// Prints clap's help, version or usage error and returns its exit code
/// (2 for a usage error). A usage error repeats the argument the user gave,
/// so each of its lines gets the same escaping and cut as an error line.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind as Kind;
    if matches!(
        e.kind(),
        Kind::DisplayHelp | Kind::DisplayVersion | Kind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let mut out = String::with_capacity(text.len().min(4096));
    for line in text.lines() {
        out.push_str(&movierec_core::text::one_line_cut(line, MAX_ERROR_LINE));
        out.push('\n');
    }
    eprint!("{out}");
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}

/// The longest error line the CLI prints, `error: ` included.
pub const MAX_ERROR_LINE: usize = 300;

/// The error and its causes on one line, skipping a cause whose text the
/// message already holds (library errors often print their source too).
/// The line is the last guard on untrusted text: control characters are
/// escaped and it is cut to [`MAX_ERROR_LINE`] bytes with its `error: `.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    let line = line.replace('\n', " ");
    movierec_core::text::one_line_cut(&line, MAX_ERROR_LINE - "error: ".len())
}

/// Prints `value` as pretty JSON with a final newline (the `--json` output
/// of the movie commands).
pub fn emit_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    Ok(emit(&text)?)
}

/// Writes `text` to stdout, returning the error (a full disk) instead of
/// panicking as `print!` does. A closed pipe (`movierec ... | head`) ends the
/// program quietly with success, as Unix tools do.
pub fn emit(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        other => other,
    }
}

/// Loads the dataset at `path` (the `--data` flag or `MOVIELENS_DIR`). A
/// missing path says how to give one: the default is relative to the current
/// folder, so a run outside the repository root finds nothing there.
pub fn load_data(
    path: &std::path::Path,
    opts: &movierec_data::LoadOptions,
    quiet: bool,
) -> anyhow::Result<movierec_data::Dataset> {
    if !path.exists() {
        anyhow::bail!(
            "{}: no such dataset folder or file (from {}): give --data DIR or set \
             MOVIELENS_DIR; scripts/fetch-movielens.sh downloads ml-latest-small into data/",
            path.display(),
            std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string())
        );
    }
    let opts = movierec_data::LoadOptions {
        progress: movierec_data::ReadProgress::default(),
        ..opts.clone()
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    let loaded = std::thread::scope(|s| {
        if !quiet {
            s.spawn(|| progress::reading(&opts.progress, &done));
        }
        let loaded = movierec_data::load(path, &opts);
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        loaded
    });
    Ok(loaded?)
}

/// Where a command writes its results: `--out-dir` when given, else
/// `results`, or `results/quick` for a run with fewer repeats than the
/// committed tables (so that `reproduce --quick` or a one-repeat `tune` never
/// overwrites them; `results/quick/` is ignored by git).
pub fn out_dir(given: Option<&std::path::Path>, quick: bool) -> std::path::PathBuf {
    match (given, quick) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, false) => "results".into(),
        (None, true) => "results/quick".into(),
    }
}

/// Parses an `--out FILE` of a report: its extension picks the format, so
/// one that names none of them is refused before any work (a `r.txt` would
/// otherwise receive markdown).
pub fn report_file(text: &str) -> Result<std::path::PathBuf, String> {
    let path = std::path::PathBuf::from(text);
    match path.extension().and_then(|e| e.to_str()) {
        Some("md" | "csv" | "json") => Ok(path),
        _ => Err("the extension picks the format: .md, .csv or .json".into()),
    }
}

/// The largest text file (config, grid, report, new user's ratings) a
/// command reads whole: 64 MiB, far above any real one, so that `/dev/zero`
/// or a mistaken binary is an error, not an endless read.
pub const MAX_TEXT_FILE: u64 = 64 << 20;

/// Reads a whole UTF-8 text file of at most [`MAX_TEXT_FILE`] bytes; `what`
/// names it in errors ("the config file").
pub fn read_text(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let show = path.display();
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("{show}: cannot read {what}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow::anyhow!("{show}: cannot read {what}: {e}"))?;
    anyhow::ensure!(
        bytes.len() as u64 <= MAX_TEXT_FILE,
        "{show}: {what} is over {} MiB: not the right file?",
        MAX_TEXT_FILE >> 20
    );
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{show}: {what} is not UTF-8 text (byte {} of the file)",
            e.utf8_error().valid_up_to()
        )
    })
}
