//! The fitted autoencoder and its scoring.

use faer::MatRef;
use movierec_core::{Error as CoreError, ItemIdx, Recommender, UserIdx};
use pulp::{Arch, Simd, WithSimd};
use serde::{Deserialize, Serialize};

use crate::kernel::dot;
use crate::net::Network;

// Fold-in lives in a child module: it reads the model's private parts.
mod fold_in;

/// `a . b`, dispatched once (for single predictions): the shared kernel.
pub(crate) use movierec_core::kernels::dot_dispatched as dot1;

/// A fitted autoencoder recommender: the network, and the code (last hidden
/// layer) of every training vector, cached at the end of the fit.
///
/// In the item-based mode the estimate for `(u, i)` is output unit `u` of
/// the network fed item `i`'s training vector: `f(W_out[u, :] . h_i +
/// b_out[u])`, `O(h)` from the cached code `h_i`. In the user-based mode
/// the roles swap. Users and items without training ratings have no
/// estimate (NaN in [`score_into`](Recommender::score_into), `None` from
/// [`predict`](Recommender::predict)): the caller's fallback decides.
///
/// ## Algorithm
///
/// The report's item-based autoencoder (its 5.2.1 part 3, after Sedhain et
/// al., "AutoRec", WWW 2015). Item `i`'s vector `r_i` in `R^D` holds every
/// user's training rating (0 where unrated); with sigmoid `g` and output
/// activation `f` (ReLU in the report, identity in AutoRec),
///
/// ```text
/// a_0 = g(r_i W_0 + b_0),  a_k = g(a_{k-1} W_k + b_k),  o = f(a_{L-1} W_out^T + b_out)
/// ```
///
/// For a mini-batch of `N` vectors the loss is the report's 6.1.2, with
/// `O` the observed entries of the batch and `s` the reduction's scale
/// (`1 / (N D)` under [`Reduction::Mean`](crate::Reduction::Mean), the
/// report's code, where `np.mean` averages over every cell of the batch
/// matrix; 1 under `Sum`, its formula):
///
/// ```text
/// L = s/2 sum_O (r - o)^2
///   + gamma/2 sum_O [half_star(o) outside (0, 5]] o^2
///   + sum_k c_k ((1 - alpha)/2 |W_k|_F^2 + alpha |W_k|_1)
/// ```
///
/// with `alpha = l1_share` and `c_k = beta` (sums) or `beta / ((L + 1)
/// |W_k|)` (means of each matrix, averaged over the `L + 1` matrices). Only
/// observed entries enter the data and range terms, so only they
/// backpropagate; the regulariser reaches every weight. With `dropout`,
/// each observed input is dropped with that probability (kept ones scaled
/// by `1 / (1 - p)`) while the target keeps every rating: a denoising
/// autoencoder, the report's "noise" ratings. Each batch takes one Adam
/// step (bias-corrected, `(0.9, 0.99)`, `eps = 1e-8`); `lr`, `beta` and
/// `gamma` decay by 0.9 every 10 epochs (the report's 6.1.3). Early stopping
/// keeps the weights of the epoch with the best validation RMSE. At the
/// end, the code `h_i = a_{L-1}` of every item (from its full training
/// vector) is cached.
///
/// ## Complexity
///
/// Per epoch, with `nnz` training ratings, `D` users, `I` items, hidden
/// sizes `h_k` and `B` batches: the sparse pass costs `O(nnz h_0 + I sum_k
/// h_{k-1} h_k + nnz h_{L-1})` for the forward pass and about twice that
/// backward (the first layer reads only observed inputs, the output layer
/// is evaluated only at observed entries); the dense pass costs `O(I D (h_0
/// + h_{L-1}))` whatever the sparsity (the report's numpy: 60 times the
/// work at 1.7% density); dense Adam and the regulariser cost `O(B P)` for
/// `P` parameters (`P ~ 2 D h` for one hidden layer), lazy Adam
/// ([`Update::Lazy`](crate::Update::Lazy)) `O(h)` per first- and
/// output-layer row a batch touches, at most `O(nnz h)` per epoch
/// whatever `B`. Memory: `O(P)` for the
/// weights and Adam's moments, `O(batch h)` activations (plus `O(batch D)`
/// on the dense path). Scoring all items for a user is `O(I h_{L-1})`, one
/// prediction `O(h_{L-1})`.
///
/// ## Parallelisation
///
/// Steps are sequential (each Adam step depends on the previous one), but
/// inside a large step (over a million multiply-adds: ml-25m's batches,
/// not ml-latest-small's) the sparse passes run on the fit's rayon pool in
/// chunks that each write their own values: the first layer and the output
/// layer's dots and `dA` rows by ranges of the batch's vectors (the loss is
/// then summed over the entries in order on one thread), the first- and
/// output-layer weight gradients by ranges of units, Adam by ranges of
/// parameters (or of touched rows). Deeper hidden layers use faer with
/// `Par::Seq`; the sparse kernels are SIMD (pulp: AVX-512, AVX2 or scalar,
/// chosen once). Encoding every item at the end of the fit and, with a
/// validation set, after each epoch runs in fixed chunks of 256 items. No
/// float is summed across threads, so
/// the model is bitwise equal for a seed whatever the thread count (on one
/// machine: the SIMD width sets the order inside a dot product). Scoring is
/// per user and thread-safe: the harness parallelises over users.
///
/// ## Example
///
/// ```
/// use movierec_autoencoder::{AutoencoderConfig, Output};
/// use movierec_core::{Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale,
///     Ratings, Recommender, UserIdx, RunContext};
///
/// // Users 0-3 love items 0-2 and dislike 3-5; users 4-7 the opposite.
/// let mut entries = Vec::new();
/// for u in 0..8u32 {
///     for i in 0..6u32 {
///         if (u + i) % 4 != 0 {
///             let r = if (u < 4) == (i < 3) { 4.5 } else { 1.5 };
///             entries.push(Rating::new(u, i, r));
///         }
///     }
/// }
/// let train = RatingMatrix::new(&Ratings::new(entries, 8, 6, RatingScale::new(0.5, 5.0))).unwrap();
/// let config = AutoencoderConfig {
///     hidden: vec![8],
///     output: Output::Identity,
///     epochs: 80,
///     batch: 2,
///     lr: 0.03,
///     beta: 0.01,
///     dropout: 0.0,
///     seed: Some(1),
///     ..Default::default()
/// };
/// let model = config.fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
/// // (0, 0) and (4, 4) were held out: both are within-block pairs.
/// assert!(model.predict(UserIdx(0), ItemIdx(0)).unwrap() > 3.5);
/// assert!(model.predict(UserIdx(4), ItemIdx(4)).unwrap() > 3.5);
/// assert!(model.predict(UserIdx(0), ItemIdx(4)).unwrap() < 2.5);
/// assert_eq!(model.item_codes().ncols(), 8);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoencoderModel {
    net: Network,
    user_based: bool,
    n_users: usize,
    n_items: usize,
    /// `n_vectors x code_dim`, row-major; zero rows for cold vectors.
    codes: Vec<f32>,
    vector_seen: Vec<bool>,
    unit_seen: Vec<bool>,
    epochs: usize,
    best_epoch: usize,
}

impl AutoencoderModel {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        net: Network,
        user_based: bool,
        n_users: usize,
        n_items: usize,
        codes: Vec<f32>,
        vector_seen: Vec<bool>,
        unit_seen: Vec<bool>,
        epochs: usize,
        best_epoch: usize,
    ) -> Self {
        Self {
            net,
            user_based,
            n_users,
            n_items,
            codes,
            vector_seen,
            unit_seen,
            epochs,
            best_epoch,
        }
    }

    pub(crate) fn set_epochs(&mut self, epochs: usize, best_epoch: usize) {
        self.epochs = epochs;
        self.best_epoch = best_epoch;
    }

    /// The trained network.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// True for the user-based mode.
    pub fn user_based(&self) -> bool {
        self.user_based
    }

    /// Epochs trained.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// The epoch whose weights the model holds: the best on validation
    /// under early stopping, else the last.
    pub fn best_epoch(&self) -> usize {
        self.best_epoch
    }

    /// Length of an item code ([`item_codes`](Self::item_codes) columns).
    pub fn code_dim(&self) -> usize {
        self.net.code_dim()
    }

    /// A learned vector per item (`n_items x code_dim`), for similar-movie
    /// queries: in the item-based mode the item's code (the last hidden
    /// layer fed its training vector; zero for items without training
    /// ratings), in the user-based mode its row of output weights
    /// `W_out[i, :]` (untrained for items without ratings).
    pub fn item_codes(&self) -> MatRef<'_, f32> {
        let h = self.net.code_dim();
        if self.user_based {
            let s = self.net.span(self.net.n_layers() - 1);
            MatRef::from_row_major_slice(&self.net.params()[s.w..s.b], self.n_items, h)
        } else {
            MatRef::from_row_major_slice(&self.codes, self.n_items, h)
        }
    }

    /// Item `item`'s row of [`item_codes`](Self::item_codes), `None` for an
    /// item without training ratings or outside the index space.
    pub fn item_code(&self, item: ItemIdx) -> Option<&[f32]> {
        let i = item.get();
        let h = self.net.code_dim();
        if self.user_based {
            if !self.unit_seen.get(i).copied().unwrap_or(false) {
                return None;
            }
            Some(self.net.out_row(i).0)
        } else {
            if !self.vector_seen.get(i).copied().unwrap_or(false) {
                return None;
            }
            Some(&self.codes[i * h..i * h + h])
        }
    }

    /// The same network fed another rating matrix: every vector's code is
    /// recomputed from `input` (vectors with no rating in `input` get no
    /// estimate); the weights, and which output units were trained, stay.
    ///
    /// This is how the report scored its "test accuracy" (its 6.1.3): it
    /// fed train, validation and test ratings in together and compared the
    /// output with every rated entry. `movierec evaluate --protocol report`
    /// uses it to reproduce that figure beside the held-out one; ordinary
    /// scoring never needs it.
    ///
    /// # Panics
    /// If `input` has another number of users or items than the training set.
    #[track_caller]
    pub fn with_input(&self, input: &movierec_core::RatingMatrix) -> Self {
        use rayon::prelude::*;
        assert_eq!(
            (input.n_users(), input.n_items()),
            (self.n_users, self.n_items),
            "the input matrix must share the training set's index space"
        );
        let vectors = crate::pass::Vectors::new(input, self.user_based);
        let h = self.net.code_dim();
        let mut codes = vec![0.0f32; vectors.len() * h];
        // Fixed chunks, each row from its own vector: deterministic.
        const CHUNK: usize = 256;
        codes
            .par_chunks_mut(CHUNK * h)
            .enumerate()
            .for_each(|(c, out)| {
                let start = c * CHUNK;
                let rows: Vec<u32> = (start..start + out.len() / h).map(|v| v as u32).collect();
                let mut batch = crate::pass::Batch::default();
                let mut rng = movierec_core::rng_for(0, 0);
                batch.fill(&vectors, &rows, 0.0, &mut rng);
                let mut ws = crate::pass::Workspace::new(crate::Path::Sparse, &self.net);
                out.copy_from_slice(ws.encode(&self.net, &batch));
            });
        let vector_seen: Vec<bool> = (0..vectors.len())
            .map(|v| vectors.ptr[v + 1] > vectors.ptr[v])
            .collect();
        for (code, &seen) in codes.chunks_exact_mut(h).zip(&vector_seen) {
            if !seen {
                code.fill(0.0);
            }
        }
        Self {
            codes,
            vector_seen,
            ..self.clone()
        }
    }

    /// See [`Recommender::validate`].
    fn check(&self) -> Result<(), String> {
        self.net.check()?;
        // Item-based: the network encodes items over users (D = users).
        let (vectors, dim) = if self.user_based {
            (self.n_users, self.n_items)
        } else {
            (self.n_items, self.n_users)
        };
        if self.net.dim() != dim {
            return Err(format!(
                "a network of {} inputs for {dim} {}",
                self.net.dim(),
                if self.user_based { "items" } else { "users" }
            ));
        }
        let h = self.net.code_dim();
        if vectors.checked_mul(h) != Some(self.codes.len()) {
            return Err(format!(
                "{} code values for {vectors} vectors of {h}",
                self.codes.len()
            ));
        }
        if self.vector_seen.len() != vectors || self.unit_seen.len() != dim {
            return Err("the lists of trained vectors and units do not match the sizes".into());
        }
        if let Some(p) = self.codes.iter().position(|x| !x.is_finite()) {
            return Err(format!("code value {p} is not a finite number"));
        }
        Ok(())
    }

    /// (vector, output unit) of a pair.
    #[inline]
    fn roles(&self, user: UserIdx, item: ItemIdx) -> (usize, usize) {
        if self.user_based {
            (user.get(), item.get())
        } else {
            (item.get(), user.get())
        }
    }
}

impl Recommender for AutoencoderModel {
    fn n_items(&self) -> usize {
        self.n_items
    }

    fn n_users(&self) -> Option<usize> {
        Some(self.n_users)
    }

    /// `O(n_items * h)`: one dot product per item against cached codes.
    fn score_into(&self, user: UserIdx, out: &mut [f32]) {
        out.fill(f32::NAN);
        let u = user.get();
        let h = self.net.code_dim();
        if self.user_based {
            if !self.vector_seen.get(u).copied().unwrap_or(false) {
                return;
            }
            let code = &self.codes[u * h..u * h + h];
            Arch::new().dispatch(ScoreUnits {
                model: self,
                code,
                out,
            });
        } else {
            if !self.unit_seen.get(u).copied().unwrap_or(false) {
                return;
            }
            Arch::new().dispatch(ScoreVectors {
                model: self,
                unit: u,
                out,
            });
        }
    }

    /// `O(h)` from the cached code.
    fn predict(&self, user: UserIdx, item: ItemIdx) -> Option<f32> {
        let (v, u) = self.roles(user, item);
        if !self.vector_seen.get(v).copied().unwrap_or(false)
            || !self.unit_seen.get(u).copied().unwrap_or(false)
        {
            return None;
        }
        let h = self.net.code_dim();
        let (w, b) = self.net.out_row(u);
        Some(self.net.act(b + dot1(w, &self.codes[v * h..v * h + h])))
    }

    fn score_new_user(&self, rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), CoreError> {
        if !self.can_fold_in() {
            return Err(CoreError::Unsupported(
                "the item-based autoencoder cannot fold in a new user (a new user is a new input dimension of its network): train with --user-based".into(),
            ));
        }
        movierec_core::check_rated(rated, self.n_items)?;
        self.fold_in_scores(rated, out);
        Ok(())
    }

    /// Cosine of the item codes (the encoding of each item's vector, or the
    /// output weights of each item in the user-based net).
    fn similar_items(&self, item: ItemIdx, k: usize) -> Result<Vec<(ItemIdx, f32)>, CoreError> {
        let codes = (0..self.n_items).map(|i| self.item_code(ItemIdx(i as u32)));
        Ok(movierec_core::nearest_by_cosine(item, k, codes))
    }

    /// Every shape against the network's and the index space, and every
    /// float finite (a model read from a file).
    fn validate(&self) -> Result<(), CoreError> {
        self.check()
            .map_err(|e| CoreError::InvalidModel(format!("autoencoder: {e}")))
    }

    /// The report's way of scoring: the net encodes the given matrix.
    fn with_input(&self, input: &movierec_core::RatingMatrix) -> Option<Box<dyn Recommender>> {
        Some(Box::new(AutoencoderModel::with_input(self, input)))
    }
}

/// Item-based scoring: output unit `unit` for every item's code.
struct ScoreVectors<'a> {
    model: &'a AutoencoderModel,
    unit: usize,
    out: &'a mut [f32],
}

impl WithSimd for ScoreVectors<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let m = self.model;
        let h = m.net.code_dim();
        let (w, b) = m.net.out_row(self.unit);
        for ((o, code), &seen) in self
            .out
            .iter_mut()
            .zip(m.codes.chunks_exact(h))
            .zip(&m.vector_seen)
        {
            if seen {
                *o = m.net.act(b + dot(simd, w, code));
            }
        }
    }
}

/// User-based scoring: every item's output unit for one user's code.
struct ScoreUnits<'a> {
    model: &'a AutoencoderModel,
    code: &'a [f32],
    out: &'a mut [f32],
}

impl WithSimd for ScoreUnits<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let m = self.model;
        for (i, o) in self.out.iter_mut().enumerate() {
            if m.unit_seen.get(i).copied().unwrap_or(false) {
                let (w, b) = m.net.out_row(i);
                *o = m.net.act(b + dot(simd, w, self.code));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use movierec_core::RunContext;
    use movierec_core::{Fit, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings};

    use super::*;
    use crate::{AutoencoderConfig, Output};

    fn ratings(keep: impl Fn(u32, u32) -> bool) -> Ratings {
        let mut entries = Vec::new();
        for u in 0..12u32 {
            for i in 0..9u32 {
                if keep(u, i) {
                    let r = if (u < 6) == (i < 4) { 4.5 } else { 1.5 };
                    entries.push(Rating::new(u, i, r));
                }
            }
        }
        Ratings::new(entries, 12, 9, RatingScale::new(0.5, 5.0))
    }

    /// A fitted model passes; every edit of a shape, an offset or a float
    /// of its saved form is an error (no panic when scoring it).
    #[test]
    fn validate_checks_every_shape_and_float() {
        use serde_json::{json, Value};
        let train = RatingMatrix::new(&ratings(|u, i| (u + i) % 3 != 0)).unwrap();
        for (user_based, hidden) in [(false, vec![4]), (true, vec![5, 3])] {
            let config = AutoencoderConfig {
                hidden,
                epochs: 2,
                batch: 4,
                user_based,
                seed: Some(3),
                ..Default::default()
            };
            let model = config
                .fit(&train, None, &RunContext::default(), &mut NoopObserver)
                .unwrap();
            model.validate().unwrap();
            type Edit = Box<dyn Fn(&mut Value)>;
            let edits: Vec<(&str, Edit)> = vec![
                (
                    "parameter",
                    Box::new(|v| v["net"]["params"][3] = json!(1e300)),
                ),
                (
                    "parameters",
                    Box::new(|v| {
                        v["net"]["params"].as_array_mut().unwrap().pop();
                    }),
                ),
                (
                    "offsets",
                    Box::new(|v| v["net"]["spans"][0]["b"] = json!(1)),
                ),
                (
                    "offsets",
                    Box::new(|v| v["net"]["spans"][0]["rows"] = json!(usize::MAX)),
                ),
                ("hidden", Box::new(|v| v["net"]["hidden"] = json!([]))),
                ("hidden", Box::new(|v| v["net"]["hidden"][0] = json!(0))),
                (
                    "overflow",
                    Box::new(|v| v["net"]["hidden"][0] = json!(usize::MAX)),
                ),
                ("offsets", Box::new(|v| v["net"]["dim"] = json!(1000))),
                ("inputs|code", Box::new(|v| v["n_users"] = json!(13))),
                ("code", Box::new(|v| v["codes"][0] = json!(-1e300))),
                (
                    "code",
                    Box::new(|v| {
                        v["codes"].as_array_mut().unwrap().pop();
                    }),
                ),
                (
                    "trained",
                    Box::new(|v| {
                        v["vector_seen"].as_array_mut().unwrap().pop();
                    }),
                ),
                (
                    "trained",
                    Box::new(|v| v["unit_seen"].as_array_mut().unwrap().push(json!(true))),
                ),
            ];
            for (want, edit) in edits {
                let mut v = serde_json::to_value(&model).unwrap();
                edit(&mut v);
                let back: AutoencoderModel = serde_json::from_value(v).unwrap();
                let err = back.validate().expect_err(want).to_string();
                assert!(want.split('|').any(|w| err.contains(w)), "{want}: {err}");
            }
        }
    }

    #[test]
    fn with_input_rescores_from_the_new_matrix_only() {
        let train = RatingMatrix::new(&ratings(|u, i| (u + i) % 3 != 0 && i != 8)).unwrap();
        let config = AutoencoderConfig {
            hidden: vec![6],
            output: Output::Identity,
            epochs: 30,
            batch: 3,
            dropout: 0.0,
            seed: Some(3),
            ..Default::default()
        };
        let model = config
            .fit(&train, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        // Fed its own training matrix, the model is unchanged.
        let same = model.with_input(&train);
        for u in 0..12 {
            for i in 0..9 {
                let (u, i) = (UserIdx(u), ItemIdx(i));
                assert_eq!(same.predict(u, i), model.predict(u, i));
            }
        }
        // Item 8 has no training rating: no estimate until an input holds one.
        assert_eq!(model.predict(UserIdx(0), ItemIdx(8)), None);
        let full = RatingMatrix::new(&ratings(|_, _| true)).unwrap();
        let fed = model.with_input(&full);
        assert!(fed.predict(UserIdx(0), ItemIdx(8)).is_some());
        assert_ne!(
            fed.predict(UserIdx(0), ItemIdx(0)),
            model.predict(UserIdx(0), ItemIdx(0)),
            "a fuller input changes the code"
        );
    }
}
