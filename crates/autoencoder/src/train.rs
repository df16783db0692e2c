//! Training: the trainer (mini-batches, Adam, decay) and the fit, which
//! drives it through `movierec_core::training`'s epoch loop (evaluation,
//! early stopping, best-weights snapshot).

use std::time::Instant;

use movierec_core::metrics::Accumulator;
use movierec_core::training::{Better, Epoch, EpochLoop};
use movierec_core::{
    rng_for, EpochRecord, Fit, Observer, RatingMatrix, Ratings, Rng, RunContext, SetMetrics,
};
use rand::seq::SliceRandom;
use rayon::prelude::*;

use crate::net::{Adam, Network, Penalties};
use crate::pass::{Batch, Vectors, Workspace};
use crate::{AutoencoderConfig, AutoencoderModel, Error, Result, Update};

/// Vectors per task when encoding or scoring all vectors in parallel.
const CHUNK: usize = 256;

/// Trains an autoencoder one epoch at a time: what [`Fit::fit`] runs, open
/// for benchmarks and custom loops.
///
/// An epoch shuffles the vectors that have at least one training rating
/// (vectors without any are left out of the batches), cuts them into
/// mini-batches of `batch`, and for each takes one Adam step on the batch
/// loss; after every `decay_every` epochs `lr`, `beta` and `gamma` are
/// multiplied by `decay`.
#[derive(Debug, Clone)]
pub struct Trainer {
    config: AutoencoderConfig,
    vectors: Vectors,
    active: Vec<u32>,
    net: Network,
    adam: Adam,
    grad: Vec<f32>,
    ws: Workspace,
    batch: Batch,
    rng: Rng,
    epoch: usize,
    lr: f32,
    pen: Penalties,
    n_users: usize,
    n_items: usize,
    global_mean: f32,
    scale: movierec_core::RatingScale,
}

impl Trainer {
    /// A trainer with freshly initialised weights (seed stream 0; shuffling
    /// and dropout draw from stream 1).
    ///
    /// # Errors
    /// An invalid config, or an empty training set.
    pub fn new(config: &AutoencoderConfig, train: &RatingMatrix, seed: u64) -> Result<Self> {
        config.validate()?;
        if train.nnz() == 0 {
            return Err(Error::EmptyTrain);
        }
        let vectors = Vectors::new(train, config.user_based);
        check_size(vectors.dim, &config.hidden)?;
        let active: Vec<u32> = (0..vectors.len())
            .filter(|&v| vectors.ptr[v + 1] > vectors.ptr[v])
            .map(|v| v as u32)
            .collect();
        let mut init = rng_for(seed, 0);
        let net = Network::new(
            vectors.dim,
            &config.hidden,
            config.output,
            config.init_scale,
            train.global_mean(),
            &mut init,
        );
        let mut ws = Workspace::new(config.path, &net);
        if config.update == Update::Lazy {
            ws.set_lazy();
        }
        Ok(Self {
            adam: Adam::new(net.n_params(), config.adam_beta1, config.adam_beta2),
            grad: vec![0.0; net.n_params()],
            net,
            ws,
            batch: Batch::default(),
            rng: rng_for(seed, 1),
            epoch: 0,
            lr: config.lr,
            pen: Penalties {
                beta: config.beta,
                l1_share: config.l1_share,
                gamma: config.gamma,
                reduction: config.reduction,
            },
            vectors,
            active,
            config: config.clone(),
            n_users: train.n_users(),
            n_items: train.n_items(),
            global_mean: train.global_mean(),
            scale: train.scale(),
        })
    }

    /// Runs one epoch and returns its loss: the mean over its mini-batches
    /// of the data term and range penalty, plus the regulariser of the
    /// weights at the end of the epoch.
    pub fn run_epoch(&mut self) -> f64 {
        self.run_epoch_with(None)
    }

    /// [`run_epoch`](Self::run_epoch), also adding every observed output of
    /// every batch (scored before that batch's update) to `metrics`.
    fn run_epoch_with(&mut self, mut metrics: Option<&mut Accumulator>) -> f64 {
        self.active.shuffle(&mut self.rng);
        let mut sum = 0.0;
        let mut batches = 0usize;
        for chunk in self.active.chunks(self.config.batch) {
            self.batch
                .fill(&self.vectors, chunk, self.config.dropout, &mut self.rng);
            let m = metrics.as_deref_mut().map(|a| (a, self.scale));
            sum += self
                .ws
                .forward_terms_fused(&self.net, &self.batch, &self.pen, m, true);
            self.ws
                .backward_terms(&self.net, &self.batch, &self.pen, &mut self.grad);
            match self.ws.touched() {
                Some(touched) => {
                    self.adam
                        .step_lazy(&mut self.net, &self.grad, self.lr, &self.pen, touched)
                }
                None => self
                    .adam
                    .step(&mut self.net, &self.grad, self.lr, &self.pen),
            }
            batches += 1;
        }
        let loss = sum / batches.max(1) as f64 + self.net.regulariser(&self.pen);
        self.epoch += 1;
        if self.epoch.is_multiple_of(self.config.decay_every) {
            let d = self.config.decay;
            self.lr *= d;
            self.pen.beta *= d;
            self.pen.gamma *= d;
        }
        loss
    }

    /// Epochs run so far.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The network as trained so far.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Number of training ratings.
    pub fn nnz(&self) -> usize {
        self.vectors.val.len()
    }

    /// The codes of every vector (`n_vectors x code_dim`, row-major; zero
    /// rows for vectors without ratings), in parallel over fixed chunks of
    /// vectors (each row depends on its vector only: deterministic).
    fn encode_all(&self) -> Vec<f32> {
        let h = self.net.code_dim();
        let mut codes = vec![0.0f32; self.vectors.len() * h];
        codes
            .par_chunks_mut(CHUNK * h)
            .enumerate()
            .for_each(|(c, out)| {
                let start = c * CHUNK;
                let rows: Vec<u32> = (start..start + out.len() / h).map(|v| v as u32).collect();
                let mut batch = Batch::default();
                let mut rng = rng_for(0, 0);
                batch.fill(&self.vectors, &rows, 0.0, &mut rng);
                let mut ws = Workspace::new(crate::Path::Sparse, &self.net);
                out.copy_from_slice(ws.encode(&self.net, &batch));
                for (r, &v) in rows.iter().enumerate() {
                    if self.vectors.ptr[v as usize + 1] == self.vectors.ptr[v as usize] {
                        out[r * h..r * h + h].fill(0.0);
                    }
                }
            });
        codes
    }

    /// Metrics on validation ratings; pairs the model cannot score (cold
    /// user or item) get the training mean.
    fn validation_metrics(&self, codes: &[f32], validation: &Ratings) -> SetMetrics {
        let model = self.model_view(codes);
        let mut acc = Accumulator::default();
        for r in &validation.entries {
            let p = model.estimate(r.user.get(), r.item.get());
            acc.add(p.unwrap_or(self.global_mean), r.value, self.scale);
        }
        acc.finish()
    }

    fn model_view<'a>(&'a self, codes: &'a [f32]) -> ModelView<'a> {
        ModelView {
            net: &self.net,
            codes,
            vectors: &self.vectors,
            unit_seen: unit_seen(&self.vectors),
            user_based: self.config.user_based,
        }
    }

    /// The fitted model: the current weights and the code of every vector.
    pub fn into_model(self) -> AutoencoderModel {
        let codes = self.encode_all();
        let vector_seen = (0..self.vectors.len())
            .map(|v| self.vectors.ptr[v + 1] > self.vectors.ptr[v])
            .collect();
        AutoencoderModel::new(
            self.net.clone(),
            self.config.user_based,
            self.n_users,
            self.n_items,
            codes,
            vector_seen,
            unit_seen(&self.vectors),
            self.epoch,
            self.epoch,
        )
    }
}

/// Output units (users in the item-based mode) with at least one training rating.
fn unit_seen(vectors: &Vectors) -> Vec<bool> {
    let mut seen = vec![false; vectors.dim];
    for &u in &vectors.idx {
        seen[u as usize] = true;
    }
    seen
}

/// Scoring with the trainer's current state, before a model exists.
struct ModelView<'a> {
    net: &'a Network,
    codes: &'a [f32],
    vectors: &'a Vectors,
    unit_seen: Vec<bool>,
    user_based: bool,
}

impl ModelView<'_> {
    fn estimate(&self, user: usize, item: usize) -> Option<f32> {
        let (v, u) = if self.user_based {
            (user, item)
        } else {
            (item, user)
        };
        if v >= self.vectors.len()
            || self.vectors.ptr[v + 1] == self.vectors.ptr[v]
            || !self.unit_seen.get(u).copied().unwrap_or(false)
        {
            return None;
        }
        let h = self.net.code_dim();
        let (w, b) = self.net.out_row(u);
        let code = &self.codes[v * h..v * h + h];
        Some(self.net.act(b + crate::model::dot1(w, code)))
    }
}

impl Fit for AutoencoderConfig {
    type Model = AutoencoderModel;
    type Error = Error;

    /// Trains for up to `epochs` epochs, reporting each to `observer`: the
    /// loss of [`Trainer::run_epoch`], training metrics over the epoch's
    /// batches (each observed output scored before its batch's update, as
    /// the report's code measures training accuracy; with dropout, from the
    /// corrupted inputs), and validation metrics from the end-of-epoch
    /// weights (pairs the model cannot score count at the training mean).
    /// With a validation set and `patience > 0`, stops after `patience`
    /// epochs without a better validation RMSE and restores the best
    /// weights.
    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<AutoencoderModel> {
        let seed = ctx.model_seed(self.seed);
        ctx.install(|| self.fit_here(train, validation, seed, observer))?
    }

    /// Refit on train + validation: the epoch count early stopping chose,
    /// with early stopping off.
    fn refit_config(&self, model: &AutoencoderModel) -> Self {
        let refit = EpochLoop::refit(model.best_epoch());
        Self {
            epochs: refit.epochs,
            patience: refit.patience,
            ..self.clone()
        }
    }
}

pub use movierec_core::training::MAX_PARAMS;

/// Refuses a network of more than [`MAX_PARAMS`] weights before anything is
/// allocated: `dim` inputs (users per movie item-based, movies per user
/// user-based) through `hidden` and back.
fn check_size(dim: usize, hidden: &[usize]) -> Result<()> {
    let params = crate::net::Network::layout(dim, hidden).map_or(usize::MAX, |(_, n)| n);
    if params > MAX_PARAMS {
        return Err(Error::TooLarge {
            dim,
            hidden: hidden.to_vec(),
            params,
            limit: MAX_PARAMS,
        });
    }
    Ok(())
}

impl AutoencoderConfig {
    /// [`Fit::fit`] on the current rayon pool (the model does not depend on
    /// its size) with the model seed resolved.
    fn fit_here(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        seed: u64,
        observer: &mut dyn Observer,
    ) -> Result<AutoencoderModel> {
        let start = Instant::now();
        let mut trainer = Trainer::new(self, train, seed)?;
        if let Some(v) = validation {
            if let Some(r) = v
                .entries
                .iter()
                .find(|r| r.user.get() >= train.n_users() || r.item.get() >= train.n_items())
            {
                return Err(Error::ValidationOutOfRange {
                    user: r.user.0,
                    item: r.item.0,
                    n_users: train.n_users(),
                    n_items: train.n_items(),
                });
            }
        }
        let training_metrics = observer.wants_training_metrics();
        let outcome = EpochLoop::new(self.epochs)
            .early_stopping(Better::Lower, self.patience)
            .run(
                &mut trainer,
                observer,
                |trainer, epoch| {
                    let mut train_acc = Accumulator::default();
                    let loss = trainer.run_epoch_with(training_metrics.then_some(&mut train_acc));
                    if !loss.is_finite() {
                        return Err(Error::Diverged { epoch });
                    }
                    let val_m =
                        validation.map(|v| trainer.validation_metrics(&trainer.encode_all(), v));
                    let record = EpochRecord {
                        epoch,
                        loss: Some(loss),
                        train: training_metrics.then(|| train_acc.finish()),
                        validation: val_m,
                        seconds: start.elapsed().as_secs_f64(),
                    };
                    Ok(Epoch {
                        record,
                        score: val_m.map(|m| m.rmse),
                    })
                },
                |trainer, best: &mut Option<Vec<f32>>| match best {
                    Some(params) => params.copy_from_slice(trainer.net.params()),
                    None => *best = Some(trainer.net.params().to_vec()),
                },
            )?;
        let epochs_run = outcome.epochs_run;
        let best_epoch = outcome.chosen_epoch();
        if let Some(best) = outcome.best {
            trainer.net.params_mut().copy_from_slice(&best.state);
        }
        let mut model = trainer.into_model();
        model.set_epochs(epochs_run, best_epoch);
        Ok(model)
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn refuses_networks_over_the_weight_limit_before_allocating() {
        assert!(check_size(610, &[500]).is_ok());
        // ml-25m's 162,541 users per movie through 65,536 units: 21 billion weights.
        let e = check_size(162_541, &[65_536]).unwrap_err().to_string();
        assert!(e.contains("over the limit of 250000000"), "{e}");
        assert!(check_size(usize::MAX, &[usize::MAX]).is_err());
    }
}
