//! Synthetic MovieLens-format data from a low-rank model, streamed to disk.
//!
//! Model: `r = mu + b_u + b_i + p_u . q_i + noise * e`, rounded to half
//! stars and clamped to 0.5..5. Item popularity and user activity follow
//! Zipf-like weights `1 / (rank + 1)^s` over seeded permutations, so ids and
//! popularity are unrelated. Item factors (`items * rank` floats) stay in
//! memory; user factors are drawn per user from that user's own RNG stream,
//! so memory does not grow with the number of ratings.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use movierec_core::{rng_for, Rng};
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, StandardNormal};

use crate::split::below;
use crate::{DataError, Result};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Number of users (ids 1..=users).
    pub users: usize,
    /// Number of movies (ids 1..=items), all listed in movies.csv.
    pub items: usize,
    /// Number of ratings; at most `users * items`.
    pub ratings: u64,
    /// Seed: the same seed writes the same bytes.
    pub seed: u64,
    /// Rank of the user-item interaction.
    pub rank: usize,
    /// Standard deviation of the Gaussian noise added before rounding.
    pub noise: f32,
}

impl Default for SynthConfig {
    /// 1,000 users, 2,000 movies, 100,000 ratings, seed 42, rank 8, noise 0.5.
    fn default() -> Self {
        Self {
            users: 1000,
            items: 2000,
            ratings: 100_000,
            seed: 42,
            rank: 8,
            noise: 0.5,
        }
    }
}

/// What [`write_synthetic`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynthSummary {
    /// Users with at least one rating (what a reader will count).
    pub users: usize,
    /// Movies with at least one rating.
    pub items: usize,
    /// Ratings written.
    pub ratings: u64,
    /// Size of ratings.csv in bytes.
    pub bytes: u64,
}

const GENRES: [&str; 18] = [
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// The largest sizes `synth` accepts, checked before anything is allocated:
/// per user it keeps about 28 bytes, per item `24 + 4 * rank`, so these
/// bound its memory near 1.6 GB (Netflix is 480k users and 17.8k movies,
/// ml-25m 162k and 59k).
pub const SYNTH_LIMITS: [(&str, usize); 4] = [
    ("users", 20_000_000),
    ("items", 10_000_000),
    ("rank", 1024),
    ("items x rank", 250_000_000),
];

/// Refuses a zero or over-limit size, naming it, its value and the limit.
fn check_sizes(cfg: &SynthConfig) -> Result<()> {
    let values = [
        cfg.users,
        cfg.items,
        cfg.rank,
        cfg.items.saturating_mul(cfg.rank),
    ];
    for ((name, limit), value) in SYNTH_LIMITS.into_iter().zip(values) {
        if value == 0 {
            return Err(DataError::Config(format!("synth: {name} must be positive")));
        }
        if value > limit {
            return Err(DataError::Config(format!(
                "synth: {name} {value} is over the limit of {limit} \
                 (memory: about 28 bytes per user and 24 + 4 x rank per item)"
            )));
        }
    }
    Ok(())
}

/// Streams: 0 = item model, 1 = user activity, 2 = catalog, 16 + u = user u.
const USER_STREAM: u64 = 16;

/// Writes `ratings.csv` and `movies.csv` (ml-latest format) into `out`,
/// creating it if needed. Each user's ratings are generated and written in
/// turn, sorted by movie id, with no repeated (user, movie) pair. Files are
/// written under a temporary name and renamed when complete, so a reader
/// never sees half a file.
///
/// # Errors
/// [`DataError::Config`] when a size is zero or `ratings > users * items`;
/// [`DataError::Io`] when writing fails.
pub fn write_synthetic(cfg: &SynthConfig, out: &Path) -> Result<SynthSummary> {
    check_sizes(cfg)?;
    if cfg.ratings > cfg.users as u64 * cfg.items as u64 {
        return Err(DataError::Config(format!(
            "synth: {} ratings do not fit in {} users x {} items",
            cfg.ratings, cfg.users, cfg.items
        )));
    }
    if !(cfg.noise.is_finite() && cfg.noise >= 0.0) {
        return Err(DataError::Config(format!(
            "synth: noise must be >= 0, got {}",
            cfg.noise
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| DataError::io(out, e))?;

    // Item model: biases, factors and popularity.
    let mut rng = rng_for(cfg.seed, 0);
    let scale = 0.8 / (cfg.rank as f32).sqrt();
    let item_bias: Vec<f32> = (0..cfg.items).map(|_| 0.5 * normal(&mut rng)).collect();
    let item_factors: Vec<f32> = (0..cfg.items * cfg.rank)
        .map(|_| scale * normal(&mut rng))
        .collect();
    let popularity = zipf_weights(cfg.items, 1.0, &mut rng);
    let pick = WeightedAliasIndex::new(popularity)
        .map_err(|e| DataError::Config(format!("synth: item weights: {e}")))?;

    let counts = activity(cfg, &mut rng_for(cfg.seed, 1));

    let ratings_path = out.join("ratings.csv");
    let mut w = Atomic::create(&ratings_path)?;
    w.write(b"userId,movieId,rating,timestamp\n")?;
    let mut taken = vec![0u64; cfg.items.div_ceil(64)];
    let mut ever = vec![0u64; cfg.items.div_ceil(64)];
    let mut chosen: Vec<u32> = Vec::new();
    let mut user_factors = vec![0f32; cfg.rank];
    let mut line = Vec::with_capacity(64);
    let (mut n_users, mut written) = (0usize, 0u64);
    for (u, &count) in counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        n_users += 1;
        let mut rng = rng_for(cfg.seed, USER_STREAM + u as u64);
        let user_bias = 0.4 * normal(&mut rng);
        for f in &mut user_factors {
            *f = scale * normal(&mut rng);
        }
        choose_items(
            count as usize,
            cfg.items,
            &pick,
            &mut taken,
            &mut chosen,
            &mut rng,
        );
        chosen.sort_unstable();
        // Timestamps: a start between 2000 and 2018, then up to two years of activity.
        let start = 946_684_800 + below(&mut rng, 18 * 365 * 86_400) as i64;
        for &i in &chosen {
            let i = i as usize;
            ever[i / 64] |= 1 << (i % 64);
            let q = &item_factors[i * cfg.rank..(i + 1) * cfg.rank];
            let dot: f32 = user_factors.iter().zip(q).map(|(a, b)| a * b).sum();
            let x = 3.5 + user_bias + item_bias[i] + dot + cfg.noise * normal(&mut rng);
            let half_stars = (x * 2.0).round().clamp(1.0, 10.0) as usize;
            let ts = start + below(&mut rng, 2 * 365 * 86_400) as i64;
            line.clear();
            push_int(&mut line, u as u64 + 1);
            line.push(b',');
            push_int(&mut line, i as u64 + 1);
            line.push(b',');
            line.extend_from_slice(HALF_STARS[half_stars - 1].as_bytes());
            line.push(b',');
            push_int(&mut line, ts as u64);
            line.push(b'\n');
            w.write(&line)?;
        }
        written += chosen.len() as u64;
    }
    let bytes = w.finish()?;

    let mut w = Atomic::create(&out.join("movies.csv"))?;
    w.write(b"movieId,title,genres\n")?;
    let mut rng = rng_for(cfg.seed, 2);
    for i in 0..cfg.items {
        let year = 1920 + below(&mut rng, 99);
        let n_genres = 1 + below(&mut rng, 3) as usize;
        let mut genres: Vec<&str> = (0..n_genres)
            .map(|_| GENRES[below(&mut rng, GENRES.len() as u64) as usize])
            .collect();
        genres.sort_unstable();
        genres.dedup();
        let row = format!(
            "{},Synthetic Movie {} ({year}),{}\n",
            i + 1,
            i + 1,
            genres.join("|")
        );
        w.write(row.as_bytes())?;
    }
    w.finish()?;

    Ok(SynthSummary {
        users: n_users,
        items: ever.iter().map(|w| w.count_ones() as usize).sum(),
        ratings: written,
        bytes,
    })
}

const HALF_STARS: [&str; 10] = [
    "0.5", "1.0", "1.5", "2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0",
];

fn normal(rng: &mut Rng) -> f32 {
    StandardNormal.sample(rng)
}

/// Zipf-like weights `1 / (rank + 1)^s`, ranks a seeded permutation of ids.
fn zipf_weights(n: usize, s: f64, rng: &mut Rng) -> Vec<f64> {
    let mut rank: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        rank.swap(i, below(rng, i as u64 + 1) as usize);
    }
    rank.iter()
        .map(|&r| 1.0 / ((r + 1) as f64).powf(s))
        .collect()
}

/// Ratings per user, summing to `cfg.ratings`, each at most `cfg.items`:
/// one each first (while there are enough), the rest by Zipf-like weights.
fn activity(cfg: &SynthConfig, rng: &mut Rng) -> Vec<u32> {
    let (n, cap) = (cfg.users, cfg.items as u64);
    let mut counts = vec![0u64; n];
    let base = cfg.ratings.min(n as u64);
    for c in counts.iter_mut().take(base as usize) {
        *c = 1;
    }
    let weights = zipf_weights(n, 0.8, rng);
    let mut left = cfg.ratings - base;
    // Proportional shares, capped; what the cap refuses is shared again
    // among users with room. Each round fills at least one user or finishes.
    while left > 0 {
        let open: Vec<usize> = (0..n).filter(|&u| counts[u] < cap).collect();
        let total: f64 = open.iter().map(|&u| weights[u]).sum();
        let mut given = 0;
        for &u in &open {
            let want = ((left as f64 * weights[u] / total).floor() as u64).min(cap - counts[u]);
            counts[u] += want;
            given += want;
        }
        if given == 0 {
            // Rounding left a remainder smaller than the number of open users.
            for &u in open.iter().take((left - given) as usize) {
                counts[u] += 1;
                given += 1;
            }
        }
        left -= given;
    }
    counts.into_iter().map(|c| c as u32).collect()
}

/// Draws `count` distinct items into `chosen`: by popularity with rejection
/// of repeats while that is cheap, else (a user rating more than half the
/// catalog) by a seeded partial shuffle of all items. `taken` is a bitset
/// left all-zero on return.
fn choose_items(
    count: usize,
    items: usize,
    pick: &WeightedAliasIndex<f64>,
    taken: &mut [u64],
    chosen: &mut Vec<u32>,
    rng: &mut Rng,
) {
    chosen.clear();
    if count * 2 > items {
        let mut all: Vec<u32> = (0..items as u32).collect();
        for k in 0..count {
            let j = k + below(rng, (items - k) as u64) as usize;
            all.swap(k, j);
        }
        chosen.extend_from_slice(&all[..count]);
        return;
    }
    let mut tries = 0usize;
    while chosen.len() < count {
        // Past 32 draws per item the popular head is exhausted: fill the rest uniformly.
        let i = if tries < 32 * count {
            pick.sample(rng)
        } else {
            below(rng, items as u64) as usize
        };
        tries += 1;
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if taken[word] & bit == 0 {
            taken[word] |= bit;
            chosen.push(i as u32);
        }
    }
    for &i in chosen.iter() {
        taken[i as usize / 64] = 0;
    }
}

fn push_int(buf: &mut Vec<u8>, mut x: u64) {
    let mut tmp = [0u8; 20];
    let mut k = tmp.len();
    loop {
        k -= 1;
        tmp[k] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[k..]);
}

/// A buffered file written under `NAME.tmp` and renamed to `NAME` on finish;
/// dropped unfinished, it removes the temporary file.
struct Atomic {
    tmp: PathBuf,
    dest: PathBuf,
    w: Option<BufWriter<File>>,
    bytes: u64,
}

impl Atomic {
    fn create(dest: &Path) -> Result<Self> {
        let mut name = dest.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let tmp = dest.with_file_name(name);
        let f = File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        Ok(Self {
            w: Some(BufWriter::with_capacity(1 << 20, f)),
            tmp,
            dest: dest.to_path_buf(),
            bytes: 0,
        })
    }

    fn write(&mut self, buf: &[u8]) -> Result<()> {
        self.bytes += buf.len() as u64;
        let w = self.w.as_mut().expect("written after finish");
        w.write_all(buf).map_err(|e| DataError::io(&self.tmp, e))
    }

    fn finish(mut self) -> Result<u64> {
        let w = self.w.take().expect("finished twice");
        let f = w
            .into_inner()
            .map_err(|e| DataError::io(&self.tmp, e.into_error()))?;
        f.sync_all().map_err(|e| DataError::io(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.dest).map_err(|e| DataError::io(&self.dest, e))?;
        Ok(self.bytes)
    }
}

impl Drop for Atomic {
    fn drop(&mut self) {
        if self.w.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_sums_and_respects_caps() {
        for (users, items, ratings) in [
            (10, 5, 50),
            (10, 5, 49),
            (100, 1000, 5000),
            (50, 3, 7),
            (3, 1, 3),
        ] {
            let cfg = SynthConfig {
                users,
                items,
                ratings,
                ..SynthConfig::default()
            };
            let c = activity(&cfg, &mut rng_for(1, 1));
            assert_eq!(c.iter().map(|&x| u64::from(x)).sum::<u64>(), ratings);
            assert!(c.iter().all(|&x| x as usize <= items));
        }
    }

    #[test]
    fn ints_format() {
        let mut b = Vec::new();
        push_int(&mut b, 0);
        b.push(b' ');
        push_int(&mut b, 1_234_567_890);
        assert_eq!(b, b"0 1234567890");
    }

    #[test]
    fn rejects_impossible_sizes() {
        let d = tempfile::tempdir().unwrap();
        let cfg = SynthConfig {
            users: 2,
            items: 2,
            ratings: 5,
            ..SynthConfig::default()
        };
        assert!(matches!(
            write_synthetic(&cfg, d.path()),
            Err(DataError::Config(_))
        ));
    }

    #[test]
    fn refuses_absurd_sizes_before_allocating() {
        let d = tempfile::tempdir().unwrap();
        for (users, items, rank, what) in [
            (
                1_000_000_000_000,
                10,
                8,
                "users 1000000000000 is over the limit",
            ),
            (10, 10_000_000_000, 8, "items 10000000000 is over the limit"),
            (
                10,
                10,
                1_000_000_000_000,
                "rank 1000000000000 is over the limit",
            ),
            (
                10,
                1_000_000,
                1000,
                "items x rank 1000000000 is over the limit",
            ),
            (0, 10, 8, "users must be positive"),
        ] {
            let cfg = SynthConfig {
                users,
                items,
                rank,
                ratings: 10,
                ..SynthConfig::default()
            };
            let e = write_synthetic(&cfg, d.path()).unwrap_err().to_string();
            assert!(e.contains(what), "{e}");
        }
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
