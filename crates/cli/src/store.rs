//! The saved-model file (`.mrec`): a fixed header, then a postcard payload.
//!
//! ```text
//! offset size  field
//!      0    8  magic "MOVIEREC"
//!      8    4  format version (u32 LE), FORMAT_VERSION
//!     12    4  model kind (u32 LE): `ModelKind::code` of the model table
//!     16   16  movierec version that wrote it (ASCII, NUL-padded)
//!     32    8  payload length in bytes (u64 LE)
//!     40    4  CRC-32 (IEEE) of bytes 0..40 and of the payload
//!     44    .  payload: `Contents` as postcard, then the model as postcard
//! ```
//!
//! The checksum covers the header too, so any flipped byte is caught before
//! the payload is decoded; the length catches truncation and trailing bytes.
//! postcard (compact, serde, maintained; bincode is not) stores `f32` as 4
//! little-endian bytes, so the large factor and similarity arrays decode at
//! memory speed. The model is decoded by the model table (`decode_model`),
//! which runs the model's own `validate`; then [`Saved::check`] verifies
//! the sizes the commands rely on, so a file that decodes but does not fit
//! together is an error too, not a panic.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, ensure, Context};
use movierec_core::{FallbackModel, IdMap, ItemIdx, RatingScale, Recommender, UserIdx};
use serde::{Deserialize, Serialize};

use crate::models::{decode_model, ModelKind};

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"MOVIEREC";
/// The layout of header and payload; bumped when either changes.
pub const FORMAT_VERSION: u32 = 2;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 44;

/// Everything a saved model holds besides the model itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contents {
    /// What the model was fitted on and how.
    pub meta: Meta,
    /// Raw user ids in dense order.
    pub users: IdMap,
    /// Raw movie ids in dense order.
    pub items: IdMap,
    /// The training ratings, by user (to leave out what a user has rated,
    /// and to count each movie's ratings).
    pub train: TrainRatings,
    /// The catalogue's movies (titles, years, genres), rated or not.
    pub catalog: Vec<CatalogMovie>,
    /// Estimates for pairs the model cannot score (`predict`).
    pub fallback: FallbackModel,
}

/// A loaded model file: its contents and the model, behind the traits every
/// command uses (scoring, fold-in, similar movies).
pub struct Saved {
    /// Ids, training ratings, titles, fallback.
    pub contents: Contents,
    /// The fitted model.
    pub model: Box<dyn Recommender>,
}

impl std::ops::Deref for Saved {
    type Target = Contents;
    fn deref(&self) -> &Contents {
        &self.contents
    }
}

impl std::ops::DerefMut for Saved {
    fn deref_mut(&mut self) -> &mut Contents {
        &mut self.contents
    }
}

impl Contents {
    /// What `train` saves beside a model fitted on `ds`: its ids, titles and
    /// scale, the training ratings and the fallback. The model's `name` and
    /// `config` are filled in once it is fitted.
    pub fn for_dataset(
        ds: &movierec_data::Dataset,
        holdout: bool,
        seed: u64,
        threads: usize,
        train: TrainRatings,
        fallback: FallbackModel,
    ) -> Self {
        Self {
            meta: Meta {
                name: String::new(),
                config: String::new(),
                dataset: ds.name.clone(),
                holdout,
                seed,
                threads,
                scale: ds.ratings.scale,
            },
            users: ds.users.clone(),
            items: ds.items.clone(),
            train,
            catalog: CatalogMovie::all_of(&ds.catalog),
            fallback,
        }
    }
}

/// How a model was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The model's name as `evaluate` prints it (e.g. `knn-report`).
    pub name: String,
    /// The resolved configuration, as JSON (for the record).
    pub config: String,
    /// The dataset's name.
    pub dataset: String,
    /// Whether the protocol's test set (split 0 of `--seed`) was kept out.
    pub holdout: bool,
    /// The seed of that split and of the model's random choices.
    pub seed: u64,
    /// Worker threads of the fit (with the seed, what makes it reproducible).
    pub threads: usize,
    /// The rating scale (scores are clamped to it).
    pub scale: RatingScale,
}

/// The training ratings as compressed rows by user (dense indices).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TrainRatings {
    /// Row `u` is `items[ptr[u]..ptr[u + 1]]`.
    pub ptr: Vec<u64>,
    /// Rated items, sorted within each row.
    pub items: Vec<u32>,
    /// The ratings.
    pub values: Vec<f32>,
}

impl TrainRatings {
    /// The items `user` rated, sorted, and the ratings.
    pub fn row(&self, user: UserIdx) -> (&[u32], &[f32]) {
        let r = self.ptr[user.get()] as usize..self.ptr[user.get() + 1] as usize;
        (&self.items[r.clone()], &self.values[r])
    }

    /// Ratings per item.
    pub fn item_counts(&self, n_items: usize) -> Vec<u32> {
        let mut counts = vec![0u32; n_items];
        for &i in &self.items {
            counts[i as usize] += 1;
        }
        counts
    }
}

/// One catalogue movie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogMovie {
    /// Raw MovieLens id.
    pub id: u64,
    /// Title with year, as MovieLens writes it.
    pub title: String,
    /// Release year, when the title has one.
    pub year: Option<i32>,
    /// Genres.
    pub genres: Vec<String>,
}

impl CatalogMovie {
    /// Every movie of a dataset's catalogue, as saved with a model.
    pub fn all_of(catalog: &movierec_data::Catalog) -> Vec<Self> {
        catalog
            .iter()
            .map(|m| Self {
                id: m.id,
                title: m.title.clone(),
                year: m.year,
                genres: m.genres.clone(),
            })
            .collect()
    }
}

impl Contents {
    /// The file's bytes: header, then payload (these contents, then `model`).
    pub fn to_bytes(&self, kind: ModelKind, model: &impl Serialize) -> anyhow::Result<Vec<u8>> {
        let mut payload = postcard::to_stdvec(self).context("encoding the model")?;
        payload.extend(postcard::to_stdvec(model).context("encoding the model")?);
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&kind.code().to_le_bytes());
        let mut version = [0u8; 16];
        let v = env!("CARGO_PKG_VERSION").as_bytes();
        version[..v.len().min(16)].copy_from_slice(&v[..v.len().min(16)]);
        out.extend_from_slice(&version);
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&out);
        crc.update(&payload);
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Saves to `path` atomically (a temporary file in the same folder,
    /// renamed over the target), so a crash never leaves half a model.
    pub fn save(&self, path: &Path, kind: ModelKind, model: &impl Serialize) -> anyhow::Result<()> {
        let bytes = self.to_bytes(kind, model)?;
        movierec_eval::write_atomic(path, &bytes)?;
        Ok(())
    }
}

impl Saved {
    /// Reads a model file, naming the file in every error.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("{}: cannot read the model file", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("{}", path.display()))
    }

    /// Decodes a model file's bytes: header checks, checksum, payload, then
    /// [`check`](Self::check). Never panics on bad input.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            bail!("not a movierec model file (no MOVIEREC magic bytes)");
        }
        ensure!(
            bytes.len() >= HEADER_LEN,
            "truncated model file: {} bytes, the header alone takes {HEADER_LEN}",
            bytes.len()
        );
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        let code = u32_at(12);
        let writer = String::from_utf8_lossy(&bytes[16..32])
            .trim_end_matches('\0')
            .to_string();
        let len = u64::from_le_bytes(bytes[32..40].try_into().expect("8 bytes"));
        let stored_crc = u32_at(40);
        let payload = &bytes[HEADER_LEN..];
        ensure!(
            payload.len() as u64 == len,
            "{} model file: the header announces {len} payload bytes, the file has {}",
            if (payload.len() as u64) < len {
                "truncated"
            } else {
                "corrupted"
            },
            payload.len()
        );
        let mut crc = crc32fast::Hasher::new();
        crc.update(&bytes[..40]);
        crc.update(payload);
        ensure!(
            crc.finalize() == stored_crc,
            "corrupted model file: checksum mismatch"
        );
        ensure!(
            version == FORMAT_VERSION,
            "model file format version {version} (written by movierec {writer}); this movierec {} reads version {FORMAT_VERSION}: retrain the model",
            env!("CARGO_PKG_VERSION")
        );
        let Some(kind) = ModelKind::from_code(code) else {
            bail!("unknown model kind {code} in the header (written by movierec {writer})");
        };
        let name = kind.name();
        let (contents, rest): (Contents, &[u8]) = postcard::take_from_bytes(payload)
            .map_err(|e| anyhow::anyhow!("corrupted {name} model payload: {e}"))?;
        let model = decode_model(kind, rest)
            .map_err(|e| anyhow::anyhow!("corrupted {name} model payload: {e}"))?;
        let mut saved = Saved { contents, model };
        saved.check()?;
        saved.contents.users.rebuild_index();
        saved.contents.items.rebuild_index();
        Ok(saved)
    }

    /// Checks that the parts fit together: id maps without repeats and as
    /// large as the model's index space, training rows in range.
    pub fn check(&self) -> anyhow::Result<()> {
        for (what, map) in [("user", &self.users), ("movie", &self.items)] {
            let mut seen = HashSet::with_capacity(map.len());
            ensure!(
                map.raw_ids().iter().all(|r| seen.insert(*r)),
                "inconsistent model file: a {what} id repeats"
            );
        }
        let (n_users, n_items) = (self.users.len(), self.items.len());
        let model_items = self.model.n_items();
        ensure!(
            model_items == n_items,
            "inconsistent model file: {n_items} movie ids for a model of {model_items} items"
        );
        let t = &self.train;
        ensure!(
            t.ptr.len() == n_users + 1
                && t.ptr.first() == Some(&0)
                && t.ptr.windows(2).all(|w| w[0] <= w[1])
                && t.ptr.last().copied() == Some(t.items.len() as u64)
                && t.items.len() == t.values.len()
                && t.items.iter().all(|&i| (i as usize) < n_items),
            "inconsistent model file: bad training ratings"
        );
        ensure!(
            self.model.n_users().is_none_or(|n| n == n_users),
            "inconsistent model file: {n_users} user ids for a model of {} users",
            self.model.n_users().unwrap_or(0)
        );
        ensure!(
            t.values.iter().all(|v| v.is_finite()),
            "inconsistent model file: a training rating is not a finite number"
        );
        let scale = self.meta.scale;
        ensure!(
            scale.min.is_finite() && scale.max.is_finite() && scale.min <= scale.max,
            "inconsistent model file: the rating scale {}..{} is not a finite range",
            scale.min,
            scale.max
        );
        match &self.fallback {
            FallbackModel::Bias(b) => {
                ensure!(
                    b.user_bias.len() == n_users && b.item_bias.len() == n_items,
                    "inconsistent model file: fallback sizes"
                );
                b.validate()
                    .map_err(|e| anyhow::anyhow!("inconsistent model file: fallback: {e}"))?;
            }
            FallbackModel::Constant(c) => ensure!(
                c.is_finite(),
                "inconsistent model file: the fallback {c} is not a finite number"
            ),
        }
        Ok(())
    }

    /// The dense index of a raw user id, or an error saying how many users
    /// the model knows.
    pub fn user(&self, raw: u64) -> anyhow::Result<UserIdx> {
        match self.users.get(raw) {
            Some(u) => Ok(UserIdx(u)),
            None => bail!(
                "user {raw} is not in the model, which knows {} users (ids {}); rate movies with --ratings FILE instead",
                self.users.len(),
                id_range(self.users.raw_ids())
            ),
        }
    }

    /// The catalogue movie with raw id `id`.
    pub fn movie(&self, id: u64) -> Option<&CatalogMovie> {
        self.catalog.iter().find(|m| m.id == id)
    }

    /// The model's estimate for one dense pair, the fallback where it has
    /// none; clamped to the scale.
    pub fn estimate(&self, user: Option<UserIdx>, item: Option<ItemIdx>) -> f32 {
        let scale = self.meta.scale;
        let est = match (user, item) {
            (Some(u), Some(i)) => self.model.predict(u, i),
            _ => None,
        };
        let fallback = || {
            self.fallback.estimate(
                user.unwrap_or(UserIdx(u32::MAX)),
                item.unwrap_or(ItemIdx(u32::MAX)),
            )
        };
        scale.clamp(est.filter(|s| s.is_finite()).unwrap_or_else(fallback))
    }
}

fn id_range(ids: &[u64]) -> String {
    match (ids.iter().min(), ids.iter().max()) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => "none".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use movierec_core::{
        BiasBaseline, BiasConfig, Fallback, Fit, NoopObserver, Rating, RatingMatrix, Ratings,
        RunContext,
    };
    use proptest::prelude::*;

    /// A small bias model file, built here.
    /// A tiny bias model and its file contents.
    pub(crate) fn small() -> (Contents, BiasBaseline) {
        let entries = vec![
            Rating::new(0, 0, 4.0),
            Rating::new(0, 1, 2.5),
            Rating::new(1, 1, 3.0),
            Rating::new(2, 2, 5.0),
        ];
        let ratings = Ratings::new(entries, 3, 3, RatingScale::default());
        let m = RatingMatrix::new(&ratings).unwrap();
        let model = BiasConfig::default()
            .fit(&m, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        let contents = Contents {
            meta: Meta {
                name: "bias".into(),
                config: "{}".into(),
                dataset: "tiny".into(),
                holdout: false,
                seed: 42,
                threads: 1,
                scale: RatingScale::default(),
            },
            users: IdMap::from_raw(vec![10, 20, 30]),
            items: IdMap::from_raw(vec![1, 2, 3]),
            train: TrainRatings {
                ptr: vec![0, 2, 3, 4],
                items: vec![0, 1, 1, 2],
                values: vec![4.0, 2.5, 3.0, 5.0],
            },
            catalog: vec![CatalogMovie {
                id: 1,
                title: "Toy Story (1995)".into(),
                year: Some(1995),
                genres: vec!["Animation".into()],
            }],
            fallback: Fallback::Bias.fit(&m),
        };
        (contents, model)
    }

    fn small_bytes() -> Vec<u8> {
        let (c, m) = small();
        c.to_bytes(ModelKind::Bias, &m).unwrap()
    }

    #[test]
    fn round_trip() {
        let (contents, model) = small();
        let back = Saved::from_bytes(&small_bytes()).unwrap();
        assert_eq!(back.contents, contents);
        let mut a = vec![0.0; 3];
        back.model.score_into(UserIdx(1), &mut a);
        let mut b = vec![0.0; 3];
        model.score_into(UserIdx(1), &mut b);
        assert_eq!(a, b);
        assert_eq!(back.users.get(20), Some(1));
    }

    #[test]
    fn bad_headers_say_what_is_wrong() {
        let good = small_bytes();
        let err = |b: &[u8]| match Saved::from_bytes(b) {
            Ok(_) => panic!("accepted a bad file"),
            Err(e) => e.to_string(),
        };
        assert!(err(b"hello").contains("not a movierec model"));
        assert!(err(&good[..20]).contains("truncated"));
        assert!(err(&good[..good.len() - 1]).contains("truncated"));
        let mut v = good.clone();
        v[8] = 9;
        assert!(err(&v).contains("checksum"));
        // Rewrites the checksum after an edit, so that only the edit is wrong.
        let reseal = |v: &mut Vec<u8>| {
            let mut crc = crc32fast::Hasher::new();
            crc.update(&v[..40]);
            crc.update(&v[HEADER_LEN..]);
            let c = crc.finalize().to_le_bytes();
            v[40..44].copy_from_slice(&c);
        };
        // A consistent file of another format version.
        let mut v = good.clone();
        v[8..12].copy_from_slice(&9u32.to_le_bytes());
        reseal(&mut v);
        assert!(err(&v).contains("format version 9"), "{}", err(&v));
        // A consistent file whose header names another kind.
        let mut v = good.clone();
        v[12..16].copy_from_slice(&ModelKind::MfSgd.code().to_le_bytes());
        reseal(&mut v);
        assert!(
            err(&v).contains("corrupted mf-sgd model payload"),
            "{}",
            err(&v)
        );
    }

    /// Contents that decode but would make a command panic or print NaN
    /// (a reversed or NaN scale, non-finite ratings or fallback) are errors.
    #[test]
    fn contents_with_bad_numbers_are_errors() {
        let (good, model) = small();
        type Edit = fn(&mut Contents);
        let edits: [(&str, Edit); 5] = [
            ("scale", |c| c.meta.scale = RatingScale::new(5.0, 0.5)),
            ("scale", |c| c.meta.scale.max = f32::NAN),
            ("training rating", |c| c.train.values[1] = f32::INFINITY),
            ("fallback", |c| {
                c.fallback = FallbackModel::Constant(f32::NAN)
            }),
            ("fallback", |c| {
                if let FallbackModel::Bias(b) = &mut c.fallback {
                    b.mu = f32::NAN;
                }
            }),
        ];
        for (want, edit) in edits {
            let mut c = good.clone();
            edit(&mut c);
            let bytes = c.to_bytes(ModelKind::Bias, &model).unwrap();
            let err = Saved::from_bytes(&bytes).err().expect(want).to_string();
            assert!(err.contains(want), "{want}: {err}");
        }
    }

    proptest! {
        /// Flipping any byte or cutting the file anywhere gives an error,
        /// never a panic nor a different model.
        #[test]
        fn flipped_or_truncated_files_are_errors(pos in 0usize..10_000, flip in 1u8..=255, cut in 0usize..10_000) {
            let good = small_bytes();
            let mut v = good.clone();
            let p = pos % v.len();
            v[p] ^= flip;
            prop_assert!(Saved::from_bytes(&v).is_err());
            let c = cut % good.len();
            prop_assert!(Saved::from_bytes(&good[..c]).is_err());
        }
    }
}
