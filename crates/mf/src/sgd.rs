use std::time::Instant;

use movierec_core::metrics::Accumulator;
use movierec_core::{
    rng_for, Control, EpochRecord, Fit, ItemIdx, Observer, RatingMatrix, RatingScale, Ratings,
    RunContext, SetMetrics, UserIdx,
};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

use rand::seq::SliceRandom;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::kernel::{self, padded, Aligned, BlockPass, Entry, Step, CHUNK};
use crate::train::{self, EarlyStopping, Exec, Verdict, View};
use crate::{Biases, ConfigError, Error, MfModel, Result, UserReg};

/// Sparse stochastic gradient descent for matrix factorisation (Koren, Bell
/// and Volinsky 2009; Funk's "SVD"), over the observed ratings only.
///
/// ## Algorithm
/// The model is `r_ui ~ mu + b_u + b_i + p_u . q_i` (with `biases`), or the
/// report's plain `r_ui ~ p_u . q_i` (without). It minimises
/// `sum_(u,i) (r_ui - r^_ui)^2 + reg_f (|p_u|^2 + |q_i|^2) + reg_b (b_u^2 + b_i^2)`
/// one rating at a time, in a new seeded random order each epoch (see the
/// order below):
///
/// ```text
/// e    = r_ui - r^_ui
/// b_u += lr_b (e - reg_b b_u)          b_i += lr_b (e - reg_b b_i)
/// p_u += lr_f (e q_i - reg_f p_u)      q_i += lr_f (e p_u - reg_f q_i)   (old p_u)
/// ```
///
/// The visiting order: the ratings are shuffled once, then every epoch
/// walks their 64-rating chunks in a fresh random order. A full reshuffle
/// of the ratings every epoch cost as much as the updates themselves at
/// small `k` (random writes over the whole rating list), while the chunked
/// walk reads memory sequentially and still changes the order every epoch.
///
/// Learning rates shrink by `lr_decay` after every epoch. `mu` is the
/// training mean and stays fixed. Factors start from a normal distribution
/// with `init_std`, centred at 0 with biases, and at `sqrt(mu / k)` without
/// them (so that `p . q` starts near the mean rating, as the report's positive
/// random start did). With a validation set and `patience > 0`, training stops
/// after `patience` epochs without a lower validation RMSE and returns the
/// best epoch's model. Users and items without a training rating end with
/// zero factors.
///
/// ## Complexity
/// One epoch costs `O(nnz k)` time (one dot product and two axpys of length
/// `k` per rating) against `O(n_users n_items k)` for a dense step
/// ([`DenseGdConfig`](crate::DenseGdConfig)); memory is `O((n_users + n_items) k + nnz)`.
/// The training metrics and loss an epoch reports come from the errors its
/// own updates computed: each rating is scored just before its update, as
/// Surprise and LIBMF report training error, so they lag the end-of-epoch
/// model slightly (they are measured during the epoch, not after it) and
/// cost no extra pass. Only the validation ratings are scored after each
/// epoch (`O(n_val k)`) for the observer and early stopping.
///
/// ## Parallelisation
/// DSGD / LIBMF blocking (Gemulla et al. 2011; Chin et al. 2015). Users are
/// split into `U` strata and items into `I` strata (a multiple of `U`) of
/// balanced rating counts, which cuts the ratings into `U x I` blocks. An
/// epoch runs every block once in `I` steps: at step `t`, user stratum `a`
/// runs item stratum `perm[(a I / U + t) mod I]`, with `perm` a permutation
/// drawn per epoch, so the blocks of a step share no user and no item.
/// There is no barrier at the end of a step: a block is a rayon task that
/// starts as soon as the previous block of its user stratum and the
/// previous block of its item stratum (`I / U` steps earlier) are done, so
/// user stratum `a` can run up to `I / U - 1` steps ahead of stratum
/// `a + 1`. Each row thus sees its updates in
/// the schedule's order whatever the timing, and a parallel epoch is
/// bit-identical to the same schedule run step by step (a proptest checks
/// it). LIBMF's scheduler instead hands out whichever free block has had
/// the fewest updates, which makes a fit depend on timing.
///
/// `U` is large enough that one user stratum's factors take at most 512
/// KiB, rounded up to a multiple of the thread count (as many strata as
/// threads on ml-latest-small); `I` is large enough that one item stratum's
/// factors take at most 512 KiB too, and at least `2 U` when there are
/// fewer than two user strata per thread, so that strata have room to run
/// ahead. The blocking is thus also
/// cache blocking, on a single thread too: a block's rows, about 1 MiB, fit
/// a core's L2 cache while its ratings are visited, so an item row is
/// fetched from memory once per block and reused by all the block's
/// ratings of that item (on ml-latest-small at `k = 200`, one thread: all
/// 610 users in one stratum, 16 item strata, each item row used about 8
/// times per visit). A block first reads its item rows in order, so that
/// the hardware prefetcher streams them in rather than the block's random
/// order missing the cache one row at a time. The chunk order inside each
/// block (each block's ratings are shuffled once, in chunks of 64) is
/// drawn from `(seed, epoch, block)` streams, so a fit depends only on
/// `seed`, `threads`, `k` and the data's shape; `threads = 1` runs the
/// blocks one after the other with no rayon at all.
///
/// The inner loop is a SIMD dot product and a fused update over contiguous
/// `f32` rows, zero-padded to a multiple of 16 values so that the vector
/// loops have no scalar tail and stored from 64-byte boundaries so that no
/// vector access straddles two cache lines; up to `k = 224` (AVX-512) both
/// rows of a rating are held in registers between the dot product and the
/// update. It is dispatched once per block to the widest
/// instruction set the CPU has (AVX-512, AVX2 + FMA, or scalar; safe code
/// through `pulp`), so the last bits can differ between machines of
/// different SIMD width.
///
/// ## Example
/// ```
/// use movierec_core::{Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale,
///     Ratings, Recommender, UserIdx, RunContext};
/// use movierec_mf::SgdConfig;
///
/// let triples = [(0, 0, 5.0), (0, 1, 3.0), (1, 0, 4.0), (1, 2, 1.0), (2, 1, 1.0), (2, 2, 5.0)];
/// let ratings = Ratings::new(
///     triples.iter().map(|&(u, i, r)| Rating::new(u, i, r)).collect(),
///     3,
///     3,
///     RatingScale::new(0.5, 5.0),
/// );
/// let train = RatingMatrix::new(&ratings).unwrap();
/// let config = SgdConfig { factors: 4, epochs: 400, lr_factors: 0.05, lr_biases: 0.05,
///     lr_decay: 1.0, reg_factors: 0.0, reg_biases: 0.0, init_std: 0.3, seed: Some(7),
///     ..SgdConfig::default() };
/// let model = config.fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
/// for &(u, i, r) in &triples {
///     let p = model.predict(UserIdx(u), ItemIdx(i)).unwrap();
///     assert!((p - r).abs() < 0.1, "({u}, {i}): {p} vs {r}");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SgdConfig {
    /// Latent dimension `k`. Default: 200.
    pub factors: usize,
    /// Epoch budget. Default: 60.
    pub epochs: usize,
    /// Fit `mu + b_u + b_i` as well (off: the report's plain `p_u . q_i`).
    /// Default: true.
    pub biases: bool,
    /// Learning rate of the factors. Default: 0.04.
    pub lr_factors: f32,
    /// Learning rate of the biases. Default: 0.01.
    pub lr_biases: f32,
    /// L2 weight on the factors, per rating. Default: 0.1.
    pub reg_factors: f32,
    /// L2 weight on the biases, per rating. Default: 0.05.
    pub reg_biases: f32,
    /// Both learning rates are multiplied by this after every epoch, in
    /// (0, 1]; 1 keeps them constant. Default: 1.
    pub lr_decay: f32,
    /// Standard deviation of the initial factors. Default: 0.1.
    pub init_std: f32,
    /// Stop after this many epochs without a lower validation RMSE and
    /// restore the best epoch; 0 (or no validation set) trains all epochs.
    /// Default: 5.
    pub patience: usize,
    /// use movierec_core::RunContext;
    /// Seed of the initialisation and the shuffles; `None` (the default)
    /// takes the run's seed ([`RunContext::seed`]). The thread count comes
    /// from the run context too: results depend on `(seed, threads)` only.
    pub seed: Option<u64>,
}

impl Default for SgdConfig {
    /// The winner of `movierec tune --model mf-sgd` on ml-latest-small's
    /// validation sets (recorded in results/ml-latest-small/tuning-mf-sgd.json;
    /// a test keeps the two equal): 200 factors, 60 epochs, biases on,
    /// learning rates 0.04 for the factors and 0.01 for the biases (no
    /// decay), regularisation 0.1 on factors and 0.05 on biases, init std
    /// 0.1, patience 5, the run's seed.
    fn default() -> Self {
        Self {
            factors: 200,
            epochs: 60,
            biases: true,
            lr_factors: 0.04,
            lr_biases: 0.01,
            reg_factors: 0.1,
            reg_biases: 0.05,
            lr_decay: 1.0,
            init_std: 0.1,
            patience: 5,
            seed: None,
        }
    }
}

impl SgdConfig {
    /// The report's model (its 5.2.1 part 2): plain `r_ui ~ q_i^T p_u`, no
    /// global mean and no biases, L2 on the factors. The report gives no
    /// factor count, learning rate, regularisation or epoch count; these are
    /// the winner of `movierec tune --model mf-sgd --preset report` on
    /// ml-latest-small's validation sets (recorded in
    /// results/ml-latest-small/tuning-mf-sgd-report.json; a test keeps the
    /// two equal): 200 factors, learning rate 0.01, regularisation 0.05, the
    /// rest as [`Default`] (60 epochs, early stopping).
    pub fn report() -> Self {
        Self {
            biases: false,
            lr_factors: 0.01,
            reg_factors: 0.05,
            ..Self::default()
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.factors == 0 {
            return Err(ConfigError::Factors);
        }
        if self.epochs == 0 {
            return Err(ConfigError::Epochs);
        }
        for (name, value) in [
            ("lr_factors", self.lr_factors),
            ("lr_biases", self.lr_biases),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::LearningRate { name, value });
            }
        }
        for (name, value) in [
            ("reg_factors", self.reg_factors),
            ("reg_biases", self.reg_biases),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::Regularisation { name, value });
            }
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return Err(ConfigError::LrDecay(self.lr_decay));
        }
        if !(self.init_std.is_finite() && self.init_std >= 0.0) {
            return Err(ConfigError::Init {
                name: "init_std",
                value: self.init_std,
            });
        }
        Ok(())
    }

    /// The initial `P` and `Q` (external order, row-major): normal with
    /// `init_std`, centred at 0 with biases and at `sqrt(mu / k)` without.
    pub(crate) fn initial_factors(&self, train: &RatingMatrix, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let k = self.factors;
        let mut rng = rng_for(seed, 0);
        let mean = if self.biases {
            0.0
        } else {
            (train.global_mean().max(0.0) / k as f32).sqrt()
        };
        let normal = Normal::new(mean, self.init_std).expect("validated std");
        let p0: Vec<f32> = (0..train.n_users() * k)
            .map(|_| normal.sample(&mut rng))
            .collect();
        let q0: Vec<f32> = (0..train.n_items() * k)
            .map(|_| normal.sample(&mut rng))
            .collect();
        (p0, q0)
    }

    /// Numbers of user and item strata `(U, I)`: `U` enough that one user
    /// stratum's factors fit in [`STRATUM_BYTES`], rounded up to a multiple
    /// of the thread count; `I` enough that one item stratum's factors fit
    /// there too, and at least `2 U` when there are fewer than two user
    /// strata per thread (so that a stratum can run ahead of the next, see
    /// `Schedule`), rounded up to a multiple of `U`.
    fn strata(threads: usize, n_users: usize, n_items: usize, stride: usize) -> (usize, usize) {
        let for_cache = |rows: usize| (rows * stride * 4).div_ceil(STRATUM_BYTES).max(1);
        let t = threads.max(1);
        let users = for_cache(n_users).div_ceil(t) * t;
        let slack = if t > 1 && users < 2 * t {
            2 * users
        } else {
            users
        };
        let items = for_cache(n_items).max(slack).div_ceil(users) * users;
        (users, items)
    }
}

/// Most bytes of factors in one stratum: a block's user and item rows
/// together, about 1 MiB, stay in a core's L2 cache (1.25 MiB or more on
/// current server cores) while the block runs.
const STRATUM_BYTES: usize = 1 << 19;

impl Fit for SgdConfig {
    type Model = MfModel;
    type Error = Error;

    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<MfModel> {
        let start = Instant::now();
        let mut t = SgdTrainer::new(self, train, ctx)?;
        let layout = &t.layout;
        let to_internal = |(u, i, r): train::Triple| {
            (
                layout.users.pos[u as usize],
                layout.items.pos[i as usize],
                r,
            )
        };
        let val_pairs: Vec<_> =
            train::validation_triples(validation, train.n_users(), train.n_items())?
                .into_iter()
                .map(to_internal)
                .collect();
        let weights = RegWeights::new(layout, train);
        let mut stopper = EarlyStopping::new(if validation.is_some() {
            self.patience
        } else {
            0
        });
        let mut best: Option<State> = None;
        let mut buf = Vec::new();
        let training_metrics = observer.wants_training_metrics();
        for epoch in 1..=self.epochs {
            t.epoch();
            let (train_m, loss) = if training_metrics {
                let (m, sse) = t.epoch_metrics(train.scale());
                let penalty = weights.penalty(&t.state, t.stride, self);
                (Some(m), Some((sse + penalty) / train.nnz() as f64))
            } else {
                (None, None)
            };
            let (exec, view) = (&t.exec, t.state.view(t.stride, t.mu));
            let val_m = validation.map(|_| {
                exec.run(|| {
                    train::evaluate(view, &val_pairs, train.scale(), exec.parallel(), &mut buf).0
                })
            });
            let record = EpochRecord {
                epoch,
                loss,
                train: train_m,
                validation: val_m,
                seconds: start.elapsed().as_secs_f64(),
            };
            let control = observer.on_epoch(&record);
            if let Some(v) = val_m {
                match stopper.observe(epoch, v.rmse) {
                    Verdict::Improved if stopper.enabled() => match &mut best {
                        Some(b) => b.clone_from(&t.state),
                        None => best = Some(t.state.clone()),
                    },
                    Verdict::Stop => break,
                    _ => {}
                }
            }
            if control == Control::Stop {
                break;
            }
        }
        Ok(match best {
            Some(b) if stopper.enabled() => t.model_of(&b, stopper.best_epoch()),
            _ => t.model(),
        })
    }

    /// The same settings with the epoch count early stopping chose and early
    /// stopping off, for a refit on train + validation.
    fn refit_config(&self, model: &MfModel) -> Self {
        Self {
            epochs: model.epochs().max(1),
            patience: 0,
            ..self.clone()
        }
    }
}

/// An SGD fit in progress, one epoch at a time, with no evaluation: what
/// [`Fit::fit`] drives, public for benchmarks and custom training loops.
///
/// ```
/// use movierec_core::{Rating, RatingMatrix, RatingScale, Ratings, RunContext};
/// use movierec_mf::{SgdConfig, SgdTrainer};
///
/// let r = Ratings::new(vec![Rating::new(0, 0, 4.0), Rating::new(1, 1, 2.0)], 2, 2,
///     RatingScale::default());
/// let train = RatingMatrix::new(&r).unwrap();
/// let config = SgdConfig { factors: 4, ..Default::default() };
/// let mut t = SgdTrainer::new(&config, &train, &RunContext::sequential(7)).unwrap();
/// t.epoch();
/// t.epoch();
/// assert_eq!((t.epochs_run(), t.model().epochs()), (2, 2));
/// ```
pub struct SgdTrainer {
    config: SgdConfig,
    exec: Exec,
    threads: usize,
    /// The model seed: the config's, else the run's.
    seed: u64,
    layout: Layout,
    /// Per block, its chunks' visiting order (reshuffled every epoch).
    order: Vec<u32>,
    /// The prediction each training rating's update started from in the
    /// last epoch, in the layout's entry order.
    preds: Vec<f32>,
    /// Padded row width of `state.p` and `state.q`.
    stride: usize,
    state: State,
    mu: f32,
    epoch: usize,
    cold_users: Vec<usize>,
    cold_items: Vec<usize>,
}

impl SgdTrainer {
    /// Validates `config`, lays out the blocks and draws the initial factors.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid setting, [`Error::EmptyTrain`] when
    /// `train` has no rating, [`Error::ThreadPool`] if a pool cannot be built.
    pub fn new(config: &SgdConfig, train: &RatingMatrix, ctx: &RunContext) -> Result<Self> {
        config.validate()?;
        if train.nnz() == 0 {
            return Err(Error::EmptyTrain { model: "SGD" });
        }
        let (exec, threads) = Exec::new(ctx.threads)?;
        let seed = ctx.model_seed(config.seed);
        let (n_users, n_items, k) = (train.n_users(), train.n_items(), config.factors);
        let stride = padded(k);
        let layout = Layout::new(
            train,
            SgdConfig::strata(threads, n_users, n_items, stride),
            seed,
        );
        // Initial factors in external order (independent of the layout).
        let (p0, q0) = config.initial_factors(train, seed);
        let bias_len = |n: usize| if config.biases { n } else { 0 };
        let state = State {
            p: layout.users.to_internal(&p0, k, stride),
            q: layout.items.to_internal(&q0, k, stride),
            bu: vec![0.0; bias_len(n_users)],
            bi: vec![0.0; bias_len(n_items)],
        };
        let cold_users = (0..n_users)
            .filter(|&u| train.user_count(UserIdx(u as u32)) == 0)
            .collect();
        let cold_items = (0..n_items)
            .filter(|&i| train.item_count(ItemIdx(i as u32)) == 0)
            .collect();
        Ok(Self {
            config: config.clone(),
            exec,
            threads,
            seed,
            order: layout.initial_order(),
            preds: vec![0.0; train.nnz()],
            stride,
            layout,
            state,
            mu: if config.biases {
                train.global_mean()
            } else {
                0.0
            },
            epoch: 0,
            cold_users,
            cold_items,
        })
    }

    /// Runs the next epoch (one update per training rating).
    pub fn epoch(&mut self) {
        self.epoch += 1;
        let c = &self.config;
        let scale = c.lr_decay.powi(self.epoch as i32 - 1);
        let step = Step {
            lr_factors: c.lr_factors * scale,
            reg_factors: c.reg_factors,
            lr_biases: c.lr_biases * scale,
            reg_biases: c.reg_biases,
            mu: self.mu,
        };
        let (layout, order, preds, state) = (
            &self.layout,
            &mut self.order,
            &mut self.preds,
            &mut self.state,
        );
        let (k, seed, epoch) = (self.stride, self.seed, self.epoch);
        layout.epoch(order, preds, state, k, step, seed, epoch, &self.exec);
    }

    /// Metrics of the last epoch on the training ratings, from the
    /// predictions its updates started from (each rating scored just before
    /// its own update, not after the epoch), plus their unclamped sum of
    /// squared errors. Summed serially in the layout's fixed order, so the
    /// result depends only on `(seed, threads)`.
    fn epoch_metrics(&self, scale: RatingScale) -> (SetMetrics, f64) {
        let mut acc = Accumulator::default();
        let mut sse = 0.0f64;
        for (&p, e) in self.preds.iter().zip(&self.layout.entries) {
            acc.add(p, e.r, scale);
            let d = f64::from(e.r) - f64::from(p);
            sse += d * d;
        }
        (acc.finish(), sse)
    }

    /// Epochs run so far.
    pub fn epochs_run(&self) -> usize {
        self.epoch
    }

    /// The resolved thread count.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Numbers of user and item strata `(U, I)` (`U x I` blocks).
    pub fn strata(&self) -> (usize, usize) {
        (self.layout.bu, self.layout.bi)
    }

    /// The current factors as a model.
    pub fn model(&self) -> MfModel {
        self.model_of(&self.state, self.epoch)
    }

    fn model_of(&self, state: &State, epochs: usize) -> MfModel {
        let k = self.config.factors;
        let mut p = self.layout.users.to_external(&state.p, k, self.stride);
        let mut q = self.layout.items.to_external(&state.q, k, self.stride);
        for &u in &self.cold_users {
            p[u * k..(u + 1) * k].fill(0.0);
        }
        for &i in &self.cold_items {
            q[i * k..(i + 1) * k].fill(0.0);
        }
        let biases = self.config.biases.then(|| Biases {
            mu: self.mu,
            user: self.layout.users.to_external(&state.bu, 1, 1),
            item: self.layout.items.to_external(&state.bi, 1, 1),
        });
        MfModel::new(k, p, q, biases, epochs).with_user_reg(UserReg {
            factors: self.config.reg_factors,
            bias: self.config.reg_biases,
            per_rating: true,
        })
    }
}

/// Factors and biases in the layout's internal row order.
#[derive(Debug, Clone)]
struct State {
    p: Aligned,
    q: Aligned,
    bu: Vec<f32>,
    bi: Vec<f32>,
}

impl State {
    fn view(&self, k: usize, mu: f32) -> View<'_> {
        View {
            k,
            p: &self.p,
            q: &self.q,
            bu: &self.bu,
            bi: &self.bi,
            mu,
        }
    }
}

/// A permutation of users (or items) grouping each stratum's rows together.
#[derive(Debug, Clone)]
struct Strata {
    /// External index -> internal row.
    pos: Vec<u32>,
    /// First internal row of each stratum, plus the total (`B + 1` values).
    start: Vec<usize>,
    /// Stratum of each external index.
    of: Vec<u32>,
}

impl Strata {
    /// Greedy balancing: rows by decreasing rating count go to the stratum
    /// with the fewest ratings so far (ties by index), then each stratum's
    /// rows keep their external order.
    fn balance(counts: &[usize], b: usize) -> Self {
        let n = counts.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&x, &y| counts[y].cmp(&counts[x]).then(x.cmp(&y)));
        let mut load = vec![0usize; b];
        let mut of = vec![0u32; n];
        for &x in &order {
            let s = (0..b).min_by_key(|&s| (load[s], s)).unwrap_or(0);
            load[s] += counts[x];
            of[x] = s as u32;
        }
        let mut size = vec![0usize; b + 1];
        for &s in &of {
            size[s as usize + 1] += 1;
        }
        let mut start = size;
        for s in 0..b {
            start[s + 1] += start[s];
        }
        let mut next = start.clone();
        let mut pos = vec![0u32; n];
        for x in 0..n {
            let s = of[x] as usize;
            pos[x] = next[s] as u32;
            next[s] += 1;
        }
        Self { pos, start, of }
    }

    /// Rows of `width` values from external order to internal order, each
    /// row zero-padded to `stride` values.
    fn to_internal(&self, ext: &[f32], width: usize, stride: usize) -> Aligned {
        let mut out = Aligned::zeroed(self.pos.len() * stride);
        for (x, &p) in self.pos.iter().enumerate() {
            let p = p as usize;
            out[p * stride..p * stride + width].copy_from_slice(&ext[x * width..(x + 1) * width]);
        }
        out
    }

    /// Rows of `stride` values (internal order) back to external order,
    /// keeping the first `width` of each.
    fn to_external(&self, int: &[f32], width: usize, stride: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.pos.len() * width];
        for (x, &p) in self.pos.iter().enumerate() {
            let p = p as usize;
            out[x * width..(x + 1) * width].copy_from_slice(&int[p * stride..p * stride + width]);
        }
        out
    }

    /// Splits `rows` (internal order, `width` per row) into one slice per stratum.
    fn split<'a, T>(&self, rows: &'a mut [T], width: usize) -> Vec<&'a mut [T]> {
        let bounds: Vec<usize> = self.start.iter().map(|&s| s * width).collect();
        split_at_bounds(rows, &bounds)
    }
}

/// The DSGD blocking of the training ratings.
#[derive(Debug, Clone)]
struct Layout {
    /// User strata.
    bu: usize,
    /// Item strata, a multiple of `bu`.
    bi: usize,
    users: Strata,
    items: Strata,
    /// Ratings grouped by block `a * bi + c` (user stratum a, item stratum
    /// c), with rows relative to their strata's first rows; shuffled once
    /// within each block.
    entries: Vec<Entry>,
    /// First entry of each block, plus the total.
    block_start: Vec<usize>,
    /// First chunk of each block in the chunk-order list, plus the total.
    chunk_start: Vec<usize>,
}

impl Layout {
    fn new(train: &RatingMatrix, (bu, bi): (usize, usize), seed: u64) -> Self {
        debug_assert_eq!(bi % bu, 0, "item strata are a multiple of user strata");
        let user_counts: Vec<usize> = (0..train.n_users())
            .map(|u| train.user_count(UserIdx(u as u32)))
            .collect();
        let item_counts: Vec<usize> = (0..train.n_items())
            .map(|i| train.item_count(ItemIdx(i as u32)))
            .collect();
        let users = Strata::balance(&user_counts, bu);
        let items = Strata::balance(&item_counts, bi);
        let n_blocks = bu * bi;
        let block_of = |u: usize, i: usize| users.of[u] as usize * bi + items.of[i] as usize;
        let mut block_start = vec![0usize; n_blocks + 1];
        for u in 0..train.n_users() {
            for &i in train.user_ratings(UserIdx(u as u32)).0 {
                block_start[block_of(u, i) + 1] += 1;
            }
        }
        for x in 0..n_blocks {
            block_start[x + 1] += block_start[x];
        }
        let mut next = block_start.clone();
        let mut entries = vec![Entry { u: 0, i: 0, r: 0.0 }; train.nnz()];
        for u in 0..train.n_users() {
            let (items_u, values) = train.user_ratings(UserIdx(u as u32));
            for (&i, &r) in items_u.iter().zip(values) {
                let blk = block_of(u, i);
                let (su, si) = (users.of[u] as usize, items.of[i] as usize);
                entries[next[blk]] = Entry {
                    u: users.pos[u] - users.start[su] as u32,
                    i: items.pos[i] - items.start[si] as u32,
                    r,
                };
                next[blk] += 1;
            }
        }
        let mut chunk_start = vec![0usize; n_blocks + 1];
        for x in 0..n_blocks {
            let blk = &mut entries[block_start[x]..block_start[x + 1]];
            blk.shuffle(&mut rng_for(seed, x as u64 + 1));
            chunk_start[x + 1] = chunk_start[x] + blk.len().div_ceil(CHUNK);
        }
        Self {
            bu,
            bi,
            users,
            items,
            entries,
            block_start,
            chunk_start,
        }
    }

    /// Every block's chunks in index order.
    fn initial_order(&self) -> Vec<u32> {
        self.chunk_start
            .windows(2)
            .flat_map(|w| 0..(w[1] - w[0]) as u32)
            .collect()
    }

    /// One epoch: every block once, in the order of a [`Schedule`] drawn
    /// for this epoch; each block's chunk order is reshuffled just before
    /// it runs. One thread runs the blocks step by step; more run each
    /// block as soon as the blocks it depends on are done (rayon tasks, no
    /// barrier between steps).
    #[allow(clippy::too_many_arguments)]
    fn epoch(
        &self,
        order: &mut [u32],
        preds: &mut [f32],
        state: &mut State,
        k: usize,
        step: Step,
        seed: u64,
        epoch: usize,
        exec: &Exec,
    ) {
        let schedule = Schedule::new(self.bu, self.bi, rng_for(seed, (epoch as u64) << 32));
        let biases = !state.bu.is_empty();
        let mut orders = split_at_bounds(order, &self.chunk_start).into_iter();
        let mut preds = split_at_bounds(preds, &self.block_start).into_iter();
        // Without biases `bu` and `bi` are empty: width 0 gives every stratum
        // an empty slice.
        let bias_width = usize::from(biases);
        let ps = self.users.split(&mut state.p, k);
        let bus = self.users.split(&mut state.bu, bias_width);
        let users: Vec<Mutex<UserStratum<'_>>> = ps
            .into_iter()
            .zip(bus)
            .map(|(p, bu)| {
                Mutex::new(UserStratum {
                    p,
                    bu,
                    blocks: (&mut orders).zip(&mut preds).take(self.bi).collect(),
                })
            })
            .collect();
        let qs = self.items.split(&mut state.q, k);
        let bis = self.items.split(&mut state.bi, bias_width);
        let items: Vec<Mutex<(&mut [f32], &mut [f32])>> =
            qs.into_iter().zip(bis).map(Mutex::new).collect();
        // Runs block (a, t): its user stratum's rows and its item stratum's
        // rows are free by the schedule, so the locks are never contended.
        let run = |a: usize, t: usize| {
            let c = schedule.item_stratum(a, t);
            let mut user = users[a]
                .try_lock()
                .expect("one block per user stratum at a time");
            let mut item = items[c]
                .try_lock()
                .expect("one block per item stratum at a time");
            let UserStratum { p, bu, blocks } = &mut *user;
            let (q, bi) = &mut *item;
            let (order, preds) = &mut blocks[c];
            let blk = a * self.bi + c;
            order.shuffle(&mut rng_for(
                seed,
                ((epoch as u64) << 32) | (blk as u64 + 1),
            ));
            BlockPass {
                k,
                p,
                q,
                bu,
                bi,
                entries: &self.entries[self.block_start[blk]..self.block_start[blk + 1]],
                preds,
                order,
                step,
                biases,
            }
            .run();
        };
        if !exec.parallel() {
            for t in 0..schedule.items {
                for a in 0..schedule.users {
                    run(a, t);
                }
            }
            return;
        }
        let pending: Vec<AtomicU8> = (0..schedule.users * schedule.items)
            .map(|x| AtomicU8::new(schedule.waits_for(x % schedule.items)))
            .collect();
        // Runs (a, t), then whichever blocks that made ready: the next one of
        // the same user stratum here, the next one of the item stratum as a
        // new task.
        fn chain<'s, F: Fn(usize, usize) + Sync>(
            scope: &rayon::Scope<'s>,
            schedule: &'s Schedule,
            pending: &'s [AtomicU8],
            run: &'s F,
            a: usize,
            mut t: usize,
        ) {
            loop {
                run(a, t);
                if let Some((a2, t2)) = schedule.next_of_item(a, t) {
                    if pending[a2 * schedule.items + t2].fetch_sub(1, Ordering::AcqRel) == 1 {
                        scope.spawn(move |s| chain(s, schedule, pending, run, a2, t2));
                    }
                }
                t += 1;
                if t == schedule.items
                    || pending[a * schedule.items + t].fetch_sub(1, Ordering::AcqRel) != 1
                {
                    return;
                }
            }
        }
        let (schedule, pending, run) = (&schedule, &pending[..], &run);
        exec.run(|| {
            rayon::scope(|s| {
                for a in 0..schedule.users {
                    s.spawn(move |s| chain(s, schedule, pending, run, a, 0));
                }
            })
        });
    }
}

/// The order of an epoch's blocks: at step `t` (of `I`), user stratum `a`
/// runs item stratum `perm[(a I / U + t) mod I]`, with `perm` a permutation
/// of the item strata drawn per epoch, so the `U` blocks of a step share no
/// row. Block `(a, t)` must follow `(a, t - 1)`, the last block of its user
/// stratum, and `(a + 1, t - I / U)`, the last block of its item stratum.
/// Run in any order that keeps those two, an epoch updates every row in the
/// same sequence, so a fit never depends on timing (LIBMF's scheduler
/// instead picks free blocks at run time). User stratum `a` can thus run
/// up to `I / U - 1` steps ahead of stratum `a + 1`.
struct Schedule {
    users: usize,
    items: usize,
    perm: Vec<usize>,
}

impl Schedule {
    fn new(users: usize, items: usize, mut rng: movierec_core::Rng) -> Self {
        let mut perm: Vec<usize> = (0..items).collect();
        perm.shuffle(&mut rng);
        Self { users, items, perm }
    }

    fn spread(&self) -> usize {
        self.items / self.users
    }

    fn item_stratum(&self, a: usize, t: usize) -> usize {
        self.perm[(a * self.spread() + t) % self.items]
    }

    /// How many blocks a step `t` block follows (0 to 2).
    fn waits_for(&self, t: usize) -> u8 {
        u8::from(t > 0) + u8::from(t >= self.spread())
    }

    /// The next block of the item stratum that `(a, t)` runs, if any.
    fn next_of_item(&self, a: usize, t: usize) -> Option<(usize, usize)> {
        let t2 = t + self.spread();
        (t2 < self.items).then(|| ((a + self.users - 1) % self.users, t2))
    }
}

/// A user stratum's rows and biases, and the chunk orders and prediction
/// slots of its `I` blocks (by item stratum).
struct UserStratum<'a> {
    p: &'a mut [f32],
    bu: &'a mut [f32],
    blocks: Vec<(&'a mut [u32], &'a mut [f32])>,
}

/// `values` cut at `bounds` (first offsets plus the total).
fn split_at_bounds<'a, T>(mut values: &'a mut [T], bounds: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    for w in bounds.windows(2) {
        let (head, tail) = values.split_at_mut(w[1] - w[0]);
        out.push(head);
        values = tail;
    }
    out
}

/// Per-row rating counts, for the regularisation part of the reported loss.
struct RegWeights {
    users: Vec<f64>,
    items: Vec<f64>,
}

impl RegWeights {
    fn new(layout: &Layout, train: &RatingMatrix) -> Self {
        let mut users = vec![0.0; train.n_users()];
        for u in 0..train.n_users() {
            users[layout.users.pos[u] as usize] = train.user_count(UserIdx(u as u32)) as f64;
        }
        let mut items = vec![0.0; train.n_items()];
        for i in 0..train.n_items() {
            items[layout.items.pos[i] as usize] = train.item_count(ItemIdx(i as u32)) as f64;
        }
        Self { users, items }
    }

    /// `sum_(u,i) reg_f (|p_u|^2 + |q_i|^2) + reg_b (b_u^2 + b_i^2)`, i.e.
    /// each row's squared norm weighted by its rating count (row norms in
    /// f32 SIMD: a serial f64 sum cost about half an epoch at `k = 200`).
    fn penalty(&self, s: &State, k: usize, c: &SgdConfig) -> f64 {
        let rows = |m: &[f32], w: &[f64]| kernel::weighted_sq_norms(m, k, w);
        let mut total =
            f64::from(c.reg_factors) * (rows(&s.p, &self.users) + rows(&s.q, &self.items));
        if !s.bu.is_empty() {
            total +=
                f64::from(c.reg_biases) * (rows_1(&s.bu, &self.users) + rows_1(&s.bi, &self.items));
        }
        total
    }
}

fn rows_1(v: &[f32], w: &[f64]) -> f64 {
    v.iter()
        .zip(w)
        .map(|(&x, &n)| n * f64::from(x) * f64::from(x))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ROW_ALIGN;
    use crate::tests::random_ratings;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Every training rating lands in exactly one block, with rows that
        /// map back to its user and item.
        #[test]
        fn blocks_partition_the_ratings(nu in 1usize..30, ni in 1usize..30, bu in 1usize..5, spread in 1usize..4, seed in 0u64..100) {
            let train = RatingMatrix::new(&random_ratings(nu, ni, 0.3, seed)).unwrap();
            let bi = bu * spread;
            let layout = Layout::new(&train, (bu, bi), seed);
            prop_assert_eq!(layout.entries.len(), train.nnz());
            prop_assert_eq!(layout.block_start.len(), bu * bi + 1);
            let inv = |s: &Strata| {
                let mut inv = vec![0usize; s.pos.len()];
                for (x, &p) in s.pos.iter().enumerate() { inv[p as usize] = x; }
                inv
            };
            let (iu, ii) = (inv(&layout.users), inv(&layout.items));
            let mut seen = Vec::new();
            for a in 0..bu {
                for c in 0..bi {
                    let blk = a * bi + c;
                    for e in &layout.entries[layout.block_start[blk]..layout.block_start[blk + 1]] {
                        let u = iu[layout.users.start[a] + e.u as usize];
                        let i = ii[layout.items.start[c] + e.i as usize];
                        prop_assert_eq!(layout.users.of[u] as usize, a);
                        prop_assert_eq!(layout.items.of[i] as usize, c);
                        prop_assert_eq!(train.get(UserIdx(u as u32), ItemIdx(i as u32)), Some(e.r));
                        seen.push((u, i));
                    }
                }
            }
            seen.sort_unstable();
            seen.dedup();
            prop_assert_eq!(seen.len(), train.nnz());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// Threads run an epoch's blocks in whatever order their timing
        /// gives, yet every row sees its updates in the schedule's order: the
        /// result is bit-identical to running the schedule step by step.
        #[test]
        fn parallel_epochs_equal_the_schedule_run_in_order(users in 2usize..5, spread in 2usize..4, biases: bool, seed in 0u64..1000) {
            let train = RatingMatrix::new(&random_ratings(40, 60, 0.3, seed)).unwrap();
            let layout = Layout::new(&train, (users, users * spread), seed);
            let k = ROW_ALIGN;
            let row = |x: usize| ((x as f32) * 0.37).sin() * 0.1;
            let state = State {
                p: Aligned::from_slice(&(0..40 * k).map(row).collect::<Vec<_>>()),
                q: Aligned::from_slice(&(0..60 * k).map(|x| row(x + 7)).collect::<Vec<_>>()),
                bu: if biases { vec![0.0; 40] } else { Vec::new() },
                bi: if biases { vec![0.0; 60] } else { Vec::new() },
            };
            let step = Step { lr_factors: 0.05, reg_factors: 0.02, lr_biases: 0.01, reg_biases: 0.05, mu: 3.5 };
            let run = |threads: usize| {
                let (exec, _) = Exec::new(threads).unwrap();
                let (mut state, mut order, mut preds) = (state.clone(), layout.initial_order(), vec![0.0; train.nnz()]);
                for epoch in 1..=3 {
                    layout.epoch(&mut order, &mut preds, &mut state, k, step, seed, epoch, &exec);
                }
                (state.p.to_vec(), state.q.to_vec(), state.bu, state.bi, preds)
            };
            let in_order = run(1);
            for threads in [2, 3] {
                prop_assert!(run(threads) == in_order, "{} threads", threads);
            }
        }
    }

    /// Every block once per epoch; the blocks of a step on distinct item
    /// strata; each item stratum handed from block to block along
    /// `next_of_item`, and `waits_for` counting exactly the blocks a block
    /// follows.
    #[test]
    fn schedule_orders_every_block_once_by_its_strata() {
        for users in 1..=5 {
            for spread in 1..=4 {
                let items = users * spread;
                for seed in 0..4 {
                    let s = Schedule::new(users, items, rng_for(seed, 1));
                    let mut seen = vec![false; users * items];
                    let mut last: Vec<Option<(usize, usize)>> = vec![None; items];
                    for t in 0..items {
                        let mut step: Vec<usize> =
                            (0..users).map(|a| s.item_stratum(a, t)).collect();
                        for (a, &c) in step.iter().enumerate() {
                            assert!(!std::mem::replace(&mut seen[a * items + c], true));
                            let follows = u8::from(t > 0) + u8::from(last[c].is_some());
                            assert_eq!(s.waits_for(t), follows, "U {users}, I {items}, ({a}, {t})");
                            if let Some((a0, t0)) = last[c] {
                                assert_eq!(s.next_of_item(a0, t0), Some((a, t)));
                            }
                            last[c] = Some((a, t));
                        }
                        step.sort_unstable();
                        step.dedup();
                        assert_eq!(step.len(), users);
                    }
                    assert!(seen.iter().all(|&x| x));
                    for &(a, t) in last.iter().flatten() {
                        assert_eq!(s.next_of_item(a, t), None);
                    }
                }
            }
        }
    }

    #[test]
    fn strata_count_follows_threads_and_cache_size() {
        // ml-latest-small at k = 200 (stride 208): users 610 x 832 B = 508 KB
        // -> 1 stratum, items 9,724 x 832 B = 8.1 MB -> 16 strata.
        assert_eq!(SgdConfig::strata(1, 610, 9_724, 208), (1, 16));
        assert_eq!(SgdConfig::strata(2, 610, 9_724, 208), (2, 16));
        assert_eq!(SgdConfig::strata(1, 610, 9_724, 112), (1, 9));
        assert_eq!(SgdConfig::strata(2, 610, 9_724, 112), (2, 10));
        assert_eq!(SgdConfig::strata(1, 610, 9_724, 16), (1, 2));
        assert_eq!(SgdConfig::strata(3, 10, 100, 16), (3, 6));
        // A large catalogue: 162k users at k = 112 -> 139 user strata, rounded to 140.
        assert_eq!(SgdConfig::strata(2, 162_541, 59_047, 112).0, 140);
    }

    #[test]
    fn strata_are_balanced_by_rating_count() {
        let counts = [100, 1, 1, 50, 50, 3, 2, 1, 0, 40];
        let s = Strata::balance(&counts, 3);
        let mut load = [0usize; 3];
        for (x, &c) in counts.iter().enumerate() {
            load[s.of[x] as usize] += c;
        }
        // Greedy: 100 | 50 + 40 | 50 + 3 + 2 + 1 + 1 + 1 (+ 0); the greedy
        // rule's bound is total / B + the largest count.
        assert_eq!(load, [100, 90, 58]);
        let ext: Vec<f32> = (0..counts.len() * 2).map(|x| x as f32).collect();
        assert_eq!(s.to_external(&s.to_internal(&ext, 2, 5), 2, 5), ext);
        assert_eq!(s.start, {
            let mut st = vec![0usize];
            for b in 0..3 {
                st.push(st[b] + s.of.iter().filter(|&&o| o as usize == b).count());
            }
            st
        });
    }
}
