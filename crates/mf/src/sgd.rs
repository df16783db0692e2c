//! The sparse SGD fit ([`SgdConfig`]'s [`Fit`]) and its trainer
//! ([`SgdTrainer`]): initial factors, learning-rate schedule, per-epoch
//! metrics and loss. The blocking and its schedule live in `layout.rs` and
//! `schedule.rs`, the settings in `config.rs`.

use std::time::Instant;

use movierec_core::metrics::Accumulator;
use movierec_core::training::{Better, Epoch, EpochLoop};
use movierec_core::{
    rng_for, EpochRecord, Fit, ItemIdx, Observer, RatingMatrix, RatingScale, Ratings, RunContext,
    SetMetrics, UserIdx,
};
use rand_distr::{Distribution, Normal};

use crate::kernel::{self, padded, Step};
use crate::layout::{strata, Layout, State};
use crate::train::{self, Exec};
use crate::{Biases, Error, MfModel, Result, SgdConfig, UserReg};

impl SgdConfig {
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
}

impl SgdConfig {
    /// The step of `epoch` (1-based): both learning rates times
    /// `lr_decay^(epoch - 1)`; `mu` counts only with biases. The fit's
    /// schedule, and the distributed trainer's.
    pub fn block_step(&self, epoch: usize, mu: f32) -> Step {
        let scale = self.lr_decay.powi(epoch as i32 - 1);
        Step {
            lr_factors: self.lr_factors * scale,
            reg_factors: self.reg_factors,
            lr_biases: self.lr_biases * scale,
            reg_biases: self.reg_biases,
            mu: if self.biases { mu } else { 0.0 },
        }
    }
}

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
        let mut buf = Vec::new();
        let training_metrics = observer.wants_training_metrics();
        let outcome = EpochLoop::new(self.epochs)
            .early_stopping(Better::Lower, self.patience)
            .run(
                &mut t,
                observer,
                |t, epoch| {
                    t.epoch();
                    // The loss is computed only for observers that want it:
                    // the parameters themselves say whether SGD diverged.
                    if !t.state.is_finite() {
                        return Err(Error::Core(movierec_core::training::diverged(
                            epoch,
                            "the factors are no longer finite numbers",
                        )));
                    }
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
                            let (scale, parallel) = (train.scale(), exec.parallel());
                            train::evaluate(view, &val_pairs, scale, parallel, &mut buf).0
                        })
                    });
                    let record = EpochRecord {
                        epoch,
                        loss,
                        train: train_m,
                        validation: val_m,
                        seconds: start.elapsed().as_secs_f64(),
                    };
                    Ok::<_, Error>(Epoch {
                        record,
                        score: val_m.map(|m| m.rmse),
                    })
                },
                |t, best: &mut Option<State>| match best {
                    Some(b) => b.clone_from(&t.state),
                    None => *best = Some(t.state.clone()),
                },
            )?;
        Ok(match outcome.best {
            Some(b) => t.model_of(&b.state, b.epoch),
            None => t.model(),
        })
    }

    /// The same settings with the epoch count early stopping chose and early
    /// stopping off, for a refit on train + validation.
    fn refit_config(&self, model: &MfModel) -> Self {
        let refit = EpochLoop::refit(model.epochs());
        Self {
            epochs: refit.epochs,
            patience: refit.patience,
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
        let layout = Layout::new(train, strata(threads, n_users, n_items, stride), seed);
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
        let step = self.config.block_step(self.epoch, self.mu);
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
