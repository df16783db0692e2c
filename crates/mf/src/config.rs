//! The settings of the two optimisers, [`SgdConfig`] and [`DenseGdConfig`]:
//! their documentation (algorithm, cost, parallelisation), defaults, presets
//! and checks. The fits live in `sgd.rs` and `dense.rs`.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// The most latent factors a config accepts, checked before anything is
/// allocated (a mistyped `--factors 4000000000` would otherwise abort on an
/// allocation of terabytes); published MF models use tens to a few hundred.
pub const MAX_FACTORS: usize = 4096;

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
    /// Seed of the initialisation and the shuffles; `None` (the default)
    /// takes the run's seed ([`RunContext::seed`](movierec_core::RunContext::seed)). The thread count comes
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

    /// Settings for ml-25m-sized data (tens of millions of ratings, a
    /// hundred thousand users or more), where the small-data defaults cost
    /// more than they return: [`Default`] with 128 factors instead of 200.
    ///
    /// An epoch's cost is one pass over both factor rows per rating; at 25
    /// million ratings the user rows (162,541 x 200 floats, 135 MB) no
    /// longer stay in any cache, so the epoch is bound by memory traffic,
    /// which falls with `k`: 128 factors (a multiple of 16, rows held in
    /// registers) make an epoch about 2.5 times faster than 200 on 2 cores.
    /// Published MF results at this scale use 100 to 200 factors (LIBMF's
    /// Netflix benchmark: 100). Everything else stays: the learning rates,
    /// regularisation and early stopping of the defaults converge in 10 to
    /// 15 epochs at 25 million ratings (the synthetic ml-25m shape stops at
    /// epoch 12 to 15), well inside the 60-epoch budget.
    pub fn large() -> Self {
        Self {
            factors: 128,
            ..Self::default()
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.factors == 0 || self.factors > MAX_FACTORS {
            return Err(ConfigError::Factors(self.factors));
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
}

/// The report's matrix factorisation (its 6.2): full-batch gradient descent
/// on dense `users x items` matrices, kept faithful because the benchmarks
/// explain its cost. Not the model to use: see [`SgdConfig`](crate::SgdConfig).
///
/// ## Algorithm
/// With `R` the dense training matrix (0 where unrated) and `M` its 0/1 mask
/// of observed entries, each step is exactly the report's numpy loop:
///
/// ```text
/// pred  = P Q^T                                      (users x items, all cells)
/// diff  = (R - pred) * M
/// err   = 0.5 sum(diff^2) + beta 0.5 (|P|^2 + |Q|^2)
/// ddiff = -diff * M
/// P    -= alpha (ddiff Q + beta P)
/// Q    -= alpha (ddiff^T P + beta Q)                 (with the updated P)
/// ```
///
/// Like the numpy code, the `Q` update uses the `P` just updated (a
/// Gauss-Seidel sweep, not the simultaneous gradient). `err` is reported as
/// the step's loss (of the model before the step). The prediction is the
/// plain `p_u . q_i`: no mean, no biases. `P` and `Q` start uniform in
/// `[0, 2 init_scale sqrt(mu / k))`, so that `p . q` starts near the mean
/// rating `mu`, as the report's positive random start (`np.random.rand`) did.
/// The training and validation metrics are computed every `eval_every`
/// steps (the report's `i % 10 == 0`) and at the last step; early stopping
/// on validation RMSE (patience counted in evaluations) restores the best
/// evaluated step.
///
/// ## Complexity
/// Three dense products of `users x k x items` per step: `O(n_users n_items k)`
/// time whatever the number of ratings, plus `O(n_users n_items)` elementwise
/// work and memory (`R`, `M` and `pred`, `f32`). On ml-latest-small that is
/// about 60 times the arithmetic of one sparse SGD epoch at any `k` (1.7 % of the
/// cells are rated), which is why the report's MF took hours.
///
/// ## Parallelisation
/// The products go through faer's `matmul` with `Par::Seq` for `threads = 1`
/// and `Par::rayon(threads)` otherwise (0 = the rayon pool's size); the
/// elementwise pass is sequential. `threads = 1` is bit-reproducible run to
/// run; with more threads, reproducibility rests on faer splitting each
/// product the same way every time (it has in our tests).
///
/// ## Example
/// The report's 5 x 4 example (5.2.1 part 2), reconstructed on its rated
/// entries:
/// ```
/// use movierec_core::{Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale,
///     Ratings, Recommender, UserIdx, RunContext};
/// use movierec_mf::DenseGdConfig;
///
/// let r = [[5., 0., 3., 0.], [4., 0., 1., 1.], [2., 1., 0., 5.], [1., 0., 3., 2.], [0., 1., 4., 0.]];
/// let mut entries = Vec::new();
/// for (u, row) in r.iter().enumerate() {
///     for (i, &x) in row.iter().enumerate() {
///         if x > 0.0 {
///             entries.push(Rating::new(u as u32, i as u32, x));
///         }
///     }
/// }
/// let train = RatingMatrix::new(&Ratings::new(entries, 5, 4, RatingScale::new(1.0, 5.0))).unwrap();
/// let config = DenseGdConfig { factors: 3, lr: 0.01, beta: 0.002, epochs: 5000,
///     ..DenseGdConfig::default() };
/// let model = config.fit(&train, None, &RunContext::default(), &mut NoopObserver).unwrap();
/// for (u, row) in r.iter().enumerate() {
///     for (i, &x) in row.iter().enumerate() {
///         if x > 0.0 {
///             let p = model.predict(UserIdx(u as u32), ItemIdx(i as u32)).unwrap();
///             assert!((p - x).abs() < 0.1, "({u}, {i}): {p} vs {x}");
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DenseGdConfig {
    /// Latent dimension `k`. Default: 20.
    pub factors: usize,
    /// Step size `alpha`. Default: 0.0001 (0.0003 diverges on
    /// ml-latest-small at 20 factors: a user with 2,000 ratings has a
    /// gradient 100 times a light user's).
    pub lr: f32,
    /// Weight decay `beta`. Default: 0.02.
    pub beta: f32,
    /// Step budget. Default: 1000.
    pub epochs: usize,
    /// Compute training and validation metrics every this many steps (the
    /// report: 10). Default: 10.
    pub eval_every: usize,
    /// Stop after this many evaluations without a lower validation RMSE and
    /// restore the best; 0 (or no validation set) runs the whole budget.
    /// Default: 10.
    pub patience: usize,
    /// Multiplier on the automatic initial range `[0, 2 sqrt(mu / k))`.
    /// Default: 1.
    pub init_scale: f32,
    /// Seed of the initialisation; `None` (the default) takes the run's
    /// seed. The dense products use the run context's threads.
    pub seed: Option<u64>,
}

impl Default for DenseGdConfig {
    /// The report gives no factor count, step size, weight decay or step
    /// count: these converge on ml-latest-small (one 90/10 split: best
    /// validation RMSE 0.913 at step 490, test RMSE 0.89) and are to be
    /// tuned on the validation sets: 20 factors, alpha 0.0001, beta 0.02,
    /// 1000 steps, metrics every 10, patience 10, the run's seed.
    fn default() -> Self {
        Self {
            factors: 20,
            lr: 0.0001,
            beta: 0.02,
            epochs: 1000,
            eval_every: 10,
            patience: 10,
            init_scale: 1.0,
            seed: None,
        }
    }
}

impl DenseGdConfig {
    /// Checks every setting.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.factors == 0 || self.factors > MAX_FACTORS {
            return Err(ConfigError::Factors(self.factors));
        }
        if self.epochs == 0 {
            return Err(ConfigError::Epochs);
        }
        if self.eval_every == 0 {
            return Err(ConfigError::EvalEvery);
        }
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return Err(ConfigError::LearningRate {
                name: "lr",
                value: self.lr,
            });
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(ConfigError::Regularisation {
                name: "beta",
                value: self.beta,
            });
        }
        if !(self.init_scale.is_finite() && self.init_scale >= 0.0) {
            return Err(ConfigError::Init {
                name: "init_scale",
                value: self.init_scale,
            });
        }
        Ok(())
    }
}
