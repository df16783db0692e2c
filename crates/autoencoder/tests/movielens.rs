//! Real-data sanity: the default configuration and the report's on one 90/10
//! split of ml-latest-small, scored on the test part (cold pairs from the
//! bias baseline). Skipped with a message when `MOVIELENS_DIR` is not set.

use movierec_core::RunContext;
use std::time::Instant;

use movierec_autoencoder::AutoencoderConfig;
use movierec_core::{Fallback, Fit, NoopObserver, RatingMatrix, Recommender, SetMetrics};

/// (train matrix, validation, test) of the first 90/10 split.
fn split() -> Option<(RatingMatrix, movierec_core::Ratings, movierec_core::Ratings)> {
    let dir = movierec_data::dataset_for_tests(
        env!("CARGO_MANIFEST_DIR"),
        "autoencoder on ml-latest-small",
    )?;
    let ds = movierec_data::load(dir.as_ref(), &Default::default()).unwrap();
    let splits = movierec_data::make_splits(
        &ds.ratings,
        None,
        &movierec_data::SplitConfig {
            repeats: 1,
            ..Default::default()
        },
    )
    .unwrap();
    let s = &splits[0];
    let train = RatingMatrix::new(&ds.ratings.select(&s.train)).unwrap();
    Some((
        train,
        ds.ratings.select(&s.validation),
        ds.ratings.select(&s.test),
    ))
}

/// Test metrics of `config` fitted with validation (early stopping), and the
/// fit's seconds.
fn fit_and_score(
    config: &AutoencoderConfig,
    train: &RatingMatrix,
    validation: &movierec_core::Ratings,
    test: &movierec_core::Ratings,
) -> (SetMetrics, f64) {
    let start = Instant::now();
    let model = config
        .fit(
            train,
            Some(validation),
            &RunContext::default(),
            &mut NoopObserver,
        )
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let fallback = Fallback::Bias.fit(train);
    let m = SetMetrics::compute(
        test.entries.iter().map(|r| {
            let p = model
                .predict(r.user, r.item)
                .unwrap_or_else(|| fallback.estimate(r.user, r.item));
            (p, r.value)
        }),
        train.scale(),
    );
    (m, secs)
}

#[test]
fn default_and_report_configs_on_ml_latest_small() {
    let Some((train, validation, test)) = split() else {
        return;
    };
    let (best, secs) = fit_and_score(&AutoencoderConfig::default(), &train, &validation, &test);
    eprintln!(
        "default: test RMSE {:.4}, accuracy {:.4}, fit {secs:.2} s",
        best.rmse, best.accuracy
    );
    assert!(best.rmse <= 0.840, "default test RMSE {}", best.rmse);
    let (report, secs) = fit_and_score(&AutoencoderConfig::report(), &train, &validation, &test);
    eprintln!(
        "report: test RMSE {:.4}, accuracy {:.4}, fit {secs:.2} s",
        report.rmse, report.accuracy
    );
    assert!(report.rmse <= 0.900, "report test RMSE {}", report.rmse);
}
