//! The synthetic data the benches share: a ratings set shaped like
//! ml-latest-small (610 users, 100,836 ratings, Zipf-like item popularity
//! and user activity) over any number of items, from a fixed seed.

use movierec_core::{Rating, RatingMatrix, RatingScale, Ratings};

/// Users in ml-latest-small.
pub const USERS: usize = 610;
/// Ratings in ml-latest-small.
pub const RATINGS: usize = 100_836;
/// The seed of every synthetic input.
pub const SEED: u64 = 42;

/// The real ratings of `MOVIELENS_DIR`, or `None` (with a note naming the
/// skipped `what`) when it is not set.
pub fn real_ratings(what: &str) -> Option<Ratings> {
    let Some(dir) = std::env::var_os("MOVIELENS_DIR") else {
        eprintln!("MOVIELENS_DIR is not set: skipping {what} on ml-latest-small");
        return None;
    };
    let data = movierec_data::load(std::path::Path::new(&dir), &Default::default())
        .expect("MOVIELENS_DIR loads");
    Some(data.ratings)
}

/// [`real_ratings`] as a matrix.
pub fn real_matrix(what: &str) -> Option<RatingMatrix> {
    real_ratings(what).map(|r| RatingMatrix::new(&r).expect("valid ratings"))
}

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

/// `nnz` ratings over `users x items`, from [`SEED`]: user activity falls as
/// `rank^-0.6` (at least `min(20, items)` each; at ml-latest-small's shape
/// the busiest user rates about 3,200), item popularity as `rank^-1`;
/// half-star ratings from user and item offsets plus noise. Distinct pairs,
/// so `RatingMatrix::new` accepts them.
pub fn synthetic(users: usize, items: usize, nnz: usize) -> Ratings {
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
    Ratings::new(entries, users, items, RatingScale::default())
}
