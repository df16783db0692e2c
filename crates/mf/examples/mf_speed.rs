//! Times the pieces of one SGD epoch on a synthetic ml-latest-small-shaped
//! matrix: `cargo run --release -p movierec-mf --example mf_speed`.

use std::time::Instant;

use movierec_core::{rng_for, Rating, RatingMatrix, RatingScale, Ratings};
use movierec_mf::{SgdConfig, SgdTrainer};
use rand::seq::SliceRandom;
use rand::Rng as _;

fn main() {
    #[cfg(target_arch = "x86_64")]
    println!(
        "avx512f {}, avx2 {}, fma {}",
        std::arch::is_x86_feature_detected!("avx512f"),
        std::arch::is_x86_feature_detected!("avx2"),
        std::arch::is_x86_feature_detected!("fma")
    );
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usize"))
        .collect();
    let mut rng = rng_for(1, 1);
    let (nu, ni, nnz) = match args[..] {
        [u, i, n] => (u, i, n),
        _ => (610usize, 9724usize, 100_836usize),
    };
    println!("{nu} users x {ni} items, {nnz} ratings");
    let mut seen = std::collections::HashSet::new();
    let mut entries = Vec::new();
    while entries.len() < nnz {
        let u = (rng.random::<f64>().powi(2) * nu as f64) as u32;
        let i = (rng.random::<f64>().powi(3) * ni as f64) as u32;
        if seen.insert((u, i)) {
            entries.push(Rating::new(
                u,
                i,
                1.0 + (rng.random::<f32>() * 8.0).round() / 2.0,
            ));
        }
    }
    let train = RatingMatrix::new(&Ratings::new(entries, nu, ni, RatingScale::default())).unwrap();
    let mut v: Vec<[u32; 3]> = (0..nnz as u32).map(|x| [x, x, x]).collect();
    let t = Instant::now();
    for e in 0..20 {
        v.shuffle(&mut rng_for(3, e));
    }
    println!(
        "shuffle of {nnz} x 12 B: {:.3} ms",
        t.elapsed().as_secs_f64() * 50.0
    );
    for threads in [1, 2] {
        for k in [10, 50, 100, 128] {
            let c = SgdConfig {
                factors: k,
                threads,
                ..SgdConfig::default()
            };
            let mut tr = SgdTrainer::new(&c, &train).unwrap();
            tr.epoch();
            let t = Instant::now();
            let n = 20;
            for _ in 0..n {
                tr.epoch();
            }
            let s = t.elapsed().as_secs_f64() / n as f64;
            println!(
                "threads {threads} k {k:3}: epoch {:.3} ms, {:.1} M updates/s",
                s * 1e3,
                nnz as f64 / s / 1e6
            );
        }
    }
}
