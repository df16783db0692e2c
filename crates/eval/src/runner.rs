use std::path::Path;
use std::time::Instant;

use movierec_core::{
    Control, EpochRecord, Fallback, FallbackModel, Fit, IdMap, NoopObserver, Observer, Rating,
    RatingMatrix, RatingScale, Ratings, Recommender, RunContext, SetMetrics,
};
use movierec_data::{carve_validation, read_interactions, splits, OnDuplicate, Split, SplitConfig};
use rayon::prelude::*;
use serde::Serialize;

use crate::{ranking_metrics, EvalError, ModelReport, RankingOptions, RepeatResult, Result};

/// How to run the protocol.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Which splits, how many repeats, which seed.
    pub split: SplitConfig,
    /// What predicts pairs the model cannot score.
    pub fallback: Fallback,
    /// After fitting on train with validation, refit on train + validation
    /// with the settings validation chose (as the AutoRec paper does) before
    /// scoring test. Default: true.
    pub refit: bool,
    /// Also score top-N lists on test (see [`ranking_metrics`]). Default: none.
    pub ranking: Option<RankingOptions>,
    /// More list lengths scored beside `ranking.k`, kept in each repeat's
    /// `ranking_at` ([`ModelReport::at_k`] makes one of them the summary's).
    pub ranking_also: Vec<usize>,
    /// Worker threads of every fit (0: all cores). Models whose results
    /// depend on it (MF's parallel SGD) read it from the run context.
    /// Default: 1.
    pub threads: usize,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            split: SplitConfig::default(),
            fallback: Fallback::Bias,
            refit: true,
            ranking: None,
            ranking_also: Vec::new(),
            threads: 1,
        }
    }
}

impl EvalOptions {
    /// The run context of every fit: these threads, and the split's seed
    /// as the seed of the models' own random choices.
    pub fn context(&self) -> RunContext {
        RunContext::new(self.threads, self.split.seed)
    }
}

/// Receives the progress of a protocol run (progress bars, live curves).
pub trait Monitor: Send {
    /// A repeat (or fold) starts; `index` counts from 0.
    fn repeat(&mut self, _index: usize, _total: usize) {}
    /// An epoch of the fit on the training part ended.
    fn epoch(&mut self, _record: &EpochRecord) {}
    /// Progress within a long step of the fit that is not an epoch (see
    /// [`Observer::on_progress`]).
    fn progress(&mut self, _phase: &str, _done: usize, _total: usize) {}
}

/// A monitor that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMonitor;

impl Monitor for NoMonitor {}

/// Records the curve and forwards each epoch to the monitor.
struct Recorder<'a> {
    curve: Vec<EpochRecord>,
    monitor: &'a mut dyn Monitor,
}

impl Observer for Recorder<'_> {
    fn on_epoch(&mut self, record: &EpochRecord) -> Control {
        self.monitor.epoch(record);
        self.curve.push(record.clone());
        Control::Continue
    }

    fn on_progress(&mut self, phase: &str, done: usize, total: usize) {
        self.monitor.progress(phase, done, total);
    }
}

/// Runs the protocol of `opts` for one model on a rating set: for every
/// split, fit on train (validation for the model's own choices), optionally
/// refit on train + validation, then score test.
///
/// # Errors
/// A split that cannot be made (e.g. temporal without timestamps), a fit
/// that fails, or a protocol with no test ratings.
pub fn evaluate<F>(
    name: &str,
    config: &F,
    ratings: &Ratings,
    timestamps: Option<&[i64]>,
    opts: &EvalOptions,
    monitor: &mut dyn Monitor,
) -> Result<ModelReport>
where
    F: Fit + Serialize + Clone,
{
    // One split at a time: memory stays that of one split whatever the
    // number of repeats.
    let splits = splits(ratings, timestamps, &opts.split)?;
    let count = splits.len();
    let mut repeats = Vec::with_capacity(count);
    for (r, split) in splits.enumerate() {
        monitor.repeat(r, count);
        let split = split?;
        let (train, validation, test) = split_parts(ratings, &split, opts)?;
        let fitted = fit_on(
            name,
            config,
            &train,
            &validation,
            Plan {
                fallback: opts.fallback,
                refit: opts.refit,
                ctx: opts.context(),
            },
            monitor,
        )?;
        repeats.push(
            score_ranked(
                fitted,
                &test.entries,
                opts.ranking.as_ref(),
                &opts.ranking_also,
            )
            .0,
        );
    }
    let config = serde_json::to_value(config).expect("configs serialise");
    Ok(ModelReport::new(name, config, repeats).with_context(opts.context()))
}

/// The training, validation and test ratings of one split.
///
/// # Errors
/// [`EvalError::NoTestRatings`] when the split has no test ratings.
pub(crate) fn split_parts(
    ratings: &Ratings,
    split: &Split,
    opts: &EvalOptions,
) -> Result<(Ratings, Ratings, Ratings)> {
    if split.test.is_empty() {
        return Err(EvalError::NoTestRatings(format!(
            "{:?}",
            opts.split.protocol
        )));
    }
    Ok((
        ratings.select(&split.train),
        ratings.select(&split.validation),
        ratings.select(&split.test),
    ))
}

/// A model fitted for one repeat, with what scoring needs.
pub(crate) struct Fitted<M> {
    pub(crate) model: M,
    pub(crate) matrix: RatingMatrix,
    pub(crate) fallback: FallbackModel,
    pub(crate) fit_seconds: f64,
    pub(crate) curve: Vec<EpochRecord>,
    /// The settings of the refit (what validation chose), when there was one.
    pub(crate) chosen: Option<serde_json::Value>,
}

/// How [`fit_on`] fits: the fallback, whether to refit, the run context.
pub(crate) struct Plan {
    pub(crate) fallback: Fallback,
    pub(crate) refit: bool,
    pub(crate) ctx: RunContext,
}

/// Fits on `train` (validation for the model's own choices), then refits on
/// train + validation when asked.
pub(crate) fn fit_on<F>(
    name: &str,
    config: &F,
    train: &Ratings,
    validation: &Ratings,
    plan: Plan,
    monitor: &mut dyn Monitor,
) -> Result<Fitted<F::Model>>
where
    F: Fit + Serialize + Clone,
{
    let fit_err = |e: F::Error| EvalError::Fit {
        model: name.to_string(),
        source: Box::new(e),
    };
    let start = Instant::now();
    let matrix = RatingMatrix::new(train)?;
    let mut recorder = Recorder {
        curve: Vec::new(),
        monitor,
    };
    let val = (!validation.is_empty()).then_some(validation);
    let model = config
        .fit(&matrix, val, &plan.ctx, &mut recorder)
        .map_err(fit_err)?;
    let (model, matrix, chosen) = if plan.refit && val.is_some() {
        let full = RatingMatrix::new(&train.concat(validation))?;
        let again = config.refit_config(&model);
        let chosen = serde_json::to_value(&again).expect("configs serialise");
        let model = again
            .fit(&full, None, &plan.ctx, &mut NoopObserver)
            .map_err(fit_err)?;
        (model, full, Some(chosen))
    } else {
        (model, matrix, None)
    };
    let fallback = plan.fallback.fit(&matrix);
    Ok(Fitted {
        model,
        matrix,
        fallback,
        fit_seconds: start.elapsed().as_secs_f64(),
        curve: recorder.curve,
        chosen,
    })
}

/// Scores `test` with a fitted model, and with `ranking` its top-N lists
/// too ([`ranking_metrics`]); returns the result and the predictions.
pub(crate) fn score_ranked<M: Recommender>(
    fitted: Fitted<M>,
    test: &[Rating],
    ranking: Option<&RankingOptions>,
    also: &[usize],
) -> (RepeatResult, Vec<f32>) {
    let start = Instant::now();
    let (predictions, fallbacks) =
        predict_all(&fitted.model, &fitted.matrix, &fitted.fallback, test);
    let predict_seconds = start.elapsed().as_secs_f64();
    let m = SetMetrics::compute(
        predictions.iter().zip(test).map(|(&p, r)| (p, r.value)),
        fitted.matrix.scale(),
    );
    let rank = |opts: &RankingOptions| {
        ranking_metrics(&fitted.model, &fitted.matrix, &fitted.fallback, test, opts)
    };
    let ranking = ranking.map(rank);
    let ranking_at = match ranking {
        Some(first) => std::iter::once(first)
            .chain(also.iter().filter(|&&k| k != first.k).map(|&k| {
                rank(&RankingOptions {
                    k,
                    threshold: first.threshold,
                })
            }))
            .collect(),
        None => Vec::new(),
    };
    let result = RepeatResult {
        rmse: m.rmse,
        mse: m.mse,
        mae: m.mae,
        accuracy: m.accuracy,
        fit_seconds: fitted.fit_seconds,
        predict_seconds,
        fallbacks,
        n_test: test.len(),
        curve: fitted.curve,
        chosen: fitted.chosen,
        ranking,
        ranking_at: if ranking_at.len() > 1 {
            ranking_at
        } else {
            Vec::new()
        },
    };
    (result, predictions)
}

/// Predicts every pair (in parallel, order kept), using `fallback` where the
/// user or the item has no training rating or the model has no estimate.
/// Returns the unclamped predictions and how many came from the fallback.
pub fn predict_all(
    model: &dyn Recommender,
    train: &RatingMatrix,
    fallback: &FallbackModel,
    pairs: &[Rating],
) -> (Vec<f32>, usize) {
    let scored: Vec<(f32, bool)> = pairs
        .par_iter()
        .map(|r| {
            let known = r.user.get() < train.n_users()
                && r.item.get() < train.n_items()
                && train.user_count(r.user) > 0
                && train.item_count(r.item) > 0;
            match known.then(|| model.predict(r.user, r.item)).flatten() {
                Some(p) => (p, false),
                None => (fallback.estimate(r.user, r.item), true),
            }
        })
        .collect();
    let fallbacks = scored.iter().filter(|s| s.1).count();
    (scored.into_iter().map(|s| s.0).collect(), fallbacks)
}

/// How to run a given train/test pair of files.
#[derive(Debug, Clone)]
pub struct GivenOptions {
    /// The valid rating range of both files.
    pub scale: RatingScale,
    /// What to do with a repeated (user, item) pair.
    pub on_duplicate: OnDuplicate,
    /// Share of the train file carved out (seeded) as validation. 0 disables it.
    pub validation_fraction: f64,
    /// Seed of the carve.
    pub seed: u64,
    /// What predicts pairs the model cannot score.
    pub fallback: Fallback,
    /// Refit on the whole train file once validation has chosen. Default: true.
    pub refit: bool,
    /// Also score top-N lists on the test file. Default: none.
    pub ranking: Option<RankingOptions>,
    /// More list lengths scored beside `ranking.k`.
    pub ranking_also: Vec<usize>,
    /// Worker threads of the fit (0: all cores). Default: 1.
    pub threads: usize,
}

impl GivenOptions {
    /// The run context of the fit: these threads and `seed`.
    pub fn context(&self) -> RunContext {
        RunContext::new(self.threads, self.seed)
    }
}

impl Default for GivenOptions {
    fn default() -> Self {
        Self {
            scale: RatingScale::default(),
            on_duplicate: OnDuplicate::Error,
            validation_fraction: 0.1,
            seed: 42,
            fallback: Fallback::Bias,
            refit: true,
            ranking: None,
            ranking_also: Vec::new(),
            threads: 1,
        }
    }
}

/// The outcome of a given train/test pair.
#[derive(Debug, Clone)]
pub struct GivenResult {
    /// Summary of the model on the pair.
    pub report: ModelReport,
    /// The test ratings in the test file's order.
    pub test: Ratings,
    /// One prediction per test rating, unclamped.
    pub predictions: Vec<f32>,
    /// Raw user ids (train first, then ids new in the test file).
    pub users: IdMap,
    /// Raw item ids (train first, then ids new in the test file).
    pub items: IdMap,
}

/// Fits on a given train file (carving a seeded validation part for the
/// model's choices, then refitting on the whole file) and only then reads
/// and scores the test file.
///
/// # Errors
/// Bad input in either file (with file and line), a failed fit.
pub fn evaluate_given<F>(
    name: &str,
    config: &F,
    train_path: &Path,
    test_path: &Path,
    opts: &GivenOptions,
    monitor: &mut dyn Monitor,
) -> Result<GivenResult>
where
    F: Fit + Serialize + Clone,
{
    let f = opts.validation_fraction;
    if !(f.is_finite() && (0.0..1.0).contains(&f)) {
        return Err(EvalError::Options(format!(
            "the validation fraction must lie in [0, 1), got {f}"
        )));
    }
    let (mut users, mut items) = (IdMap::new(), IdMap::new());
    let all = read_interactions(
        train_path,
        &mut users,
        &mut items,
        opts.scale,
        opts.on_duplicate,
    )?;
    if all.is_empty() {
        return Err(EvalError::NoRatings(train_path.to_path_buf()));
    }
    let (train_pos, val_pos) = carve_validation(all.len(), opts.validation_fraction, opts.seed);
    let train = all.select(&train_pos);
    let validation = all.select(&val_pos);
    monitor.repeat(0, 1);
    let fitted = fit_on(
        name,
        config,
        &train,
        &validation,
        Plan {
            fallback: opts.fallback,
            refit: opts.refit,
            ctx: opts.context(),
        },
        monitor,
    )?;
    // The test file is read only now, after the fit; its new ids extend the maps.
    let test = read_interactions(
        test_path,
        &mut users,
        &mut items,
        opts.scale,
        OnDuplicate::Error,
    )?;
    if test.is_empty() {
        return Err(EvalError::NoRatings(test_path.to_path_buf()));
    }
    let (result, predictions) = score_ranked(
        fitted,
        &test.entries,
        opts.ranking.as_ref(),
        &opts.ranking_also,
    );
    let config = serde_json::to_value(config).expect("configs serialise");
    Ok(GivenResult {
        report: ModelReport::new(name, config, vec![result]).with_context(opts.context()),
        test,
        predictions,
        users,
        items,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use movierec_core::{BiasConfig, ConstantConfig, ItemIdx, UserIdx};
    use movierec_data::Protocol;

    /// Ratings with a user + item pattern over a regular mask.
    pub(crate) fn additive(n_users: u32, n_items: u32) -> Ratings {
        let mut entries = Vec::new();
        for u in 0..n_users {
            for i in 0..n_items {
                if (u * 7 + i * 3) % 4 != 0 {
                    entries.push(Rating::new(
                        u,
                        i,
                        (1.0 + (u % 5) as f32 * 0.5 + (i % 3) as f32 * 0.5).min(5.0),
                    ));
                }
            }
        }
        Ratings::new(
            entries,
            n_users as usize,
            n_items as usize,
            RatingScale::default(),
        )
    }

    /// Counts the models fitted, to see the refit happen.
    #[derive(Clone, serde::Serialize)]
    struct Counting(
        BiasConfig,
        #[serde(skip)] std::sync::Arc<std::sync::atomic::AtomicUsize>,
    );

    impl Fit for Counting {
        type Model = movierec_core::BiasBaseline;
        type Error = movierec_core::Error;
        fn fit(
            &self,
            t: &RatingMatrix,
            v: Option<&Ratings>,
            c: &RunContext,
            o: &mut dyn Observer,
        ) -> Result<Self::Model, Self::Error> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.0.fit(t, v, c, o)
        }
    }

    #[test]
    fn refit_fits_twice_per_repeat_and_records_curves() {
        let ratings = additive(40, 30);
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cfg = Counting(BiasConfig::default(), count.clone());
        let opts = EvalOptions {
            split: SplitConfig {
                repeats: 3,
                ..SplitConfig::default()
            },
            ..EvalOptions::default()
        };
        let report = evaluate("bias", &cfg, &ratings, None, &opts, &mut NoMonitor).unwrap();
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 6);
        assert_eq!(report.repeats.len(), 3);
        let r = &report.repeats[0];
        assert_eq!(r.curve.len(), 10, "one record per bias sweep");
        assert!(r.curve[0].validation.is_some());
        assert_eq!(r.n_test, (ratings.len() as f64 * 0.1).round() as usize);

        count.store(0, std::sync::atomic::Ordering::SeqCst);
        let no_refit = EvalOptions {
            refit: false,
            ..opts
        };
        evaluate("bias", &cfg, &ratings, None, &no_refit, &mut NoMonitor).unwrap();
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn ranking_joins_every_repeat_when_asked() {
        let ratings = additive(40, 30);
        let opts = EvalOptions {
            split: SplitConfig {
                repeats: 2,
                ..SplitConfig::default()
            },
            ranking: Some(RankingOptions {
                k: 5,
                threshold: 3.0,
            }),
            ..EvalOptions::default()
        };
        let cfg = BiasConfig::default();
        let report = evaluate("bias", &cfg, &ratings, None, &opts, &mut NoMonitor).unwrap();
        for r in &report.repeats {
            let rk = r.ranking.expect("ranking asked for");
            assert_eq!(rk.k, 5);
            assert!(rk.users > 0 && (0.0..=1.0).contains(&rk.ndcg));
        }
        let s = report.mean.ranking.unwrap();
        assert_eq!(s.k, 5);
        let plain = evaluate(
            "bias",
            &cfg,
            &ratings,
            None,
            &EvalOptions::default(),
            &mut NoMonitor,
        )
        .unwrap();
        assert!(plain.mean.ranking.is_none() && plain.repeats[0].ranking.is_none());
        assert_eq!(plain.repeats[0].rmse, report.repeats[0].rmse);
    }

    #[test]
    fn same_seed_same_report() {
        let ratings = additive(30, 20);
        let opts = EvalOptions::default();
        let a = evaluate(
            "bias",
            &BiasConfig::default(),
            &ratings,
            None,
            &opts,
            &mut NoMonitor,
        )
        .unwrap();
        let b = evaluate(
            "bias",
            &BiasConfig::default(),
            &ratings,
            None,
            &opts,
            &mut NoMonitor,
        )
        .unwrap();
        assert_eq!(a.mean.rmse, b.mean.rmse);
        assert_eq!(a.repeats[4].mae, b.repeats[4].mae);
    }

    #[test]
    fn temporal_without_timestamps_is_an_error() {
        let ratings = additive(10, 10);
        let opts = EvalOptions {
            split: SplitConfig {
                protocol: Protocol::Temporal,
                ..SplitConfig::default()
            },
            ..EvalOptions::default()
        };
        assert!(evaluate(
            "c",
            &ConstantConfig::default(),
            &ratings,
            None,
            &opts,
            &mut NoMonitor
        )
        .is_err());
    }

    #[test]
    fn cold_pairs_and_missing_estimates_use_the_fallback() {
        /// Scores only item 0.
        struct OnlyItemZero;
        impl Recommender for OnlyItemZero {
            fn n_items(&self) -> usize {
                2
            }
            fn score_into(&self, _: UserIdx, out: &mut [f32]) {
                out.fill(f32::NAN);
                out[0] = 1.0;
            }
        }
        let train = Ratings::new(
            vec![
                Rating::new(0, 0, 4.0),
                Rating::new(0, 1, 2.0),
                Rating::new(1, 0, 3.0),
            ],
            3,
            2,
            RatingScale::default(),
        );
        let m = RatingMatrix::new(&train).unwrap();
        let fb = Fallback::Report.fit(&m);
        let pairs = [
            Rating::new(1, 0, 3.0), // scored
            Rating::new(1, 1, 3.0), // no estimate
            Rating::new(2, 0, 3.0), // user without training ratings
            Rating::new(7, 9, 3.0), // ids new in a test file
        ];
        let (p, n) = predict_all(&OnlyItemZero, &m, &fb, &pairs);
        assert_eq!(p, vec![1.0, 3.0, 3.0, 3.0]);
        assert_eq!(n, 3);
        assert_eq!(fb.estimate(UserIdx(7), ItemIdx(9)), 3.0);
    }
}
