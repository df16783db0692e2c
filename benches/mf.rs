//! Matrix factorisation (`movierec-mf`): the report's dense full-batch step
//! against one sparse SGD epoch (`mf/dense_step`, `mf/sgd_epoch`, ratings per
//! second), how both grow with density and size (`mf/sweep`), and SGD rating
//! updates per second on 1 and 2 threads (`mf/sgd_threads`), on a synthetic
//! matrix shaped like ml-latest-small (610 users, 9,724 items, 100,836
//! ratings, Zipf-like item popularity and user activity); and the default
//! SGD model's whole fit on real ml-latest-small (`mf/fit`, with
//! `MOVIELENS_DIR`).

use movierec_core::RunContext;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use movierec_core::{Fit, NoopObserver, RatingMatrix};
use movierec_data::{make_splits, SplitConfig};
use movierec_mf::{DenseGdConfig, DenseTrainer, SgdConfig, SgdTrainer};

use crate::shape::{self, RATINGS, USERS};

const ITEMS: usize = 9_724;

fn sgd(k: usize) -> SgdConfig {
    SgdConfig {
        factors: k,
        lr_decay: 1.0,
        ..SgdConfig::default()
    }
}

fn dense(k: usize) -> DenseGdConfig {
    DenseGdConfig {
        factors: k,
        ..DenseGdConfig::default()
    }
}

/// [`shape::synthetic`] as the matrix the trainers take.
fn synthetic(users: usize, items: usize, nnz: usize) -> RatingMatrix {
    RatingMatrix::new(&shape::synthetic(users, items, nnz)).expect("distinct synthetic pairs")
}

fn dense_vs_sparse(c: &mut Criterion) {
    let train = synthetic(USERS, ITEMS, RATINGS);
    let nnz = train.nnz() as u64;
    let mut group = c.benchmark_group("mf/dense_step");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(nnz));
    for k in [10, 50, 100] {
        let mut t =
            DenseTrainer::new(&dense(k), &train, &RunContext::new(1, 42)).expect("dense trainer");
        group.bench_function(
            BenchmarkId::new("dense", format!("ml-small-shape/k={k}/seq")),
            |b| b.iter(|| black_box(t.step())),
        );
    }
    group.finish();

    let mut group = c.benchmark_group("mf/sgd_epoch");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(nnz));
    for k in [10, 50, 100] {
        let mut t = SgdTrainer::new(&sgd(k), &train, &RunContext::new(1, 42)).expect("sgd trainer");
        group.bench_function(
            BenchmarkId::new("sgd", format!("ml-small-shape/k={k}/threads=1")),
            |b| b.iter(|| t.epoch()),
        );
    }
    group.finish();
}

fn threads(c: &mut Criterion) {
    let train = synthetic(USERS, ITEMS, RATINGS);
    let mut group = c.benchmark_group("mf/sgd_threads");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(train.nnz() as u64));
    // The trainer runs one thread on the caller's and more on its own
    // rayon pool (or the global one when the sizes match): calling it
    // directly, as a fit does, keeps a hop to another thread per epoch out
    // of the one-thread figure.
    for threads in [1, 2] {
        let mut t =
            SgdTrainer::new(&sgd(100), &train, &RunContext::new(threads, 42)).expect("trainer");
        group.bench_function(
            BenchmarkId::new("sgd", format!("ml-small-shape/k=100/threads={threads}")),
            |b| b.iter(|| t.epoch()),
        );
    }
    group.finish();
}

fn sweep(c: &mut Criterion) {
    let mut group = c.benchmark_group("mf/sweep");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3));
    group.sampling_mode(SamplingMode::Flat);
    let k = 50;
    // Density at a fixed 610 x 9,724: 0.5 %, 1.7 % (ml-latest-small), 5 %, 15 %.
    let cells = USERS * ITEMS;
    let mut cases: Vec<(String, usize, usize, usize)> = [0.005, 0.017, 0.05, 0.15]
        .iter()
        .map(|&d| {
            let nnz = (cells as f64 * d) as usize;
            (format!("density/{:.1}%", d * 100.0), USERS, ITEMS, nnz)
        })
        .collect();
    // Size at ml-latest-small's 1.7 % density, both sides scaled.
    for scale in [0.5, 1.0, 1.5] {
        let (u, i) = (
            (USERS as f64 * scale) as usize,
            (ITEMS as f64 * scale) as usize,
        );
        let nnz = (u as f64 * i as f64 * 0.017) as usize;
        cases.push((format!("size/{u}x{i}"), u, i, nnz));
    }
    for (name, users, items, nnz) in cases {
        let train = synthetic(users, items, nnz);
        group.throughput(Throughput::Elements(train.nnz() as u64));
        let mut d =
            DenseTrainer::new(&dense(k), &train, &RunContext::new(1, 42)).expect("dense trainer");
        group.bench_function(BenchmarkId::new(format!("dense/k={k}"), &name), |b| {
            b.iter(|| black_box(d.step()))
        });
        drop(d);
        let mut s = SgdTrainer::new(&sgd(k), &train, &RunContext::new(1, 42)).expect("sgd trainer");
        group.bench_function(BenchmarkId::new(format!("sgd/k={k}"), &name), |b| {
            b.iter(|| s.epoch())
        });
    }
    group.finish();
}

/// The default `mf-sgd` fit as `movierec evaluate` runs it on the first
/// 90/10 split of real ml-latest-small: `select` fits the training part with
/// early stopping on the validation part (which chooses the epoch count);
/// `final` is the refit of the chosen settings on training + validation, the
/// model that gets scored and saved: the figure to set beside Surprise's or
/// LIBMF's fit time, which are fits with a fixed epoch count.
fn fit(c: &mut Criterion) {
    let Some(ratings) = shape::real_ratings("mf/fit") else {
        return;
    };
    let split = make_splits(&ratings, None, &SplitConfig::default())
        .expect("default split")
        .swap_remove(0);
    let train = ratings.select(&split.train);
    let validation = ratings.select(&split.validation);
    let full = RatingMatrix::new(&train.concat(&validation)).expect("valid ratings");
    let train = RatingMatrix::new(&train).expect("valid ratings");
    let mut group = c.benchmark_group("mf/fit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    group.sampling_mode(SamplingMode::Flat);
    for threads in [1, 2] {
        let config = SgdConfig {
            ..SgdConfig::default()
        };
        let model = config
            .fit(
                &train,
                Some(&validation),
                &RunContext::new(threads, 42),
                &mut NoopObserver,
            )
            .expect("fit");
        let refit = config.refit_config(&model);
        let what = format!("ml-latest-small/threads={threads}");
        group.bench_function(BenchmarkId::new("default-select", &what), |b| {
            b.iter(|| {
                black_box(config.fit(
                    &train,
                    Some(&validation),
                    &RunContext::new(threads, 42),
                    &mut NoopObserver,
                ))
            })
        });
        let id = format!("{what}/epochs={}", refit.epochs);
        group.bench_function(BenchmarkId::new("default-final", id), |b| {
            b.iter(|| {
                black_box(refit.fit(
                    &full,
                    None,
                    &RunContext::new(threads, 42),
                    &mut NoopObserver,
                ))
            })
        });
    }
    group.finish();
}

/// One SGD epoch of [`SgdConfig::large`] at the ml-25m shape (162,541 users
/// x 59,047 movies), sampled: a tenth of its 25 million ratings
/// (2.5 million, same user and movie counts, so the factor matrices and the
/// blocking are those of the full size), on 1 and 2 threads. Ratings per
/// second; the full epoch costs about ten times one iteration.
fn large(c: &mut Criterion) {
    let train = synthetic(162_541, 59_047, 2_500_000);
    let mut group = c.benchmark_group("mf/sgd_epoch_large");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(train.nnz() as u64));
    for threads in [1, 2] {
        let config = SgdConfig::large();
        let mut t =
            SgdTrainer::new(&config, &train, &RunContext::new(threads, 42)).expect("trainer");
        group.bench_function(
            BenchmarkId::new(
                "sgd-large",
                format!("ml-25m-shape/2.5M/k={}/threads={threads}", config.factors),
            ),
            |b| b.iter(|| t.epoch()),
        );
    }
    group.finish();
}

criterion::criterion_group!(benches, dense_vs_sparse, threads, sweep, fit, large);
