//! The gap analysis (`results/gap-analysis.md`): one optimisation step of
//! each model exactly as `scripts/gap-analysis.sh` trains it for its curves
//! (`gap/step`): the report's dense full-batch MF step at its default 20
//! factors, one sparse SGD epoch of the report's MF (100 factors, no
//! biases), and one epoch of the report's autoencoder (one hidden layer of
//! 100, batches of 1,024 items) on the dense path (the report's numpy) and
//! the sparse path. Single-threaded, on a synthetic matrix shaped like
//! ml-latest-small's training part under the protocol (610 users x 9,724
//! items, 81% of 100,836 ratings = 81,677).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use movierec_autoencoder::{AutoencoderConfig, Path, Trainer};
use movierec_core::{RatingMatrix, RunContext};
use movierec_mf::{DenseGdConfig, DenseTrainer, SgdConfig, SgdTrainer};

use crate::shape::{synthetic, RATINGS, USERS};

const ITEMS: usize = 9_724;

fn steps(c: &mut Criterion) {
    let nnz = RATINGS * 81 / 100;
    let train = RatingMatrix::new(&synthetic(USERS, ITEMS, nnz)).expect("distinct pairs");
    let mut g = c.benchmark_group("gap/step");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(train.nnz() as u64));
    // As `movierec evaluate --threads 1`: everything in a one-thread pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("rayon pool");

    let dense = DenseGdConfig {
        ..DenseGdConfig::default()
    };
    let mut t = DenseTrainer::new(&dense, &train, &RunContext::new(1, 42)).expect("dense trainer");
    let id = format!("mf-report/k={}", dense.factors);
    g.bench_function(BenchmarkId::new("dense-step", id), |b| {
        b.iter(|| pool.install(|| black_box(t.step())))
    });
    drop(t);

    let sgd = SgdConfig {
        ..SgdConfig::report()
    };
    let mut t = SgdTrainer::new(&sgd, &train, &RunContext::new(1, 42)).expect("sgd trainer");
    let id = format!("mf-report/k={}", sgd.factors);
    g.bench_function(BenchmarkId::new("sgd-epoch", id), |b| {
        b.iter(|| pool.install(|| t.epoch()))
    });
    drop(t);

    for path in [Path::Dense, Path::Sparse] {
        let config = AutoencoderConfig {
            path,
            ..AutoencoderConfig::report()
        };
        let mut t = pool
            .install(|| Trainer::new(&config, &train, 42))
            .expect("autoencoder trainer");
        let id = format!("autoencoder-report/h=100/batch={}", config.batch);
        let name = format!("{path:?}-epoch").to_lowercase();
        g.bench_function(BenchmarkId::new(name, id), |b| {
            b.iter(|| pool.install(|| black_box(t.run_epoch())))
        });
    }
    g.finish();
}

criterion::criterion_group!(benches, steps);
