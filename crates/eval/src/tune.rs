//! Hyper-parameter search scored on validation ratings only: the test part
//! of every split is never read, so the winner can be reported on test
//! afterwards without bias.

use std::fmt::Write as _;

use movierec_core::metrics::ndcg_at;
use movierec_core::{Fit, Ratings, Recommender, ScoreKind, SetMetrics};
use movierec_data::{make_splits, splits};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::runner::{fit_on, predict_all, score_ranked, Plan};
use crate::{mean_ci95, EvalError, EvalOptions, ModelReport, Monitor, Result};

/// One tried configuration and its validation score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The settings that differ from the base configuration.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Mean validation RMSE over the splits.
    pub validation_rmse: f64,
    /// Mean validation half-star accuracy.
    pub validation_accuracy: f64,
    /// Mean fit seconds.
    pub fit_seconds: f64,
    /// Mean validation NDCG@10 (relevant: rating >= 4), for models whose
    /// scores only rank: they are tuned on it instead of RMSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_ndcg: Option<f64>,
}

impl Trial {
    /// What the search minimises: minus NDCG for ranking models, else RMSE.
    pub fn loss(&self) -> f64 {
        self.validation_ndcg.map_or(self.validation_rmse, |n| -n)
    }
}

/// The validation list length and relevance threshold of ranking models' tuning.
const TUNE_AT: usize = 10;
const TUNE_RELEVANT: f32 = 4.0;

/// Every trial of a search, and the winner (lowest mean validation RMSE, or
/// highest validation NDCG@10 for ranking models; the first such trial on a
/// tie).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TuningReport {
    /// Model name.
    pub model: String,
    /// Dataset name.
    pub dataset: String,
    /// Splits scored per trial.
    pub repeats: usize,
    /// Base seed of the splits.
    pub seed: u64,
    /// Which command, commit and machine produced it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// The complete winning configuration.
    pub winner: serde_json::Value,
    /// Every trial, in the order tried.
    pub trials: Vec<Trial>,
}

/// Expands a grid (each key a list of values) into the cartesian product of
/// settings, in a fixed order (keys sorted, last key fastest).
pub fn grid(
    axes: &serde_json::Map<String, serde_json::Value>,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let mut out = vec![serde_json::Map::new()];
    let mut keys: Vec<&String> = axes.keys().collect();
    keys.sort();
    for key in keys {
        let values = match &axes[key] {
            serde_json::Value::Array(v) => v.clone(),
            single => vec![single.clone()],
        };
        out = out
            .into_iter()
            .flat_map(|partial| {
                values.iter().map(move |v| {
                    let mut p = partial.clone();
                    p.insert(key.clone(), v.clone());
                    p
                })
            })
            .collect();
    }
    out
}

/// `base` with the settings of `params` replaced.
///
/// # Errors
/// A setting the configuration does not have, or a value of the wrong type.
pub fn with_params<F>(base: &F, params: &serde_json::Map<String, serde_json::Value>) -> Result<F>
where
    F: Serialize + DeserializeOwned,
{
    let mut v = serde_json::to_value(base).expect("configs serialise");
    let obj = v.as_object_mut().expect("configs are structs");
    for (k, x) in params {
        obj.insert(k.clone(), x.clone());
    }
    serde_json::from_value(v).map_err(|e| {
        EvalError::Tuning(format!(
            "{}: {e}",
            serde_json::Value::Object(params.clone())
        ))
    })
}

/// Scores each setting of `trials` on the validation parts of the protocol's
/// splits (no refit, test never read) and returns all scores and the winner.
///
/// # Errors
/// A bad setting, a split that cannot be made, a failed fit.
#[allow(clippy::too_many_arguments)]
pub fn tune<F>(
    name: &str,
    dataset: &str,
    base: &F,
    trials: &[serde_json::Map<String, serde_json::Value>],
    ratings: &Ratings,
    timestamps: Option<&[i64]>,
    opts: &EvalOptions,
    monitor: &mut dyn Monitor,
) -> Result<TuningReport>
where
    F: Fit + Serialize + DeserializeOwned + Clone,
{
    if trials.is_empty() {
        return Err(EvalError::Tuning("no trial to run".into()));
    }
    let splits = make_splits(ratings, timestamps, &opts.split)?;
    let mut scored = Vec::with_capacity(trials.len());
    for (t, params) in trials.iter().enumerate() {
        monitor.repeat(t, trials.len());
        let config = with_params(base, params)?;
        let (mut rmse, mut acc, mut secs) = (Vec::new(), Vec::new(), Vec::new());
        let mut ndcg = Vec::new();
        for split in &splits {
            let train = ratings.select(&split.train);
            let validation = ratings.select(&split.validation);
            let (m, n, seconds) =
                validation_score(name, &config, &train, &validation, opts, monitor)?;
            rmse.push(m.rmse);
            acc.push(m.accuracy);
            secs.push(seconds);
            ndcg.extend(n);
        }
        scored.push(Trial {
            params: params.clone(),
            validation_rmse: mean_ci95(&rmse).mean,
            validation_accuracy: mean_ci95(&acc).mean,
            fit_seconds: mean_ci95(&secs).mean,
            validation_ndcg: (!ndcg.is_empty()).then(|| mean_ci95(&ndcg).mean),
        });
    }
    let best = scored
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.loss().total_cmp(&b.1.loss()).then(a.0.cmp(&b.0)))
        .map(|(i, _)| i)
        .expect("at least one trial");
    let winner =
        serde_json::to_value(with_params(base, &scored[best].params)?).expect("configs serialise");
    Ok(TuningReport {
        model: name.to_string(),
        dataset: dataset.to_string(),
        repeats: splits.len(),
        seed: opts.split.seed,
        provenance: None,
        winner,
        trials: scored,
    })
}

/// Fits `config` on `train` (no refit) and scores `validation`; returns the
/// metrics, the NDCG@10 of a model whose scores only rank, and the fit
/// seconds.
fn validation_score<F>(
    name: &str,
    config: &F,
    train: &Ratings,
    validation: &Ratings,
    opts: &EvalOptions,
    monitor: &mut dyn Monitor,
) -> Result<(SetMetrics, Option<f64>, f64)>
where
    F: Fit + Serialize + Clone,
{
    if validation.is_empty() {
        return Err(EvalError::Tuning(
            "tuning needs a validation fraction above 0".into(),
        ));
    }
    let fitted = fit_on(
        name,
        config,
        train,
        validation,
        Plan {
            fallback: opts.fallback,
            refit: false,
            ctx: opts.context(),
        },
        monitor,
    )?;
    let (p, _) = predict_all(
        &fitted.model,
        &fitted.matrix,
        &fitted.fallback,
        &validation.entries,
    );
    let pairs = p
        .iter()
        .zip(&validation.entries)
        .map(|(&p, r)| (p, r.value));
    let model = &fitted.model;
    let ndcg = (model.score_kind() == ScoreKind::Ranking).then(|| {
        ndcg_at(
            &fitted.matrix,
            validation,
            TUNE_AT,
            TUNE_RELEVANT,
            |u, out| model.score_into(u, out),
        )
    });
    Ok((
        SetMetrics::compute(pairs, train.scale),
        ndcg,
        fitted.fit_seconds,
    ))
}

/// The protocol with the search inside each repeat (nested validation):
/// every trial is fitted on that repeat's train part and scored on its
/// validation part, the winner is refitted (on train + validation when
/// `opts.refit`) and scores the repeat's test part, which no choice saw.
/// A repeat's `fit_seconds` include its whole search; `chosen` records the
/// winner's settings.
///
/// # Errors
/// A bad setting, a split that cannot be made, a failed fit.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_tuned<F>(
    name: &str,
    base: &F,
    trials: &[serde_json::Map<String, serde_json::Value>],
    ratings: &Ratings,
    timestamps: Option<&[i64]>,
    opts: &EvalOptions,
    monitor: &mut dyn Monitor,
) -> Result<ModelReport>
where
    F: Fit + Serialize + DeserializeOwned + Clone,
{
    if trials.is_empty() {
        return Err(EvalError::Tuning("no trial to run".into()));
    }
    let configs: Vec<F> = trials
        .iter()
        .map(|t| with_params(base, t))
        .collect::<Result<_>>()?;
    let splits = splits(ratings, timestamps, &opts.split)?;
    let count = splits.len();
    let mut repeats = Vec::with_capacity(count);
    for (r, split) in splits.enumerate() {
        monitor.repeat(r, count);
        let split = split?;
        let train = ratings.select(&split.train);
        let validation = ratings.select(&split.validation);
        let test = ratings.select(&split.test);
        let mut search_seconds = 0.0;
        let mut best: Option<(f64, usize)> = None;
        for (t, config) in configs.iter().enumerate() {
            let (m, ndcg, seconds) =
                validation_score(name, config, &train, &validation, opts, monitor)?;
            search_seconds += seconds;
            let loss = ndcg.map_or(m.rmse, |n| -n);
            if best.is_none_or(|(b, _)| loss < b) {
                best = Some((loss, t));
            }
        }
        let winner = &configs[best.expect("at least one trial").1];
        let fitted = fit_on(
            name,
            winner,
            &train,
            &validation,
            Plan {
                fallback: opts.fallback,
                refit: opts.refit,
                ctx: opts.context(),
            },
            monitor,
        )?;
        let (mut result, _) = score_ranked(
            fitted,
            &test.entries,
            opts.ranking.as_ref(),
            &opts.ranking_also,
        );
        result.fit_seconds += search_seconds;
        if result.chosen.is_none() {
            result.chosen = Some(serde_json::to_value(winner).expect("configs serialise"));
        }
        repeats.push(result);
    }
    let config = serde_json::to_value(base).expect("configs serialise");
    Ok(ModelReport::new(name, config, repeats).with_context(opts.context()))
}

impl TuningReport {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a tuning report serialises") + "\n"
    }

    /// Markdown: the winner, then every trial sorted by validation RMSE.
    pub fn to_markdown(&self) -> String {
        let mut s = crate::report::markdown_start(self.provenance.as_deref());
        let _ = writeln!(
            s,
            "Tuning `{}` on `{}`: {} trial(s), each scored on the validation parts of {} split(s) (seed {}); the test parts were not read.\n",
            self.model,
            self.dataset,
            self.trials.len(),
            self.repeats,
            self.seed
        );
        let _ = writeln!(s, "Winner: `{}`\n", self.winner);
        let ranks = self.trials.iter().any(|t| t.validation_ndcg.is_some());
        if ranks {
            s.push_str(
                "| rank | settings | validation NDCG@10 | fit s |\n| --- | --- | --- | --- |\n",
            );
        } else {
            s.push_str("| rank | settings | validation RMSE | validation accuracy | fit s |\n| --- | --- | --- | --- | --- |\n");
        }
        let mut order: Vec<&Trial> = self.trials.iter().collect();
        order.sort_by(|a, b| a.loss().total_cmp(&b.loss()));
        for (rank, t) in order.iter().enumerate() {
            let settings = serde_json::Value::Object(t.params.clone());
            let _ = match t.validation_ndcg {
                Some(n) if ranks => writeln!(
                    s,
                    "| {} | `{settings}` | {n:.4} | {:.3} |",
                    rank + 1,
                    t.fit_seconds
                ),
                _ => writeln!(
                    s,
                    "| {} | `{settings}` | {:.4} | {:.4} | {:.3} |",
                    rank + 1,
                    t.validation_rmse,
                    t.validation_accuracy,
                    t.fit_seconds
                ),
            };
        }
        s
    }

    /// Writes JSON or markdown by extension, atomically.
    pub fn write(&self, path: &std::path::Path) -> Result<()> {
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => self.to_json(),
            _ => self.to_markdown(),
        };
        crate::write_atomic(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use movierec_core::BiasConfig;
    use movierec_data::SplitConfig;
    use serde_json::json;

    #[test]
    fn grid_is_the_cartesian_product_in_a_fixed_order() {
        let axes = json!({"b": [1, 2], "a": ["x", "y", "z"], "c": 5});
        let g = grid(axes.as_object().unwrap());
        assert_eq!(g.len(), 6);
        assert_eq!(
            serde_json::Value::Object(g[0].clone()),
            json!({"a": "x", "b": 1, "c": 5})
        );
        assert_eq!(
            serde_json::Value::Object(g[1].clone()),
            json!({"a": "x", "b": 2, "c": 5})
        );
    }

    #[test]
    fn nested_tuning_chooses_per_repeat_and_records_the_choice() {
        let ratings = crate::runner::tests::additive(40, 30);
        let opts = EvalOptions {
            split: SplitConfig {
                repeats: 2,
                ..SplitConfig::default()
            },
            ..EvalOptions::default()
        };
        let axes = json!({"epochs": [0, 10]});
        let trials = grid(axes.as_object().unwrap());
        let r = evaluate_tuned(
            "bias",
            &BiasConfig::default(),
            &trials,
            &ratings,
            None,
            &opts,
            &mut crate::NoMonitor,
        )
        .unwrap();
        assert_eq!(r.repeats.len(), 2);
        for rep in &r.repeats {
            assert_eq!(
                rep.chosen.as_ref().unwrap()["epochs"],
                10,
                "fitted biases beat none"
            );
        }
    }

    #[test]
    fn unknown_setting_is_an_error() {
        let p = json!({"no_such": 1});
        let err = with_params(&BiasConfig::default(), p.as_object().unwrap()).unwrap_err();
        assert!(err.to_string().contains("no_such"), "{err}");
    }

    #[test]
    fn picks_the_lowest_validation_rmse() {
        let ratings = crate::runner::tests::additive(40, 30);
        let opts = EvalOptions {
            split: SplitConfig {
                repeats: 2,
                ..SplitConfig::default()
            },
            ..EvalOptions::default()
        };
        let axes = json!({"reg_user": [0.0, 1000.0], "epochs": [0, 10]});
        let trials = grid(axes.as_object().unwrap());
        let r = tune(
            "bias",
            "tiny",
            &BiasConfig::default(),
            &trials,
            &ratings,
            None,
            &opts,
            &mut crate::NoMonitor,
        )
        .unwrap();
        assert_eq!(r.trials.len(), 4);
        assert_eq!(r.winner["epochs"], 10);
        assert_eq!(r.winner["reg_user"], 0.0);
        assert!(r.to_markdown().contains("| 1 |"));
    }
}
