use std::time::Instant;

use faer::Par;
use movierec_core::metrics::ndcg_at;
use movierec_core::{
    rng_for, Control, EpochRecord, Error, Fit, ItemIdx, Observer, RatingMatrix, Ratings,
    RunContext, UserIdx,
};
use rand::seq::SliceRandom;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use crate::model::encode_row;
use crate::net::{self, Adam, Arch, Batch, Rows, Work};
use crate::{VaeConfig, VaeError, VaeModel, Variant};

/// Rank cut-off and relevance threshold of the validation NDCG that early
/// stopping watches (the harness's top-N protocol).
pub(crate) const VALIDATION_K: usize = 10;
pub(crate) const RELEVANT: f32 = 4.0;
/// At most this many validation users are scored per epoch (an even
/// stride through them beyond it), so the per-epoch logits stay small on
/// large catalogues.
const MAX_VALIDATION_USERS: usize = 2048;

impl Fit for VaeConfig {
    type Model = VaeModel;
    type Error = VaeError;

    /// Trains for `epochs` epochs; with a validation set and `patience > 0`,
    /// stops after `patience` epochs without a better validation NDCG@10
    /// and restores the best epoch's weights.
    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<VaeModel, VaeError> {
        self.validate()?;
        if train.nnz() == 0 {
            return Err(Error::Empty("mult-vae/dae training").into());
        }
        let arch = Arch::new(train.n_items(), &self.hidden, self.variant)
            .filter(|a| a.n_params <= MAX_PARAMS)
            .ok_or_else(|| {
                Error::Config(format!(
                    "mult-vae/dae: {} movies through hidden {:?} make more than {MAX_PARAMS} \
                     weights (16 bytes each with Adam): use smaller hidden layers",
                    train.n_items(),
                    self.hidden
                ))
            })?;
        ctx.install(|| self.train(&arch, train, validation, ctx, observer))?
    }

    /// The epochs the early-stopped fit kept; a fit without validation then
    /// trains exactly that many.
    fn refit_config(&self, model: &VaeModel) -> Self {
        Self {
            epochs: model.epochs.max(1),
            ..self.clone()
        }
    }
}

pub use movierec_core::training::MAX_PARAMS;

impl VaeConfig {
    fn train(
        &self,
        arch: &Arch,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<VaeModel, VaeError> {
        let start = Instant::now();
        let seed = ctx.model_seed(self.seed);
        let par = if ctx.threads <= 1 {
            Par::Seq
        } else {
            Par::rayon(ctx.threads)
        };
        let (n_users, n_items) = (train.n_users(), train.n_items());
        let item_known: Vec<bool> = (0..n_items)
            .map(|i| train.item_count(ItemIdx(i as u32)) > 0)
            .collect();
        let mut model = VaeModel {
            variant: self.variant,
            hidden: self.hidden.clone(),
            n_items,
            input: self.input,
            min_rating: self.min_rating,
            rating_max: train.scale().max.max(f32::MIN_POSITIVE),
            params: Vec::new(),
            user_ptr: vec![0],
            user_items: Vec::with_capacity(train.nnz()),
            user_values: Vec::with_capacity(train.nnz()),
            item_known,
            epochs: 0,
            validation_ndcg: None,
        };
        let mut targets = Rows::new();
        for u in 0..n_users {
            let (items, values) = train.user_ratings(UserIdx(u as u32));
            model.user_items.extend(items.iter().map(|&i| i as u32));
            model.user_values.extend_from_slice(values);
            model.user_ptr.push(model.user_items.len());
            let (a, b) = (model.user_ptr[u], model.user_ptr[u + 1]);
            encode_row(
                &model.user_items[a..b],
                &model.user_values[a..b],
                self.input,
                self.min_rating,
                model.rating_max,
                &model.item_known,
                &mut targets,
            );
        }
        let mut users: Vec<u32> = (0..n_users as u32)
            .filter(|&u| !targets.row(u as usize).0.is_empty())
            .collect();
        if users.is_empty() {
            return Err(Error::Empty("mult-vae/dae training (no rating >= min_rating)").into());
        }

        model.params = init(arch, seed);
        let mut rng = rng_for(seed, 1);
        let mut adam = Adam::new(arch.n_params, self.lr);
        let mut grad = vec![0f32; arch.n_params];
        let mut work = Work::default();
        let per_epoch = users.len().div_ceil(self.batch);
        let anneal_updates = self.anneal_epochs.saturating_mul(per_epoch);
        let mut updates = 0usize;
        let keep = 1.0 - self.dropout;
        let latent = arch.code.map_or(0, |(_, d)| d);

        let val = validation
            .filter(|_| self.patience > 0)
            .and_then(|v| ValidationSet::new(train, v));
        let mut best: Option<(f64, usize, Vec<f32>)> = None;
        let mut batch = Batch {
            input: Rows::new(),
            target: Rows::new(),
        };
        let mut eps: Vec<f32> = Vec::new();
        let mut last_epoch = 0;
        for epoch in 1..=self.epochs {
            users.shuffle(&mut rng);
            let mut loss_sum = 0f64;
            for chunk in users.chunks(self.batch) {
                batch.input.clear();
                batch.target.clear();
                for &u in chunk {
                    let (idx, w) = targets.row(u as usize);
                    let norm = net::l2(w);
                    for (&i, &x) in idx.iter().zip(w) {
                        batch.target.push(i, x);
                        if self.dropout == 0.0 || rng.random::<f32>() < keep {
                            batch
                                .input
                                .push(i, (f64::from(x) / norm / f64::from(keep)) as f32);
                        }
                    }
                    batch.target.end_row();
                    batch.input.end_row();
                }
                let beta = match self.variant {
                    Variant::Dae => 0.0,
                    Variant::Vae if anneal_updates == 0 => self.beta_cap,
                    Variant::Vae => {
                        self.beta_cap * (updates as f32 / anneal_updates as f32).min(1.0)
                    }
                };
                let noise = if latent > 0 {
                    eps.clear();
                    eps.extend(
                        (0..chunk.len() * latent)
                            .map(|_| -> f32 { StandardNormal.sample(&mut rng) }),
                    );
                    Some(&eps[..])
                } else {
                    None
                };
                let loss = net::loss_grad(
                    arch,
                    &model.params,
                    &batch,
                    noise,
                    beta,
                    self.weight_decay,
                    &mut work,
                    &mut grad,
                    par,
                );
                adam.step(&mut model.params, &grad);
                updates += 1;
                loss_sum += loss.total(beta) * chunk.len() as f64;
            }
            last_epoch = epoch;
            let loss = loss_sum / users.len() as f64;
            if !loss.is_finite() {
                return Err(VaeError::Diverged { epoch });
            }
            let mut stop = false;
            if let Some(v) = &val {
                model.epochs = epoch;
                let ndcg = v.ndcg(&model, train, par);
                if best.as_ref().is_none_or(|b| ndcg > b.0) {
                    best = Some((ndcg, epoch, model.params.clone()));
                } else if best.as_ref().is_some_and(|b| epoch - b.1 >= self.patience) {
                    stop = true;
                }
            }
            let record = EpochRecord {
                epoch,
                loss: Some(loss),
                train: None,
                validation: None,
                seconds: start.elapsed().as_secs_f64(),
            };
            if observer.on_epoch(&record) == Control::Stop {
                stop = true;
            }
            if stop {
                break;
            }
        }
        model.epochs = last_epoch;
        if let Some((ndcg, epoch, params)) = best {
            model.params = params;
            model.epochs = epoch;
            model.validation_ndcg = Some(ndcg);
        }
        Ok(model)
    }
}

/// Glorot-uniform weights (stream 0 of the model's seed), zero biases.
fn init(arch: &Arch, seed: u64) -> Vec<f32> {
    let mut rng = rng_for(seed, 0);
    let mut params = vec![0f32; arch.n_params];
    for lay in &arch.layers {
        let bound = (6.0 / (lay.fan_in + lay.fan_out) as f64).sqrt() as f32;
        for w in &mut params[lay.w..lay.b] {
            *w = rng.random_range(-bound..bound);
        }
    }
    params
}

/// The validation ratings and the users scored for early stopping.
struct ValidationSet {
    held_out: Ratings,
    /// Users scored, ascending.
    users: Vec<u32>,
}

impl ValidationSet {
    /// `None` when no validation rating can count as relevant.
    fn new(train: &RatingMatrix, v: &Ratings) -> Option<Self> {
        let mut users: Vec<u32> = v
            .entries
            .iter()
            .filter(|r| r.value >= RELEVANT && r.user.get() < train.n_users())
            .map(|r| r.user.0)
            .collect();
        users.sort_unstable();
        users.dedup();
        if users.is_empty() {
            return None;
        }
        if users.len() > MAX_VALIDATION_USERS {
            let n = users.len();
            users = (0..MAX_VALIDATION_USERS)
                .map(|k| users[k * n / MAX_VALIDATION_USERS])
                .collect();
        }
        let held_out = Ratings {
            entries: v
                .entries
                .iter()
                .filter(|r| users.binary_search(&r.user.0).is_ok())
                .copied()
                .collect(),
            ..v.empty_like()
        };
        Some(Self { held_out, users })
    }

    /// NDCG@10 of the model's current weights (NaN when no user counts).
    fn ndcg(&self, model: &VaeModel, train: &RatingMatrix, par: Par) -> f64 {
        let n_items = model.n_items;
        let mut scores = Vec::with_capacity(self.users.len() * n_items);
        for chunk in self.users.chunks(512) {
            scores.extend(model.score_rows(chunk.iter().map(|&u| model_row(model, u)), par));
        }
        ndcg_at(
            train,
            &self.held_out,
            VALIDATION_K,
            RELEVANT,
            |u, out| match self.users.binary_search(&u.0) {
                Ok(p) => out.copy_from_slice(&scores[p * n_items..(p + 1) * n_items]),
                Err(_) => out.fill(f32::NAN),
            },
        )
    }
}

fn model_row(model: &VaeModel, u: u32) -> (&[u32], &[f32]) {
    let u = u as usize;
    let (a, b) = (model.user_ptr[u], model.user_ptr[u + 1]);
    (&model.user_items[a..b], &model.user_values[a..b])
}
