//! Matrix factorisation (`movierec-mf`): the report's dense full-batch step
//! against one sparse SGD epoch (`mf/dense_step`, `mf/sgd_epoch`, ratings per
//! second), how both grow with density and size (`mf/sweep`), and SGD rating
//! updates per second on 1 and 2 threads (`mf/sgd_threads`), on a synthetic
//! matrix shaped like ml-latest-small (610 users, 9,724 items, 100,836
//! ratings, Zipf-like item popularity and user activity).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use movierec_core::{Rating, RatingMatrix, RatingScale, Ratings};
use movierec_mf::{DenseGdConfig, DenseTrainer, SgdConfig, SgdTrainer};

const USERS: usize = 610;
const ITEMS: usize = 9_724;
const RATINGS: usize = 100_836;
const SEED: u64 = 42;

/// SplitMix64: a tiny deterministic generator, enough for bench inputs.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `nnz` ratings over `users x items`: user activity falls as `rank^-0.6`
/// (at least `min(20, items)` each), item popularity as `rank^-1`; half-star
/// ratings from user and item offsets plus noise. Distinct pairs.
fn synthetic(users: usize, items: usize, nnz: usize) -> RatingMatrix {
    let mut rng = SplitMix(SEED);
    let floor = 20.min(items).min(nnz / users.max(1));
    let act: Vec<f64> = (1..=users).map(|r| (r as f64).powf(-0.6)).collect();
    let extra = nnz.saturating_sub(floor * users) as f64 / act.iter().sum::<f64>();
    let mut counts: Vec<usize> = act
        .iter()
        .map(|a| (floor + (a * extra) as usize).min(items))
        .collect();
    let mut short = nnz.saturating_sub(counts.iter().sum::<usize>());
    for c in counts.iter_mut() {
        if short == 0 {
            break;
        }
        let add = (items - *c).min(short);
        *c += add;
        short -= add;
    }
    let mut cum = Vec::with_capacity(items);
    let mut total = 0.0;
    for r in 1..=items {
        total += 1.0 / r as f64;
        cum.push(total);
    }
    let item_offset: Vec<f64> = (0..items).map(|_| rng.unit() - 0.5).collect();
    let mut entries = Vec::with_capacity(nnz);
    let mut taken = vec![u32::MAX; items];
    for (u, &c) in counts.iter().enumerate() {
        let user_offset = rng.unit() - 0.5;
        let mut got = 0;
        while got < c {
            // Popular items first by Zipf draw; fall back to a scan when the
            // user has taken most of the head.
            let x = rng.unit() * total;
            let mut i = cum.partition_point(|&v| v < x).min(items - 1);
            while taken[i] == u as u32 {
                i = (i + 1) % items;
            }
            taken[i] = u as u32;
            let r = 3.5 + user_offset + item_offset[i] + (rng.unit() - 0.5);
            let r = ((r * 2.0).round() / 2.0).clamp(0.5, 5.0) as f32;
            entries.push(Rating::new(u as u32, i as u32, r));
            got += 1;
        }
    }
    RatingMatrix::new(&Ratings::new(entries, users, items, RatingScale::default()))
        .expect("distinct synthetic pairs")
}

fn sgd(k: usize, threads: usize) -> SgdConfig {
    SgdConfig {
        factors: k,
        threads,
        lr_decay: 1.0,
        ..SgdConfig::default()
    }
}

fn dense(k: usize) -> DenseGdConfig {
    DenseGdConfig {
        factors: k,
        threads: 1,
        ..DenseGdConfig::default()
    }
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
        let mut t = DenseTrainer::new(&dense(k), &train).expect("dense trainer");
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
        let mut t = SgdTrainer::new(&sgd(k, 1), &train).expect("sgd trainer");
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
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("rayon pool");
        let mut t = pool
            .install(|| SgdTrainer::new(&sgd(100, threads), &train))
            .expect("trainer");
        group.bench_function(
            BenchmarkId::new("sgd", format!("ml-small-shape/k=100/threads={threads}")),
            |b| b.iter(|| pool.install(|| t.epoch())),
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
        let mut d = DenseTrainer::new(&dense(k), &train).expect("dense trainer");
        group.bench_function(BenchmarkId::new(format!("dense/k={k}"), &name), |b| {
            b.iter(|| black_box(d.step()))
        });
        drop(d);
        let mut s = SgdTrainer::new(&sgd(k, 1), &train).expect("sgd trainer");
        group.bench_function(BenchmarkId::new(format!("sgd/k={k}"), &name), |b| {
            b.iter(|| s.epoch())
        });
    }
    group.finish();
}

criterion::criterion_group!(benches, dense_vs_sparse, threads, sweep);
