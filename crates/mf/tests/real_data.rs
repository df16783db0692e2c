//! Sanity check on the real ml-latest-small (skipped unless MOVIELENS_DIR is set).

use movierec_core::RunContext;
use std::path::PathBuf;
use std::time::Instant;

use movierec_core::{Fallback, Fit, NoopObserver, RatingMatrix, Recommender, SetMetrics};
use movierec_mf::SgdConfig;

fn dataset_dir() -> Option<PathBuf> {
    movierec_data::dataset_for_tests(env!("CARGO_MANIFEST_DIR"), "mf on ml-latest-small")
}

/// One 90/10 split of ml-latest-small (validation carved from the 90 %):
/// the default SGD reaches test RMSE <= 0.87 (cold pairs go to the bias
/// fallback, as the evaluation harness does).
#[test]
fn default_sgd_on_ml_latest_small() {
    let Some(dir) = dataset_dir() else { return };
    let ds = movierec_data::load(&dir, &Default::default()).expect("load MOVIELENS_DIR");
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
    let model = SgdConfig::default()
        .fit(
            &train,
            Some(&validation),
            &RunContext::default(),
            &mut NoopObserver,
        )
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let fallback = Fallback::Bias.fit(&train);
    let m = SetMetrics::compute(
        test.entries.iter().map(|r| {
            let known = train.user_count(r.user) > 0 && train.item_count(r.item) > 0;
            let p = if known {
                model.predict(r.user, r.item).unwrap()
            } else {
                fallback.estimate(r.user, r.item)
            };
            (p, r.value)
        }),
        train.scale(),
    );
    eprintln!(
        "ml-latest-small, SgdConfig::default(): test RMSE {:.4}, MAE {:.4}, accuracy {:.4}, \
         best epoch {}, fit {seconds:.2} s (dev profile)",
        m.rmse,
        m.mae,
        m.accuracy,
        model.epochs()
    );
    assert!(m.rmse <= 0.87, "test RMSE {}", m.rmse);
}
