//! `impl Fit for EaseConfig`: the lambda search and the final weights.

use std::time::Instant;

use faer::Par;
use movierec_core::metrics::ndcg_at;
use movierec_core::{
    Control, EpochRecord, Fit, Observer, RatingMatrix, Ratings, RunContext, UserIdx,
};

use crate::input::{Input, NONE};
use crate::model::{LambdaScore, Parts};
use crate::solve;
use crate::{EaseConfig, EaseError, EaseModel, Solver};

/// Validation NDCG at this cut-off chooses lambda.
pub const NDCG_K: usize = 10;
/// A validation rating at least this is relevant.
pub const RELEVANT: f32 = 4.0;

impl Fit for EaseConfig {
    type Model = EaseModel;
    type Error = EaseError;
    /// Lambda is chosen on validation only from a non-empty `lambda_grid`.
    fn chooses_on_validation(&self) -> bool {
        !self.lambda_grid.is_empty()
    }

    /// Builds X from `train` (ratings kept by `min_rating`, valued by
    /// `weighting`), then, with `validation` and a non-empty `lambda_grid`,
    /// computes the weights of every lambda on the grid and keeps the one
    /// with the best validation NDCG@10 (ties: the earlier). One
    /// [`EpochRecord`] per lambda tried goes to `observer` (its `epoch` is
    /// the grid position; it may stop the search). Otherwise `lambda`.
    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<EaseModel, EaseError> {
        self.validate()?;
        let start = Instant::now();
        let inp = Input::build(train, self)?;
        let par = if ctx.threads > 1 {
            Par::rayon(ctx.threads)
        } else {
            Par::Seq
        };
        let users_side = match self.solver {
            Solver::Auto => inp.m() < inp.n(),
            Solver::Items => false,
            Solver::Users => true,
        };
        let search: Option<(&Ratings, &[f32])> = match validation {
            Some(v) if !self.lambda_grid.is_empty() => Some((v, &self.lambda_grid)),
            _ => None,
        };
        let dw = self.diag_weight;
        let not_pd = |lambda| EaseError::NotPositiveDefinite { lambda };
        let (lambda, weights, tried) = ctx.install(|| -> Result<_, EaseError> {
            let mut tried = Vec::new();
            let mut record = |k: usize, tried: &mut Vec<LambdaScore>, s: LambdaScore| {
                tried.push(s);
                let rec = EpochRecord {
                    epoch: k + 1,
                    seconds: start.elapsed().as_secs_f64(),
                    ..EpochRecord::default()
                };
                observer.on_epoch(&rec) == Control::Stop
            };
            let better = |s: f64, best: &Option<(f32, f64)>| {
                s.is_finite() && best.is_none_or(|(_, b)| s > b)
            };
            if users_side {
                let mut best: Option<(f32, f64)> = None;
                let mut kept = None;
                if let Some((val, grid)) = search {
                    for (k, &lam) in grid.iter().enumerate() {
                        let l = inp.penalties(lam, dw);
                        let f = solve::dual(&inp, &l, par).ok_or(not_pd(lam))?;
                        let ndcg = ndcg_at(train, val, NDCG_K, RELEVANT, |u, out| {
                            scatter(&inp, u, out, |r, o| solve::dual_scores(&inp, &f, r, o));
                        });
                        if better(ndcg, &best) {
                            best = Some((lam, ndcg));
                            kept = Some(f);
                        }
                        if record(k, &mut tried, LambdaScore { lambda: lam, ndcg }) {
                            break;
                        }
                    }
                }
                let lam = best.map_or(self.lambda, |b| b.0);
                let l = inp.penalties(lam, dw);
                let f = match kept {
                    Some(f) => f,
                    None => solve::dual(&inp, &l, par).ok_or(not_pd(lam))?,
                };
                Ok((lam, solve::dual_weights(&inp, &f, &l), tried))
            } else {
                let g = solve::gram(&inp);
                let n = inp.n();
                let mut best: Option<(f32, f64)> = None;
                let mut kept = None;
                if let Some((val, grid)) = search {
                    for (k, &lam) in grid.iter().enumerate() {
                        let l = inp.penalties(lam, dw);
                        let b = solve::primal_weights(&g, n, &l, par).ok_or(not_pd(lam))?;
                        let ndcg = ndcg_at(train, val, NDCG_K, RELEVANT, |u, out| {
                            scatter(&inp, u, out, |r, o| solve::weights_scores(&inp, &b, r, o));
                        });
                        if better(ndcg, &best) {
                            best = Some((lam, ndcg));
                            kept = Some(b);
                        }
                        if record(k, &mut tried, LambdaScore { lambda: lam, ndcg }) {
                            break;
                        }
                    }
                }
                let lam = best.map_or(self.lambda, |b| b.0);
                let b = match kept {
                    Some(b) => b,
                    None => {
                        let l = inp.penalties(lam, dw);
                        solve::primal_weights(&g, n, &l, par).ok_or(not_pd(lam))?
                    }
                };
                Ok((lam, b, tried))
            }
        })??;
        crate::error::check_finite(&weights, lambda)?;
        let Input {
            items,
            slot,
            users,
            u_ptr,
            u_idx,
            u_val,
            ..
        } = inp;
        Ok(EaseModel::from_parts(Parts {
            lambda,
            diag_weight: dw,
            lambda_search: tried,
            weighting: self.weighting,
            min_rating: self.min_rating,
            scale_max: train.scale().max,
            n_items: train.n_items(),
            n_users: train.n_users(),
            items,
            slot,
            weights,
            users,
            u_ptr,
            u_idx,
            u_val,
        }))
    }

    /// The chosen lambda fixed, the grid emptied.
    fn refit_config(&self, model: &EaseModel) -> Self {
        Self {
            lambda: model.lambda,
            lambda_grid: Vec::new(),
            ..self.clone()
        }
    }
}

/// Scores of user `u` by item index: `active` writes the active items of
/// active user `r`; NaN elsewhere (users without X rows score 0 on active items).
fn scatter(inp: &Input, u: UserIdx, out: &mut [f32], active: impl Fn(usize, &mut [f32])) {
    out.fill(f32::NAN);
    let mut buf = vec![0f32; inp.n()];
    match inp.row_of.get(u.get()) {
        Some(&r) if r != NONE => active(r as usize, &mut buf),
        _ => {}
    }
    for (&i, &s) in inp.items.iter().zip(&buf) {
        out[i as usize] = s;
    }
}
