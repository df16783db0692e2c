//! `movierec report`: the generated result files that are not evaluations,
//! `results/benchmarks.md` (from criterion's saved results, run by
//! `scripts/bench-report.sh`) and `results/gap-analysis.md` (from three
//! training curves and the `gap/step` benchmarks, run by
//! `scripts/gap-analysis.sh`).

mod benchmarks;
mod estimates;
mod gap_analysis;

use clap::{Args, Subcommand};

/// Arguments of `movierec report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// Write results/benchmarks.md from criterion's saved results: every
    /// benchmark's time and throughput, every dense/sparse pair with its
    /// ratio, and the machine.
    Benchmarks(benchmarks::BenchmarksArgs),
    /// Write results/gap-analysis.md: the report's 15 minutes (autoencoder)
    /// against 10 hours (dense MF) explained from three training curves and
    /// the gap/step benchmarks.
    GapAnalysis(gap_analysis::GapAnalysisArgs),
}

/// Runs `movierec report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    match args.which {
        Which::Benchmarks(args) => benchmarks::run(args),
        Which::GapAnalysis(args) => gap_analysis::run(args),
    }
}
