//! KNN (`movierec-knn`): the similarity build, sparse (the model's) against
//! dense `X^T X` through faer, in `knn/similarity` (items per second), and
//! prediction throughput in `knn/predict` (ratings per second), on a
//! synthetic matrix shaped like ml-latest-small (610 users, 9,724 items,
//! 100,836 ratings, Zipf-like item popularity and user activity).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use faer::Par;
use movierec_core::{
    Fit, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings, Recommender, UserIdx,
};
use movierec_knn::{dense_similarities, sparse_similarities, KnnConfig};
use rayon::prelude::*;

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

/// ml-latest-small-shaped ratings: every user rates at least 20 items,
/// activity falls as `rank^-0.6` (the busiest user rates about 2,900) and
/// popularity as `rank^-1` over the items; ratings are half stars from
/// user and item offsets plus noise.
fn synthetic() -> Ratings {
    let mut rng = SplitMix(SEED);
    let act: Vec<f64> = (1..=USERS).map(|r| (r as f64).powf(-0.6)).collect();
    let extra = (RATINGS - 20 * USERS) as f64 / act.iter().sum::<f64>();
    let mut counts: Vec<usize> = act.iter().map(|a| 20 + (a * extra) as usize).collect();
    let short = RATINGS - counts.iter().sum::<usize>();
    for c in counts.iter_mut().take(short) {
        *c += 1;
    }
    let mut cum = Vec::with_capacity(ITEMS);
    let mut total = 0.0;
    for r in 1..=ITEMS {
        total += 1.0 / r as f64;
        cum.push(total);
    }
    let item_offset: Vec<f64> = (0..ITEMS).map(|_| rng.unit() - 0.5).collect();
    let mut entries = Vec::with_capacity(RATINGS);
    let mut taken = vec![false; ITEMS];
    for (u, &n) in counts.iter().enumerate() {
        let user_offset = rng.unit() - 0.5;
        let mut mine = Vec::with_capacity(n);
        while mine.len() < n {
            let x = rng.unit() * total;
            let i = cum.partition_point(|&c| c <= x).min(ITEMS - 1);
            if !std::mem::replace(&mut taken[i], true) {
                mine.push(i);
            }
        }
        for &i in &mine {
            taken[i] = false;
            let r = 3.5 + user_offset + item_offset[i] + (rng.unit() - 0.5) * 2.0;
            let r = ((r * 2.0).round() / 2.0).clamp(0.5, 5.0) as f32;
            entries.push(Rating::new(u as u32, i as u32, r));
        }
    }
    Ratings::new(entries, USERS, ITEMS, RatingScale::default())
}

fn similarity(c: &mut Criterion) {
    let train = RatingMatrix::new(&synthetic()).expect("synthetic ratings are valid");
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
    group.finish();
}

fn predict(c: &mut Criterion) {
    let all = synthetic();
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
            .fit(&train, None, &mut NoopObserver)
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
            .fit(&train, None, &mut NoopObserver)
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

criterion::criterion_group!(benches, similarity, predict);
