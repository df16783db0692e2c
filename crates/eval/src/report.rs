use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use movierec_core::{EpochRecord, RunContext};
use serde::{Deserialize, Serialize};

use crate::report_protocol::pm;
use crate::{mean_ci95, EvalError, MeanCi, RankingResult, Result};

/// Test-set results of one repeat of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatResult {
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean squared error.
    pub mse: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// The report's half-star accuracy.
    pub accuracy: f64,
    /// Wall seconds spent fitting (refit included).
    pub fit_seconds: f64,
    /// Wall seconds spent predicting the test set.
    pub predict_seconds: f64,
    /// Test ratings predicted by the fallback (cold user or item, or no estimate).
    pub fallbacks: usize,
    /// Number of test ratings.
    pub n_test: usize,
    /// Per-epoch records of the fit on the training part, for curves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<EpochRecord>,
    /// The settings of the refit on train + validation: what validation
    /// chose (K, epochs, ...), so the run can be repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<serde_json::Value>,
    /// Top-N ranking metrics on the test set, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingResult>,
    /// The ranking metrics at every list length asked for (`--at 10,20`),
    /// the first being `ranking`'s; empty for one length.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranking_at: Vec<RankingResult>,
}

/// One figure per metric: a mean, or a confidence half-width. JSON writes
/// NaN (no interval from one repeat) as null, and reads null back as NaN.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Root mean squared error.
    #[serde(deserialize_with = "nan_if_null")]
    pub rmse: f64,
    /// Mean squared error.
    #[serde(deserialize_with = "nan_if_null")]
    pub mse: f64,
    /// Mean absolute error.
    #[serde(deserialize_with = "nan_if_null")]
    pub mae: f64,
    /// Half-star accuracy.
    #[serde(deserialize_with = "nan_if_null")]
    pub accuracy: f64,
    /// Fit seconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub fit_seconds: f64,
    /// Predict seconds.
    #[serde(deserialize_with = "nan_if_null")]
    pub predict_seconds: f64,
    /// Fallback count.
    #[serde(deserialize_with = "nan_if_null")]
    pub fallbacks: f64,
    /// Ranking metrics, when every repeat has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranking: Option<RankingSummary>,
}

/// The ranking figures of a [`Summary`]: a mean, or a confidence
/// half-width, per metric.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RankingSummary {
    /// List length.
    pub k: usize,
    /// Precision@k.
    #[serde(deserialize_with = "nan_if_null")]
    pub precision: f64,
    /// Recall@k.
    #[serde(deserialize_with = "nan_if_null")]
    pub recall: f64,
    /// NDCG@k.
    #[serde(deserialize_with = "nan_if_null")]
    pub ndcg: f64,
    /// Hit rate.
    #[serde(deserialize_with = "nan_if_null")]
    pub hit_rate: f64,
    /// MAP@k.
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub map: f64,
    /// Recall@k over `min(k, relevant)`.
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub recall_capped: f64,
    /// Catalogue coverage.
    #[serde(deserialize_with = "nan_if_null")]
    pub coverage: f64,
    /// Users ranked.
    #[serde(deserialize_with = "nan_if_null")]
    pub users: f64,
}

/// NaN: the value of a metric a file written before it existed lacks.
pub(crate) fn nan() -> f64 {
    f64::NAN
}

pub(crate) fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// All repeats of one model, with their mean and 95% confidence half-widths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// Model name as the CLI knows it.
    pub model: String,
    /// The resolved configuration the model was fitted with.
    pub config: serde_json::Value,
    /// One entry per repeat (or fold).
    pub repeats: Vec<RepeatResult>,
    /// Means over repeats.
    pub mean: Summary,
    /// Half-widths of the 95% Student-t intervals (NaN, written as null, for one repeat).
    pub ci95: Summary,
    /// Threads and seed of the fits: the same context gives the same figures.
    #[serde(default)]
    pub context: RunContext,
}

impl ModelReport {
    /// Summarises `repeats` (which must not be empty).
    pub fn new(model: &str, config: serde_json::Value, repeats: Vec<RepeatResult>) -> Self {
        let stat = |f: fn(&RepeatResult) -> f64| {
            let v: Vec<f64> = repeats.iter().map(f).collect();
            mean_ci95(&v)
        };
        let fields: [fn(&RepeatResult) -> f64; 7] = [
            |r| r.rmse,
            |r| r.mse,
            |r| r.mae,
            |r| r.accuracy,
            |r| r.fit_seconds,
            |r| r.predict_seconds,
            |r| r.fallbacks as f64,
        ];
        let s = fields.map(stat);
        let ranked: Option<Vec<RankingResult>> = repeats.iter().map(|r| r.ranking).collect();
        let rank_stats = ranked.filter(|r| !r.is_empty()).map(|r| {
            let stat = |f: fn(&RankingResult) -> f64| {
                let v: Vec<f64> = r.iter().map(f).collect();
                mean_ci95(&v)
            };
            let fields: [fn(&RankingResult) -> f64; 8] = [
                |r| r.precision,
                |r| r.recall,
                |r| r.ndcg,
                |r| r.hit_rate,
                |r| r.coverage,
                |r| r.users as f64,
                |r| r.map,
                |r| r.recall_capped,
            ];
            (r[0].k, fields.map(stat))
        });
        let pick = |half: bool| {
            let g = |i: usize| if half { s[i].ci95 } else { s[i].mean };
            let ranking = rank_stats.map(|(k, s)| {
                let g = |i: usize| if half { s[i].ci95 } else { s[i].mean };
                RankingSummary {
                    k,
                    precision: g(0),
                    recall: g(1),
                    ndcg: g(2),
                    hit_rate: g(3),
                    coverage: g(4),
                    users: g(5),
                    map: g(6),
                    recall_capped: g(7),
                }
            });
            Summary {
                ranking,
                rmse: g(0),
                mse: g(1),
                mae: g(2),
                accuracy: g(3),
                fit_seconds: g(4),
                predict_seconds: g(5),
                fallbacks: g(6),
            }
        };
        Self {
            model: model.to_string(),
            config,
            mean: pick(false),
            ci95: pick(true),
            repeats,
            context: RunContext::default(),
        }
    }

    /// The same report, recording the run context of its fits.
    pub fn with_context(self, context: RunContext) -> Self {
        Self { context, ..self }
    }

    /// The report with the ranking metrics at list length `k` (one of
    /// those scored, see [`RepeatResult::ranking_at`]) as its ranking
    /// figures; `None` when some repeat has none at `k`.
    pub fn at_k(&self, k: usize) -> Option<Self> {
        let repeats = self
            .repeats
            .iter()
            .map(|r| {
                let at = r.ranking.filter(|x| x.k == k);
                let at = at.or_else(|| r.ranking_at.iter().copied().find(|x| x.k == k))?;
                Some(RepeatResult {
                    ranking: Some(at),
                    ..r.clone()
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self::new(&self.model, self.config.clone(), repeats).with_context(self.context))
    }
}

/// Results of every model on one dataset and protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Dataset name (its folder).
    pub dataset: String,
    /// Protocol name.
    pub protocol: String,
    /// Base seed (repeat r uses stream r).
    pub seed: u64,
    /// Which command, commit and machine produced this report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// One entry per model.
    pub models: Vec<ModelReport>,
}

impl Report {
    /// Every model's figures at list length `k` ([`ModelReport::at_k`]);
    /// `None` when some model was not scored at `k`.
    pub fn at_k(&self, k: usize) -> Option<Self> {
        let models = self
            .models
            .iter()
            .map(|m| m.at_k(k))
            .collect::<Option<_>>()?;
        Some(Self {
            models,
            ..self.clone()
        })
    }

    /// Pretty JSON (curves included).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serialises") + "\n"
    }

    /// A markdown table: mean ± 95% half-width per metric.
    pub fn to_markdown(&self) -> String {
        let mut s = markdown_start(self.provenance.as_deref());
        let repeats = self.models.first().map_or(0, |m| m.repeats.len());
        let _ = writeln!(
            s,
            "Dataset `{}`, protocol `{}`, {} repeat(s), seed {}; mean ± 95% CI half-width (Student t).\n",
            self.dataset, self.protocol, repeats, self.seed
        );
        // Ranking columns only when some model has them; `k` from the first.
        let ranking_k = self.models.iter().find_map(|m| m.mean.ranking.map(|r| r.k));
        s.push_str(
            "| model | RMSE | MSE | MAE | half-star accuracy | fit s | predict s | fallbacks |",
        );
        if let Some(k) = ranking_k {
            let mixed = self
                .models
                .iter()
                .any(|m| m.mean.ranking.is_some_and(|r| r.k != k));
            let k = if mixed {
                "k".to_string()
            } else {
                k.to_string()
            };
            let _ = write!(
                s,
                " P@{k} | R@{k} | NDCG@{k} | MAP@{k} | hit rate@{k} | coverage@{k} |"
            );
        }
        s.push_str("\n| --- | --- | --- | --- | --- | --- | --- | --- |");
        if ranking_k.is_some() {
            s.push_str(" --- | --- | --- | --- | --- | --- |");
        }
        s.push('\n');
        let c = |mean: f64, ci95: f64, d: usize| pm(MeanCi { mean, ci95 }, d);
        for m in &self.models {
            let (a, h) = (&m.mean, &m.ci95);
            let _ = write!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {:.1} |",
                m.model,
                c(a.rmse, h.rmse, 4),
                c(a.mse, h.mse, 4),
                c(a.mae, h.mae, 4),
                c(a.accuracy, h.accuracy, 4),
                c(a.fit_seconds, h.fit_seconds, 3),
                c(a.predict_seconds, h.predict_seconds, 3),
                a.fallbacks,
            );
            if ranking_k.is_some() {
                match (a.ranking, h.ranking) {
                    (Some(a), Some(h)) => {
                        let _ = write!(
                            s,
                            " {} | {} | {} | {} | {} | {} |",
                            c(a.precision, h.precision, 4),
                            c(a.recall, h.recall, 4),
                            c(a.ndcg, h.ndcg, 4),
                            c(a.map, h.map, 4),
                            c(a.hit_rate, h.hit_rate, 4),
                            c(a.coverage, h.coverage, 4),
                        );
                    }
                    _ => s.push_str(" - | - | - | - | - | - |"),
                }
            }
            s.push('\n');
        }
        let first = self
            .models
            .iter()
            .find_map(|m| m.repeats.first().and_then(|r| r.ranking));
        if let Some(r) = first {
            let _ = writeln!(
                s,
                "\nRanking: the top {} of each test user's candidates (items with a training rating the user did not rate in training; ties by item index); relevant = test rating >= {}. Repeat 1 ranked {} users and left out {} without a relevant test item and {} without a training rating; coverage = share of the rated catalogue in some user's list.",
                r.k, r.threshold, r.users, r.no_relevant, r.cold_users
            );
        }
        s
    }

    /// CSV: one row per model and repeat (`repeat` = `mean` and `ci95` for the summary rows).
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let head = [
            "dataset",
            "protocol",
            "model",
            "repeat",
            "rmse",
            "mse",
            "mae",
            "accuracy",
            "fit_seconds",
            "predict_seconds",
            "fallbacks",
        ];
        // Ranking columns only when some model has them.
        let ranking = self.models.iter().any(|m| m.mean.ranking.is_some());
        let rank_head = [
            "k",
            "precision",
            "recall",
            "ndcg",
            "hit_rate",
            "coverage",
            "ranked_users",
            "map",
            "recall_capped",
        ];
        let mut header: Vec<&str> = head.to_vec();
        if ranking {
            header.extend(rank_head);
        }
        w.write_record(header).expect("in-memory write");
        let rank_cells = |r: Option<RankingSummary>| -> Vec<f64> {
            match r {
                Some(r) => vec![
                    r.k as f64,
                    r.precision,
                    r.recall,
                    r.ndcg,
                    r.hit_rate,
                    r.coverage,
                    r.users,
                    r.map,
                    r.recall_capped,
                ],
                None => vec![f64::NAN; 9],
            }
        };
        for m in &self.models {
            let mut row = |label: String, v: [f64; 7], extra: Vec<f64>| {
                let mut rec = vec![
                    self.dataset.clone(),
                    self.protocol.clone(),
                    m.model.clone(),
                    label,
                ];
                let extra = if ranking { extra } else { Vec::new() };
                rec.extend(v.iter().chain(&extra).map(|&x| csv_num(x)));
                w.write_record(rec).expect("in-memory write");
            };
            for (i, r) in m.repeats.iter().enumerate() {
                let v = [
                    r.rmse,
                    r.mse,
                    r.mae,
                    r.accuracy,
                    r.fit_seconds,
                    r.predict_seconds,
                    r.fallbacks as f64,
                ];
                let extra = rank_cells(r.ranking.map(|r| RankingSummary {
                    k: r.k,
                    precision: r.precision,
                    recall: r.recall,
                    ndcg: r.ndcg,
                    hit_rate: r.hit_rate,
                    coverage: r.coverage,
                    users: r.users as f64,
                    map: r.map,
                    recall_capped: r.recall_capped,
                }));
                row(i.to_string(), v, extra);
            }
            for (label, s) in [("mean", &m.mean), ("ci95", &m.ci95)] {
                let v = [
                    s.rmse,
                    s.mse,
                    s.mae,
                    s.accuracy,
                    s.fit_seconds,
                    s.predict_seconds,
                    s.fallbacks,
                ];
                row(label.to_string(), v, rank_cells(s.ranking));
            }
        }
        csv_text(w, self.provenance.as_deref())
    }

    /// Writes the report to `path`, as JSON, CSV or markdown by its
    /// extension (`.json`, `.csv`, anything else markdown), atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_by_extension(
            path,
            || self.to_json(),
            || self.to_csv(),
            || self.to_markdown(),
        )
    }
}

/// The start of a markdown results file: the provenance comment, when
/// there is one, and a blank line.
pub(crate) fn markdown_start(provenance: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(p) = provenance {
        let _ = writeln!(s, "<!-- {p} -->\n");
    }
    s
}

/// A number as a CSV field: empty for NaN (no figure).
pub(crate) fn csv_num(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else {
        format!("{x}")
    }
}

/// The text of an in-memory CSV writer, with the provenance first as a
/// `#` comment line (every results file says where it came from).
pub(crate) fn csv_text(w: csv::Writer<Vec<u8>>, provenance: Option<&str>) -> String {
    let body =
        String::from_utf8(w.into_inner().expect("in-memory flush")).expect("CSV of UTF-8 fields");
    match provenance {
        Some(p) => format!("# {}\n{body}", p.replace('\n', " ")),
        None => body,
    }
}

/// Writes `path` atomically as JSON, CSV or markdown by its extension
/// (`.json`, `.csv`, anything else markdown); only the chosen text is made.
pub(crate) fn write_by_extension(
    path: &Path,
    json: impl FnOnce() -> String,
    csv: impl FnOnce() -> String,
    markdown: impl FnOnce() -> String,
) -> Result<()> {
    let text = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => json(),
        Some("csv") => csv(),
        _ => markdown(),
    };
    write_atomic(path, text.as_bytes())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over
/// `path`: a reader never sees half a file, and a failure leaves the old one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |source| EvalError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    // A temporary file is private (0600); the result gets the mode of the
    // file it replaces, or the usual 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode());
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(err)?;
    }
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(rmse: f64) -> RepeatResult {
        RepeatResult {
            rmse,
            mse: rmse * rmse,
            mae: rmse * 0.8,
            accuracy: 0.3,
            fit_seconds: 0.01,
            predict_seconds: 0.001,
            fallbacks: 3,
            n_test: 100,
            curve: Vec::new(),
            chosen: None,
            ranking: None,
            ranking_at: Vec::new(),
        }
    }

    fn report() -> Report {
        Report {
            dataset: "tiny".into(),
            protocol: "holdout".into(),
            seed: 42,
            provenance: None,
            models: vec![ModelReport::new(
                "bias",
                serde_json::json!({"epochs": 10}),
                vec![repeat(0.9), repeat(0.8)],
            )],
        }
    }

    #[test]
    fn json_has_the_agreed_shape() {
        let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        for key in ["dataset", "protocol", "seed", "models"] {
            assert!(v.get(key).is_some(), "{key}");
        }
        let m = &v["models"][0];
        for key in ["model", "config", "repeats", "mean", "ci95"] {
            assert!(m.get(key).is_some(), "{key}");
        }
        for key in [
            "rmse",
            "mse",
            "mae",
            "accuracy",
            "fit_seconds",
            "predict_seconds",
            "fallbacks",
        ] {
            assert!(m["repeats"][0].get(key).is_some(), "{key}");
        }
        assert!((m["mean"]["rmse"].as_f64().unwrap() - 0.85).abs() < 1e-12);
    }

    #[test]
    fn markdown_and_csv_carry_every_model() {
        let r = report();
        let md = r.to_markdown();
        assert!(md.contains("| bias | 0.8500 ± "), "{md}");
        let csv = r.to_csv();
        assert_eq!(csv.lines().count(), 1 + 2 + 2);
        assert!(csv
            .lines()
            .nth(3)
            .unwrap()
            .starts_with("tiny,holdout,bias,mean,0.85"));
    }

    fn ranked(precision: f64) -> RepeatResult {
        RepeatResult {
            ranking: Some(RankingResult {
                k: 10,
                threshold: 4.0,
                precision,
                recall: 0.2,
                ndcg: 0.3,
                hit_rate: 0.5,
                map: 0.15,
                recall_capped: 0.25,
                coverage: 0.05,
                users: 500,
                no_relevant: 10,
                cold_users: 0,
                seconds: 0.1,
            }),
            ranking_at: Vec::new(),
            ..repeat(0.9)
        }
    }

    #[test]
    fn ranking_columns_appear_only_when_present() {
        let plain = report();
        assert!(!plain.to_markdown().contains("NDCG"));
        assert!(!plain.to_csv().contains("ndcg"));
        assert!(!plain.to_json().contains("ranking"));
        let mut r = report();
        r.models.push(ModelReport::new(
            "popular",
            serde_json::json!({}),
            vec![ranked(0.1), ranked(0.3)],
        ));
        let md = r.to_markdown();
        assert!(
            md.contains("| P@10 | R@10 | NDCG@10 | MAP@10 | hit rate@10 | coverage@10 |"),
            "{md}"
        );
        assert!(md.contains("| 0.2000 ± "), "{md}");
        assert!(
            md.contains("| - | - | - | - | - | - |"),
            "a row without ranking: {md}"
        );
        assert!(md.contains("relevant = test rating >= 4"), "{md}");
        let csv = r.to_csv();
        let head = csv.lines().next().unwrap();
        assert!(head.ends_with(
            ",k,precision,recall,ndcg,hit_rate,coverage,ranked_users,map,recall_capped"
        ));
        let mean = csv.lines().find(|l| l.contains("popular,mean")).unwrap();
        assert!(
            mean.ends_with(",10,0.2,0.2,0.3,0.5,0.05,500,0.15,0.25"),
            "{mean}"
        );
        let back: Report = serde_json::from_str(&r.to_json()).unwrap();
        let s = back.models[1].mean.ranking.unwrap();
        assert!((s.precision - 0.2).abs() < 1e-12);
        assert_eq!(back.models[1].repeats[0].ranking.unwrap().users, 500);
        assert!(back.models[0].mean.ranking.is_none());
    }

    #[test]
    fn one_repeat_round_trips_through_json() {
        let mut r = report();
        r.models[0] = ModelReport::new("bias", serde_json::json!({}), vec![repeat(0.9)]);
        let back: Report = serde_json::from_str(&r.to_json()).unwrap();
        assert!(back.models[0].ci95.rmse.is_nan());
        assert_eq!(back.models[0].mean.rmse, 0.9);
    }

    #[test]
    fn write_replaces_atomically_by_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, "old").unwrap();
        report().write(&path).unwrap();
        let back: Report = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back.models[0].model, "bias");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
        let err = write_atomic(&dir.path().join("missing/r.md"), b"x").unwrap_err();
        assert!(err.to_string().contains("missing/r.md"), "{err}");
    }
}
