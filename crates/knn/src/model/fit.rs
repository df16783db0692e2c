//! Fitting: `Fit for KnnConfig` builds the similarities and the model,
//! chooses K on validation when asked (one epoch record per K), and fixes
//! the report neighbourhood's cuts for the chosen K.

use std::sync::Mutex;
use std::time::Instant;

use movierec_core::{Control, EpochRecord, Fit, Observer, RatingMatrix, Ratings, RunContext};

use super::storage::{Derived, Oriented};
use super::KnnModel;
use crate::config::KnnConfig;
use crate::error::{Error, Result};
use crate::similarity::{build_sparse, orient, Lookup};

impl Fit for KnnConfig {
    type Model = KnnModel;
    type Error = Error;
    /// K is chosen on validation only from a non-empty `k_grid`.
    fn chooses_on_validation(&self) -> bool {
        !self.k_grid.is_empty()
    }

    /// Builds the similarities; with a non-empty `k_grid` and a validation
    /// set, chooses K on it (one [`EpochRecord`] per candidate K, in grid
    /// order, `epoch` its 1-based position); with a validation set and no
    /// grid, reports one record for the fixed K.
    /// The refit keeps the K that validation chose, with no grid.
    fn refit_config(&self, model: &KnnModel) -> Self {
        Self {
            k: model.k(),
            k_grid: Vec::new(),
            ..self.clone()
        }
    }

    /// Runs on a pool of `ctx.threads` workers; the model is the same for
    /// any thread count.
    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        ctx: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<KnnModel> {
        ctx.install(|| self.fit_here(train, validation, observer))?
    }
}

impl KnnConfig {
    /// [`Fit::fit`] on the current rayon pool.
    fn fit_here(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        observer: &mut dyn Observer,
    ) -> Result<KnnModel> {
        self.validate()?;
        if let Some(v) = validation {
            if v.n_users != train.n_users() || v.n_items != train.n_items() {
                return Err(Error::Shape {
                    n_users: train.n_users(),
                    n_items: train.n_items(),
                    got_users: v.n_users,
                    got_items: v.n_items,
                });
            }
        }
        let start = Instant::now();
        let (m, baseline) = orient(train, self)?;
        let sims = {
            let shared = Mutex::new(&mut *observer);
            let progress = |done: usize, total: usize| {
                // Never wait for the lock, except for the last report.
                let guard = if done == total {
                    Some(shared.lock().unwrap_or_else(|e| e.into_inner()))
                } else {
                    shared.try_lock().ok()
                };
                if let Some(mut o) = guard {
                    o.on_progress("similarities", done, total);
                }
            };
            build_sparse(&m, &baseline, self, &progress)?
        };
        let data = Oriented::new(&m, baseline);
        drop(m);
        let mut model = KnnModel {
            config: self.clone(),
            k_scores: Vec::new(),
            n_items: train.n_items(),
            data,
            lookup: Lookup::build(&sims),
            sims,
            cuts: Vec::new(),
            pref: Derived::default(),
        };
        if let Some(v) = validation {
            let grid = if self.k_grid.is_empty() {
                vec![self.k]
            } else {
                self.k_grid.clone()
            };
            let scores = model.grid_scores(v, &grid);
            let seconds = start.elapsed().as_secs_f64();
            for (e, s) in scores.iter().enumerate() {
                let record = EpochRecord {
                    epoch: e + 1,
                    loss: None,
                    train: None,
                    validation: Some(s.validation),
                    seconds,
                };
                if observer.on_epoch(&record) == Control::Stop {
                    break;
                }
            }
            if !self.k_grid.is_empty() {
                let best = scores
                    .iter()
                    .min_by(|a, b| {
                        a.validation
                            .rmse
                            .total_cmp(&b.validation.rmse)
                            .then(a.k.cmp(&b.k))
                    })
                    .expect("the grid is not empty");
                model.config.k = best.k;
                model.k_scores = scores;
            }
        }
        model.compute_cuts();
        Ok(model)
    }
}
