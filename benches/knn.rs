//! KNN (`movierec-knn`): the similarity build, sparse (the model's) against
//! dense `X^T X` through faer, in `knn/similarity` (items per second), and
//! prediction throughput in `knn/predict` (ratings per second), on a
//! synthetic matrix shaped like ml-latest-small (610 users, 9,724 items,
//! 100,836 ratings, Zipf-like item popularity and user activity); and in
//! `knn/capped-block-25m` one sampled block of the capped (blocked)
//! similarity build at the ml-25m shape (162,541 users, 59,047 movies, 25
//! million ratings): rows of the first movies (the costliest, whose upper
//! rows are longest) and of the middle, items per second. Building that
//! input takes some seconds, so the group runs few samples.

use movierec_core::RunContext;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use faer::Par;
use movierec_core::{Fit, NoopObserver, RatingMatrix, Ratings, Recommender, UserIdx};
use movierec_knn::{dense_similarities, sparse_similarities, CappedBlock, KnnConfig};
use rayon::prelude::*;

use crate::shape::{real_matrix, synthetic, RATINGS, USERS};

const ITEMS: usize = 9_724;

fn similarity(c: &mut Criterion) {
    let train =
        RatingMatrix::new(&synthetic(USERS, ITEMS, RATINGS)).expect("synthetic ratings are valid");
    let configs = [
        ("default", KnnConfig::default()),
        ("report", KnnConfig::report()),
    ];
    for (name, cfg) in &configs {
        let s = sparse_similarities(&train, cfg).expect("valid config");
        eprintln!(
            "knn/similarity {name}: sparse store {} pairs, {:.1} MB; dense result {:.1} MB, {:.1} MB at its peak",
            s.nnz(),
            s.memory_bytes() as f64 / 1e6,
            (ITEMS * ITEMS * 4) as f64 / 1e6,
            (3 * ITEMS * ITEMS * 4 + 3 * USERS * ITEMS * 4) as f64 / 1e6,
        );
    }
    let mut group = c.benchmark_group("knn/similarity");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(ITEMS as u64));
    let shape = format!("{USERS}x{ITEMS}");
    for (name, cfg) in &configs {
        group.bench_with_input(
            BenchmarkId::new(format!("sparse-{name}"), &shape),
            &train,
            |b, t| b.iter(|| black_box(sparse_similarities(t, cfg).expect("valid config"))),
        );
    }
    let report = KnnConfig::report();
    group.bench_with_input(
        BenchmarkId::new("dense-faer-report", &shape),
        &train,
        |b, t| {
            b.iter(|| {
                black_box(dense_similarities(t, &report, Par::rayon(0)).expect("valid config"))
            })
        },
    );
    // The real ml-latest-small, when `MOVIELENS_DIR` names it: its heavy
    // users make the build costlier than the synthetic shape.
    if let Some(real) = real_matrix("knn/similarity") {
        let shape = format!("{}x{}", real.n_users(), real.n_items());
        for (name, cfg) in &configs {
            group.bench_with_input(
                BenchmarkId::new(format!("sparse-{name}-ml-latest-small"), &shape),
                &real,
                |b, t| b.iter(|| black_box(sparse_similarities(t, cfg).expect("valid config"))),
            );
        }
    }
    group.finish();
}

fn predict(c: &mut Criterion) {
    let all = synthetic(USERS, ITEMS, RATINGS);
    // Every tenth rating is held out as the pairs to predict (about 10k).
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (p, r) in all.entries.iter().enumerate() {
        if p % 10 == 3 {
            test.push((r.user, r.item));
        } else {
            train.push(*r);
        }
    }
    let train = RatingMatrix::new(&Ratings::new(train, USERS, ITEMS, all.scale)).expect("valid");
    let mut group = c.benchmark_group("knn/predict");
    group.throughput(Throughput::Elements(test.len() as u64));
    let configs = [
        ("default", KnnConfig::default()),
        (
            "report-k40",
            KnnConfig {
                k_grid: vec![],
                ..KnnConfig::report()
            },
        ),
    ];
    for (name, cfg) in &configs {
        let model = cfg
            .fit(&train, None, &RunContext::default(), &mut NoopObserver)
            .expect("valid config");
        let id = format!("{}-pairs", test.len());
        group.bench_with_input(
            BenchmarkId::new(format!("{name}-seq"), &id),
            &test,
            |b, t| {
                b.iter(|| {
                    t.iter()
                        .map(|&(u, i)| model.predict(u, i).unwrap_or(0.0))
                        .sum::<f32>()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new(format!("{name}-par"), &id),
            &test,
            |b, t| {
                b.iter(|| {
                    let v: Vec<Option<f32>> =
                        t.par_iter().map(|&(u, i)| model.predict(u, i)).collect();
                    black_box(v)
                })
            },
        );
    }
    group.finish();
    // Scoring every item for a user (top-N): users per second.
    let mut group = c.benchmark_group("knn/score");
    group.sample_size(10);
    group.throughput(Throughput::Elements(USERS as u64));
    for (name, cfg) in &configs {
        let model = cfg
            .fit(&train, None, &RunContext::default(), &mut NoopObserver)
            .expect("valid config");
        group.bench_function(
            BenchmarkId::new(name.to_string(), format!("{USERS}-users")),
            |b| {
                b.iter(|| {
                    let v: Vec<f32> = (0..USERS as u32)
                        .into_par_iter()
                        .map_init(
                            || vec![0.0f32; ITEMS],
                            |out, u| {
                                model.score_into(UserIdx(u), out);
                                out[0]
                            },
                        )
                        .collect();
                    black_box(v)
                })
            },
        );
    }
    group.finish();
}

/// The ml-25m shape of the capped-block group.
const LARGE: (usize, usize, usize) = (162_541, 59_047, 25_000_095);
/// Movies per sampled block.
const BLOCK_ROWS: usize = 64;

fn capped_block(c: &mut Criterion) {
    let (users, items, nnz) = LARGE;
    let train =
        RatingMatrix::new(&synthetic(users, items, nnz)).expect("synthetic ratings are valid");
    let block = CappedBlock::new(&train, &KnnConfig::large()).expect("valid config");
    drop(train);
    let mut group = c.benchmark_group("knn/capped-block-25m");
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(BLOCK_ROWS as u64));
    let shape = format!("{users}x{items}");
    for (name, start) in [("first", 0), ("middle", items / 2)] {
        group.bench_with_input(
            BenchmarkId::new(format!("{name}-{BLOCK_ROWS}-rows"), &shape),
            &start,
            |b, &s| b.iter(|| black_box(block.run(s..s + BLOCK_ROWS))),
        );
    }
    group.finish();
}

criterion::criterion_group!(benches, similarity, predict);
criterion::criterion_group! {
    name = large;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500));
    targets = capped_block
}
