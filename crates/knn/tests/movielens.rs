//! Real-data sanity check on ml-latest-small: one 90/10 holdout split, the
//! default configuration, the bias baseline for pairs KNN cannot score.
//! Skipped (with a message) when `MOVIELENS_DIR` is not set.

use movierec_core::RunContext;
use std::path::PathBuf;
use std::time::Instant;

use movierec_core::{Fallback, Fit, NoopObserver, RatingMatrix, Recommender, SetMetrics};
use movierec_data::{load, make_splits, SplitConfig};
use movierec_knn::KnnConfig;

fn movielens_dir() -> Option<PathBuf> {
    movierec_data::dataset_for_tests(env!("CARGO_MANIFEST_DIR"), "knn on ml-latest-small")
}

#[test]
fn default_config_reaches_rmse_0_86_on_a_holdout_split() {
    let Some(dir) = movielens_dir() else { return };
    let dataset = load(&dir, &Default::default()).expect("load MOVIELENS_DIR");
    let cfg = SplitConfig {
        repeats: 1,
        validation_fraction: 0.0,
        ..SplitConfig::default()
    };
    let split = &make_splits(&dataset.ratings, None, &cfg).unwrap()[0];
    let train = RatingMatrix::new(&dataset.ratings.select(&split.train)).unwrap();
    let test = dataset.ratings.select(&split.test);

    let start = Instant::now();
    let model = KnnConfig::default()
        .fit(&train, None, &RunContext::default(), &mut NoopObserver)
        .unwrap();
    let fit_s = start.elapsed().as_secs_f64();
    let fallback = Fallback::Bias.fit(&train);
    let start = Instant::now();
    let mut fallbacks = 0;
    let pairs: Vec<(f32, f32)> = test
        .entries
        .iter()
        .map(|r| {
            let known = train.user_count(r.user) > 0 && train.item_count(r.item) > 0;
            let p = known
                .then(|| model.predict(r.user, r.item))
                .flatten()
                .unwrap_or_else(|| {
                    fallbacks += 1;
                    fallback.estimate(r.user, r.item)
                });
            (p, r.value)
        })
        .collect();
    let predict_s = start.elapsed().as_secs_f64();
    let m = SetMetrics::compute(pairs, test.scale);
    eprintln!(
        "ml-latest-small, default KNN: test RMSE {:.4}, MAE {:.4}, {} fallbacks of {}; \
         {} pairs stored, {:.1} MB; fit {fit_s:.2} s, predict {predict_s:.3} s (dev profile)",
        m.rmse,
        m.mae,
        fallbacks,
        test.len(),
        model.similarities().nnz(),
        model.memory_bytes() as f64 / 1e6,
    );
    assert!(m.rmse <= 0.86, "test RMSE {}", m.rmse);
}
