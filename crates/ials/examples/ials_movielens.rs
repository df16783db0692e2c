//! iALS on ml-latest-small through the report's protocol: 5 repeats of a
//! seeded 90/10 holdout (10% of the rest as validation, seed 42). Each
//! repeat fits on train with validation (early stopping on NDCG@10), refits
//! on train + validation with `refit_config`, and scores NDCG@10 (relevant:
//! test rating >= 4) on test.
//!
//! ```sh
//! cargo run --release -p movierec-ials --example ials_movielens -- \
//!     [DATA_DIR] [--threads N] [--config '{"alpha": 2.0}'] [--grid]
//! ```
//! `--grid` compares settings on validation only (no test scores).

use std::path::PathBuf;
use std::time::Instant;

use movierec_core::metrics::ndcg_at;
use movierec_core::{Fit, NoopObserver, RatingMatrix, Recommender, RunContext};
use movierec_data::{load, make_splits, SplitConfig};
use movierec_ials::IalsConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir = PathBuf::from("/work/shared/data/ml-latest-small");
    let mut threads = 2;
    let mut config = IalsConfig::default();
    let mut grid = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--threads" => threads = args.next().ok_or("--threads N")?.parse()?,
            "--config" => config = serde_json::from_str(&args.next().ok_or("--config JSON")?)?,
            "--grid" => grid = true,
            _ => dir = PathBuf::from(a),
        }
    }
    let ds = load(&dir, &Default::default())?;
    let splits = make_splits(&ds.ratings, None, &SplitConfig::default())?;
    let ctx = RunContext::new(threads, 42);
    println!(
        "{}: {} ratings, {} users, {} items; {} threads",
        ds.name,
        ds.ratings.len(),
        ds.users.len(),
        ds.items.len(),
        ctx.threads
    );
    if grid {
        return run_grid(&ds.ratings, &splits, &ctx, &config);
    }
    println!("config: {}", serde_json::to_string(&config)?);
    let (mut tests, mut fits, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    for (r, split) in splits.iter().enumerate() {
        let train = RatingMatrix::new(&ds.ratings.select(&split.train))?;
        let val = ds.ratings.select(&split.validation);
        let t = Instant::now();
        let model = config.fit(&train, Some(&val), &ctx, &mut NoopObserver)?;
        let select_s = t.elapsed().as_secs_f64();
        let val_ndcg = ndcg_at(&train, &val, 10, 4.0, |u, out| model.score_into(u, out));
        let refit = config.refit_config(&model);
        let mut both = split.train.clone();
        both.extend_from_slice(&split.validation);
        let full = RatingMatrix::new(&ds.ratings.select(&both))?;
        let t = Instant::now();
        let model = refit.fit(&full, None, &ctx, &mut NoopObserver)?;
        let fit_s = t.elapsed().as_secs_f64();
        let test = ds.ratings.select(&split.test);
        let ndcg = ndcg_at(&full, &test, 10, 4.0, |u, out| model.score_into(u, out));
        println!(
            "repeat {}: iterations {:2}  validation NDCG@10 {val_ndcg:.4}  test NDCG@10 {ndcg:.4}  refit {fit_s:.3} s  (fit with validation {select_s:.3} s)",
            r + 1,
            refit.iterations
        );
        tests.push(ndcg);
        fits.push(fit_s);
        vals.push(val_ndcg);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "mean: validation NDCG@10 {:.4}  test NDCG@10 {:.4}  refit seconds {:.3}",
        mean(&vals),
        mean(&tests),
        mean(&fits)
    );
    Ok(())
}

/// Mean validation NDCG@10 (early-stopped fits on train) of a few settings.
fn run_grid(
    ratings: &movierec_core::Ratings,
    splits: &[movierec_data::Split],
    ctx: &RunContext,
    base: &IalsConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut configs = Vec::new();
    use movierec_ials::Confidence::{Binary, Linear};
    // (alpha, reg, reg_exponent, unobserved_weight, confidence); the
    // validation means of the settings tried are in the crate's README.
    for &(alpha, reg, nu, w0, confidence) in &[
        (1.0, 10.0, 0.0, 1.0, Linear),
        (0.3, 10.0, 0.0, 1.0, Linear),
        (0.3, 30.0, 0.0, 1.0, Linear),
        (1.0, 30.0, 0.0, 1.0, Linear),
        (1.0, 100.0, 0.0, 1.0, Linear),
        (1.0, 10.0, 0.0, 1.0, Binary),
        (3.0, 30.0, 0.0, 1.0, Binary),
        (1.0, 0.01, 1.0, 1.0, Linear),
        (1.0, 0.003, 1.0, 1.0, Linear),
    ] {
        configs.push(IalsConfig {
            alpha,
            reg,
            reg_exponent: nu,
            unobserved_weight: w0,
            confidence,
            ..base.clone()
        });
    }
    let prepared: Vec<(RatingMatrix, movierec_core::Ratings)> = splits
        .iter()
        .map(|s| {
            (
                RatingMatrix::new(&ratings.select(&s.train)).unwrap(),
                ratings.select(&s.validation),
            )
        })
        .collect();
    for c in &configs {
        let (mut sum, mut its, mut secs) = (0.0, 0, 0.0);
        for (train, val) in &prepared {
            let t = Instant::now();
            let m = c.fit(train, Some(val), ctx, &mut NoopObserver)?;
            secs += t.elapsed().as_secs_f64();
            sum += ndcg_at(train, val, 10, 4.0, |u, out| m.score_into(u, out));
            its += m.iterations();
        }
        let n = prepared.len() as f64;
        println!(
            "factors {:3} alpha {:5} reg {:6} reg_exponent {} unobserved_weight {:5} cg_steps {} {:?}: validation NDCG@10 {:.4}  mean iterations {:.1}  {:.3} s",
            c.factors,
            c.alpha,
            c.reg,
            c.reg_exponent,
            c.unobserved_weight,
            c.cg_steps,
            c.confidence,
            sum / n,
            its as f64 / n,
            secs / n
        );
    }
    Ok(())
}
