//! The report's own way of measuring, reproduced beside the held-out figure.
//!
//! The report's autoencoder code (its 6.1.3) computes its "test accuracy"
//! by feeding the network the whole matrix, train + validation + test
//! ratings, and comparing the output with every rated entry of that input:
//! the training ratings (81% of the entries) count, and the test ratings
//! are in the input they are compared against. Its "validation accuracy"
//! does the same with train + validation. [`evaluate_report`] measures a
//! model both ways on the same fitted model, so the gap is visible and
//! explained rather than argued.
//!
//! This is a scoring option on top of the usual splits (the report's
//! repeated 90/10 holdout), not a split protocol: the splits are the same,
//! only what is scored, and what the model is fed, differs.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use movierec_core::{Fit, NoopObserver, Rating, RatingMatrix, Ratings, Recommender, SetMetrics};
use movierec_data::make_splits;
use serde::Serialize;

use crate::report::{csv_num, csv_text, markdown_start, write_by_extension};
use crate::runner::{fit_on, score_ranked, split_parts, Fitted, Plan};
use crate::{mean_ci95, EvalError, EvalOptions, MeanCi, ModelReport, Monitor, Result};

/// One repeat measured both ways, with the model fitted on the training
/// part (validation for its own choices, no refit).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportScores {
    /// Every training rating, model fed the training matrix (the report's
    /// "training accuracy").
    pub train: SetMetrics,
    /// The validation ratings, held out.
    pub validation: SetMetrics,
    /// The report's "validation accuracy": fed train + validation, every
    /// rated entry of that input scored (training ones included).
    pub validation_report: SetMetrics,
    /// The report's "test accuracy": fed train + validation + test, every
    /// rated entry scored.
    pub test_report: SetMetrics,
    /// Of [`test_report`](Self::test_report), the test entries alone
    /// (their own ratings in the input).
    pub test_report_test_entries: SetMetrics,
    /// The test ratings, held out (not in the input): the honest figure for
    /// this same model.
    pub test_held_out: SetMetrics,
}

/// Mean and 95% half-width of accuracy and MSE for one way of scoring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figure {
    /// Half-star accuracy.
    pub accuracy: MeanCi,
    /// Mean squared error.
    pub mse: MeanCi,
}

/// [`ReportScores`] summarised over repeats.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReportSummary {
    /// See [`ReportScores::train`].
    pub train: Figure,
    /// See [`ReportScores::validation`].
    pub validation: Figure,
    /// See [`ReportScores::validation_report`].
    pub validation_report: Figure,
    /// See [`ReportScores::test_report`].
    pub test_report: Figure,
    /// See [`ReportScores::test_report_test_entries`].
    pub test_report_test_entries: Figure,
    /// See [`ReportScores::test_held_out`].
    pub test_held_out: Figure,
}

/// One model measured the report's way over every repeat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportProtocolModel {
    /// Row name.
    pub model: String,
    /// Whether the model was fed the report's input (train + validation +
    /// test); false: scored as fitted, whatever the input.
    pub fed_input: bool,
    /// Share of the scored entries, in the report's test figure, that are
    /// training ratings (mean over repeats).
    pub train_share: f64,
    /// One entry per repeat.
    pub repeats: Vec<ReportScores>,
    /// Means and 95% half-widths over repeats.
    pub summary: ReportSummary,
}

impl ReportProtocolModel {
    /// Summarises `repeats` (which must not be empty).
    pub fn new(model: &str, fed_input: bool, train_share: f64, repeats: Vec<ReportScores>) -> Self {
        let fig = |f: fn(&ReportScores) -> &SetMetrics| {
            let acc: Vec<f64> = repeats.iter().map(|r| f(r).accuracy).collect();
            let mse: Vec<f64> = repeats.iter().map(|r| f(r).mse).collect();
            Figure {
                accuracy: mean_ci95(&acc),
                mse: mean_ci95(&mse),
            }
        };
        let summary = ReportSummary {
            train: fig(|r| &r.train),
            validation: fig(|r| &r.validation),
            validation_report: fig(|r| &r.validation_report),
            test_report: fig(|r| &r.test_report),
            test_report_test_entries: fig(|r| &r.test_report_test_entries),
            test_held_out: fig(|r| &r.test_held_out),
        };
        Self {
            model: model.to_string(),
            fed_input,
            train_share,
            repeats,
            summary,
        }
    }
}

/// Runs the protocol of `opts` for one model and measures every repeat
/// both ways: returns the usual [`ModelReport`] (held-out test, refit on
/// train + validation when `opts.refit`, exactly as
/// [`evaluate`](crate::evaluate) computes it) and the report's figures of
/// the model fitted on the training part.
///
/// # Errors
/// As [`evaluate`](crate::evaluate).
pub fn evaluate_report<F>(
    name: &str,
    config: &F,
    ratings: &Ratings,
    timestamps: Option<&[i64]>,
    opts: &EvalOptions,
    monitor: &mut dyn Monitor,
) -> Result<(ModelReport, ReportProtocolModel)>
where
    F: Fit + Serialize + Clone,
{
    let splits = make_splits(ratings, timestamps, &opts.split)?;
    let mut repeats = Vec::with_capacity(splits.len());
    let mut scores = Vec::with_capacity(splits.len());
    let mut fed_input = false;
    let mut train_share = 0.0;
    for (r, split) in splits.iter().enumerate() {
        monitor.repeat(r, splits.len());
        let (train, validation, test) = split_parts(ratings, split, opts)?;
        let first = fit_on(
            name,
            config,
            &train,
            &validation,
            Plan {
                fallback: opts.fallback,
                refit: false,
                ctx: opts.context(),
            },
            monitor,
        )?;
        let (s, fed) = report_scores(&first, &train, &validation, &test)?;
        fed_input |= fed;
        train_share += train.len() as f64 / ratings.len() as f64;
        scores.push(s);
        let fitted = if opts.refit && !validation.is_empty() {
            refit(name, config, first, &train, &validation, opts)?
        } else {
            first
        };
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
    let n = splits.len().max(1) as f64;
    let json = serde_json::to_value(config).expect("configs serialise");
    Ok((
        ModelReport::new(name, json, repeats).with_context(opts.context()),
        ReportProtocolModel::new(name, fed_input, train_share / n, scores),
    ))
}

/// The refit of [`fit_on`], after the report's figures are taken from the
/// first fit (its time is added to the first fit's).
fn refit<F>(
    name: &str,
    config: &F,
    first: Fitted<F::Model>,
    train: &Ratings,
    validation: &Ratings,
    opts: &EvalOptions,
) -> Result<Fitted<F::Model>>
where
    F: Fit + Serialize + Clone,
{
    let start = Instant::now();
    let full = RatingMatrix::new(&train.concat(validation))?;
    let again = config.refit_config(&first.model);
    let chosen = serde_json::to_value(&again).expect("configs serialise");
    let model = again
        .fit(&full, None, &opts.context(), &mut NoopObserver)
        .map_err(|e| EvalError::Fit {
            model: name.to_string(),
            source: Box::new(e),
        })?;
    let fallback = opts.fallback.fit(&full);
    Ok(Fitted {
        model,
        matrix: full,
        fallback,
        fit_seconds: first.fit_seconds + start.elapsed().as_secs_f64(),
        curve: first.curve,
        chosen: Some(chosen),
    })
}

/// Scores `pairs` with `model`, pairs unknown to `known` by the fallback.
fn metrics_of(
    model: &dyn Recommender,
    known: &RatingMatrix,
    fitted: &Fitted<impl Recommender>,
    pairs: &[Rating],
) -> (Vec<f32>, SetMetrics) {
    let (p, _) = crate::predict_all(model, known, &fitted.fallback, pairs);
    let m = SetMetrics::compute(
        p.iter().zip(pairs).map(|(&p, r)| (p, r.value)),
        known.scale(),
    );
    (p, m)
}

fn metrics_of_slice(p: &[f32], pairs: &[Rating], scale: movierec_core::RatingScale) -> SetMetrics {
    SetMetrics::compute(p.iter().zip(pairs).map(|(&p, r)| (p, r.value)), scale)
}

/// The report's figures of one fitted model; also whether it was fed the
/// report's input.
fn report_scores<M: Recommender>(
    fitted: &Fitted<M>,
    train: &Ratings,
    validation: &Ratings,
    test: &Ratings,
) -> Result<(ReportScores, bool)> {
    let scale = fitted.matrix.scale();
    let (nt, nv) = (train.len(), validation.len());
    let all = train.concat(validation).concat(test);
    // The model as fitted (fed the training matrix) on every entry: one
    // pass gives training, validation and held-out test figures.
    let (p, _) = metrics_of(&fitted.model, &fitted.matrix, fitted, &all.entries);
    let e = &all.entries;
    let train_m = metrics_of_slice(&p[..nt], &e[..nt], scale);
    let val_m = metrics_of_slice(&p[nt..nt + nv], &e[nt..nt + nv], scale);
    let test_m = metrics_of_slice(&p[nt + nv..], &e[nt + nv..], scale);
    let tv_ratings = train.concat(validation);
    let tv = RatingMatrix::new(&tv_ratings)?;
    let full = RatingMatrix::new(&all)?;
    let fed_tv = fitted.model.with_input(&tv);
    let fed_all = fitted.model.with_input(&full);
    let fed = fed_tv.is_some() || fed_all.is_some();
    let validation_report = match &fed_tv {
        Some(m) => metrics_of(m.as_ref(), &tv, fitted, &tv_ratings.entries).1,
        None => metrics_of_slice(&p[..nt + nv], &e[..nt + nv], scale),
    };
    let (test_report, test_entries) = match &fed_all {
        Some(m) => {
            let (q, all_m) = metrics_of(m.as_ref(), &full, fitted, e);
            (all_m, metrics_of_slice(&q[nt + nv..], &e[nt + nv..], scale))
        }
        None => (metrics_of_slice(&p, e, scale), test_m),
    };
    Ok((
        ReportScores {
            train: train_m,
            validation: val_m,
            validation_report,
            test_report,
            test_report_test_entries: test_entries,
            test_held_out: test_m,
        },
        fed,
    ))
}

/// Every model of one dataset measured the report's way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportProtocolReport {
    /// Dataset name (its folder).
    pub dataset: String,
    /// Base seed.
    pub seed: u64,
    /// Which command, commit and machine produced this report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// One entry per model.
    pub models: Vec<ReportProtocolModel>,
}

/// `mean ± half` with `d` decimals (no half-width from one repeat).
pub(crate) fn pm(m: MeanCi, d: usize) -> String {
    if m.ci95.is_nan() {
        format!("{:.d$}", m.mean)
    } else {
        format!("{:.d$} ± {:.d$}", m.mean, m.ci95)
    }
}

impl ReportProtocolReport {
    /// Pretty JSON (every repeat).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises") + "\n"
    }

    /// A markdown table, labelled as the report's way of measuring.
    pub fn to_markdown(&self) -> String {
        let mut s = markdown_start(self.provenance.as_deref());
        let repeats = self.models.first().map_or(0, |m| m.repeats.len());
        let _ = writeln!(
            s,
            "**Measured the report's way** (`--protocol report`), NOT held-out figures except \
             the columns so marked. Dataset `{}`, {repeats} repeat(s) of the 90/10 split, seed {}; \
             each model fitted on the training part (validation for its own choices), no refit; \
             half-star accuracy, mean ± 95% CI half-width.\n",
            self.dataset, self.seed
        );
        s.push_str(
            "| model | fed | training | validation (held out) | validation, report's way | \
             test, report's way | its test entries | test (held out) | test MSE, report's way | \
             test MSE (held out) |\n",
        );
        s.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for m in &self.models {
            let f = &m.summary;
            let fed = if m.fed_input {
                "train+val+test"
            } else {
                "as fitted"
            };
            let _ = writeln!(
                s,
                "| {} | {fed} | {} | {} | {} | {} | {} | {} | {} | {} |",
                m.model,
                pm(f.train.accuracy, 4),
                pm(f.validation.accuracy, 4),
                pm(f.validation_report.accuracy, 4),
                pm(f.test_report.accuracy, 4),
                pm(f.test_report_test_entries.accuracy, 4),
                pm(f.test_held_out.accuracy, 4),
                pm(f.test_report.mse, 4),
                pm(f.test_held_out.mse, 4),
            );
        }
        s.push_str(
            "\n`fed`: the input the model scored from; `train+val+test` is the report's \
             autoencoder code (6.1.3), which feeds the whole matrix in and compares the output \
             with every rated entry; a model whose estimates do not depend on an input is \
             scored as fitted. `training`: every training rating. `validation, report's way`: \
             every rated entry of train + validation (the report's validation accuracy). \
             `test, report's way`: every rated entry of the whole matrix, about 81% of them \
             training ratings (the report's test accuracy). `its test entries`: of those, the \
             test ratings alone, their own ratings in the input. `held out`: ratings the model \
             never saw, neither in training nor as input.\n",
        );
        s
    }

    /// CSV: one row per model and repeat, then `mean` and `ci95` rows.
    pub fn to_csv(&self) -> String {
        let sets = [
            "train",
            "validation",
            "validation_report",
            "test_report",
            "test_report_test_entries",
            "test_held_out",
        ];
        let mut head = vec!["dataset", "model", "fed_input", "repeat"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>();
        for set in sets {
            head.push(format!("{set}_accuracy"));
            head.push(format!("{set}_mse"));
        }
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&head).expect("in-memory write");
        for m in &self.models {
            let lead = |label: String| {
                vec![
                    self.dataset.clone(),
                    m.model.clone(),
                    m.fed_input.to_string(),
                    label,
                ]
            };
            for (i, r) in m.repeats.iter().enumerate() {
                let mut rec = lead(i.to_string());
                for s in [
                    &r.train,
                    &r.validation,
                    &r.validation_report,
                    &r.test_report,
                    &r.test_report_test_entries,
                    &r.test_held_out,
                ] {
                    rec.push(csv_num(s.accuracy));
                    rec.push(csv_num(s.mse));
                }
                w.write_record(rec).expect("in-memory write");
            }
            let f = &m.summary;
            let figs = [
                f.train,
                f.validation,
                f.validation_report,
                f.test_report,
                f.test_report_test_entries,
                f.test_held_out,
            ];
            for (label, half) in [("mean", false), ("ci95", true)] {
                let mut rec = lead(label.to_string());
                for g in figs {
                    let pick = |c: MeanCi| if half { c.ci95 } else { c.mean };
                    rec.push(csv_num(pick(g.accuracy)));
                    rec.push(csv_num(pick(g.mse)));
                }
                w.write_record(rec).expect("in-memory write");
            }
        }
        csv_text(w, self.provenance.as_deref())
    }

    /// Writes the report to `path` (`.json`, `.csv`, else markdown), atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_by_extension(
            path,
            || self.to_json(),
            || self.to_csv(),
            || self.to_markdown(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::tests::additive;
    use crate::NoMonitor;
    use movierec_core::{BiasConfig, ItemIdx, UserIdx};
    use movierec_data::SplitConfig;

    fn opts(repeats: usize) -> EvalOptions {
        EvalOptions {
            split: SplitConfig {
                repeats,
                ..SplitConfig::default()
            },
            ..EvalOptions::default()
        }
    }

    #[test]
    fn the_usual_report_is_unchanged_and_fixed_models_score_one_way() {
        let ratings = additive(40, 30);
        let o = opts(2);
        let cfg = BiasConfig::default();
        let plain = crate::evaluate("bias", &cfg, &ratings, None, &o, &mut NoMonitor).unwrap();
        let (rep, proto) =
            evaluate_report("bias", &cfg, &ratings, None, &o, &mut NoMonitor).unwrap();
        for (a, b) in plain.repeats.iter().zip(&rep.repeats) {
            assert_eq!(
                (a.rmse, a.accuracy, a.curve.len()),
                (b.rmse, b.accuracy, b.curve.len())
            );
        }
        assert!(!proto.fed_input);
        assert_eq!(proto.repeats.len(), 2);
        let r = &proto.repeats[0];
        // Without a new input, the report's test entries are the held-out ones.
        assert_eq!(r.test_report_test_entries, r.test_held_out);
        assert_eq!(r.test_report.n, ratings.len());
        assert!(
            (proto.train_share - 0.81).abs() < 0.01,
            "{}",
            proto.train_share
        );
        let md = ReportProtocolReport {
            dataset: "tiny".into(),
            seed: 42,
            provenance: None,
            models: vec![proto],
        };
        assert!(md.to_markdown().contains("report's way"));
        assert_eq!(md.to_csv().lines().count(), 1 + 2 + 2);
    }

    /// Predicts the input's own rating where it has one: the leak the
    /// report's measurement rewards.
    struct Echo(RatingMatrix);
    impl Recommender for Echo {
        fn n_items(&self) -> usize {
            self.0.n_items()
        }
        fn score_into(&self, user: UserIdx, out: &mut [f32]) {
            out.fill(3.0);
            let (items, values) = self.0.user_ratings(user);
            for (&i, &v) in items.iter().zip(values) {
                out[i] = v;
            }
        }
        fn predict(&self, user: UserIdx, item: ItemIdx) -> Option<f32> {
            Some(self.0.get(user, item).unwrap_or(3.0))
        }
        fn with_input(&self, input: &RatingMatrix) -> Option<Box<dyn Recommender>> {
            Some(Box::new(Echo(input.clone())))
        }
    }

    #[derive(Clone, serde::Serialize)]
    struct EchoConfig;
    impl Fit for EchoConfig {
        type Model = Echo;
        type Error = movierec_core::Error;
        fn fit(
            &self,
            train: &RatingMatrix,
            _: Option<&Ratings>,
            _: &movierec_core::RunContext,
            _: &mut dyn movierec_core::Observer,
        ) -> std::result::Result<Echo, movierec_core::Error> {
            Ok(Echo(train.clone()))
        }
    }

    #[test]
    fn a_model_fed_the_test_ratings_scores_them_perfectly() {
        let ratings = additive(40, 30);
        let (_, proto) = evaluate_report(
            "echo",
            &EchoConfig,
            &ratings,
            None,
            &opts(1),
            &mut NoMonitor,
        )
        .unwrap();
        assert!(proto.fed_input);
        let r = &proto.repeats[0];
        assert_eq!(r.test_report.accuracy, 1.0);
        assert_eq!(r.test_report_test_entries.accuracy, 1.0);
        assert_eq!(r.validation_report.accuracy, 1.0);
        assert!(r.test_held_out.accuracy < 1.0);
    }
}
