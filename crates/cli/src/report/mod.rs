//! `movierec report`: the generated result files that are not evaluations,
//! `results/benchmarks.md` (from criterion's saved results, run by
//! `scripts/bench-report.sh`) and `results/gap-analysis.md` (from three
//! training curves and the `gap/step` benchmarks, run by
//! `scripts/gap-analysis.sh`) and `results/scaling.md` with its plot (from
//! the cells measured by `scripts/scaling.sh`).

mod benchmarks;
mod estimates;
mod gap_analysis;
mod scaling;

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
    /// Write results/scaling.md and results/scaling.svg from the cells
    /// measured by scripts/scaling.sh: fit time and peak memory against
    /// ratings, with the fitted exponents.
    Scaling(scaling::ScalingArgs),
}

/// Runs `movierec report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    match args.which {
        Which::Benchmarks(args) => benchmarks::run(args),
        Which::GapAnalysis(args) => gap_analysis::run(args),
        Which::Scaling(args) => scaling::run(args),
    }
}
