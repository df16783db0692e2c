use faer::Par;
use movierec_core::{nearest_by_cosine, Error, ItemIdx, Recommender, ScoreKind, UserIdx};
use serde::{Deserialize, Serialize};

use crate::net::{self, Arch, Rows, Work};
use crate::{Input, Variant};

/// A fitted Mult-VAE or Mult-DAE.
///
/// It keeps every training user's ratings and scores a user by encoding
/// that row (the VAE takes the code's mean, no sampling): the scores are the
/// logits of the softmax over movies, a ranking, not rating estimates.
/// Movies without a training rating score NaN.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaeModel {
    pub(crate) variant: Variant,
    pub(crate) hidden: Vec<usize>,
    pub(crate) n_items: usize,
    pub(crate) input: Input,
    pub(crate) min_rating: f32,
    pub(crate) rating_max: f32,
    /// All weights and biases, layer by layer (see `net::Arch`).
    pub(crate) params: Vec<f32>,
    /// Training ratings by user (CSR): row pointers, movies, ratings.
    pub(crate) user_ptr: Vec<usize>,
    pub(crate) user_items: Vec<u32>,
    pub(crate) user_values: Vec<f32>,
    /// Movies with at least one training rating.
    pub(crate) item_known: Vec<bool>,
    pub(crate) epochs: usize,
    pub(crate) validation_ndcg: Option<f64>,
}

impl VaeModel {
    /// Mult-VAE or Mult-DAE.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// Encoder layer sizes.
    pub fn hidden(&self) -> &[usize] {
        &self.hidden
    }

    /// Epochs of training behind the weights the model holds (the best
    /// epoch when early stopping restored one).
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The best validation NDCG@10 seen by an early-stopped fit.
    pub fn validation_ndcg(&self) -> Option<f64> {
        self.validation_ndcg
    }

    /// Number of users whose training rows the model keeps.
    pub fn n_users(&self) -> usize {
        self.user_ptr.len().saturating_sub(1)
    }

    pub(crate) fn arch(&self) -> Option<Arch> {
        Arch::new(self.n_items, &self.hidden, self.variant)
    }

    /// Scores the rows (raw `(movie, rating)` lists) of several users at
    /// once: `rows.len() x n_items` logits, NaN for unknown movies.
    pub(crate) fn score_rows<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a [u32], &'a [f32])>,
        par: Par,
    ) -> Vec<f32> {
        let Some(arch) = self.arch() else {
            return Vec::new();
        };
        let mut input = Rows::new();
        let mut t = Rows::new();
        for (items, values) in rows {
            t.clear();
            encode_row(
                items,
                values,
                self.input,
                self.min_rating,
                self.rating_max,
                &self.item_known,
                &mut t,
            );
            let (i, w) = t.row(0);
            input.push_normalised(i, w);
        }
        let mut work = Work::default();
        net::forward(&arch, &self.params, &input, None, &mut work, par);
        let mut out = net::logits(&work).to_vec();
        for row in out.chunks_exact_mut(self.n_items) {
            for (s, &k) in row.iter_mut().zip(&self.item_known) {
                if !k {
                    *s = f32::NAN;
                }
            }
        }
        out
    }

    fn user_row(&self, u: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.user_ptr[u], self.user_ptr[u + 1]);
        (&self.user_items[a..b], &self.user_values[a..b])
    }
}

/// One user's target row: the ratings kept (`>= min_rating`, known
/// movies) with their weight (1, or rating / top of the scale).
pub(crate) fn encode_row(
    items: &[u32],
    values: &[f32],
    input: Input,
    min_rating: f32,
    rating_max: f32,
    known: &[bool],
    out: &mut Rows,
) {
    for (&i, &v) in items.iter().zip(values) {
        if v >= min_rating && known.get(i as usize).copied().unwrap_or(false) {
            let w = match input {
                Input::Binary => 1.0,
                Input::Rating => v / rating_max,
            };
            if w > 0.0 {
                out.push(i, w);
            }
        }
    }
    out.end_row();
}

impl Recommender for VaeModel {
    fn n_items(&self) -> usize {
        self.n_items
    }

    /// The logits of the user's encoded training row; NaN for a user
    /// outside the model and for movies without a training rating.
    fn score_into(&self, user: UserIdx, out: &mut [f32]) {
        let u = user.get();
        if u >= self.n_users() || out.len() != self.n_items {
            out.fill(f32::NAN);
            return;
        }
        let s = self.score_rows([self.user_row(u)], Par::Seq);
        if s.len() == out.len() {
            out.copy_from_slice(&s);
        } else {
            out.fill(f32::NAN);
        }
    }

    fn score_kind(&self) -> ScoreKind {
        ScoreKind::Ranking
    }

    /// Encodes the new user's row as a training user's (movies without a
    /// training rating are left out of the input).
    fn score_new_user(&self, rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), Error> {
        if let Some(&(i, _)) = rated.iter().find(|(i, _)| i.get() >= self.n_items) {
            return Err(Error::Unsupported(format!(
                "movie index {} is outside the model's {} movies",
                i.0, self.n_items
            )));
        }
        if out.len() != self.n_items {
            return Err(Error::Unsupported(format!(
                "the score buffer holds {} movies, the model {}",
                out.len(),
                self.n_items
            )));
        }
        let mut row: Vec<(u32, f32)> = rated.iter().map(|&(i, r)| (i.0, r)).collect();
        row.sort_by_key(|&(i, _)| i);
        row.dedup_by_key(|&mut (i, _)| i);
        let (items, values): (Vec<u32>, Vec<f32>) = row.into_iter().unzip();
        let s = self.score_rows([(&items[..], &values[..])], Par::Seq);
        if s.len() != out.len() {
            return Err(Error::InvalidModel(
                "the weights do not match the layers".into(),
            ));
        }
        out.copy_from_slice(&s);
        Ok(())
    }

    /// Cosine of the decoder's output weights of two movies (movies without
    /// a training rating are skipped).
    fn similar_items(&self, item: ItemIdx, k: usize) -> Result<Vec<(ItemIdx, f32)>, Error> {
        if item.get() >= self.n_items {
            return Err(Error::Unsupported(format!(
                "movie index {} is outside the model's {} movies",
                item.0, self.n_items
            )));
        }
        let arch = self
            .arch()
            .ok_or_else(|| Error::InvalidModel("the layer sizes are invalid".into()))?;
        let vectors = arch.item_vectors(&self.params);
        let h = vectors.len() / self.n_items;
        let known = &self.item_known;
        Ok(nearest_by_cosine(
            item,
            k,
            vectors
                .chunks_exact(h)
                .zip(known)
                .map(|(v, &k)| k.then_some(v)),
        ))
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::InvalidModel(format!("mult-vae/dae: {what}")));
        if self.hidden.iter().any(|&h| h > 1 << 20) {
            return bad("a hidden layer is larger than 2^20 units");
        }
        let Some(arch) = self.arch() else {
            return bad("the layer sizes are invalid");
        };
        if self.params.len() != arch.n_params {
            return bad("the number of weights does not match the layer sizes");
        }
        if !self.params.iter().all(|x| x.is_finite()) {
            return bad("a weight is not a finite number");
        }
        if self.item_known.len() != self.n_items {
            return bad("the list of known movies does not match the movies");
        }
        if !(self.rating_max.is_finite() && self.rating_max > 0.0 && self.min_rating.is_finite()) {
            return bad("the rating scale is not a positive finite number");
        }
        let p = &self.user_ptr;
        let nnz = self.user_items.len();
        if p.first() != Some(&0)
            || p.last() != Some(&nnz)
            || self.user_values.len() != nnz
            || p.windows(2).any(|w| w[0] > w[1])
        {
            return bad("the training rows are inconsistent");
        }
        if self.user_items.iter().any(|&i| i as usize >= self.n_items) {
            return bad("a training rating refers to a movie outside the model");
        }
        if !self.user_values.iter().all(|v| v.is_finite()) {
            return bad("a training rating is not a finite number");
        }
        Ok(())
    }
}
