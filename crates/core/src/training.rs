//! The one training loop of the iterative fits: epochs, the per-epoch
//! [`EpochRecord`] to the [`Observer`], early stopping with patience on a
//! validation score (lower or higher is better), the best-state snapshot,
//! and the epoch count a refit on train + validation takes.
//!
//! A fit builds an [`EpochLoop`] from its config and [`run`](EpochLoop::run)s
//! it with its trainer and two closures: one runs an epoch and returns its
//! record and validation score ([`Epoch`]), the other snapshots the
//! trainer's state. The [`Outcome`] says how many epochs ran and holds the
//! best state, which the fit restores (or turns into its model) itself.
//! MF's sparse SGD and dense GD and the autoencoder fit through it; top-N
//! models can early-stop on a ranking score with [`Better::Higher`].
//!
//! ```
//! use movierec_core::training::{Better, Epoch, EpochLoop};
//! use movierec_core::{EpochRecord, NoopObserver};
//!
//! // A toy "trainer": its state is the number of epochs it has run, and its
//! // validation error falls until epoch 3, then rises.
//! let errors = [0.9, 0.8, 0.75, 0.78, 0.8, 0.85, 0.9];
//! let mut trained = 0usize;
//! let outcome = EpochLoop::new(errors.len())
//!     .early_stopping(Better::Lower, 2)
//!     .run(
//!         &mut trained,
//!         &mut NoopObserver,
//!         |trained, epoch| {
//!             *trained += 1;
//!             let record = EpochRecord { epoch, ..Default::default() };
//!             Ok::<_, movierec_core::Error>(Epoch { record, score: Some(errors[epoch - 1]) })
//!         },
//!         |trained, slot| *slot = Some(*trained),
//!     )
//!     .unwrap();
//! // Two epochs without a lower error after epoch 3: stopped after epoch 5.
//! assert_eq!(outcome.epochs_run, 5);
//! let best = outcome.best.as_ref().unwrap();
//! assert_eq!((best.epoch, best.state), (3, 3));
//! // A refit on train + validation runs the chosen 3 epochs, early stopping off.
//! let refit = EpochLoop::refit(outcome.chosen_epoch());
//! assert_eq!((refit.epochs, refit.patience), (3, 0));
//! ```

use crate::{Control, EpochRecord, Observer};

/// The most weights a network (the autoencoder, Mult-VAE/DAE) may have,
/// checked before anything is allocated: each costs 16 bytes (weight,
/// gradient, Adam's two moments), so this bounds a fit near 4 GB.
pub const MAX_PARAMS: usize = 250_000_000;

/// Which way a validation score improves: [`Lower`](Better::Lower) for
/// errors (RMSE), [`Higher`](Better::Higher) for ranking scores (NDCG).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Lower scores are better (an error such as RMSE).
    Lower,
    /// Higher scores are better (a ranking score such as NDCG).
    Higher,
}

impl Better {
    /// Whether `score` is strictly better than `best`; NaN never is.
    pub fn beats(self, score: f64, best: f64) -> bool {
        match self {
            Better::Lower => score < best,
            Better::Higher => score > best,
        }
    }

    /// The score every finite score beats.
    fn worst(self) -> f64 {
        match self {
            Better::Lower => f64::INFINITY,
            Better::Higher => f64::NEG_INFINITY,
        }
    }
}

/// What one evaluation means for training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A new best: snapshot the model.
    Improved,
    /// No improvement; keep going.
    Continue,
    /// No improvement for `patience` evaluations: stop.
    Stop,
}

/// Early stopping on a validation score: stop after `patience` evaluations
/// without a strict improvement on the best so far; `patience == 0` never
/// stops (the best is still tracked). Patience counts evaluations, not
/// epochs, for fits that evaluate every few epochs.
///
/// ```
/// use movierec_core::training::{Better, EarlyStopping, Verdict};
/// let mut es = EarlyStopping::new(Better::Higher, 1);
/// assert_eq!(es.observe(1, 0.30), Verdict::Improved);
/// assert_eq!(es.observe(2, 0.25), Verdict::Stop);
/// assert_eq!(es.best(), Some((1, 0.30)));
/// ```
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    better: Better,
    patience: usize,
    best: f64,
    best_epoch: usize,
    bad: usize,
}

impl EarlyStopping {
    /// Nothing observed yet.
    pub fn new(better: Better, patience: usize) -> Self {
        Self {
            better,
            patience,
            best: better.worst(),
            best_epoch: 0,
            bad: 0,
        }
    }

    /// Whether it can stop training (`patience > 0`).
    pub fn enabled(&self) -> bool {
        self.patience > 0
    }

    /// The best epoch and its score, once a score has improved on the
    /// worst possible one.
    pub fn best(&self) -> Option<(usize, f64)> {
        (self.best_epoch > 0).then_some((self.best_epoch, self.best))
    }

    /// Records the score of `epoch` (1-based).
    pub fn observe(&mut self, epoch: usize, score: f64) -> Verdict {
        if self.better.beats(score, self.best) {
            self.best = score;
            self.best_epoch = epoch;
            self.bad = 0;
            Verdict::Improved
        } else {
            self.bad += 1;
            if self.patience > 0 && self.bad >= self.patience {
                Verdict::Stop
            } else {
                Verdict::Continue
            }
        }
    }
}

/// What one epoch gives the loop.
#[derive(Debug, Clone)]
pub struct Epoch {
    /// The record passed to the observer.
    pub record: EpochRecord,
    /// The validation score early stopping watches; `None` where the epoch
    /// was not evaluated (no validation set, or not an evaluation epoch).
    pub score: Option<f64>,
}

/// The best state a fit saw, with its epoch and score.
#[derive(Debug, Clone)]
pub struct Best<S> {
    /// 1-based epoch of the snapshot.
    pub epoch: usize,
    /// Its validation score.
    pub score: f64,
    /// The snapshot.
    pub state: S,
}

/// How a loop ended.
#[derive(Debug, Clone)]
pub struct Outcome<S> {
    /// Epochs run, the last one included.
    pub epochs_run: usize,
    /// The best snapshot, when early stopping was on and some score
    /// improved; the fit restores it. `None`: the last state stands.
    pub best: Option<Best<S>>,
}

impl<S> Outcome<S> {
    /// The epoch whose state the fit returns: the best snapshot's, else the
    /// last one run. A refit on train + validation runs this many epochs
    /// (see [`EpochLoop::refit`]).
    pub fn chosen_epoch(&self) -> usize {
        self.best.as_ref().map_or(self.epochs_run, |b| b.epoch)
    }
}

/// The epoch budget and early stopping of one fit; see the [module
/// documentation](self) for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochLoop {
    /// Most epochs to run.
    pub epochs: usize,
    /// Evaluations without improvement before stopping; 0: run every epoch
    /// and keep the last state.
    pub patience: usize,
    /// Which way the score improves.
    pub better: Better,
}

impl EpochLoop {
    /// `epochs` epochs, early stopping off.
    pub fn new(epochs: usize) -> Self {
        Self {
            epochs,
            patience: 0,
            better: Better::Lower,
        }
    }

    /// With early stopping on the epochs' scores: after `patience`
    /// evaluations without a better score, stop and restore the best
    /// (`patience == 0`: off). Epochs without a score (no validation set)
    /// never stop training.
    pub fn early_stopping(self, better: Better, patience: usize) -> Self {
        Self {
            patience,
            better,
            ..self
        }
    }

    /// The settings of a refit on train + validation once validation chose
    /// `chosen` epochs ([`Outcome::chosen_epoch`], which the model keeps):
    /// that many epochs (at least 1), early stopping off. What the fits'
    /// [`Fit::refit_config`](crate::Fit::refit_config) use.
    pub fn refit(chosen: usize) -> Self {
        Self::new(chosen.max(1))
    }

    /// Runs up to [`epochs`](Self::epochs) epochs of `trainer`: for each,
    /// `epoch(trainer, n)` (1-based `n`) trains and evaluates, its record
    /// goes to `observer`, and its score (if any) to early stopping; on a
    /// new best (early stopping on), `snapshot(trainer, slot)` stores the
    /// state in `slot`, reusing the previous snapshot's buffers when `slot`
    /// holds one. Stops when early stopping says so or the observer returns
    /// [`Control::Stop`], after that epoch.
    ///
    /// Every epoch's training loss and training RMSE, where the record has
    /// them, must be finite: a NaN or infinite one (a learning rate too
    /// large) ends the fit with [`Error::Diverged`](crate::Error::Diverged),
    /// so that no model diverged to NaN is ever returned. Trainers whose
    /// record may lack the loss check their parameters themselves.
    ///
    /// # Errors
    /// The first error of `epoch`, at once; [`Error::Diverged`](crate::Error::Diverged)
    /// (converted into `E`) at the first epoch whose loss is not finite.
    pub fn run<T, S, E: From<crate::Error>>(
        &self,
        trainer: &mut T,
        observer: &mut dyn Observer,
        mut epoch: impl FnMut(&mut T, usize) -> Result<Epoch, E>,
        mut snapshot: impl FnMut(&T, &mut Option<S>),
    ) -> Result<Outcome<S>, E> {
        let mut stopper = EarlyStopping::new(self.better, self.patience);
        let mut slot: Option<S> = None;
        let mut epochs_run = 0;
        for n in 1..=self.epochs {
            let Epoch { record, score } = epoch(trainer, n)?;
            check_finite(&record)?;
            epochs_run = n;
            let control = observer.on_epoch(&record);
            if let Some(score) = score {
                match stopper.observe(n, score) {
                    Verdict::Improved if stopper.enabled() => snapshot(trainer, &mut slot),
                    Verdict::Stop => break,
                    _ => {}
                }
            }
            if control == Control::Stop {
                break;
            }
        }
        let best = match (slot, stopper.best()) {
            (Some(state), Some((epoch, score))) => Some(Best {
                epoch,
                score,
                state,
            }),
            _ => None,
        };
        Ok(Outcome { epochs_run, best })
    }
}

/// [`Error::Diverged`](crate::Error::Diverged) where the record's training
/// loss or training RMSE is not finite.
fn check_finite(record: &EpochRecord) -> Result<(), crate::Error> {
    let bad = |what: &str, x: f64| {
        Err(diverged(
            record.epoch,
            &format!("the training {what} is {x}"),
        ))
    };
    if let Some(loss) = record.loss.filter(|x| !x.is_finite()) {
        return bad("loss", loss);
    }
    if let Some(m) = record.train.filter(|m| m.n > 0 && !m.rmse.is_finite()) {
        return bad("RMSE", m.rmse);
    }
    Ok(())
}

/// The error of a fit that diverged at `epoch` because of `what` (e.g. "the
/// training loss is NaN"), with the usual remedy: a smaller learning rate.
pub fn diverged(epoch: usize, what: &str) -> crate::Error {
    crate::Error::Diverged {
        epoch,
        what: format!("{what}; lower the learning rate (--lr)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoopObserver;

    #[test]
    fn early_stopping_counts_evaluations_without_improvement() {
        let mut es = EarlyStopping::new(Better::Lower, 2);
        assert_eq!(es.observe(1, 1.0), Verdict::Improved);
        assert_eq!(es.observe(2, 0.9), Verdict::Improved);
        assert_eq!(es.observe(3, 0.95), Verdict::Continue);
        assert_eq!(es.observe(4, f64::NAN), Verdict::Stop);
        assert_eq!(es.best(), Some((2, 0.9)));
        let mut off = EarlyStopping::new(Better::Lower, 0);
        assert!(!off.enabled());
        off.observe(1, 1.0);
        assert_eq!(off.observe(2, 2.0), Verdict::Continue);
        let mut nan = EarlyStopping::new(Better::Higher, 3);
        assert_eq!(nan.observe(1, f64::NAN), Verdict::Continue);
        assert_eq!(nan.best(), None);
        assert_eq!(nan.observe(2, 0.1), Verdict::Improved);
        assert_eq!(nan.observe(3, 0.1), Verdict::Continue);
        assert_eq!(nan.best(), Some((2, 0.1)));
    }

    /// Runs `scores` (one per epoch, `None`: not evaluated) and returns the
    /// outcome, the epochs snapshotted and the epochs the observer saw.
    fn run(
        lp: EpochLoop,
        scores: &[Option<f64>],
        stop_at: Option<usize>,
    ) -> (Outcome<usize>, Vec<usize>, Vec<usize>) {
        struct Stopper(Option<usize>, Vec<usize>);
        impl Observer for Stopper {
            fn on_epoch(&mut self, r: &EpochRecord) -> Control {
                self.1.push(r.epoch);
                if Some(r.epoch) == self.0 {
                    Control::Stop
                } else {
                    Control::Continue
                }
            }
        }
        let mut obs = Stopper(stop_at, Vec::new());
        let mut snaps = Vec::new();
        let mut state = 0usize;
        let out = lp
            .run(
                &mut state,
                &mut obs,
                |s, n| {
                    *s = n;
                    let record = EpochRecord {
                        epoch: n,
                        ..Default::default()
                    };
                    Ok::<_, crate::Error>(Epoch {
                        record,
                        score: scores[n - 1],
                    })
                },
                |s, slot| {
                    snaps.push(*s);
                    *slot = Some(*s);
                },
            )
            .unwrap();
        (out, snaps, obs.1)
    }

    #[test]
    fn loop_stops_snapshots_and_restores() {
        let s = [
            Some(0.5),
            None,
            Some(0.4),
            Some(0.6),
            None,
            Some(0.7),
            Some(0.1),
        ];
        // Patience counts evaluations: epochs 4 and 6 are the two bad ones.
        let (out, snaps, seen) = run(EpochLoop::new(7).early_stopping(Better::Lower, 2), &s, None);
        assert_eq!((out.epochs_run, snaps, seen.len()), (6, vec![1, 3], 6));
        assert_eq!(out.best.as_ref().map(|b| (b.epoch, b.state)), Some((3, 3)));
        assert_eq!(out.chosen_epoch(), 3);
        // Higher is better: 0.7 at epoch 6 is the best, 0.1 then does not stop.
        let (out, snaps, _) = run(
            EpochLoop::new(7).early_stopping(Better::Higher, 2),
            &s,
            None,
        );
        assert_eq!((out.epochs_run, snaps), (7, vec![1, 4, 6]));
        assert_eq!(out.chosen_epoch(), 6);
        // Off: no snapshot, the last epoch stands.
        let (out, snaps, _) = run(EpochLoop::new(7), &s, None);
        assert_eq!((out.epochs_run, snaps.len(), out.chosen_epoch()), (7, 0, 7));
        // The observer stops after its epoch, and the snapshot still counts.
        let (out, _, seen) = run(
            EpochLoop::new(7).early_stopping(Better::Lower, 5),
            &s,
            Some(4),
        );
        assert_eq!(
            (out.epochs_run, seen, out.chosen_epoch()),
            (4, vec![1, 2, 3, 4], 3)
        );
        assert_eq!(EpochLoop::refit(0), EpochLoop::new(1));
    }

    #[test]
    fn loop_returns_the_first_error() {
        let mut calls = 0;
        let r = EpochLoop::new(5).run(
            &mut calls,
            &mut NoopObserver,
            |c, n| {
                *c += 1;
                if n == 2 {
                    Err(crate::Error::Empty("epoch 2"))
                } else {
                    Ok(Epoch {
                        record: EpochRecord::default(),
                        score: None,
                    })
                }
            },
            |_, _: &mut Option<()>| {},
        );
        assert_eq!((r.err(), calls), (Some(crate::Error::Empty("epoch 2")), 2));
    }
}
