//! Fits SGD configurations on one or more 90/10 splits of a MovieLens folder
//! and prints validation-chosen epochs, test RMSE and fit time.
//!
//! `cargo run --release -p movierec-mf --example mf_sanity -- DIR [repeats] [key=value ...]`
//! where keys are `SgdConfig` fields (factors, epochs, lr_factors, ...).

use std::time::Instant;

use movierec_core::{Fallback, Fit, NoopObserver, RatingMatrix, Recommender, SetMetrics};
use movierec_mf::SgdConfig;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .expect("usage: mf_sanity DIR [repeats] [key=value ...]");
    let repeats: usize = args.next().map_or(1, |r| r.parse().expect("repeats"));
    let mut json = serde_json::Map::new();
    for kv in args {
        let (k, v) = kv.split_once('=').expect("key=value");
        json.insert(
            k.to_string(),
            serde_json::from_str(v).expect("a JSON value"),
        );
    }
    let config: SgdConfig = serde_json::from_value(json.into()).expect("SgdConfig fields");
    let ds = movierec_data::load(dir.as_ref(), &Default::default()).expect("load");
    let splits = movierec_data::make_splits(
        &ds.ratings,
        None,
        &movierec_data::SplitConfig {
            repeats,
            ..Default::default()
        },
    )
    .expect("split");
    let mut total = 0.0;
    for (r, split) in splits.iter().enumerate() {
        let train = RatingMatrix::new(&ds.ratings.select(&split.train)).unwrap();
        let validation = ds.ratings.select(&split.validation);
        let test = ds.ratings.select(&split.test);
        let start = Instant::now();
        let model = config
            .fit(&train, Some(&validation), &mut NoopObserver)
            .unwrap();
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
        total += m.rmse;
        println!(
            "repeat {r}: best epoch {:3}, test RMSE {:.4}, fit {:.3} s",
            model.epochs(),
            m.rmse,
            fit
        );
    }
    println!("mean test RMSE {:.4}", total / splits.len() as f64);
}
