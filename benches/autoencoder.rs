//! Autoencoder (`movierec-autoencoder`): one mini-batch's forward pass
//! (`autoencoder/forward`) and forward plus backward pass
//! (`autoencoder/backward`), dense (faer products over the whole batch
//! matrix, the report's numpy) against sparse (observed entries only), and a
//! whole training epoch (`autoencoder/epoch`), on a synthetic matrix shaped
//! like ml-latest-small (9,742 items x 610 users, 100,836 ratings, about
//! 1.7% observed). Hidden layers 100 (the report's final net) and 300-150
//! (its first design), batches of 64 and 512 items. Throughput: observed
//! ratings per second. `autoencoder/epoch_large`: an epoch at the ml-25m
//! shape (162,541 users per item vector), sampled to a tenth of the movies.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use movierec_autoencoder::{
    AutoencoderConfig, Batch, Network, Path, Penalties, Reduction, Trainer, Workspace,
};
use movierec_core::{rng_for, RatingMatrix};

use crate::shape::{synthetic, RATINGS, SEED, USERS};

const ITEMS: usize = 9_742;

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
        let mut trainer = Trainer::new(&config, train, 42).unwrap();
        let id = BenchmarkId::new(
            format!("{path:?}").to_lowercase(),
            format!("h={}/batch={batch}", shape(&hidden)),
        );
        g.bench_function(id, |b| b.iter(|| black_box(trainer.run_epoch())));
    }
    g.finish();
}

/// One epoch of the item-based net at the ml-25m shape: every item vector
/// 162,541 users long (so the first and output layers are ml-25m's, 8
/// million weights each at 50 units), sampled to 5,904 of its 59,047
/// movies with their share of the ratings (2.5 million of 25 million), so
/// an iteration is a tenth of a full epoch. [`AutoencoderConfig::large`]
/// (lazy Adam) against the defaults' dense Adam, on 2 threads (the model is
/// the same for any count). Ratings per second.
fn large(c: &mut Criterion) {
    let train = RatingMatrix::new(&synthetic(162_541, 5_904, 2_500_000)).unwrap();
    let mut g = c.benchmark_group("autoencoder/epoch_large");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(train.nnz() as u64));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for (name, config) in [
        ("large", AutoencoderConfig::large()),
        ("default", AutoencoderConfig::default()),
    ] {
        let mut trainer = Trainer::new(&config, &train, 42).unwrap();
        let id = BenchmarkId::new(
            name,
            format!(
                "ml-25m-shape/2.5M/h={}/batch={}/threads=2",
                shape(&config.hidden),
                config.batch
            ),
        );
        g.bench_function(id, |b| {
            b.iter(|| pool.install(|| black_box(trainer.run_epoch())))
        });
    }
    g.finish();
}

fn all(c: &mut Criterion) {
    let train = RatingMatrix::new(&synthetic(USERS, ITEMS, RATINGS)).unwrap();
    passes(c, &train);
    epochs(c, &train);
    large(c);
}

criterion::criterion_group!(benches, all);
