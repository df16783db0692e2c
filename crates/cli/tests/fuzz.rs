//! The fuzz suite of issue 16: hostile input never panics.
//!
//! (a) Model files. Tiny models of every kind are fitted on a synthetic
//! rating set and written through the CLI's own store
//! (`Contents::to_bytes`, what `movierec train` saves). Each case mutates
//! the payload (bit flips, bytes set to boundary values, NaN and infinite
//! floats, truncations, varint length edits, insertions, deletions, splices
//! within the file and from another model of the same kind), reseals the
//! header's length and CRC exactly as the store writes them, then loads it
//! (`Saved::from_bytes`: decode, `validate`, the contents check) and, when
//! it loads, exercises what the commands do: scores, top-N with reasons,
//! fold-in, similar movies, predictions with the fallback. Every case must
//! either load and answer or be rejected with an error: a panic fails.
//!
//! (b) Text inputs: mutated `ratings.csv`/`movies.csv` folders through the
//! dataset reader (`movierec_data::load`), mutated `--config` TOML files
//! through the model table (`with_model`), and mutated `--ratings` files
//! and model files through the `movierec` binary itself (exit 0 or 1,
//! never a panic's 101 or a signal).
//!
//! The default run keeps the cases few (`FUZZ_CASES`, default 48 per model
//! target). `scripts/fuzz.sh` runs the ignored [`campaign`] in release mode
//! with 10,000 cases per target and writes `results/fuzz.md`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use clap::Parser;
use movierec_autoencoder::AutoencoderConfig;
use movierec_cli::models::{with_model, ModelArgs, ModelKind, ModelVisitor};
use movierec_cli::store::{CatalogMovie, Contents, Meta, Saved, HEADER_LEN};
use movierec_core::{
    top_k, BiasConfig, ConstantConfig, Fallback, Fit, IdMap, ItemIdx, NoopObserver, PopularConfig,
    Rating, RatingMatrix, RatingScale, Ratings, RunContext, UserIdx,
};
use movierec_ease::EaseConfig;
use movierec_ials::IalsConfig;
use movierec_knn::{KnnConfig, Neighbourhood};
use movierec_mf::{DenseGdConfig, SgdConfig};
use movierec_vae::VaeConfig;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde::de::DeserializeOwned;
use serde::Serialize;

// ---------------------------------------------------------------------------
// Targets: one saved model file per kind and variant.

/// One model file to mutate.
pub struct Target {
    /// Shown in the results.
    pub name: &'static str,
    /// The kind in the header.
    pub kind: ModelKind,
    /// The file's bytes, as `movierec train` writes them.
    pub bytes: Vec<u8>,
}

const N_USERS: u32 = 24;
const N_ITEMS: u32 = 18;

/// A small synthetic rating set (two taste groups, a few cold rows), its
/// raw ids, and the file contents around a model fitted on it.
fn ratings() -> Ratings {
    let mut entries = Vec::new();
    for u in 0..N_USERS {
        for i in 0..N_ITEMS {
            if (u * 7 + i * 5) % 4 != 0 && !(u == 5 && i > 2) {
                let like = (u < N_USERS / 2) == (i < N_ITEMS / 2);
                let r = if like { 4.0 } else { 1.5 } + f32::from(((u + i) % 3) as u8) * 0.5;
                entries.push(Rating::new(u, i, r));
            }
        }
    }
    Ratings::new(
        entries,
        N_USERS as usize,
        N_ITEMS as usize,
        RatingScale::default(),
    )
}

fn contents(r: &Ratings, m: &RatingMatrix) -> Contents {
    let train = movierec_cli::train::train_ratings(m);
    Contents {
        meta: Meta {
            name: "fuzz".into(),
            config: "{}".into(),
            dataset: "synthetic".into(),
            holdout: false,
            seed: 7,
            threads: 1,
            scale: r.scale,
        },
        users: IdMap::from_raw((0..N_USERS).map(|u| 100 + u64::from(u) * 3).collect()),
        items: IdMap::from_raw((0..N_ITEMS).map(|i| 1 + u64::from(i) * 2).collect()),
        train,
        catalog: (0..N_ITEMS + 2)
            .map(|i| CatalogMovie {
                id: 1 + u64::from(i) * 2,
                title: format!("Movie {i}, The ({})", 1980 + i),
                year: Some(1980 + i as i32),
                genres: vec!["Drama".into()],
            })
            .collect(),
        fallback: Fallback::Bias.fit(m),
    }
}

fn save<F>(name: &'static str, kind: ModelKind, config: F) -> Target
where
    F: Fit,
    F::Model: Serialize,
{
    let r = ratings();
    let m = RatingMatrix::new(&r).expect("valid ratings");
    let model = config
        .fit(&m, None, &RunContext::new(1, 7), &mut NoopObserver)
        .unwrap_or_else(|e| panic!("{name} fits: {e}"));
    let bytes = contents(&r, &m)
        .to_bytes(kind, &model)
        .expect("the model encodes");
    Target { name, kind, bytes }
}

/// Every target, fitted once per test binary.
pub fn targets() -> &'static [Target] {
    static T: OnceLock<Vec<Target>> = OnceLock::new();
    T.get_or_init(|| {
        use ModelKind as K;
        vec![
            save("bias", K::Bias, BiasConfig::default()),
            save("constant", K::Constant, ConstantConfig::default()),
            save("popular", K::Popular, PopularConfig {}),
            save("knn", K::Knn, KnnConfig::default()),
            save(
                "knn-report",
                K::Knn,
                KnnConfig {
                    k: 4,
                    k_grid: Vec::new(),
                    ..KnnConfig::report()
                },
            ),
            save(
                "knn-capped",
                K::Knn,
                KnnConfig {
                    k: 3,
                    max_neighbours: Some(5),
                    ..KnnConfig::default()
                },
            ),
            save(
                "knn-user-based",
                K::Knn,
                KnnConfig {
                    user_based: true,
                    neighbourhood: Neighbourhood::Report,
                    k: 5,
                    ..KnnConfig::default()
                },
            ),
            save(
                "mf-sgd",
                K::MfSgd,
                SgdConfig {
                    factors: 4,
                    epochs: 3,
                    ..SgdConfig::default()
                },
            ),
            save(
                "mf-dense",
                K::MfDense,
                DenseGdConfig {
                    factors: 3,
                    epochs: 4,
                    ..DenseGdConfig::default()
                },
            ),
            save(
                "autoencoder",
                K::Autoencoder,
                AutoencoderConfig {
                    hidden: vec![6],
                    epochs: 2,
                    batch: 8,
                    ..AutoencoderConfig::default()
                },
            ),
            save(
                "autoencoder-user-based",
                K::Autoencoder,
                AutoencoderConfig {
                    hidden: vec![5, 3],
                    epochs: 2,
                    batch: 8,
                    user_based: true,
                    ..AutoencoderConfig::default()
                },
            ),
            save(
                "ease",
                K::Ease,
                EaseConfig {
                    lambda_grid: Vec::new(),
                    ..EaseConfig::default()
                },
            ),
            save(
                "ials",
                K::Ials,
                IalsConfig {
                    factors: 4,
                    iterations: 2,
                    ..IalsConfig::default()
                },
            ),
            save(
                "mult-dae",
                K::MultDae,
                VaeConfig {
                    hidden: vec![6],
                    epochs: 2,
                    ..VaeConfig::dae()
                },
            ),
            save(
                "mult-vae",
                K::MultVae,
                VaeConfig {
                    hidden: vec![6],
                    epochs: 2,
                    ..VaeConfig::vae()
                },
            ),
        ]
    })
}

// ---------------------------------------------------------------------------
// Mutations.

/// One edit of a byte string; positions are picked within the current
/// length when the edit is applied.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// Flip one bit.
    Flip(Index, u8),
    /// Set one byte to a boundary value.
    Set(Index, u8),
    /// Overwrite 4 bytes with a special `f32` (NaN, infinities, huge).
    Float(Index, u32),
    /// Overwrite bytes with a varint of a boundary value (postcard's lengths
    /// and integers), replacing `len` bytes.
    Varint(Index, u64, usize),
    /// Cut the string at a point.
    Truncate(Index),
    /// Insert bytes.
    Insert(Index, Vec<u8>),
    /// Delete a run of bytes.
    Delete(Index, usize),
    /// Copy a run of the string over another place.
    CopyWithin(Index, Index, usize),
    /// Replace a run with a run of another file of the same kind.
    Splice(Index, Index, usize),
}

fn boundary_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        Just(0u8),
        Just(1),
        Just(0x7f),
        Just(0x80),
        Just(0xfe),
        Just(0xff),
        any::<u8>()
    ]
}

fn boundary_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(2),
        Just(127),
        Just(128),
        Just(255),
        Just(65_535),
        Just(u64::from(u32::MAX)),
        Just(1 << 32),
        Just(1 << 40),
        Just(u64::MAX / 2),
        Just(u64::MAX),
        any::<u64>()
    ]
}

fn special_f32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(f32::NAN.to_bits()),
        Just(f32::INFINITY.to_bits()),
        Just(f32::NEG_INFINITY.to_bits()),
        Just(f32::MAX.to_bits()),
        Just(f32::MIN.to_bits()),
        Just((-0.0f32).to_bits()),
        Just(1e-45f32.to_bits()),
        any::<u32>()
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(p, b)| Mutation::Flip(p, b)),
        3 => (any::<Index>(), boundary_byte()).prop_map(|(p, v)| Mutation::Set(p, v)),
        2 => (any::<Index>(), special_f32()).prop_map(|(p, v)| Mutation::Float(p, v)),
        3 => (any::<Index>(), boundary_u64(), 0usize..4)
            .prop_map(|(p, v, n)| Mutation::Varint(p, v, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), prop::collection::vec(boundary_byte(), 1..12))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        1 => (any::<Index>(), any::<Index>(), 1usize..64)
            .prop_map(|(a, b, n)| Mutation::CopyWithin(a, b, n)),
        1 => (any::<Index>(), any::<Index>(), 1usize..64)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

/// One to four mutations.
pub fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 1..5)
}

/// Applies `m` to `s`; `other` is the donor of splices.
pub fn apply(s: &mut Vec<u8>, m: &Mutation, other: &[u8]) {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
    match m {
        Mutation::Flip(p, b) if !s.is_empty() => {
            let i = at(p, s.len());
            s[i] ^= 1 << b;
        }
        Mutation::Set(p, v) if !s.is_empty() => {
            let i = at(p, s.len());
            s[i] = *v;
        }
        Mutation::Float(p, bits) if s.len() >= 4 => {
            let i = at(p, s.len() - 3);
            s[i..i + 4].copy_from_slice(&bits.to_le_bytes());
        }
        Mutation::Varint(p, v, n) => {
            let i = at(p, s.len() + 1);
            let end = (i + n).min(s.len());
            let mut enc = Vec::new();
            let mut x = *v;
            loop {
                let byte = (x & 0x7f) as u8;
                x >>= 7;
                if x == 0 {
                    enc.push(byte);
                    break;
                }
                enc.push(byte | 0x80);
            }
            s.splice(i..end, enc);
        }
        Mutation::Truncate(p) => {
            let i = at(p, s.len() + 1);
            s.truncate(i);
        }
        Mutation::Insert(p, b) => {
            let i = at(p, s.len() + 1);
            s.splice(i..i, b.iter().copied());
        }
        Mutation::Delete(p, n) if !s.is_empty() => {
            let i = at(p, s.len());
            let end = (i + n).min(s.len());
            s.drain(i..end);
        }
        Mutation::CopyWithin(a, b, n) if !s.is_empty() => {
            let from = at(a, s.len());
            let to = at(b, s.len());
            let n = (*n).min(s.len() - from).min(s.len() - to);
            s.copy_within(from..from + n, to);
        }
        Mutation::Splice(a, b, n) if !other.is_empty() && !s.is_empty() => {
            let from = at(a, other.len());
            let to = at(b, s.len());
            let n = (*n).min(other.len() - from);
            let end = (to + n).min(s.len());
            s.splice(to..end, other[from..from + n].iter().copied());
        }
        _ => {}
    }
}

/// The file with `muts` applied to its payload and the header's length and
/// CRC recomputed exactly as the store writes them, so that only the edit
/// is wrong.
pub fn mutated_file(file: &[u8], muts: &[Mutation], donor: &[u8]) -> Vec<u8> {
    let mut payload = file[HEADER_LEN..].to_vec();
    for m in muts {
        apply(&mut payload, m, &donor[HEADER_LEN..]);
    }
    let mut out = file[..HEADER_LEN].to_vec();
    out[32..40].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[..40]);
    crc.update(&payload);
    out[40..44].copy_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

// ---------------------------------------------------------------------------
// Outcomes.

/// What one case did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Loaded (or read) and every question answered.
    Answered,
    /// Refused with an error.
    Rejected,
    /// Panicked: the message.
    Panicked(String),
}

fn panic_text(e: Box<dyn std::any::Any + Send>) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs `f` and classifies it: `Ok(true)` answered, `Ok(false)` rejected.
pub fn outcome(f: impl FnOnce() -> bool) -> Outcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(true) => Outcome::Answered,
        Ok(false) => Outcome::Rejected,
        Err(e) => Outcome::Panicked(panic_text(e)),
    }
}

/// Loads a model file and, when it loads, asks it what the commands ask:
/// `recommend --user` (scores, top-N, reasons), `recommend --ratings`
/// (fold-in), `similar`, `predict` (with the fallback), and the harness's
/// top-N (`Recommender::recommend`).
pub fn load_and_exercise(bytes: &[u8]) -> bool {
    let Ok(saved) = Saved::from_bytes(bytes) else {
        return false;
    };
    exercise(&saved);
    true
}

fn exercise(saved: &Saved) {
    let (n_users, n_items) = (saved.users.len(), saved.items.len());
    let pick = |n: usize| -> Vec<usize> {
        let mut v: Vec<usize> = [0, n / 2, n.saturating_sub(1)]
            .into_iter()
            .filter(|&x| x < n)
            .collect();
        v.dedup();
        v
    };
    let seen = Ratings::new(
        (0..n_users)
            .flat_map(|u| {
                let (items, values) = saved.train.row(UserIdx(u as u32));
                items
                    .iter()
                    .zip(values)
                    .map(move |(&i, &r)| Rating::new(u as u32, i, r))
                    .collect::<Vec<_>>()
            })
            .collect(),
        n_users,
        n_items,
        saved.meta.scale,
    );
    let seen = RatingMatrix::new(&seen).ok();
    let mut scores = vec![f32::NAN; n_items];
    let _ = saved.train.item_counts(n_items);
    for u in pick(n_users) {
        let user = UserIdx(u as u32);
        saved.model.score_into(user, &mut scores);
        let (items, values) = saved.train.row(user);
        let rated: Vec<(ItemIdx, f32)> = items
            .iter()
            .zip(values)
            .map(|(&i, &r)| (ItemIdx(i), r))
            .collect();
        for (i, s) in top_k(&scores, 5) {
            let _ = saved.meta.scale.clamp(s);
            let _ = saved.model.reasons(&rated, i, 3);
        }
        for i in pick(n_items) {
            let _ = saved.estimate(Some(user), Some(ItemIdx(i as u32)));
            let _ = saved.model.predict(user, ItemIdx(i as u32));
        }
        let _ = saved.estimate(Some(user), None);
        let _ = saved.model.score_new_user(&rated, &mut scores);
        let _ = saved
            .model
            .score_new_user(&rated[..rated.len().min(1)], &mut scores);
        if let Some(m) = &seen {
            let _ = saved.model.recommend(user, 10, m);
        }
    }
    for i in pick(n_items) {
        let _ = saved.model.similar_items(ItemIdx(i as u32), 10);
        let _ = saved.estimate(None, Some(ItemIdx(i as u32)));
    }
    let _ = saved.estimate(None, None);
}

/// Counts of each outcome, and the first panics seen.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub answered: usize,
    pub rejected: usize,
    pub panicked: usize,
    pub panics: Vec<String>,
}

impl Tally {
    fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Answered => self.answered += 1,
            Outcome::Rejected => self.rejected += 1,
            Outcome::Panicked(p) => {
                self.panicked += 1;
                if self.panics.len() < 5 {
                    self.panics.push(p);
                }
            }
        }
    }

    fn cases(&self) -> usize {
        self.answered + self.rejected + self.panicked
    }
}

/// A proptest runner of `cases` cases from a fixed seed (reproducible),
/// without failure files (a panic is reported in the test's output).
fn runner(cases: u32, seed: u64) -> TestRunner {
    TestRunner::new(Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    })
}

fn cases_from_env(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `cases` mutated files of target `t`; panics are counted, and make
/// the proptest case fail (shrunk to a small reproduction).
pub fn fuzz_model(t: &Target, cases: u32, seed: u64) -> Tally {
    let donor = targets()
        .iter()
        .find(|o| o.kind == t.kind && o.name != t.name)
        .unwrap_or(t);
    let tally = RefCell::new(Tally::default());
    let result = runner(cases, seed).run(&mutations(), |muts| {
        let bytes = mutated_file(&t.bytes, &muts, &donor.bytes);
        let o = outcome(|| load_and_exercise(&bytes));
        record(&tally, o)
    });
    finish(tally, result)
}

// ---------------------------------------------------------------------------
// Text inputs.

const RATINGS_CSV: &str = "userId,movieId,rating,timestamp\n\
1,1,4.0,964982703\n1,3,4.0,964981247\n1,6,4.5,964982224\n\
2,1,3.0,964982931\n2,3,2.5,964983815\n2,7,5.0,964982400\n\
3,6,0.5,964980868\n3,7,3.5,964982176\n3,1,4.0,964984041\n\
\"4\",\"3\",\"2.0\",\"964980000\"\n";

const MOVIES_CSV: &str = "movieId,title,genres\n\
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n\
3,\"American President, The (1995)\",Comedy|Drama|Romance\n\
6,Heat (1995),Action|Crime|Thriller\n\
7,Sabrina (1995),Comedy|Romance\n";

const CONFIG_TOML: &str = "# settings\n\
[knn]\nk = 20\nsimilarity = \"pearson-baseline\"\nshrinkage = 100.0\nmax_neighbours = 50\n\
[mf-sgd]\nfactors = 10\nepochs = 3\nlr_factors = 0.01\nreg_factors = 0.05\n\
[mf-dense]\nfactors = 5\nepochs = 10\nlr = 0.001\n\
[autoencoder]\nhidden = [20, 10]\nepochs = 2\ndropout = 0.2\nbatch = 16\n\
[bias]\nreg_user = 15.0\nreg_item = 10.0\nepochs = 3\n\
[ease]\nlambda = 300.0\n\
[ials]\nfactors = 8\nreg = 0.01\nalpha = 1.0\n\
[mult-vae]\nhidden = [50]\nepochs = 2\n";

const NEW_USER_CSV: &str = "movie,rating\n1,4.5\n\
Movie 3, The (1983),2.0\n\"Movie 4, The (1984)\",5\n9,3.5\n";

/// Tokens worth splicing into text: numbers at the edges, separators,
/// quotes, escapes, long runs.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"NaN".to_vec()),
        Just(b"inf".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"0".to_vec()),
        Just(b"1e39".to_vec()),
        Just(b"18446744073709551616".to_vec()),
        Just(b"4294967296".to_vec()),
        Just(b"\"".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"=".to_vec()),
        Just(b"[[x]]".to_vec()),
        Just(b"\x1b[2J".to_vec()),
        Just(vec![0u8, 0xff, 0xfe]),
        Just("\u{feff}".as_bytes().to_vec()),
        Just(b"A".repeat(3000)),
        Just(b"9".repeat(400)),
        Just(b"1,1,4.0,0\n".repeat(50)),
    ]
}

/// Mutations of a text: byte edits, and tokens put in at random places
/// (inserted, or over a few deleted bytes).
fn text_mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let put = (any::<Index>(), token(), 0usize..4)
        .prop_map(|(p, t, n)| vec![Mutation::Delete(p, n), Mutation::Insert(p, t)]);
    let one = prop_oneof![2 => mutation().prop_map(|m| vec![m]), 3 => put];
    prop::collection::vec(one, 1..5).prop_map(|v| v.concat())
}

fn mutate_text(base: &str, muts: &[Mutation]) -> Vec<u8> {
    let mut s = base.as_bytes().to_vec();
    for m in muts {
        apply(&mut s, m, base.as_bytes());
    }
    s
}

/// A visitor that resolves a configuration and encodes it as `train`
/// records it, without fitting.
struct Resolve;

impl ModelVisitor for Resolve {
    type Output = ();
    fn visit<F>(&mut self, _kind: ModelKind, _name: &str, config: F) -> anyhow::Result<()>
    where
        F: Fit + Serialize + DeserializeOwned + Clone,
        F::Model: Serialize + DeserializeOwned,
    {
        serde_json::to_string(&config)?;
        Ok(())
    }
}

#[derive(Parser)]
struct ConfigFlags {
    #[command(flatten)]
    model: ModelArgs,
}

/// Every model kind resolved from a `--config` file; `true` when all
/// resolved.
fn resolve_config(path: &Path) -> bool {
    let Ok(flags) = ConfigFlags::try_parse_from(["movierec", "--config", path.to_str().unwrap()])
    else {
        return false;
    };
    let mut all = true;
    for &kind in <ModelKind as clap::ValueEnum>::value_variants() {
        all &= with_model(kind, &flags.model, &mut Resolve).is_ok();
    }
    all
}

fn read_dataset(dir: &Path) -> bool {
    match movierec_data::load(dir, &movierec_data::LoadOptions::default()) {
        Ok(ds) => {
            let _ = RatingMatrix::new(&ds.ratings);
            true
        }
        Err(_) => false,
    }
}

/// Mutated `ratings.csv` (with the movies file intact, or `movies.csv`
/// with the ratings intact) through the dataset reader, `cases` cases.
pub fn fuzz_ratings_files(cases: u32, seed: u64) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let tally = RefCell::new(Tally::default());
    let result = runner(cases, seed).run(&(text_mutations(), any::<bool>()), |(muts, movies)| {
        let (base, name, other, other_text) = if movies {
            (MOVIES_CSV, "movies.csv", "ratings.csv", RATINGS_CSV)
        } else {
            (RATINGS_CSV, "ratings.csv", "movies.csv", MOVIES_CSV)
        };
        std::fs::write(dir.path().join(name), mutate_text(base, &muts)).unwrap();
        std::fs::write(dir.path().join(other), other_text).unwrap();
        let o = outcome(|| read_dataset(dir.path()));
        record(&tally, o)
    });
    finish(tally, result)
}

/// Mutated `--config` TOML files through the model table, `cases` cases.
pub fn fuzz_config_files(cases: u32, seed: u64) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let tally = RefCell::new(Tally::default());
    let result = runner(cases, seed).run(&text_mutations(), |muts| {
        std::fs::write(&path, mutate_text(CONFIG_TOML, &muts)).unwrap();
        let o = outcome(|| resolve_config(&path));
        record(&tally, o)
    });
    finish(tally, result)
}

/// Counts one case's outcome; a panic fails the proptest case (to shrink it).
fn record(tally: &RefCell<Tally>, o: Outcome) -> Result<(), TestCaseError> {
    let failed = matches!(&o, Outcome::Panicked(_));
    let text = format!("{o:?}");
    tally.borrow_mut().add(o);
    if failed {
        return Err(TestCaseError::fail(text));
    }
    Ok(())
}

fn finish(tally: RefCell<Tally>, result: Result<(), impl std::fmt::Display>) -> Tally {
    let mut tally = tally.into_inner();
    if let Err(e) = result {
        tally.panics.push(format!("minimal case: {e}"));
    }
    tally
}

/// What the binary did: exit 0 answered, 1 (or clap's 2) rejected, anything
/// else (a panic's 101, a signal) a failure.
fn run_binary(args: &[&str]) -> Outcome {
    let o = Command::new(env!("CARGO_BIN_EXE_movierec"))
        .args(args)
        .env_remove("MOVIELENS_DIR")
        .output()
        .expect("the binary runs");
    match o.status.code() {
        Some(0) => Outcome::Answered,
        Some(1) | Some(2) => Outcome::Rejected,
        other => Outcome::Panicked(format!(
            "exit {other:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
    }
}

/// Mutated `--ratings` files (new users) and mutated model files through
/// `movierec recommend`, `similar` and `predict`, `cases` runs of the binary.
pub fn fuzz_binary(cases: u32, seed: u64) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let (model, ratings, pairs, out) = (
        dir.path().join("m.mrec"),
        dir.path().join("new-user.csv"),
        dir.path().join("pairs.csv"),
        dir.path().join("out.csv"),
    );
    std::fs::write(&pairs, "user,item\n100,1\n103,3\n9999,5\n").unwrap();
    let ts = targets();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let tally = RefCell::new(Tally::default());
    let strategy = (text_mutations(), mutations(), any::<Index>(), 0u8..4);
    let result = runner(cases, seed).run(&strategy, |(text, muts, which, command)| {
        let t = &ts[which.index(ts.len())];
        let o = if command == 0 {
            // A clean model, a mutated new user.
            std::fs::write(&model, &t.bytes).unwrap();
            std::fs::write(&ratings, mutate_text(NEW_USER_CSV, &text)).unwrap();
            run_binary(&[
                "recommend",
                "--quiet",
                "--model",
                &s(&model),
                "--ratings",
                &s(&ratings),
            ])
        } else {
            std::fs::write(&model, mutated_file(&t.bytes, &muts, &t.bytes)).unwrap();
            let m = s(&model);
            match command {
                1 => run_binary(&["recommend", "--quiet", "--model", &m, "--user", "103"]),
                2 => run_binary(&["similar", "--quiet", "--model", &m, "--movie", "3"]),
                _ => run_binary(&[
                    "predict",
                    "--quiet",
                    "--model",
                    &m,
                    "--pairs",
                    &s(&pairs),
                    "--out",
                    &s(&out),
                ]),
            }
        };
        record(&tally, o)
    });
    finish(tally, result)
}

// ---------------------------------------------------------------------------
// The default run: a few cases of each, in the ordinary `cargo test`.

fn assert_no_panic(what: &str, t: &Tally) {
    assert_eq!(
        t.panicked, 0,
        "{what}: {} panics: {:#?}",
        t.panicked, t.panics
    );
    assert!(t.cases() > 0, "{what}: no case ran");
}

#[test]
fn every_target_loads_unmutated() {
    for t in targets() {
        assert_eq!(
            outcome(|| load_and_exercise(&t.bytes)),
            Outcome::Answered,
            "{}",
            t.name
        );
        // Resealing an unedited payload changes nothing.
        assert_eq!(mutated_file(&t.bytes, &[], &t.bytes), t.bytes, "{}", t.name);
    }
}

#[test]
fn mutated_model_files_never_panic() {
    let cases = cases_from_env(48);
    for (k, t) in targets().iter().enumerate() {
        let tally = fuzz_model(t, cases, 1000 + k as u64);
        assert_no_panic(t.name, &tally);
        assert!(tally.rejected > 0, "{}: no mutation was rejected", t.name);
    }
}

#[test]
fn mutated_ratings_and_movies_files_never_panic() {
    assert_no_panic("ratings", &fuzz_ratings_files(cases_from_env(48) * 2, 2));
}

#[test]
fn mutated_config_files_never_panic() {
    assert_no_panic("config", &fuzz_config_files(cases_from_env(48) * 2, 3));
}

#[test]
fn mutated_new_user_and_model_files_never_panic_the_binary() {
    assert_no_panic("binary", &fuzz_binary(cases_from_env(48) / 2, 4));
}

// ---------------------------------------------------------------------------
// The long campaign (scripts/fuzz.sh).

/// `FUZZ_CASES` (default 10,000) mutated files per model target, as many
/// ratings/movies and config files, a tenth as many binary runs; writes the
/// table to `FUZZ_REPORT` (default `results/fuzz.md` under the workspace)
/// with the provenance line of `FUZZ_PROVENANCE`. Fails on any panic.
#[test]
#[ignore = "long: run by scripts/fuzz.sh in release mode"]
fn campaign() {
    let cases = cases_from_env(10_000);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let mut rows: BTreeMap<usize, (String, String, Tally, f64)> = BTreeMap::new();
    let mut add = |what: &str, input: &str, f: &mut dyn FnMut() -> Tally| {
        let start = std::time::Instant::now();
        let t = f();
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{what}: {} cases, {} answered, {} rejected, {} panicked ({secs:.1} s)",
            t.cases(),
            t.answered,
            t.rejected,
            t.panicked
        );
        rows.insert(rows.len(), (what.to_string(), input.to_string(), t, secs));
    };
    for (k, t) in targets().iter().enumerate() {
        let input = format!("`{}` model file", t.kind.name());
        add(t.name, &input, &mut || {
            fuzz_model(t, cases, seed.wrapping_mul(1000) + k as u64)
        });
    }
    add(
        "ratings.csv / movies.csv",
        "dataset folder (`movierec_data::load`)",
        &mut || fuzz_ratings_files(cases, seed + 1),
    );
    add(
        "config.toml",
        "`--config` for every model (`with_model`)",
        &mut || fuzz_config_files(cases, seed + 2),
    );
    add(
        "binary",
        "`recommend --ratings`, `recommend --user`, `similar`, `predict`",
        &mut || fuzz_binary((cases / 10).max(1), seed + 3),
    );
    let total: Tally = rows.values().fold(Tally::default(), |mut a, (_, _, t, _)| {
        a.answered += t.answered;
        a.rejected += t.rejected;
        a.panicked += t.panicked;
        a
    });
    let provenance = std::env::var("FUZZ_PROVENANCE").unwrap_or_else(|_| {
        format!("cargo test --release -p movierec-cli --test integration fuzz::campaign -- --ignored --exact; FUZZ_CASES={cases} FUZZ_SEED={seed}")
    });
    let mut md = format!("<!-- {provenance} -->\n\n# Fuzz campaign\n\n");
    md.push_str(&format!(
        "Mutated inputs through the code the CLI runs (issue 16): {cases} cases per model \
         target and per text reader, {} runs of the binary; proptest, seed {seed}. A model file \
         is mutated in its payload (bit flips, boundary bytes, NaN and infinite floats, varint \
         lengths, truncations, insertions, deletions, splices within it and from another model \
         of its kind) and resealed with a recomputed length and CRC, then loaded and, if it \
         loads, asked for scores, top-N with reasons, fold-in, similar movies and predictions. \
         Text inputs get byte edits and hostile tokens (NaN, huge numbers, quotes, separators, \
         control bytes, long runs). The binary must exit 0 or 1.\n\n",
        (cases / 10).max(1)
    ));
    md.push_str(
        "| target | input | cases | loaded and answered | rejected with an error | panicked | seconds |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (what, input, t, secs) in rows.values() {
        md.push_str(&format!(
            "| {what} | {input} | {} | {} | {} | {} | {secs:.1} |\n",
            t.cases(),
            t.answered,
            t.rejected,
            t.panicked
        ));
    }
    md.push_str(&format!(
        "| **all** | | {} | {} | {} | {} | |\n",
        total.cases(),
        total.answered,
        total.rejected,
        total.panicked
    ));
    let panics: Vec<&String> = rows.values().flat_map(|r| &r.2.panics).collect();
    md.push_str(&format!(
        "\n{} panics.\n",
        if total.panicked == 0 {
            "Zero".to_string()
        } else {
            total.panicked.to_string()
        }
    ));
    for p in &panics {
        md.push_str(&format!(
            "\n- `{}`\n",
            p.replace('`', "'").replace('\n', " ")
        ));
    }
    let report = std::env::var("FUZZ_REPORT")
        .unwrap_or_else(|_| format!("{}/../../results/fuzz.md", env!("CARGO_MANIFEST_DIR")));
    std::fs::write(&report, md).unwrap();
    eprintln!("wrote {report}");
    assert_eq!(total.panicked, 0, "panics: {panics:#?}");
}

#[test]
fn unmutated_text_inputs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ratings.csv"), RATINGS_CSV).unwrap();
    std::fs::write(dir.path().join("movies.csv"), MOVIES_CSV).unwrap();
    assert!(read_dataset(dir.path()));
    let path = dir.path().join("config.toml");
    std::fs::write(&path, CONFIG_TOML).unwrap();
    let flags =
        ConfigFlags::try_parse_from(["movierec", "--config", path.to_str().unwrap()]).unwrap();
    for &kind in <ModelKind as clap::ValueEnum>::value_variants() {
        if let Err(e) = with_model(kind, &flags.model, &mut Resolve) {
            panic!("{}: {e:#}", kind.name());
        }
    }
}
