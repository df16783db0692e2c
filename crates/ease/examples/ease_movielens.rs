//! EASE on ml-latest-small through the harness's protocol: 5 repeats of the
//! seeded 90/10 holdout (10% of the rest as validation, seed 42); lambda
//! chosen on validation NDCG@10, a refit on train + validation with it, and
//! NDCG@10 (relevant = test rating >= 4) on test.
//!
//! ```sh
//! cargo run --release -p movierec-ease --example ease_movielens -- \
//!     [--data DIR] [--threads N] [--repeats R] [--min-rating X] \
//!     [--weighting binary|rating] [--diag-weight W] [--lambda L] [--solver auto|items|users]
//! ```
//! `--lambda` fixes lambda (no grid). `MOVIELENS_DIR` sets the default folder.

use std::path::PathBuf;
use std::time::Instant;

use movierec_core::metrics::ndcg_at;
use movierec_core::{Fit, NoopObserver, RatingMatrix, Recommender, RunContext};
use movierec_data::{load, make_splits, SplitConfig};
use movierec_ease::{EaseConfig, Solver, Weighting};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut data = std::env::var_os("MOVIELENS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/data/ml-latest-small"));
    let (mut threads, mut repeats) = (0usize, 5usize);
    let mut cfg = EaseConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => data = PathBuf::from(value()?),
            "--threads" => threads = value()?.parse()?,
            "--repeats" => repeats = value()?.parse()?,
            "--min-rating" => cfg.min_rating = Some(value()?.parse()?),
            "--diag-weight" => cfg.diag_weight = value()?.parse()?,
            "--lambda" => {
                cfg.lambda = value()?.parse()?;
                cfg.lambda_grid.clear();
            }
            "--grid" => {
                cfg.lambda_grid = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--weighting" => {
                cfg.weighting = match value()?.as_str() {
                    "binary" => Weighting::Binary,
                    "rating" => Weighting::Rating,
                    w => return Err(format!("unknown weighting {w}").into()),
                }
            }
            "--solver" => {
                cfg.solver = match value()?.as_str() {
                    "auto" => Solver::Auto,
                    "items" => Solver::Items,
                    "users" => Solver::Users,
                    s => return Err(format!("unknown solver {s}").into()),
                }
            }
            _ => return Err(format!("unknown flag {flag}").into()),
        }
    }
    let ctx = RunContext::new(threads, 42);
    let ds = load(&data, &Default::default())?;
    let splits = make_splits(&ds.ratings, None, &SplitConfig::default())?;
    println!(
        "{}: {} ratings; {} threads; config {cfg:?}",
        ds.name,
        ds.ratings.len(),
        ctx.threads
    );
    let mut ndcgs = Vec::new();
    for (r, split) in splits.iter().take(repeats).enumerate() {
        let train = ds.ratings.select(&split.train);
        let validation = ds.ratings.select(&split.validation);
        let test = ds.ratings.select(&split.test);
        let matrix = RatingMatrix::new(&train)?;
        let t = Instant::now();
        let model = cfg.fit(&matrix, Some(&validation), &ctx, &mut NoopObserver)?;
        let fit_s = t.elapsed().as_secs_f64();
        let full = RatingMatrix::new(&train.concat(&validation))?;
        let t = Instant::now();
        let refit = cfg
            .refit_config(&model)
            .fit(&full, None, &ctx, &mut NoopObserver)?;
        let refit_s = t.elapsed().as_secs_f64();
        let ndcg = ndcg_at(&full, &test, 10, 4.0, |u, out| refit.score_into(u, out));
        let search: Vec<String> = model
            .lambda_search
            .iter()
            .map(|s| format!("{}:{:.4}", s.lambda, s.ndcg))
            .collect();
        println!(
            "repeat {r}: lambda {} (validation {}), test NDCG@10 {ndcg:.4}, fit+search {fit_s:.2} s, refit {refit_s:.2} s, {} movies",
            model.lambda,
            search.join(" "),
            refit.model_items().len()
        );
        ndcgs.push(ndcg);
    }
    let mean = ndcgs.iter().sum::<f64>() / ndcgs.len() as f64;
    println!("mean test NDCG@10 over {} repeats: {mean:.4}", ndcgs.len());
    Ok(())
}
