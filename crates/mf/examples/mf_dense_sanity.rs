//! Fits the report's dense GD on one 90/10 split of a MovieLens folder,
//! printing the validation curve every 100 steps and the test RMSE:
//! `cargo run --release -p movierec-mf --example mf_dense_sanity -- DIR [key=value ...]`
//! where keys are `DenseGdConfig` fields.

use std::time::Instant;

use movierec_core::{
    Control, EpochRecord, Fallback, Fit, Observer, RatingMatrix, Recommender, SetMetrics,
};
use movierec_mf::DenseGdConfig;

struct Print;

impl Observer for Print {
    fn on_epoch(&mut self, r: &EpochRecord) -> Control {
        if let (Some(t), Some(v)) = (r.train, r.validation) {
            if r.epoch.is_multiple_of(100) {
                println!(
                    "step {:5} ({:6.1} s): loss {:.1}, train RMSE {:.4}, validation RMSE {:.4}",
                    r.epoch,
                    r.seconds,
                    r.loss.unwrap_or(f64::NAN),
                    t.rmse,
                    v.rmse
                );
            }
        }
        Control::Continue
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: mf_dense_sanity DIR [key=value ...]");
    let mut json = serde_json::Map::new();
    for kv in args {
        let (k, v) = kv.split_once('=').expect("key=value");
        json.insert(
            k.to_string(),
            serde_json::from_str(v).expect("a JSON value"),
        );
    }
    let config: DenseGdConfig = serde_json::from_value(json.into()).expect("DenseGdConfig fields");
    let ds = movierec_data::load(dir.as_ref(), &Default::default()).expect("load");
    let splits = movierec_data::make_splits(
        &ds.ratings,
        None,
        &movierec_data::SplitConfig {
            repeats: 1,
            ..Default::default()
        },
    )
    .expect("split");
    let split = &splits[0];
    let train = RatingMatrix::new(&ds.ratings.select(&split.train)).unwrap();
    let validation = ds.ratings.select(&split.validation);
    let test = ds.ratings.select(&split.test);
    let start = Instant::now();
    let model = config.fit(&train, Some(&validation), &mut Print).unwrap();
    let fit = start.elapsed().as_secs_f64();
    let fallback = Fallback::Bias.fit(&train);
    let m = SetMetrics::compute(
        test.entries.iter().map(|x| {
            let known = train.user_count(x.user) > 0 && train.item_count(x.item) > 0;
            let p = if known {
                model.predict(x.user, x.item).unwrap()
            } else {
                fallback.estimate(x.user, x.item)
            };
            (p, x.value)
        }),
        train.scale(),
    );
    println!(
        "best step {}, test RMSE {:.4}, accuracy {:.4}, fit {fit:.1} s",
        model.epochs(),
        m.rmse,
        m.accuracy
    );
}
