//! The alternating fit.

use std::time::Instant;

use movierec_core::metrics::ndcg_at;
use movierec_core::{
    rng_for, Control, EpochRecord, Fit, Observer, RatingMatrix, Ratings, RunContext, UserIdx,
};
use rand::Rng as _;
use rayon::prelude::*;

use crate::solve::{dot, solve_cg_block, solve_exact, weighted_gram, CgScratch, Scratch, Weights};
use crate::{IalsConfig, IalsError, IalsModel};

/// Cut-off and relevance threshold of the validation metric.
const VALIDATION_K: usize = 10;
const VALIDATION_THRESHOLD: f32 = 4.0;

/// The best iteration so far: validation NDCG, iteration, user and item
/// factors, and the user step's Gram matrix.
type Best = (f64, usize, Vec<f32>, Vec<f32>, Vec<f32>);

/// Rows per conjugate-gradient block (fixed, so results do not depend on
/// the thread count).
const CG_BLOCK: usize = 128;

/// Which side a half-step solves.
#[derive(Clone, Copy)]
enum Side {
    Users,
    Items,
}

impl IalsConfig {
    /// Random initial factors, row-major `n x k`, from one seeded stream.
    pub(crate) fn init(&self, n: usize, seed: u64, stream: u64) -> Vec<f32> {
        let k = self.factors;
        let a = self.init_std / (k as f32).sqrt() * 3f32.sqrt();
        let mut rng = rng_for(seed, stream);
        if a > 0.0 {
            (0..n * k).map(|_| rng.random_range(-a..a)).collect()
        } else {
            vec![0.0; n * k]
        }
    }

    /// One half-step: every row of `solving` from the `fixed` side.
    fn half_step(
        &self,
        train: &RatingMatrix,
        side: Side,
        fixed: &[f32],
        solving: &mut [f32],
    ) -> Result<Vec<f32>, IalsError> {
        let k = self.factors;
        let w0 = self.unobserved_weight;
        let gram = weighted_gram(fixed, k, w0);
        let n_other = fixed.len() / k;
        let w = Weights {
            config: self,
            n_other,
        };
        let rows = |r: usize| match side {
            Side::Users => train.user_ratings(UserIdx(r as u32)),
            Side::Items => train.item_ratings(movierec_core::ItemIdx(r as u32)),
        };
        let exact = matches!(side, Side::Users) || self.cg_steps == 0;
        let g = &gram;
        if exact {
            solving
                .par_chunks_mut(k)
                .enumerate()
                .try_for_each_init(
                    || Scratch::new(k),
                    |s, (r, x)| {
                        let (items, values) = rows(r);
                        solve_exact(g, fixed, items, values, &w, s, x).map_err(|_| r)
                    },
                )
                .map_err(|index| IalsError::NotPositiveDefinite {
                    side: match side {
                        Side::Users => "user",
                        Side::Items => "item",
                    },
                    index,
                })?;
        } else {
            solving
                .par_chunks_mut(CG_BLOCK * k)
                .enumerate()
                .for_each_init(CgScratch::default, |s, (b, xs)| {
                    let first = b * CG_BLOCK;
                    let block: Vec<_> = (first..first + xs.len() / k).map(rows).collect();
                    solve_cg_block(g, fixed, &block, &w, self.cg_steps, s, xs);
                });
        }
        Ok(gram)
    }

    /// The objective (weighted squared error plus regularisation) of the
    /// current factors; `user_gram` is `w0 Y^T Y` of `items`.
    fn loss(&self, train: &RatingMatrix, users: &[f32], items: &[f32], user_gram: &[f32]) -> f64 {
        let k = self.factors;
        let uw = Weights {
            config: self,
            n_other: train.n_items(),
        };
        let iw = Weights {
            config: self,
            n_other: train.n_users(),
        };
        let per_user: Vec<f64> = users
            .par_chunks(k)
            .enumerate()
            .map_init(
                || vec![0.0f32; k],
                |gx, (u, x)| {
                    let (its, vals) = train.user_ratings(UserIdx(u as u32));
                    for (o, col) in gx.iter_mut().zip(user_gram.chunks_exact(k)) {
                        *o = dot(col, x);
                    }
                    let mut l = f64::from(dot(gx, x));
                    let mut conf = 0.0f64;
                    for (&i, &r) in its.iter().zip(vals) {
                        let c = self.confidence_of(r);
                        conf += f64::from(c);
                        let s = f64::from(dot(x, &items[i * k..(i + 1) * k]));
                        l += f64::from(c) * (1.0 - s) * (1.0 - s)
                            - f64::from(self.unobserved_weight) * s * s;
                    }
                    l + f64::from(uw.reg_for(conf, its.len())) * f64::from(dot(x, x))
                },
            )
            .collect();
        let per_item: Vec<f64> = items
            .par_chunks(k)
            .enumerate()
            .map(|(i, y)| {
                let (_, vals) = train.item_ratings(movierec_core::ItemIdx(i as u32));
                let conf: f64 = vals.iter().map(|&r| f64::from(self.confidence_of(r))).sum();
                f64::from(iw.reg_for(conf, vals.len())) * f64::from(dot(y, y))
            })
            .collect();
        per_user.iter().sum::<f64>() + per_item.iter().sum::<f64>()
    }
}

impl Fit for IalsConfig {
    type Model = IalsModel;
    type Error = IalsError;

    /// Alternates item and user half-steps for `iterations` (each user
    /// step exact, so the fitted users are their own fold-in). With a
    /// validation set and `early_stopping`, NDCG@10 (threshold 4) is
    /// measured after each iteration and the best iteration's factors are
    /// kept. Every row is solved independently in a fixed order of
    /// operations, so the model is the same bits for any thread count.
    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<IalsModel, IalsError> {
        self.validate()?;
        let start = Instant::now();
        let seed = ctx.model_seed(self.seed);
        let (n_users, n_items) = (train.n_users(), train.n_items());
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let user_counts: Vec<u32> = (0..n_users)
            .map(|u| count(train.user_count(UserIdx(u as u32))))
            .collect();
        let item_counts: Vec<u32> = (0..n_items)
            .map(|i| count(train.item_count(movierec_core::ItemIdx(i as u32))))
            .collect();
        let mut users = self.init(n_users, seed, 0);
        let mut items = self.init(n_items, seed, 1);
        let validation = validation.filter(|_| self.early_stopping);
        let want_loss = observer.wants_training_metrics();
        let mut best: Option<Best> = None;
        let mut last_gram = Vec::new();
        let mut done = 0;
        for epoch in 1..=self.iterations {
            let (gram, loss, score) = ctx.install(|| -> Result<_, IalsError> {
                self.half_step(train, Side::Items, &users, &mut items)?;
                let gram = self.half_step(train, Side::Users, &items, &mut users)?;
                let loss = want_loss.then(|| self.loss(train, &users, &items, &gram));
                let score = validation.map(|v| {
                    let k = self.factors;
                    ndcg_at(train, v, VALIDATION_K, VALIDATION_THRESHOLD, |u, out| {
                        let x = &users[u.get() * k..(u.get() + 1) * k];
                        score_with(&item_counts, &items, x, out);
                    })
                });
                Ok((gram, loss, score))
            })??;
            finite_or_diverged(epoch, &users, &items, loss)?;
            done = epoch;
            last_gram = gram;
            let control = observer.on_epoch(&EpochRecord {
                epoch,
                loss,
                train: None,
                validation: None,
                seconds: start.elapsed().as_secs_f64(),
            });
            if let Some(score) = score.filter(|s| s.is_finite()) {
                let improved = best.as_ref().is_none_or(|b| score > b.0);
                if improved {
                    best = Some((
                        score,
                        epoch,
                        users.clone(),
                        items.clone(),
                        last_gram.clone(),
                    ));
                } else if best.as_ref().is_some_and(|b| epoch - b.1 >= self.patience) {
                    break;
                }
            }
            if control == Control::Stop {
                break;
            }
        }
        let (iterations, users, items, gram) = match best {
            Some((_, e, u, i, g)) => (e, u, i, g),
            None => (done, users, items, last_gram),
        };
        Ok(IalsModel::from_parts(
            self.clone(),
            iterations,
            users,
            items,
            user_counts,
            item_counts,
            Some(gram),
        ))
    }

    /// The same settings with the iteration count the fit kept, for a
    /// refit on train + validation.
    fn refit_config(&self, model: &IalsModel) -> Self {
        IalsConfig {
            iterations: model.iterations().max(1),
            ..self.clone()
        }
    }
}

/// `x . y_i` for the items with training ratings (NaN otherwise), as
/// [`IalsModel`] scores.
fn score_with(item_counts: &[u32], items: &[f32], x: &[f32], out: &mut [f32]) {
    let k = x.len();
    for ((o, y), &c) in out.iter_mut().zip(items.chunks_exact(k)).zip(item_counts) {
        *o = if c > 0 { dot(x, y) } else { f32::NAN };
    }
}

/// `Diverged` where a half-step left a factor, or the loss, not finite
/// (extreme settings: a huge `alpha` with a tiny `reg`), so that no NaN
/// model is returned.
pub(crate) fn finite_or_diverged(
    epoch: usize,
    users: &[f32],
    items: &[f32],
    loss: Option<f64>,
) -> Result<(), IalsError> {
    let what = if !users.iter().chain(items).all(|x| x.is_finite()) {
        "the factors are no longer finite numbers"
    } else if loss.is_some_and(|l| !l.is_finite()) {
        "the training loss is not a finite number"
    } else {
        return Ok(());
    };
    Err(IalsError::Core(movierec_core::Error::Diverged {
        epoch,
        what: format!("iALS: {what}; raise `reg` or lower `alpha`"),
    }))
}
