//! Validation sweep on ml-latest-small: `cargo run --release -p
//! movierec-autoencoder --example tune -- DIR '[{"hidden": [100]}, ...]'`.
//!
//! Each JSON object is a partial [`AutoencoderConfig`] over the defaults
//! (or over the report's preset with `"preset": "report"` / `"report-deep"`).
//! Fits on the train part of one 90/10 split (`SPLIT=k` picks repeat `k` of
//! 5, default 0; 10% of the train part is validation) and prints the
//! validation RMSE of each, never touching the test part.

use movierec_core::RunContext;
use std::time::Instant;

use movierec_autoencoder::AutoencoderConfig;
use movierec_core::{Control, EpochRecord, Fit, Observer, RatingMatrix};

struct Curve(Vec<(usize, f64, f64)>);

impl Observer for Curve {
    fn on_epoch(&mut self, r: &EpochRecord) -> Control {
        self.0.push((
            r.epoch,
            r.train.map_or(f64::NAN, |m| m.rmse),
            r.validation.map_or(f64::NAN, |m| m.rmse),
        ));
        Control::Continue
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("dataset folder");
    let sweep: Vec<serde_json::Value> =
        serde_json::from_str(&args.next().unwrap_or_else(|| "[{}]".into())).expect("JSON array");
    let verbose = std::env::var("VERBOSE").is_ok();
    let ds = movierec_data::load(dir.as_ref(), &Default::default()).unwrap();
    let splits = movierec_data::make_splits(
        &ds.ratings,
        None,
        &movierec_data::SplitConfig {
            repeats: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let k: usize = std::env::var("SPLIT").map_or(0, |k| k.parse().unwrap());
    let s = &splits[k];
    let train = RatingMatrix::new(&ds.ratings.select(&s.train)).unwrap();
    let validation = ds.ratings.select(&s.validation);
    for mut v in sweep {
        let base = match v.get("preset").and_then(|p| p.as_str()) {
            Some("report") => AutoencoderConfig::report(),
            Some("report-deep") => AutoencoderConfig::report_deep(),
            _ => AutoencoderConfig::default(),
        };
        if let Some(o) = v.as_object_mut() {
            o.remove("preset");
        }
        let mut full = serde_json::to_value(&base).unwrap();
        for (k, x) in v.as_object().unwrap() {
            full[k] = x.clone();
        }
        let cfg: AutoencoderConfig = serde_json::from_value(full).unwrap();
        let mut curve = Curve(Vec::new());
        let t = Instant::now();
        let model = cfg
            .fit(
                &train,
                Some(&validation),
                &RunContext::default(),
                &mut curve,
            )
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let best = curve.0.iter().map(|c| c.2).fold(f64::INFINITY, f64::min);
        if verbose {
            for c in &curve.0 {
                eprintln!("  epoch {:3} train {:.4} val {:.4}", c.0, c.1, c.2);
            }
        }
        println!(
            "val {best:.4}  best_epoch {:3}/{:3}  {secs:6.2}s  {}",
            model.best_epoch(),
            model.epochs(),
            v
        );
    }
}
