//! The top-N models' fits on the ml-latest-small shape (synthetic, and the
//! real file when `MOVIELENS_DIR` names it), with one lambda / iteration
//! count fixed so a sample measures one fit: `topn/ease_fit` (the closed
//! form by the item-side f32 Cholesky against the user-side f64 Woodbury
//! solve, the default on catalogues with more items than users),
//! `topn/ials_fit` (15 iterations, 64 factors, on 1 and 2 threads) and
//! `topn/dae_epoch` (one Mult-DAE epoch with the sparse first layer).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use movierec_core::{Fit, NoopObserver, RatingMatrix, RunContext};
use movierec_ease::{EaseConfig, Solver};
use movierec_ials::IalsConfig;
use movierec_vae::VaeConfig;

use crate::shape::{real_matrix, synthetic, RATINGS, USERS};

const ITEMS: usize = 9_724;

fn group_on(c: &mut Criterion, data: &str, train: &RatingMatrix) {
    let mut g = c.benchmark_group("topn");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for (name, solver) in [
        ("items-f32-cholesky", Solver::Items),
        ("users-f64-woodbury", Solver::Users),
    ] {
        let config = EaseConfig {
            lambda_grid: Vec::new(),
            solver,
            ..EaseConfig::default()
        };
        let ctx = RunContext::new(2, 42);
        g.bench_function(BenchmarkId::new(format!("ease_fit/{name}"), data), |b| {
            b.iter(|| {
                black_box(
                    config
                        .fit(train, None, &ctx, &mut NoopObserver)
                        .expect("fits"),
                )
            })
        });
    }
    for threads in [1, 2] {
        let config = IalsConfig {
            iterations: 15,
            early_stopping: false,
            ..IalsConfig::default()
        };
        let ctx = RunContext::new(threads, 42);
        let id = BenchmarkId::new(format!("ials_fit/15-iterations/threads={threads}"), data);
        g.bench_function(id, |b| {
            b.iter(|| {
                black_box(
                    config
                        .fit(train, None, &ctx, &mut NoopObserver)
                        .expect("fits"),
                )
            })
        });
    }
    let config = VaeConfig {
        epochs: 1,
        ..VaeConfig::dae()
    };
    let ctx = RunContext::new(2, 42);
    g.bench_function(BenchmarkId::new("dae_epoch", data), |b| {
        b.iter(|| {
            black_box(
                config
                    .fit(train, None, &ctx, &mut NoopObserver)
                    .expect("fits"),
            )
        })
    });
    g.finish();
}

fn fits(c: &mut Criterion) {
    let train =
        RatingMatrix::new(&synthetic(USERS, ITEMS, RATINGS)).expect("synthetic ratings are valid");
    group_on(c, "synthetic", &train);
    if let Some(real) = real_matrix("topn") {
        group_on(c, "ml-latest-small", &real);
    }
}

criterion::criterion_group!(benches, fits);
