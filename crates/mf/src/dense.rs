//! The report's dense full-batch gradient descent: [`DenseGdConfig`]'s
//! [`Fit`] and its trainer ([`DenseTrainer`]) over dense `users x items`
//! matrices (faer products). The settings live in `config.rs`.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use movierec_core::training::{Better, Epoch, EpochLoop};
use movierec_core::{
    rng_for, EpochRecord, Fit, ItemIdx, Observer, RatingMatrix, RatingScale, Ratings, RunContext,
    SetMetrics, UserIdx,
};
use rand::Rng as _;

use crate::train::{self, Triple, View};
use crate::{DenseGdConfig, Error, MfModel, Result, UserReg};

/// The largest `n_users x n_items` the dense optimiser accepts (each dense
/// matrix of that size takes 400 MB of `f32`, and it keeps three).
pub const DENSE_CELL_LIMIT: usize = 100_000_000;

/// The dense problem and the buffers of one step (all column-major faer
/// matrices; `P` is users x k, `Q` items x k).
pub(crate) struct DenseState {
    pub r: Mat<f32>,
    pub m: Mat<f32>,
    pub p: Mat<f32>,
    pub q: Mat<f32>,
    /// `pred`, then `ddiff` in place.
    pub work: Mat<f32>,
    pub gp: Mat<f32>,
    pub gq: Mat<f32>,
}

impl DenseState {
    /// `R`, `M`, and the seeded initial factors.
    pub fn new(train: &RatingMatrix, k: usize, init_scale: f32, seed: u64) -> Result<Self> {
        let (nu, ni) = (train.n_users(), train.n_items());
        let cells = nu.saturating_mul(ni);
        if cells > DENSE_CELL_LIMIT {
            return Err(Error::TooLarge {
                n_users: nu,
                n_items: ni,
                cells,
                limit: DENSE_CELL_LIMIT,
            });
        }
        let mut r = Mat::<f32>::zeros(nu, ni);
        let mut m = Mat::<f32>::zeros(nu, ni);
        for u in 0..nu {
            let (items, values) = train.user_ratings(UserIdx(u as u32));
            for (&i, &x) in items.iter().zip(values) {
                r[(u, i)] = x;
                m[(u, i)] = 1.0;
            }
        }
        let hi = 2.0 * init_scale * (train.global_mean().max(0.0) / k as f32).sqrt();
        let mut rng = rng_for(seed, 0);
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random::<f32>() * hi).collect() };
        let (p0, q0) = (draw(nu * k), draw(ni * k));
        Ok(Self {
            r,
            m,
            p: Mat::from_fn(nu, k, |u, f| p0[u * k + f]),
            q: Mat::from_fn(ni, k, |i, f| q0[i * k + f]),
            work: Mat::zeros(nu, ni),
            gp: Mat::zeros(nu, k),
            gq: Mat::zeros(ni, k),
        })
    }

    /// `pred = P Q^T`, then `ddiff` over it; returns the report's `err`.
    fn residual(&mut self, beta: f32, par: Par) -> f64 {
        // pred = P Q^T
        matmul(
            self.work.as_mut(),
            Accum::Replace,
            self.p.as_ref(),
            self.q.transpose(),
            1.0,
            par,
        );
        // diff = (R - pred) * M; err; ddiff = -diff * M (stored over pred)
        let sse = mask_residual(&mut self.work, &self.r, &self.m);
        0.5 * sse + f64::from(beta) * 0.5 * (sq_norm(&self.p) + sq_norm(&self.q))
    }

    /// One full-batch step; returns the report's `err` (before the update).
    pub fn step(&mut self, alpha: f32, beta: f32, par: Par) -> f64 {
        let err = self.residual(beta, par);
        // P -= alpha (ddiff Q + beta P)
        matmul(
            self.gp.as_mut(),
            Accum::Replace,
            self.work.as_ref(),
            self.q.as_ref(),
            1.0,
            par,
        );
        descend(&mut self.p, &self.gp, alpha, beta);
        // Q -= alpha (ddiff^T P + beta Q), with the updated P as in the report
        matmul(
            self.gq.as_mut(),
            Accum::Replace,
            self.work.transpose(),
            self.p.as_ref(),
            1.0,
            par,
        );
        descend(&mut self.q, &self.gq, alpha, beta);
        err
    }

    /// The gradients of `err` at the current `(P, Q)`, `(ddiff Q + beta P,
    /// ddiff^T P + beta Q)`, through the same products as [`Self::step`].
    #[cfg(test)]
    pub fn gradients(&mut self, beta: f32) -> (Mat<f32>, Mat<f32>) {
        self.residual(beta, Par::Seq);
        let par = Par::Seq;
        matmul(
            self.gp.as_mut(),
            Accum::Replace,
            self.work.as_ref(),
            self.q.as_ref(),
            1.0,
            par,
        );
        matmul(
            self.gq.as_mut(),
            Accum::Replace,
            self.work.transpose(),
            self.p.as_ref(),
            1.0,
            par,
        );
        let mut gp = self.gp.clone();
        let mut gq = self.gq.clone();
        for (g, x) in [(&mut gp, &self.p), (&mut gq, &self.q)] {
            for j in 0..g.ncols() {
                for (g, &x) in g.col_as_slice_mut(j).iter_mut().zip(x.col_as_slice(j)) {
                    *g += beta * x;
                }
            }
        }
        (gp, gq)
    }
}

/// `work <- -((R - work) * M) * M`; returns `sum(((R - work) * M)^2)` (f64).
fn mask_residual(work: &mut Mat<f32>, r: &Mat<f32>, m: &Mat<f32>) -> f64 {
    let mut sse = 0.0f64;
    for j in 0..work.ncols() {
        let (w, rc, mc) = (
            work.col_as_slice_mut(j),
            r.col_as_slice(j),
            m.col_as_slice(j),
        );
        let mut col = 0.0f32;
        for ((w, &r), &m) in w.iter_mut().zip(rc).zip(mc) {
            let diff = (r - *w) * m;
            col += diff * diff;
            *w = -diff * m;
        }
        sse += f64::from(col);
    }
    sse
}

/// `x -= alpha (g + beta x)`, elementwise.
fn descend(x: &mut Mat<f32>, g: &Mat<f32>, alpha: f32, beta: f32) {
    for j in 0..x.ncols() {
        for (x, &g) in x.col_as_slice_mut(j).iter_mut().zip(g.col_as_slice(j)) {
            *x -= alpha * (g + beta * *x);
        }
    }
}

fn sq_norm(x: &Mat<f32>) -> f64 {
    (0..x.ncols())
        .map(|j| {
            x.col_as_slice(j)
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
        })
        .sum()
}

/// A faer matrix as row-major `f32` rows.
pub(crate) fn row_major(x: MatRef<'_, f32>) -> Vec<f32> {
    let (n, k) = (x.nrows(), x.ncols());
    let mut out = vec![0.0; n * k];
    for f in 0..k {
        for r in 0..n {
            out[r * k + f] = x[(r, f)];
        }
    }
    out
}

fn metrics_of(
    p: &[f32],
    q: &[f32],
    k: usize,
    pairs: &[Triple],
    scale: RatingScale,
    buf: &mut Vec<f32>,
) -> SetMetrics {
    let view = View {
        k,
        p,
        q,
        bu: &[],
        bi: &[],
        mu: 0.0,
    };
    train::evaluate(view, pairs, scale, false, buf).0
}

impl Fit for DenseGdConfig {
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
        let k = self.factors;
        let mut t = DenseTrainer::new(self, train, ctx)?;
        let train_pairs = train::train_triples(train);
        let val_pairs = train::validation_triples(validation, train.n_users(), train.n_items())?;
        let mut buf = Vec::new();
        let training_metrics = observer.wants_training_metrics();
        let outcome = EpochLoop::new(self.epochs)
            .early_stopping(Better::Lower, self.patience)
            .run(
                &mut t,
                observer,
                |t, step| {
                    let err = t.step();
                    let evaluate = step % self.eval_every == 0 || step == self.epochs;
                    let (mut train_m, mut val_m) = (None, None);
                    if evaluate {
                        let (p, q) = (row_major(t.state.p.as_ref()), row_major(t.state.q.as_ref()));
                        let mut metrics = |pairs: &[Triple]| {
                            metrics_of(&p, &q, k, pairs, train.scale(), &mut buf)
                        };
                        train_m = training_metrics.then(|| metrics(&train_pairs));
                        val_m = validation.map(|_| metrics(&val_pairs));
                    }
                    let record = EpochRecord {
                        epoch: step,
                        loss: Some(err),
                        train: train_m,
                        validation: val_m,
                        seconds: start.elapsed().as_secs_f64(),
                    };
                    Ok::<_, Error>(Epoch {
                        record,
                        score: val_m.map(|m| m.rmse),
                    })
                },
                |t, best: &mut Option<(Mat<f32>, Mat<f32>)>| match best {
                    Some((bp, bq)) => {
                        bp.copy_from(&t.state.p);
                        bq.copy_from(&t.state.q);
                    }
                    None => *best = Some((t.state.p.clone(), t.state.q.clone())),
                },
            )?;
        Ok(match outcome.best {
            Some(b) => {
                let (p, q) = &b.state;
                t.model_of(p.as_ref(), q.as_ref(), b.epoch)
            }
            None => t.model(),
        })
    }

    /// The same settings with the step count early stopping chose and early
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

/// A dense fit in progress, one full-batch step at a time, with no
/// evaluation: what [`Fit::fit`] drives, public for benchmarks.
///
/// ```
/// use movierec_core::{Rating, RatingMatrix, RatingScale, Ratings, RunContext};
/// use movierec_mf::{DenseGdConfig, DenseTrainer};
///
/// let r = Ratings::new(vec![Rating::new(0, 0, 4.0), Rating::new(1, 1, 2.0)], 2, 2,
///     RatingScale::default());
/// let train = RatingMatrix::new(&r).unwrap();
/// let config = DenseGdConfig { factors: 2, lr: 0.05, ..Default::default() };
/// let mut t = DenseTrainer::new(&config, &train, &RunContext::sequential(7)).unwrap();
/// let first = t.step();
/// for _ in 0..50 {
///     t.step();
/// }
/// assert!(t.step() < first);
/// assert_eq!(t.steps_run(), 52);
/// ```
pub struct DenseTrainer {
    state: DenseState,
    lr: f32,
    beta: f32,
    par: Par,
    steps: usize,
    cold_users: Vec<usize>,
    cold_items: Vec<usize>,
}

impl DenseTrainer {
    /// Validates `config`, builds the dense `R` and `M` and draws the
    /// initial factors.
    ///
    /// # Errors
    /// [`Error::Config`] for an invalid setting, [`Error::EmptyTrain`] when
    /// `train` has no rating, [`Error::TooLarge`] above [`DENSE_CELL_LIMIT`].
    pub fn new(config: &DenseGdConfig, train: &RatingMatrix, ctx: &RunContext) -> Result<Self> {
        config.validate()?;
        if train.nnz() == 0 {
            return Err(Error::EmptyTrain { model: "dense GD" });
        }
        let (nu, ni) = (train.n_users(), train.n_items());
        Ok(Self {
            state: DenseState::new(
                train,
                config.factors,
                config.init_scale,
                ctx.model_seed(config.seed),
            )?,
            lr: config.lr,
            beta: config.beta,
            par: match ctx.threads {
                1 => Par::Seq,
                t => Par::rayon(t),
            },
            steps: 0,
            cold_users: (0..nu)
                .filter(|&u| train.user_count(UserIdx(u as u32)) == 0)
                .collect(),
            cold_items: (0..ni)
                .filter(|&i| train.item_count(ItemIdx(i as u32)) == 0)
                .collect(),
        })
    }

    /// Runs one step; returns the report's `err` of the model before it.
    pub fn step(&mut self) -> f64 {
        self.steps += 1;
        self.state.step(self.lr, self.beta, self.par)
    }

    /// Steps run so far.
    pub fn steps_run(&self) -> usize {
        self.steps
    }

    /// The current factors as a model.
    pub fn model(&self) -> MfModel {
        self.model_of(self.state.p.as_ref(), self.state.q.as_ref(), self.steps)
    }

    fn model_of(&self, p: MatRef<'_, f32>, q: MatRef<'_, f32>, steps: usize) -> MfModel {
        let k = p.ncols();
        let (mut p, mut q) = (row_major(p), row_major(q));
        for &u in &self.cold_users {
            p[u * k..(u + 1) * k].fill(0.0);
        }
        for &i in &self.cold_items {
            q[i * k..(i + 1) * k].fill(0.0);
        }
        MfModel::new(k, p, q, None, steps).with_user_reg(UserReg {
            factors: self.beta,
            bias: self.beta,
            per_rating: false,
        })
    }
}
