//! Mult-DAE / Mult-VAE on ml-latest-small through the report's protocol:
//! 5 repeats of a seeded 90/10 holdout (seed 42), 10% of the rest as
//! validation. Each repeat fits on train with validation early stopping
//! (NDCG@10), refits on train + validation for the epochs found
//! (`refit_config`), and prints the test NDCG@10 (relevant: test rating
//! >= 4; candidates: movies with a training rating the user has not rated).
//!
//! ```sh
//! cargo run --release -p movierec-vae --example vae_movielens -- \
//!     --data ../shared/data/ml-latest-small --model dae --threads 2
//! ```
//!
//! `--config '{"hidden": [200]}'` overrides settings (JSON, over the
//! variant's defaults); `--repeats N` runs the first N repeats; `--tune`
//! stops after the early-stopped fit and prints only validation numbers
//! (for choosing defaults without looking at the test sets).

use std::time::Instant;

use movierec_core::metrics::ndcg_at;
use movierec_core::{
    Control, EpochRecord, Fit, NoopObserver, Observer, PopularConfig, RatingMatrix, Recommender,
    RunContext,
};
use movierec_vae::VaeConfig;

struct Progress(bool);

impl Observer for Progress {
    fn on_epoch(&mut self, r: &EpochRecord) -> Control {
        if self.0 {
            eprintln!(
                "  epoch {:4} loss {:.4} {:.1}s",
                r.epoch,
                r.loss.unwrap_or(f64::NAN),
                r.seconds
            );
        }
        Control::Continue
    }
    fn wants_training_metrics(&self) -> bool {
        false
    }
}

fn main() {
    let mut data = String::from("/work/shared/data/ml-latest-small");
    let mut model = String::from("vae");
    let mut overrides = String::from("{}");
    let mut repeats = 5usize;
    let mut threads = 0usize;
    let mut tune = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--data" => data = value(),
            "--model" => model = value(),
            "--config" => overrides = value(),
            "--repeats" => repeats = value().parse().expect("--repeats N"),
            "--threads" => threads = value().parse().expect("--threads N"),
            "--tune" => tune = true,
            _ => panic!("unknown argument {a}"),
        }
    }
    let base = match model.as_str() {
        "vae" | "mult-vae" => VaeConfig::vae(),
        "dae" | "mult-dae" => VaeConfig::dae(),
        _ => panic!("--model vae or dae"),
    };
    let mut full = serde_json::to_value(&base).unwrap();
    let over: serde_json::Value = serde_json::from_str(&overrides).expect("--config JSON object");
    for (k, v) in over.as_object().expect("--config JSON object") {
        full[k] = v.clone();
    }
    let config: VaeConfig = serde_json::from_value(full).expect("config");
    let verbose = std::env::var("VERBOSE").is_ok();
    let ds = movierec_data::load(data.as_ref(), &Default::default()).expect("dataset");
    let splits = movierec_data::make_splits(&ds.ratings, None, &Default::default()).unwrap();
    let ctx = RunContext::new(threads, 42);
    println!("{model} {}", serde_json::to_string(&config).unwrap());
    let (mut ndcgs, mut secs) = (Vec::new(), Vec::new());
    for (r, s) in splits.iter().take(repeats).enumerate() {
        let train = ds.ratings.select(&s.train);
        let validation = ds.ratings.select(&s.validation);
        let t = Instant::now();
        let fitted = config
            .fit(
                &RatingMatrix::new(&train).unwrap(),
                Some(&validation),
                &ctx,
                &mut Progress(verbose),
            )
            .expect("fit");
        let fit_s = t.elapsed().as_secs_f64();
        let val = fitted.validation_ndcg().unwrap_or(f64::NAN);
        if tune {
            let train_m = RatingMatrix::new(&train).unwrap();
            let popular = PopularConfig::default()
                .fit(&train_m, None, &ctx, &mut NoopObserver)
                .unwrap();
            let pop = ndcg_at(&train_m, &validation, 10, 4.0, |u, out| {
                popular.score_into(u, out)
            });
            println!("repeat {r}: validation NDCG@10 of popular {pop:.4}");
            println!(
                "repeat {r}: validation NDCG@10 {val:.4} at epoch {} ({fit_s:.1} s)",
                fitted.epochs()
            );
            ndcgs.push(val);
            secs.push(fit_s);
            continue;
        }
        let refit = config.refit_config(&fitted);
        let full = RatingMatrix::new(&train.concat(&validation)).unwrap();
        let t = Instant::now();
        let final_model = refit
            .fit(&full, None, &ctx, &mut Progress(verbose))
            .expect("refit");
        let refit_s = t.elapsed().as_secs_f64();
        let test = ds.ratings.select(&s.test);
        let ndcg = ndcg_at(&full, &test, 10, 4.0, |u, out| {
            final_model.score_into(u, out)
        });
        println!(
            "repeat {r}: test NDCG@10 {ndcg:.4} (validation {val:.4}, {} epochs; fit {fit_s:.1} s, refit {refit_s:.1} s)",
            fitted.epochs()
        );
        ndcgs.push(ndcg);
        secs.push(fit_s + refit_s);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "mean {} NDCG@10 {:.4}, seconds per repeat {:.1} (threads {})",
        if tune { "validation" } else { "test" },
        mean(&ndcgs),
        mean(&secs),
        ctx.threads
    );
}
