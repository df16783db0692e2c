//! Autoencoder (`movierec-autoencoder`): one mini-batch's forward pass
//! (`autoencoder/forward`) and forward plus backward pass
//! (`autoencoder/backward`), dense (faer products over the whole batch
//! matrix, the report's numpy) against sparse (observed entries only), and a
//! whole training epoch (`autoencoder/epoch`), on a synthetic matrix shaped
//! like ml-latest-small (9,742 items x 610 users, 100,836 ratings, about
//! 1.7% observed). Hidden layers 100 (the report's final net) and 300-150
//! (its first design), batches of 64 and 512 items. Throughput: observed
//! ratings per second.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use movierec_autoencoder::{
    AutoencoderConfig, Batch, Network, Path, Penalties, Reduction, Trainer, Workspace,
};
use movierec_core::{rng_for, Rating, RatingMatrix, RatingScale, Ratings};

const USERS: usize = 610;
const ITEMS: usize = 9_742;
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

/// ml-latest-small-shaped ratings: user activity falling as `rank^-0.6`
/// (at least 20 each), item popularity as `rank^-1`, half-star ratings from
/// user and item offsets plus noise.
fn synthetic() -> RatingMatrix {
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
            let i = cum
                .partition_point(|&c| c <= rng.unit() * total)
                .min(ITEMS - 1);
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
    RatingMatrix::new(&Ratings::new(entries, USERS, ITEMS, RatingScale::default())).unwrap()
}

fn shape(hidden: &[usize]) -> String {
    hidden
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join("-")
}

/// A batch of `size` items spread over the popularity range (every
/// `ITEMS / size`-th item), so its density is the matrix's.
fn batch_of(train: &RatingMatrix, size: usize) -> Batch {
    let rows: Vec<usize> = (0..size).map(|k| k * (ITEMS / size)).collect();
    Batch::new(train, false, &rows, 0.0, 0)
}

fn passes(c: &mut Criterion, train: &RatingMatrix) {
    let pen = Penalties {
        beta: 0.002,
        l1_share: 0.9,
        gamma: 0.01,
        reduction: Reduction::Mean,
    };
    for (group, backward) in [
        ("autoencoder/forward", false),
        ("autoencoder/backward", true),
    ] {
        let mut g = c.benchmark_group(group);
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(2));
        for hidden in [vec![100], vec![300, 150]] {
            let net = Network::new(
                USERS,
                &hidden,
                movierec_autoencoder::Output::Relu,
                1.0,
                3.5,
                &mut rng_for(SEED, 0),
            );
            let mut grad = vec![0.0; net.n_params()];
            for size in [64, 512] {
                let batch = batch_of(train, size);
                g.throughput(Throughput::Elements(batch.nnz() as u64));
                for path in [Path::Dense, Path::Sparse] {
                    let mut ws = Workspace::new(path, &net);
                    let id = BenchmarkId::new(
                        format!("{path:?}").to_lowercase(),
                        format!("h={}/batch={size}", shape(&hidden)),
                    );
                    g.bench_function(id, |b| {
                        b.iter(|| {
                            let loss = ws.forward(&net, &batch, &pen);
                            if backward {
                                ws.backward(&net, &batch, &pen, &mut grad);
                            }
                            black_box((loss, grad[0]))
                        })
                    });
                }
            }
        }
        g.finish();
    }
}

fn epochs(c: &mut Criterion, train: &RatingMatrix) {
    let mut g = c.benchmark_group("autoencoder/epoch");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(train.nnz() as u64));
    let mut cases: Vec<(Vec<usize>, usize, Path)> = Vec::new();
    for hidden in [vec![100], vec![300, 150]] {
        for batch in [64, 512] {
            cases.push((hidden.clone(), batch, Path::Sparse));
        }
    }
    cases.push((vec![100], 512, Path::Dense));
    for (hidden, batch, path) in cases {
        let config = AutoencoderConfig {
            hidden: hidden.clone(),
            batch,
            path,
            ..AutoencoderConfig::report()
        };
        let mut trainer = Trainer::new(&config, train).unwrap();
        let id = BenchmarkId::new(
            format!("{path:?}").to_lowercase(),
            format!("h={}/batch={batch}", shape(&hidden)),
        );
        g.bench_function(id, |b| b.iter(|| black_box(trainer.run_epoch())));
    }
    g.finish();
}

fn all(c: &mut Criterion) {
    let train = synthetic();
    passes(c, &train);
    epochs(c, &train);
}

criterion::criterion_group!(benches, all);
