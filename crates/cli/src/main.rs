//! `movierec`: evaluate movie recommenders on MovieLens with the report's
//! protocol, and write synthetic MovieLens-format data.
//!
//! Clap types stay in this crate: they are turned once into the validated
//! configurations of the library crates (ripgrep's low/high args).

mod evaluate;
mod models;
mod movies;
mod predict;
mod progress;
mod recommend;
mod report;
mod reproduce;
mod similar;
mod split;
mod store;
mod synth;
mod table;
mod train;
mod tune;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Counts heap use, for the peak memory of each row of `movierec reproduce`.
#[global_allocator]
pub(crate) static PEAK_ALLOC: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

/// Train and evaluate movie recommenders on MovieLens, honestly.
#[derive(Debug, Parser)]
#[command(name = "movierec", version, about, propagate_version = true)]
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
    }
}

/// The error and its causes on one line, skipping a cause whose text the
/// message already holds (library errors often print their source too).
fn one_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line.replace('\n', " ")
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
