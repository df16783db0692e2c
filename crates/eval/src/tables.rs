//! The report's Table 1 (accuracy) and Table 2 (MSE) rebuilt from measured
//! results, with the report's own figures in a column beside ours.
//!
//! The report's figures come from one cited file, `results/report-figures.toml`
//! ([`ReportFigures`]), the only numbers typed by hand; each names the
//! report's table or section and the row of ours it sits beside. A row
//! without a figure shows "—".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::report::{csv_num, csv_text, markdown_start};
use crate::report_protocol::pm;
use crate::{write_atomic, EvalError, MeanCi, ModelReport, ReportProtocolModel, Result};

/// What a figure of the report measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Half-star accuracy on the training ratings (Table 1).
    TrainingAccuracy,
    /// Half-star accuracy on validation (Table 1).
    ValidationAccuracy,
    /// Half-star accuracy on test (Table 1).
    TestAccuracy,
    /// Mean squared error (Table 2).
    Mse,
    /// Wall seconds the report says a whole run took (7.4).
    RunSeconds,
    /// How many repeats the report ran (7.2).
    Repeats,
}

/// One published figure of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFigure {
    /// The report's name of the model (its table column).
    pub model: String,
    /// The row of our tables it sits beside.
    pub row: String,
    /// What it measures.
    pub metric: Metric,
    /// The figure as printed.
    pub value: f64,
    /// Where in the report: table, figure or section.
    pub source: String,
    /// Anything the reader must know to compare it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The report's published figures (`results/report-figures.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportFigures {
    /// The report cited.
    pub report: String,
    /// Every figure.
    pub figure: Vec<ReportFigure>,
}

impl ReportFigures {
    /// Parses the TOML text of a figures file; `path` names it in errors.
    ///
    /// # Errors
    /// Malformed TOML, an unknown field or metric, or the same (row,
    /// metric) given twice.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let err = |reason: String| EvalError::ReportFigures {
            path: path.to_path_buf(),
            reason,
        };
        let figures: Self = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        for (i, a) in figures.figure.iter().enumerate() {
            if let Some(b) = figures.figure[..i]
                .iter()
                .find(|b| (&b.row, b.metric) == (&a.row, a.metric))
            {
                return Err(err(format!(
                    "figure {:?} of row `{}` given twice ({} and {})",
                    a.metric, a.row, b.source, a.source
                )));
            }
        }
        Ok(figures)
    }

    /// Reads and parses a figures file.
    ///
    /// # Errors
    /// An unreadable file, or as [`parse`](Self::parse).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EvalError::ReportFigures {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// The figure of `metric` beside row `row`, if the report gives one.
    pub fn get(&self, row: &str, metric: Metric) -> Option<&ReportFigure> {
        self.figure
            .iter()
            .find(|f| f.row == row && f.metric == metric)
    }
}

/// One model's results, as the tables need them.
#[derive(Debug, Clone, Copy)]
pub struct TableRow<'a> {
    /// What the row is (e.g. "the report's MF: dense GD, 100-step budget").
    pub what: &'a str,
    /// Held-out results (refit on train + validation when the protocol
    /// does); its `model` is the row's name.
    pub report: &'a ModelReport,
    /// The same model's training and validation figures, and its figures
    /// measured the report's way.
    pub protocol: &'a ReportProtocolModel,
    /// Peak heap while the row ran, MiB (None where not measured).
    pub peak_mib: Option<f64>,
}

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A mean with its 95% half-width (NaN: none), shown with `decimals`.
    Value {
        /// The mean.
        mean: f64,
        /// Half-width of the 95% interval; NaN where there is none.
        ci95: f64,
        /// Decimals shown in markdown.
        decimals: usize,
    },
    /// No figure: "—" in markdown, empty in CSV, null in JSON.
    Missing,
}

impl Cell {
    fn of(m: MeanCi, decimals: usize) -> Self {
        Cell::Value {
            mean: m.mean,
            ci95: m.ci95,
            decimals,
        }
    }

    fn exact(v: f64, decimals: usize) -> Self {
        Cell::Value {
            mean: v,
            ci95: f64::NAN,
            decimals,
        }
    }

    fn markdown(&self) -> String {
        match self {
            Cell::Text(t) => t.replace('|', "\\|"),
            Cell::Value {
                mean,
                ci95,
                decimals,
            } => pm(
                MeanCi {
                    mean: *mean,
                    ci95: *ci95,
                },
                *decimals,
            ),
            Cell::Missing => "—".to_string(),
        }
    }
}

/// A column: its CSV/JSON key and its markdown title.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Key in CSV headers and JSON rows (with `_ci95` for half-widths).
    pub key: &'static str,
    /// Markdown header.
    pub title: &'static str,
}

/// A rebuilt table of the report, written as markdown, CSV and JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Heading.
    pub title: String,
    /// Which command, commit and machine produced it.
    pub provenance: Option<String>,
    /// The paragraph under the heading.
    pub intro: String,
    /// Columns, in order.
    pub columns: Vec<Column>,
    /// Rows of cells, one per column.
    pub rows: Vec<Vec<Cell>>,
    /// Notes under the table.
    pub notes: Vec<String>,
}

impl Table {
    /// Markdown: provenance comment, heading, intro, table, notes.
    pub fn to_markdown(&self) -> String {
        let mut s = markdown_start(self.provenance.as_deref());
        let _ = writeln!(s, "# {}\n\n{}\n", self.title, self.intro);
        let titles: Vec<&str> = self.columns.iter().map(|c| c.title).collect();
        let _ = writeln!(s, "| {} |", titles.join(" | "));
        let _ = writeln!(s, "|{}", " --- |".repeat(self.columns.len()));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(Cell::markdown).collect();
            let _ = writeln!(s, "| {} |", cells.join(" | "));
        }
        if !self.notes.is_empty() {
            s.push('\n');
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }

    /// Whether any row of column `c` carries a half-width.
    fn has_ci(&self, c: usize) -> bool {
        self.rows
            .iter()
            .any(|r| matches!(r[c], Cell::Value { ci95, .. } if !ci95.is_nan()))
    }

    /// CSV: one row per table row; a column with half-widths gets a
    /// `<key>_ci95` twin. A provenance comment line first.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut head = Vec::new();
        for (c, col) in self.columns.iter().enumerate() {
            head.push(col.key.to_string());
            if self.has_ci(c) {
                head.push(format!("{}_ci95", col.key));
            }
        }
        w.write_record(&head).expect("in-memory write");
        for row in &self.rows {
            let mut rec = Vec::new();
            for (c, cell) in row.iter().enumerate() {
                let (v, half) = match cell {
                    Cell::Text(t) => (t.clone(), f64::NAN),
                    Cell::Value { mean, ci95, .. } => (csv_num(*mean), *ci95),
                    Cell::Missing => (String::new(), f64::NAN),
                };
                rec.push(v);
                if self.has_ci(c) {
                    rec.push(csv_num(half));
                }
            }
            w.write_record(rec).expect("in-memory write");
        }
        csv_text(w, self.provenance.as_deref())
    }

    /// JSON: title, provenance, notes, and one object per row (`null` for
    /// a missing figure, `<key>_ci95` beside a value with a half-width).
    pub fn to_json(&self) -> String {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut m = Map::new();
                for (col, cell) in self.columns.iter().zip(row) {
                    let v = match cell {
                        Cell::Text(t) => json!(t),
                        Cell::Value { mean, ci95, .. } => {
                            if !ci95.is_nan() {
                                m.insert(format!("{}_ci95", col.key), json!(ci95));
                            }
                            json!(mean)
                        }
                        Cell::Missing => Value::Null,
                    };
                    m.insert(col.key.to_string(), v);
                }
                Value::Object(m)
            })
            .collect();
        let v = json!({
            "title": self.title,
            "provenance": self.provenance,
            "columns": self.columns.iter().map(|c| json!({"key": c.key, "title": c.title})).collect::<Vec<_>>(),
            "rows": rows,
            "notes": self.notes,
        });
        serde_json::to_string_pretty(&v).expect("a table serialises") + "\n"
    }

    /// Writes `<stem>.md`, `<stem>.csv` and `<stem>.json`, atomically;
    /// returns the three paths.
    pub fn write_all(&self, stem: &Path) -> Result<[PathBuf; 3]> {
        let paths = ["md", "csv", "json"].map(|e| stem.with_extension(e));
        write_atomic(&paths[0], self.to_markdown().as_bytes())?;
        write_atomic(&paths[1], self.to_csv().as_bytes())?;
        write_atomic(&paths[2], self.to_json().as_bytes())?;
        Ok(paths)
    }
}

/// The report's figure beside `row`, or [`Cell::Missing`].
fn fig(figures: &ReportFigures, row: &str, metric: Metric, decimals: usize) -> Cell {
    figures
        .get(row, metric)
        .map_or(Cell::Missing, |f| Cell::exact(f.value, decimals))
}

/// The columns both tables start with, filled by [`lead_cells`].
fn lead_columns() -> [Column; 2] {
    [
        Column {
            key: "model",
            title: "model",
        },
        Column {
            key: "what",
            title: "what",
        },
    ]
}

/// The row's name and what it is, under [`lead_columns`].
fn lead_cells(r: &TableRow<'_>) -> [Cell; 2] {
    [
        Cell::Text(r.report.model.clone()),
        Cell::Text(r.what.to_string()),
    ]
}

/// The columns both tables end with, filled by [`tail_cells`].
fn tail_columns() -> [Column; 4] {
    [
        Column {
            key: "rmse",
            title: "RMSE",
        },
        Column {
            key: "mae",
            title: "MAE",
        },
        Column {
            key: "fit_seconds",
            title: "fit s",
        },
        Column {
            key: "peak_mib",
            title: "peak MiB",
        },
    ]
}

/// Held-out RMSE and MAE, fit seconds and peak memory of a row.
fn tail_cells(r: &TableRow<'_>) -> [Cell; 4] {
    let m = &r.report;
    [
        held_out(m, |m| m.rmse, 4),
        held_out(m, |m| m.mae, 4),
        Cell::of(
            MeanCi {
                mean: m.mean.fit_seconds,
                ci95: m.ci95.fit_seconds,
            },
            2,
        ),
        r.peak_mib.map_or(Cell::Missing, |p| Cell::exact(p, 0)),
    ]
}

fn held_out(m: &ModelReport, f: fn(&crate::Summary) -> f64, decimals: usize) -> Cell {
    Cell::of(
        MeanCi {
            mean: f(&m.mean),
            ci95: f(&m.ci95),
        },
        decimals,
    )
}

/// Sources of the figures used in a table, as one note.
fn sources_note(figures: &ReportFigures, rows: &[TableRow<'_>], metrics: &[Metric]) -> String {
    let mut used = Vec::new();
    for r in rows {
        for &metric in metrics {
            if let Some(f) = figures.get(&r.report.model, metric) {
                let mut s = format!("{} {:?} {} ({}", f.model, f.metric, f.value, f.source);
                if let Some(n) = &f.note {
                    let _ = write!(s, "; {n}");
                }
                s.push(')');
                used.push(s);
            }
        }
    }
    format!(
        "The report's figures (\"report\" columns) are read from `results/report-figures.toml`, \
         the only hand-typed numbers, each with its place in {}: {}.",
        figures.report,
        if used.is_empty() {
            "none beside these rows".to_string()
        } else {
            used.join("; ")
        }
    )
}

/// The report's Table 1 (accuracy comparison) rebuilt: for each row the
/// report's training, validation and test accuracy (where it gives one)
/// beside ours, held out and measured the report's way, plus RMSE, MAE,
/// fit time and peak memory.
pub fn table1(
    dataset: &str,
    figures: &ReportFigures,
    rows: &[TableRow<'_>],
    provenance: Option<String>,
) -> Table {
    let mut columns = lead_columns().to_vec();
    columns.extend([
        Column {
            key: "training_accuracy_report",
            title: "training acc (report)",
        },
        Column {
            key: "training_accuracy",
            title: "training acc",
        },
        Column {
            key: "validation_accuracy_report",
            title: "validation acc (report)",
        },
        Column {
            key: "validation_accuracy",
            title: "validation acc (held out)",
        },
        Column {
            key: "validation_accuracy_report_way",
            title: "validation acc, report's way",
        },
        Column {
            key: "test_accuracy_report",
            title: "test acc (report)",
        },
        Column {
            key: "test_accuracy",
            title: "test acc (held out)",
        },
        Column {
            key: "test_accuracy_report_way",
            title: "test acc, report's way",
        },
    ]);
    columns.extend(tail_columns());
    let body = rows
        .iter()
        .map(|r| {
            let name = r.report.model.as_str();
            let s = &r.protocol.summary;
            let mut row = lead_cells(r).to_vec();
            row.extend([
                fig(figures, name, Metric::TrainingAccuracy, 4),
                Cell::of(s.train.accuracy, 4),
                fig(figures, name, Metric::ValidationAccuracy, 4),
                Cell::of(s.validation.accuracy, 4),
                Cell::of(s.validation_report.accuracy, 4),
                fig(figures, name, Metric::TestAccuracy, 4),
                held_out(r.report, |m| m.accuracy, 4),
                Cell::of(s.test_report.accuracy, 4),
            ]);
            row.extend(tail_cells(r));
            row
        })
        .collect();
    let repeats = rows.first().map_or(0, |r| r.report.repeats.len());
    Table {
        title: format!("Table 1 rebuilt: accuracy comparison ({dataset})"),
        provenance,
        intro: format!(
            "The report's Table 1 (\"Accuracy comparison among Autoencoder, MF and KNN \
             models\") beside our measurements on `{dataset}`: the report's protocol, {repeats} \
             repeat(s) of a seeded 90/10 split with 10% of the rest as validation, seed as in \
             the provenance line; half-star accuracy (prediction clamped, rounded to the nearest \
             half star, exact match); mean ± 95% CI half-width (Student t)."
        ),
        columns,
        rows: body,
        notes: vec![
            "`training acc`: every training rating, scored by the model fitted on the training \
             part. `validation acc (held out)`: the validation ratings, by that same model. \
             `test acc (held out)`: the test ratings, never seen, by the model refitted on train \
             + validation with the settings validation chose (the figure to quote)."
                .to_string(),
            "`..., report's way`: the report's autoencoder code fed its network train + \
             validation (+ test) ratings and scored every rated entry of that input, training \
             ones included; see `report-protocol.md`. The report's validation and test \
             accuracy of its autoencoder were measured that way; its MF validation accuracy and \
             its KNN test accuracy were held out."
                .to_string(),
            "`fit s`: wall seconds per repeat (fit and refit); `peak MiB`: the process's peak \
             heap while the row ran (dataset included), from a counting global allocator. Both \
             vary between runs; every other figure is deterministic for a seed and thread \
             count."
                .to_string(),
            sources_note(
                figures,
                rows,
                &[
                    Metric::TrainingAccuracy,
                    Metric::ValidationAccuracy,
                    Metric::TestAccuracy,
                ],
            ),
        ],
    }
}

/// The report's Table 2 (MSE comparison) rebuilt: the report's MSE beside
/// ours, held out and measured the report's way, plus RMSE, MAE, fit time
/// and peak memory.
pub fn table2(
    dataset: &str,
    figures: &ReportFigures,
    rows: &[TableRow<'_>],
    provenance: Option<String>,
) -> Table {
    let mut columns = lead_columns().to_vec();
    columns.extend([
        Column {
            key: "mse_report",
            title: "MSE (report)",
        },
        Column {
            key: "mse",
            title: "MSE (held out)",
        },
        Column {
            key: "mse_report_way",
            title: "MSE, report's way",
        },
    ]);
    columns.extend(tail_columns());
    let body = rows
        .iter()
        .map(|r| {
            let name = r.report.model.as_str();
            let mut row = lead_cells(r).to_vec();
            row.extend([
                fig(figures, name, Metric::Mse, 4),
                held_out(r.report, |m| m.mse, 4),
                Cell::of(r.protocol.summary.test_report.mse, 4),
            ]);
            row.extend(tail_cells(r));
            row
        })
        .collect();
    let repeats = rows.first().map_or(0, |r| r.report.repeats.len());
    Table {
        title: format!("Table 2 rebuilt: MSE comparison ({dataset})"),
        provenance,
        intro: format!(
            "The report's Table 2 (\"MSE comparison among Autoencoder, MF and KNN models\") \
             beside our measurements on `{dataset}`: {repeats} repeat(s) of the report's 90/10 \
             protocol; test MSE, RMSE and MAE of predictions clamped to the rating range; mean \
             ± 95% CI half-width (Student t)."
        ),
        columns,
        rows: body,
        notes: vec![
            "`MSE (held out)`: the test ratings, never seen, by the model refitted on train + \
             validation. `MSE, report's way`: every rated entry of the whole matrix, the model \
             fed train + validation + test where it takes an input (the autoencoder), the model \
             fitted on the training part."
                .to_string(),
            "The report's KNN MSE of 8.66 is larger than that of predicting 3.0 everywhere (the \
             `constant` row): its KNN predictions cannot have been on the rating scale."
                .to_string(),
            "`fit s` and `peak MiB` as in Table 1: they vary between runs, nothing else does."
                .to_string(),
            sources_note(figures, rows, &[Metric::Mse]),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RepeatResult, ReportScores};
    use movierec_core::SetMetrics;

    const FIGURES: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../results/report-figures.toml"
    ));

    fn parse(text: &str) -> Result<ReportFigures> {
        ReportFigures::parse(text, Path::new("report-figures.toml"))
    }

    #[test]
    fn the_committed_figures_file_parses_with_the_report_tables() {
        let f = parse(FIGURES).unwrap();
        let ae = "autoencoder-report";
        assert_eq!(f.get(ae, Metric::TrainingAccuracy).unwrap().value, 0.7096);
        assert_eq!(f.get(ae, Metric::ValidationAccuracy).unwrap().value, 0.5869);
        assert_eq!(f.get(ae, Metric::TestAccuracy).unwrap().value, 0.7733);
        assert_eq!(f.get(ae, Metric::Mse).unwrap().value, 2.0519);
        let mf = "mf-dense-report";
        assert_eq!(f.get(mf, Metric::TrainingAccuracy).unwrap().value, 0.87);
        assert_eq!(f.get(mf, Metric::ValidationAccuracy).unwrap().value, 0.4211);
        assert!(
            f.get(mf, Metric::TestAccuracy).is_none(),
            "the report ran no MF test"
        );
        assert_eq!(f.get(mf, Metric::Mse).unwrap().value, 2.6509);
        let knn = "knn-report";
        assert_eq!(f.get(knn, Metric::TestAccuracy).unwrap().value, 0.2471);
        assert_eq!(f.get(knn, Metric::Mse).unwrap().value, 8.658);
        for fig in &f.figure {
            assert!(!fig.source.is_empty(), "{fig:?} cites nothing");
        }
    }

    #[test]
    fn bad_figures_files_are_errors_naming_the_file() {
        let dup = r#"
report = "r"
[[figure]]
model = "KNN"
row = "knn-report"
metric = "mse"
value = 8.658
source = "Table 2"
[[figure]]
model = "KNN"
row = "knn-report"
metric = "mse"
value = 8.0
source = "Table 3"
"#;
        let e = parse(dup).unwrap_err().to_string();
        assert!(
            e.contains("report-figures.toml") && e.contains("twice"),
            "{e}"
        );
        let unknown = "report = \"r\"\n[[figure]]\nmodel = \"KNN\"\nrow = \"k\"\nmetric = \"ndcg\"\nvalue = 1.0\nsource = \"x\"\n";
        assert!(parse(unknown).is_err());
    }

    fn scores(acc: f64) -> ReportScores {
        let m = SetMetrics {
            rmse: 1.0,
            mse: 1.0,
            mae: 0.8,
            accuracy: acc,
            n: 10,
        };
        ReportScores {
            train: m,
            validation: m,
            validation_report: m,
            test_report: SetMetrics {
                accuracy: 0.7,
                mse: 0.5,
                ..m
            },
            test_report_test_entries: m,
            test_held_out: m,
        }
    }

    fn model(name: &str) -> (ModelReport, ReportProtocolModel) {
        // From JSON, so fields added later (with serde defaults) need no edit here.
        let r: RepeatResult = serde_json::from_value(json!({
            "rmse": 0.9, "mse": 0.81, "mae": 0.7, "accuracy": 0.25, "fit_seconds": 1.0,
            "predict_seconds": 0.1, "fallbacks": 0, "n_test": 10
        }))
        .unwrap();
        let rep = ModelReport::new(name, json!({}), vec![r.clone(), r]);
        let proto = ReportProtocolModel::new(name, true, 0.81, vec![scores(0.3), scores(0.4)]);
        (rep, proto)
    }

    #[test]
    fn report_figures_join_by_row_and_missing_ones_show_a_dash() {
        let figures = parse(FIGURES).unwrap();
        let (ae, ae_p) = model("autoencoder-report");
        let (bias, bias_p) = model("bias");
        let rows = [
            TableRow {
                what: "the report's autoencoder",
                report: &ae,
                protocol: &ae_p,
                peak_mib: Some(12.3),
            },
            TableRow {
                what: "baseline",
                report: &bias,
                protocol: &bias_p,
                peak_mib: None,
            },
        ];
        let t1 = table1("tiny", &figures, &rows, Some("prov".into()));
        let md = t1.to_markdown();
        let ae_line = md
            .lines()
            .find(|l| l.starts_with("| autoencoder-report "))
            .unwrap();
        let cells: Vec<&str> = ae_line.split(" | ").collect();
        assert_eq!(cells[2], "0.7096", "{ae_line}");
        assert_eq!(cells[3], "0.3500 ± 0.6353", "{ae_line}");
        assert_eq!(cells[4], "0.5869");
        assert_eq!(cells[7], "0.7733");
        assert_eq!(cells[9], "0.7000 ± 0.0000");
        let bias_line = md.lines().find(|l| l.starts_with("| bias ")).unwrap();
        let cells: Vec<&str> = bias_line.split(" | ").collect();
        assert_eq!(
            (cells[2], cells[4], cells[7]),
            ("—", "—", "—"),
            "{bias_line}"
        );
        assert!(
            bias_line.ends_with("| — |"),
            "no memory figure: {bias_line}"
        );
        assert!(md.contains("0.7733 (Table 1"), "sources cited: {md}");
        assert!(md.starts_with("<!-- prov -->"));

        let csv = t1.to_csv();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("# prov"));
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert!(head.contains(&"training_accuracy_ci95"));
        assert!(!head.contains(&"training_accuracy_report_ci95"));
        let v: Value = serde_json::from_str(&t1.to_json()).unwrap();
        assert_eq!(v["rows"][0]["test_accuracy_report"], json!(0.7733));
        assert_eq!(v["rows"][1]["test_accuracy_report"], Value::Null);

        let t2 = table2("tiny", &figures, &rows, None);
        let md2 = t2.to_markdown();
        assert!(md2.contains("| autoencoder-report | the report's autoencoder | 2.0519 | 0.8100 ± 0.0000 | 0.5000 ± 0.0000 |"), "{md2}");
        assert!(md2.contains("| bias | baseline | — |"), "{md2}");

        let dir = tempfile::tempdir().unwrap();
        let paths = t2.write_all(&dir.path().join("table2-mse")).unwrap();
        for p in paths {
            assert!(p.exists(), "{}", p.display());
        }
    }
}
