//! Top-N (`Recommender::recommend`): scoring every item for one user and
//! keeping the 10 best unseen ones by a partial sort, in `recommend/top_n`
//! (users per second), for every model kind with its default settings, on
//! the synthetic ml-latest-small shape (610 users, 9,724 items, 100,836
//! ratings) and, when `MOVIELENS_DIR` names it, on ml-latest-small itself;
//! for the median user and the heaviest user (most ratings), whose
//! neighbourhoods make KNN's scoring costliest. The target: under
//! 5 ms a call for every model.
//!
//! MF and the autoencoder are fitted for a few epochs only: scoring costs
//! the same whatever the weights, and a full fit would dominate the run.

use movierec_core::RunContext;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};
use movierec_autoencoder::AutoencoderConfig;
use movierec_core::{
    BiasConfig, Fit, NoopObserver, PopularConfig, RatingMatrix, Recommender, UserIdx,
};
use movierec_ease::EaseConfig;
use movierec_ials::IalsConfig;
use movierec_knn::KnnConfig;
use movierec_mf::SgdConfig;

use crate::shape::{real_matrix, synthetic, RATINGS, USERS};

const ITEMS: usize = 9_724;
/// List length.
const TOP: usize = 10;

fn fit<F: Fit>(config: F, train: &RatingMatrix) -> Box<dyn Recommender>
where
    F::Error: std::fmt::Debug,
{
    Box::new(
        config
            .fit(train, None, &RunContext::default(), &mut NoopObserver)
            .expect("valid default settings"),
    )
}

/// Every model kind with its default settings (MF and the autoencoder for
/// a few epochs).
fn models(train: &RatingMatrix) -> Vec<(&'static str, Box<dyn Recommender>)> {
    vec![
        ("popular", fit(PopularConfig::default(), train)),
        ("bias", fit(BiasConfig::default(), train)),
        ("knn-default", fit(KnnConfig::default(), train)),
        (
            "mf-sgd-default",
            fit(
                SgdConfig {
                    epochs: 3,
                    ..SgdConfig::default()
                },
                train,
            ),
        ),
        (
            "ease-lambda-100",
            fit(
                EaseConfig {
                    lambda_grid: Vec::new(),
                    ..EaseConfig::default()
                },
                train,
            ),
        ),
        (
            "ials-default",
            fit(
                IalsConfig {
                    iterations: 2,
                    ..IalsConfig::default()
                },
                train,
            ),
        ),
        (
            "autoencoder-default",
            fit(
                AutoencoderConfig {
                    epochs: 2,
                    ..AutoencoderConfig::default()
                },
                train,
            ),
        ),
    ]
}

/// The median user and the heaviest user by number of training ratings.
fn users(train: &RatingMatrix) -> [(&'static str, UserIdx); 2] {
    let mut by_count: Vec<(usize, u32)> = (0..train.n_users() as u32)
        .map(|u| (train.user_count(UserIdx(u)), u))
        .collect();
    by_count.sort_unstable();
    let median = UserIdx(by_count[by_count.len() / 2].1);
    let heaviest = UserIdx(by_count.last().expect("users").1);
    [("median", median), ("heaviest", heaviest)]
}

fn bench_on(c: &mut Criterion, data: &str, train: &RatingMatrix) {
    let mut group = c.benchmark_group("recommend/top_n");
    group.throughput(Throughput::Elements(1));
    let models = models(train);
    for (who, user) in users(train) {
        let id = format!(
            "{data}-{who}-user-{}-ratings-top{TOP}",
            train.user_count(user)
        );
        for (name, model) in &models {
            group.bench_with_input(BenchmarkId::new(*name, &id), &user, |b, &u| {
                b.iter(|| black_box(model.recommend(u, TOP, train)))
            });
        }
    }
    group.finish();
}

fn top_n(c: &mut Criterion) {
    let train =
        RatingMatrix::new(&synthetic(USERS, ITEMS, RATINGS)).expect("synthetic ratings are valid");
    bench_on(c, "synthetic", &train);
    if let Some(real) = real_matrix("recommend/top_n") {
        bench_on(c, "ml-latest-small", &real);
    }
}

criterion::criterion_group!(benches, top_n);
