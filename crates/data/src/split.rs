//! Train / validation / test splits as positions into `ratings.entries`.
//!
//! Shuffles use a hand-written Fisher-Yates over the workspace RNG (ChaCha8)
//! with Lemire's unbiased bounded draw, so a seed gives the same split on any
//! platform and under any `rand` release (rand's own `shuffle` and
//! `random_range` do not promise that across versions).

use std::str::FromStr;

use movierec_core::{rng_for, Ratings, Rng};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{DataError, Result};

/// How ratings are split into train, validation and test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// The report's repeated holdout: shuffle all ratings, test first, then validation.
    Holdout,
    /// K-fold cross-validation over one shuffle.
    Kfold,
    /// Per user: a share of each user's ratings as test (and validation).
    UserHoldout,
    /// Per user: the latest ratings as test, the next latest as validation.
    Temporal,
}

impl FromStr for Protocol {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "holdout" => Ok(Self::Holdout),
            "kfold" => Ok(Self::Kfold),
            "user-holdout" => Ok(Self::UserHoldout),
            "temporal" => Ok(Self::Temporal),
            _ => Err(DataError::Config(format!(
                "protocol `{s}`: expected holdout, kfold, user-holdout or temporal"
            ))),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Holdout => "holdout",
            Self::Kfold => "kfold",
            Self::UserHoldout => "user-holdout",
            Self::Temporal => "temporal",
        })
    }
}

/// Split settings. Defaults are the report's: holdout, 10% test, 10% of the
/// rest as validation, 5 folds, 5 repeats, seed 42.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SplitConfig {
    /// Which protocol.
    pub protocol: Protocol,
    /// Share of ratings (or of each user's ratings) held out as test; unused by k-fold. Default 0.1.
    pub test_fraction: f64,
    /// Share of the remaining ratings held out as validation. Default 0.1.
    pub validation_fraction: f64,
    /// Number of folds for k-fold. Default 5.
    pub folds: usize,
    /// Number of repeats for the holdout protocols. Default 5.
    pub repeats: usize,
    /// Seed; repeat `r` draws from stream `r` of it. Default 42.
    pub seed: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            protocol: Protocol::Holdout,
            test_fraction: 0.1,
            validation_fraction: 0.1,
            folds: 5,
            repeats: 5,
            seed: 42,
        }
    }
}

impl SplitConfig {
    /// Checks every setting the protocol uses.
    ///
    /// # Errors
    /// [`DataError::Config`] naming the setting out of its domain.
    pub fn validate(&self) -> Result<()> {
        let frac = |name: &str, x: f64| {
            if (0.0..1.0).contains(&x) {
                Ok(())
            } else {
                Err(DataError::Config(format!(
                    "{name} must lie in [0, 1), got {x}"
                )))
            }
        };
        frac("validation_fraction", self.validation_fraction)?;
        match self.protocol {
            Protocol::Kfold if self.folds < 2 => Err(DataError::Config(format!(
                "folds must be at least 2, got {}",
                self.folds
            ))),
            Protocol::Kfold => Ok(()),
            Protocol::Holdout | Protocol::UserHoldout if self.repeats == 0 => {
                Err(DataError::Config("repeats must be at least 1".into()))
            }
            _ => frac("test_fraction", self.test_fraction),
        }
    }
}

/// One split: positions into `ratings.entries`, each part sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Positions to fit on.
    pub train: Vec<usize>,
    /// Positions for early stopping and tuning.
    pub validation: Vec<usize>,
    /// Positions to score.
    pub test: Vec<usize>,
}

/// Makes the splits of `cfg.protocol`.
///
/// - Holdout: repeat `r` shuffles all positions with `rng_for(seed, r)`;
///   test is the first `round(n * test_fraction)`, validation the next
///   `round(validation_fraction * rest)`, train the remainder.
/// - Kfold: one shuffle (stream 0), `folds` contiguous folds as test (sizes
///   differ by at most one); validation is carved from the front of each
///   training part, in shuffled order. `repeats` is ignored.
/// - UserHoldout: per user, `round(n_u * test_fraction)` of the user's
///   ratings as test, then `round(validation_fraction * rest)` as
///   validation, drawn from stream `r` (users in index order).
/// - Temporal: per user, the latest ratings (ties by position) as test, the
///   next latest as validation, with the per-user sizes above; one split.
///
/// # Errors
/// An invalid config, or `Temporal` without timestamps (or with a count
/// that differs from the ratings').
pub fn make_splits(
    ratings: &Ratings,
    timestamps: Option<&[i64]>,
    cfg: &SplitConfig,
) -> Result<Vec<Split>> {
    splits(ratings, timestamps, cfg)?.collect()
}

/// The splits of `cfg`, made one at a time as the iterator is advanced (the
/// same ones [`make_splits`] returns), after [`check_against`]: a caller
/// holds one split in memory whatever the number of repeats.
///
/// # Errors
/// As [`check_against`] up front; each item as [`make_split`].
pub fn splits<'a>(
    ratings: &'a Ratings,
    timestamps: Option<&'a [i64]>,
    cfg: &'a SplitConfig,
) -> Result<impl ExactSizeIterator<Item = Result<Split>> + 'a> {
    check_against(cfg, ratings.len())?;
    Ok((0..split_count(cfg)).map(move |index| make_split(ratings, timestamps, cfg, index)))
}

/// The most repeats (or folds) a protocol accepts: past a few hundred, the
/// 95% interval of a mean stops narrowing in any way that matters, and each
/// repeat is a full fit.
pub const MAX_REPEATS: usize = 1000;

/// How many splits `cfg` makes: `repeats`, `folds` or one (temporal).
pub fn split_count(cfg: &SplitConfig) -> usize {
    match cfg.protocol {
        Protocol::Holdout | Protocol::UserHoldout => cfg.repeats,
        Protocol::Kfold => cfg.folds,
        Protocol::Temporal => 1,
    }
}

/// Checks `cfg` and its sizes against `n` ratings before anything is
/// allocated: at most [`MAX_REPEATS`] repeats or folds, and no more folds
/// than ratings.
///
/// # Errors
/// [`DataError::Config`] naming the setting, its value and the limit.
pub fn check_against(cfg: &SplitConfig, n: usize) -> Result<()> {
    cfg.validate()?;
    let (name, value) = match cfg.protocol {
        Protocol::Kfold => ("folds", cfg.folds),
        _ => ("repeats", cfg.repeats),
    };
    if value > MAX_REPEATS {
        return Err(DataError::Config(format!(
            "{name} {value} is over the limit of {MAX_REPEATS}: each one is a full fit, and \
             more than a few hundred no longer narrow the 95% interval"
        )));
    }
    if cfg.protocol == Protocol::Kfold && cfg.folds > n {
        return Err(DataError::Config(format!(
            "folds {} is more than the {n} ratings: every fold needs a test rating",
            cfg.folds
        )));
    }
    Ok(())
}

/// Makes split `index` (a repeat or a fold) of `cfg.protocol`, the same one
/// [`make_splits`] returns at that position, so a caller can hold one split
/// at a time.
///
/// # Errors
/// As [`make_splits`], and `index` past [`split_count`].
pub fn make_split(
    ratings: &Ratings,
    timestamps: Option<&[i64]>,
    cfg: &SplitConfig,
    index: usize,
) -> Result<Split> {
    check_against(cfg, ratings.len())?;
    if index >= split_count(cfg) {
        return Err(DataError::Config(format!(
            "split {index} does not exist: the protocol makes {}",
            split_count(cfg)
        )));
    }
    let n = ratings.len();
    let (tf, vf) = (cfg.test_fraction, cfg.validation_fraction);
    Ok(match cfg.protocol {
        Protocol::Holdout => {
            let perm = permutation(n, &mut rng_for(cfg.seed, index as u64));
            let n_test = share(n, tf);
            let n_val = share(n - n_test, vf);
            split_from(
                &perm[..n_test],
                &perm[n_test..n_test + n_val],
                &perm[n_test + n_val..],
            )
        }
        Protocol::Kfold => {
            // Every fold cuts the same shuffle (stream 0).
            let perm = permutation(n, &mut rng_for(cfg.seed, 0));
            let k = index;
            let (a, b) = (k * n / cfg.folds, (k + 1) * n / cfg.folds);
            let rest: Vec<usize> = perm[..a].iter().chain(&perm[b..]).copied().collect();
            let n_val = share(rest.len(), vf);
            split_from(&perm[a..b], &rest[..n_val], &rest[n_val..])
        }
        Protocol::UserHoldout => {
            let by_user = positions_by_user(ratings);
            let mut rng = rng_for(cfg.seed, index as u64);
            per_user(&by_user, tf, vf, |p| shuffle(p, &mut rng))
        }
        Protocol::Temporal => {
            let ts = timestamps.ok_or_else(|| {
                DataError::Config(
                    "the temporal protocol needs timestamps, and this dataset has none".into(),
                )
            })?;
            if ts.len() != n {
                return Err(DataError::Config(format!(
                    "{} timestamps for {n} ratings",
                    ts.len()
                )));
            }
            let by_user = positions_by_user(ratings);
            // Oldest first, so the latest are at the front after reversing.
            per_user(&by_user, tf, vf, |p| {
                p.sort_unstable_by_key(|&i| (ts[i], i));
                p.reverse();
            })
        }
    })
}

/// Splits one given train file of `n` ratings into (train, validation):
/// `round(n * fraction)` seeded positions as validation, by the holdout rule
/// (stream 0 of `seed`). Both parts sorted.
pub fn carve_validation(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let perm = permutation(n, &mut rng_for(seed, 0));
    let n_val = share(n, fraction.clamp(0.0, 1.0));
    (sorted(&perm[n_val..]), sorted(&perm[..n_val]))
}

fn share(n: usize, fraction: f64) -> usize {
    ((n as f64 * fraction).round() as usize).min(n)
}

fn sorted(p: &[usize]) -> Vec<usize> {
    let mut v = p.to_vec();
    v.sort_unstable();
    v
}

fn split_from(test: &[usize], validation: &[usize], train: &[usize]) -> Split {
    Split {
        train: sorted(train),
        validation: sorted(validation),
        test: sorted(test),
    }
}

/// Each user's positions, in position order.
fn positions_by_user(ratings: &Ratings) -> Vec<Vec<usize>> {
    let mut by_user = vec![Vec::new(); ratings.n_users];
    for (p, r) in ratings.entries.iter().enumerate() {
        if r.user.get() >= by_user.len() {
            by_user.resize(r.user.get() + 1, Vec::new());
        }
        by_user[r.user.get()].push(p);
    }
    by_user
}

/// Orders each user's positions with `order`, then takes test from the
/// front, validation next, train the rest.
fn per_user(
    by_user: &[Vec<usize>],
    tf: f64,
    vf: f64,
    mut order: impl FnMut(&mut [usize]),
) -> Split {
    let (mut train, mut validation, mut test) = (Vec::new(), Vec::new(), Vec::new());
    let mut buf = Vec::new();
    for positions in by_user {
        buf.clear();
        buf.extend_from_slice(positions);
        order(&mut buf);
        let n_test = share(buf.len(), tf);
        let n_val = share(buf.len() - n_test, vf);
        test.extend_from_slice(&buf[..n_test]);
        validation.extend_from_slice(&buf[n_test..n_test + n_val]);
        train.extend_from_slice(&buf[n_test + n_val..]);
    }
    split_from(&test, &validation, &train)
}

/// A seeded permutation of `0..n`.
fn permutation(n: usize, rng: &mut Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    shuffle(&mut p, rng);
    p
}

/// Fisher-Yates shuffle.
fn shuffle(v: &mut [usize], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = below(rng, i as u64 + 1);
        v.swap(i, j as usize);
    }
}

/// A uniform draw from `0..n` (Lemire's multiply-and-reject, unbiased).
pub(crate) fn below(rng: &mut Rng, n: u64) -> u64 {
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use movierec_core::{Rating, RatingScale};
    use proptest::prelude::*;

    fn ratings(pairs: &[(u32, u32)]) -> Ratings {
        let n_users = pairs.iter().map(|p| p.0 + 1).max().unwrap_or(0) as usize;
        let n_items = pairs.iter().map(|p| p.1 + 1).max().unwrap_or(0) as usize;
        let entries = pairs.iter().map(|&(u, i)| Rating::new(u, i, 3.0)).collect();
        Ratings::new(entries, n_users, n_items, RatingScale::default())
    }

    fn assert_partition(s: &Split, n: usize) -> std::result::Result<(), TestCaseError> {
        let mut seen = vec![0u8; n];
        for &p in s.train.iter().chain(&s.validation).chain(&s.test) {
            prop_assert!(p < n);
            seen[p] += 1;
        }
        prop_assert!(seen.iter().all(|&c| c == 1), "not a partition");
        for part in [&s.train, &s.validation, &s.test] {
            prop_assert!(part.windows(2).all(|w| w[0] < w[1]), "not sorted");
        }
        Ok(())
    }

    fn within_one(got: usize, want: f64) -> bool {
        (got as f64 - want).abs() <= 1.0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn splits_are_seeded_partitions(
            // At least as many ratings as the most folds (fewer are refused).
            users in proptest::collection::vec(0u32..20, 5..300),
            proto in prop_oneof![Just(Protocol::Holdout), Just(Protocol::Kfold), Just(Protocol::UserHoldout)],
            tf in 0.05f64..0.5,
            vf in 0.0f64..0.5,
            folds in 2usize..6,
            seed in 0u64..1000,
        ) {
            let pairs: Vec<(u32, u32)> = users.iter().enumerate().map(|(i, &u)| (u, i as u32)).collect();
            let r = ratings(&pairs);
            let n = r.len();
            let cfg = SplitConfig { protocol: proto, test_fraction: tf, validation_fraction: vf, folds, repeats: 3, seed };
            let splits = make_splits(&r, None, &cfg).unwrap();
            prop_assert_eq!(splits.len(), if proto == Protocol::Kfold { folds } else { 3 });
            for s in &splits {
                assert_partition(s, n)?;
                match proto {
                    Protocol::Holdout => {
                        prop_assert!(within_one(s.test.len(), n as f64 * tf));
                        prop_assert!(within_one(s.validation.len(), (n - s.test.len()) as f64 * vf));
                    }
                    Protocol::Kfold => {
                        prop_assert!(within_one(s.test.len(), n as f64 / folds as f64));
                        prop_assert!(within_one(s.validation.len(), (n - s.test.len()) as f64 * vf));
                    }
                    _ => {
                        for u in 0..r.n_users as u32 {
                            let count = |part: &[usize]| part.iter().filter(|&&p| pairs[p].0 == u).count();
                            let (nt, nv, nr) = (count(&s.test), count(&s.validation), count(&s.train));
                            prop_assert!(within_one(nt, (nt + nv + nr) as f64 * tf));
                            prop_assert!(within_one(nv, (nv + nr) as f64 * vf));
                        }
                    }
                }
            }
            if proto == Protocol::Kfold {
                let mut tests: Vec<usize> = splits.iter().flat_map(|s| s.test.clone()).collect();
                tests.sort_unstable();
                prop_assert_eq!(tests, (0..n).collect::<Vec<_>>(), "folds must cover every rating once");
            }
            prop_assert_eq!(&make_splits(&r, None, &cfg).unwrap(), &splits);
            // Another seed gives another split once there are enough ways to
            // split (at least 20 test positions out of 40 or more).
            let other = make_splits(&r, None, &SplitConfig { seed: seed + 1, ..cfg.clone() }).unwrap();
            if splits[0].test.len() >= 20 && n >= 40 {
                prop_assert_ne!(&other[0].test, &splits[0].test);
            }
        }
    }

    #[test]
    fn holdout_sizes_follow_the_report() {
        let r = ratings(&(0..1000).map(|i| (i % 7, i)).collect::<Vec<_>>());
        let s = make_splits(&r, None, &SplitConfig::default()).unwrap();
        assert_eq!(s.len(), 5);
        assert_eq!(
            (s[0].test.len(), s[0].validation.len(), s[0].train.len()),
            (100, 90, 810)
        );
        assert_ne!(s[0].test, s[1].test, "repeats differ");
    }

    #[test]
    fn temporal_takes_each_users_latest() {
        // user 0: positions 0..5 with times 50, 10, 40, 20, 30; user 1: one rating.
        let r = ratings(&[(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (1, 0)]);
        let ts = [50, 10, 40, 20, 30, 7];
        let cfg = SplitConfig {
            protocol: Protocol::Temporal,
            test_fraction: 0.2,
            validation_fraction: 0.25,
            ..SplitConfig::default()
        };
        let s = make_splits(&r, Some(&ts), &cfg).unwrap();
        assert_eq!(
            s,
            vec![Split {
                test: vec![0],
                validation: vec![2],
                train: vec![1, 3, 4, 5]
            }]
        );
        let e = make_splits(&r, None, &cfg).unwrap_err().to_string();
        assert!(e.contains("needs timestamps"), "{e}");
    }

    #[test]
    fn config_is_checked_and_protocols_parse() {
        let r = ratings(&[(0, 0)]);
        let bad = SplitConfig {
            test_fraction: 1.5,
            ..SplitConfig::default()
        };
        assert!(make_splits(&r, None, &bad).is_err());
        let bad = SplitConfig {
            protocol: Protocol::Kfold,
            folds: 1,
            ..SplitConfig::default()
        };
        assert!(make_splits(&r, None, &bad).is_err());
        for p in [
            Protocol::Holdout,
            Protocol::Kfold,
            Protocol::UserHoldout,
            Protocol::Temporal,
        ] {
            assert_eq!(p.to_string().parse::<Protocol>().unwrap(), p);
        }
        assert!("random".parse::<Protocol>().is_err());
    }

    #[test]
    fn carve_is_seeded_and_partitions() {
        let (t, v) = carve_validation(100, 0.1, 42);
        assert_eq!((t.len(), v.len()), (90, 10));
        assert_eq!(carve_validation(100, 0.1, 42), (t.clone(), v.clone()));
        assert_ne!(carve_validation(100, 0.1, 43).1, v);
        let mut all: Vec<usize> = t.into_iter().chain(v).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn below_is_in_range() {
        let mut rng = rng_for(1, 0);
        for n in [1u64, 2, 3, 7, 1000] {
            for _ in 0..100 {
                assert!(below(&mut rng, n) < n);
            }
        }
    }
}
