//! `movierec synth`: synthetic MovieLens-format data for tests and scaling benchmarks.

use std::path::PathBuf;

use clap::Args;
use movierec_data::{write_synthetic, SynthConfig};

use crate::progress::Bar;

/// Arguments of `movierec synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Number of users.
    #[arg(long)]
    users: usize,
    /// Number of movies.
    #[arg(long)]
    items: usize,
    /// Number of ratings (at most users x items).
    #[arg(long)]
    ratings: u64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rank of the latent model behind the ratings.
    #[arg(long, default_value_t = 8)]
    rank: usize,
    /// Standard deviation of the rating noise.
    #[arg(long, default_value_t = 0.5)]
    noise: f32,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
}

/// Runs `movierec synth`.
pub fn run(args: SynthArgs, quiet: bool) -> anyhow::Result<()> {
    let cfg = SynthConfig {
        users: args.users,
        items: args.items,
        ratings: args.ratings,
        seed: args.seed,
        rank: args.rank,
        noise: args.noise,
    };
    let spinner = Bar::spinner(&format!("writing {} ratings", args.ratings), quiet);
    let summary = write_synthetic(&cfg, &args.out)?;
    spinner.finish_and_clear();
    crate::emit(&format!(
        "wrote {} ratings by {} users of {} movies ({:.1} MB) to {}\n",
        summary.ratings,
        summary.users,
        summary.items,
        summary.bytes as f64 / 1e6,
        args.out.display()
    ))?;
    Ok(())
}
