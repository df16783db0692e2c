//! Plots of training curves (SVG through plotters, no font files: text is
//! laid out with plotters' built-in size estimate, so the same input gives
//! the same bytes on every machine).
//!
//! - [`write_curves_svg`]: the report's Figures 5 and 6, half-star accuracy
//!   and MSE per epoch, training and validation, side by side.
//! - [`write_time_to_accuracy`]: validation RMSE against wall seconds for
//!   several models on one plot, and a markdown table of the seconds each
//!   took to reach a few validation-RMSE thresholds.
//!
//! Both read repeat 0's curve (`RepeatResult::curve`) and write through
//! [`write_atomic`].

use std::fmt::Write as _;
use std::ops::Range;
use std::path::Path;

use movierec_core::{EpochRecord, SetMetrics};
use plotters::prelude::*;

use crate::{write_atomic, EvalError, ModelReport, Result};

/// Validation-RMSE thresholds of the time-to-accuracy table.
pub const RMSE_THRESHOLDS: [f64; 6] = [1.0, 0.95, 0.92, 0.9, 0.88, 0.86];

/// Line colours, in series order (colour-blind friendly, Okabe-Ito).
const COLOURS: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

fn plot_err(path: &Path, reason: impl Into<String>) -> EvalError {
    EvalError::Plot {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Repeat 0's curve, or an error naming the model.
fn curve<'a>(model: &'a ModelReport, path: &Path) -> Result<&'a [EpochRecord]> {
    let curve = model
        .repeats
        .first()
        .map(|r| r.curve.as_slice())
        .unwrap_or_default();
    if curve.is_empty() {
        return Err(plot_err(
            path,
            format!(
                "model `{}` has no per-epoch curve (only iterative models record one)",
                model.model
            ),
        ));
    }
    Ok(curve)
}

/// `lo..hi` padded by 5% each side, never empty.
fn padded(lo: f64, hi: f64) -> Range<f64> {
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.05
    } else {
        lo.abs().max(1.0) * 0.05
    };
    (lo - pad)..(hi + pad)
}

fn min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// One series: a label and its `(x, y)` points.
pub type Series = (String, Vec<(f64, f64)>);

/// The points of `metric` for one set (training or validation).
fn points(
    curve: &[EpochRecord],
    set: fn(&EpochRecord) -> Option<&SetMetrics>,
    metric: fn(&SetMetrics) -> f64,
) -> Vec<(f64, f64)> {
    curve
        .iter()
        .filter_map(|r| set(r).map(|m| (r.epoch as f64, metric(m))))
        .filter(|(_, y)| y.is_finite())
        .collect()
}

/// Draws one panel of lines on `area`.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    x: Range<f64>,
    series: &[Series],
) -> std::result::Result<(), String> {
    let (lo, hi) = min_max(series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)))
        .ok_or_else(|| format!("{caption}: nothing to draw"))?;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x, padded(lo, hi))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .max_light_lines(0)
        .draw()
        .map_err(|e| e.to_string())?;
    draw_lines(
        &mut chart,
        series
            .iter()
            .map(|(label, pts)| (label.as_str(), pts.iter().copied())),
    )
}

/// Draws each `(label, points)` line, 2 px wide in its series colour, and
/// the legend box in the upper right.
fn draw_lines<'a, 'l, DB, X, Y, P>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    lines: impl IntoIterator<Item = (&'l str, P)>,
) -> std::result::Result<(), String>
where
    DB: DrawingBackend + 'a,
    X: Ranged,
    Y: Ranged,
    X::ValueType: Clone + 'static,
    Y::ValueType: Clone + 'static,
    P: IntoIterator<Item = (X::ValueType, Y::ValueType)>,
{
    for (i, (label, pts)) in lines.into_iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The report's Figures 5 and 6 for one model: half-star accuracy per epoch
/// (left) and MSE per epoch (right), training and validation lines, from
/// repeat 0's curve, written to `path` as SVG.
///
/// A curve without training metrics (a model that records only validation)
/// draws the validation lines alone and says so under the title; one
/// without validation metrics draws the training lines alone.
///
/// # Errors
/// [`EvalError::Plot`] when the model has no repeat, an empty curve, or no
/// metrics in any record; [`EvalError::Write`] when the file cannot be
/// written. `x_desc` names what the x axis counts (epochs, full-batch steps).
pub fn write_curves_svg(model: &ModelReport, title: &str, x_desc: &str, path: &Path) -> Result<()> {
    let curve = curve(model, path)?;
    let acc = |m: &SetMetrics| m.accuracy;
    let mse = |m: &SetMetrics| m.mse;
    fn train(r: &EpochRecord) -> Option<&SetMetrics> {
        r.train.as_ref()
    }
    fn valid(r: &EpochRecord) -> Option<&SetMetrics> {
        r.validation.as_ref()
    }
    let mut acc_series = Vec::new();
    let mut mse_series = Vec::new();
    for (label, set) in [
        ("training", train as fn(&EpochRecord) -> Option<&SetMetrics>),
        ("validation", valid),
    ] {
        let a = points(curve, set, acc);
        if !a.is_empty() {
            acc_series.push((label.to_string(), a));
            mse_series.push((label.to_string(), points(curve, set, mse)));
        }
    }
    if acc_series.is_empty() {
        return Err(plot_err(
            path,
            format!(
                "model `{}`: no training or validation metrics in its curve",
                model.model
            ),
        ));
    }
    let mut title = title.to_string();
    if curve.iter().all(|r| r.train.is_none()) {
        title.push_str(" (no training metrics recorded)");
    } else if curve.iter().all(|r| r.validation.is_none()) {
        title.push_str(" (no validation set)");
    }
    let (lo, hi) = min_max(curve.iter().map(|r| r.epoch as f64)).unwrap_or((0.0, 1.0));
    let x = if hi > lo { lo..hi } else { padded(lo, hi) };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 450)).into_drawing_area();
        let draw = || -> std::result::Result<(), String> {
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let body = root
                .titled(&title, ("sans-serif", 22))
                .map_err(|e| e.to_string())?;
            let halves = body.split_evenly((1, 2));
            panel(
                &halves[0],
                "Half-star accuracy",
                x_desc,
                "accuracy",
                x.clone(),
                &acc_series,
            )?;
            panel(&halves[1], "MSE", x_desc, "MSE", x.clone(), &mse_series)?;
            root.present().map_err(|e| e.to_string())
        };
        draw().map_err(|e| plot_err(path, e))?;
    }
    write_atomic(path, svg.as_bytes())
}

/// Named lines on side-by-side panels: each panel is `(caption, y axis
/// label, series)`, each series `(label, (x, y) points)`; the x range is
/// shared. Used for curves that are not a [`ModelReport`]'s (the report
/// sweep's accuracies measured the report's way and held out).
///
/// # Errors
/// [`EvalError::Plot`] when there is no panel or a panel has no finite
/// point; [`EvalError::Write`] when the file cannot be written.
pub fn write_panels_svg(
    title: &str,
    x_desc: &str,
    panels: &[(String, String, Vec<Series>)],
    path: &Path,
) -> Result<()> {
    if panels.is_empty() {
        return Err(plot_err(path, "no panel to draw"));
    }
    let xs = panels
        .iter()
        .flat_map(|(_, _, s)| s.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
    let (lo, hi) = min_max(xs).unwrap_or((0.0, 1.0));
    let x = if hi > lo { lo..hi } else { padded(lo, hi) };
    let mut svg = String::new();
    {
        let width = 550 * panels.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (width, 450)).into_drawing_area();
        let draw = || -> std::result::Result<(), String> {
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let body = root
                .titled(title, ("sans-serif", 22))
                .map_err(|e| e.to_string())?;
            let areas = body.split_evenly((1, panels.len()));
            for (area, (caption, y_desc, series)) in areas.iter().zip(panels) {
                panel(area, caption, x_desc, y_desc, x.clone(), series)?;
            }
            root.present().map_err(|e| e.to_string())
        };
        draw().map_err(|e| plot_err(path, e))?;
    }
    write_atomic(path, svg.as_bytes())
}

/// Repeat 0's `(seconds, validation RMSE)` points of `model`.
fn rmse_by_seconds(model: &ModelReport, path: &Path) -> Result<Vec<(f64, f64, usize)>> {
    let pts: Vec<(f64, f64, usize)> = curve(model, path)?
        .iter()
        .filter_map(|r| r.validation.as_ref().map(|v| (r.seconds, v.rmse, r.epoch)))
        .filter(|(s, y, _)| s.is_finite() && y.is_finite())
        .collect();
    if pts.is_empty() {
        return Err(plot_err(
            path,
            format!(
                "model `{}`: no validation RMSE in its curve (fit without a validation set?)",
                model.model
            ),
        ));
    }
    Ok(pts)
}

/// Validation RMSE against wall seconds since the fit started (repeat 0's
/// curve, log-scaled seconds) for `models` on one plot, written to `svg`,
/// and a markdown table written to `md`: per model, the seconds (and epoch)
/// at which validation RMSE first reached each of [`RMSE_THRESHOLDS`], and
/// the best validation RMSE with when it was reached.
///
/// # Errors
/// [`EvalError::Plot`] when `models` is empty or a model has no validation
/// RMSE in its curve; [`EvalError::Write`] when a file cannot be written.
pub fn write_time_to_accuracy(models: &[&ModelReport], svg: &Path, md: &Path) -> Result<()> {
    if models.is_empty() {
        return Err(plot_err(svg, "no model to plot"));
    }
    let data = models
        .iter()
        .map(|m| Ok((m.model.clone(), rmse_by_seconds(m, svg)?)))
        .collect::<Result<Vec<_>>>()?;

    // The plot.
    let positive = data
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .filter(|&s| s > 0.0);
    let (s_lo, s_hi) = min_max(positive).unwrap_or((1e-3, 1.0));
    let x = (s_lo * 0.9)..(s_hi.max(s_lo * 10.0) * 1.1);
    let (y_lo, y_hi) = min_max(data.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)))
        .expect("every model has a point");
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (900, 520)).into_drawing_area();
        let draw = || -> std::result::Result<(), String> {
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let mut chart = ChartBuilder::on(&root)
                .caption("Validation RMSE against wall seconds", ("sans-serif", 22))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(64)
                .build_cartesian_2d(x.clone().log_scale(), padded(y_lo, y_hi))
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("seconds since the fit started (log scale)")
                .y_desc("validation RMSE")
                .max_light_lines(0)
                .draw()
                .map_err(|e| e.to_string())?;
            draw_lines(
                &mut chart,
                data.iter().map(|(name, pts)| {
                    let line = pts.iter().map(|&(s, y, _)| (s.max(x.start), y));
                    (name.as_str(), line)
                }),
            )?;
            root.present().map_err(|e| e.to_string())
        };
        draw().map_err(|e| plot_err(svg, e))?;
    }

    // The table.
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Validation RMSE against wall seconds since the fit started (repeat 0, one \
         point per recorded epoch; plot: `{}`). A threshold cell gives the seconds \
         and epoch at which validation RMSE first reached it, `-` if it never did.\n",
        svg.file_name()
            .map_or_else(|| svg.display().to_string(), |f| f.to_string_lossy().into())
    );
    s.push_str("| model | epochs | seconds | best RMSE | best at |");
    for t in RMSE_THRESHOLDS {
        let _ = write!(s, " ≤ {t:.2} |");
    }
    s.push_str("\n| --- | ---: | ---: | ---: | --- |");
    s.push_str(&" --- |".repeat(RMSE_THRESHOLDS.len()));
    s.push('\n');
    for (name, pts) in &data {
        let last = pts.last().expect("non-empty");
        let best = pts
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("non-empty");
        let _ = write!(
            s,
            "| {name} | {} | {:.2} | {:.4} | {:.2} s (epoch {}) |",
            last.2, last.0, best.1, best.0, best.2
        );
        for t in RMSE_THRESHOLDS {
            match pts.iter().find(|p| p.1 <= t) {
                Some(p) => {
                    let _ = write!(s, " {:.2} s ({}) |", p.0, p.2);
                }
                None => s.push_str(" - |"),
            }
        }
        s.push('\n');
    }
    write_atomic(svg, text.as_bytes())?;
    write_atomic(md, s.as_bytes())
}

/// Lines on log-log axes in two panels side by side (e.g. fit time and peak
/// memory against ratings), written to `svg`. Points that are not positive
/// are left out.
///
/// # Errors
/// [`EvalError::Plot`] when there is no positive point to plot;
/// [`EvalError::Write`] when the file cannot be written.
pub fn write_loglog_panels_svg(
    title: &str,
    x_desc: &str,
    panels: [(&str, &[Series]); 2],
    svg: &Path,
) -> Result<()> {
    let positive = |l: &Series| {
        l.1.iter()
            .copied()
            .filter(|p| p.0 > 0.0 && p.1 > 0.0 && p.0.is_finite() && p.1.is_finite())
            .collect::<Vec<_>>()
    };
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (1200, 520)).into_drawing_area();
        let draw = || -> std::result::Result<(), String> {
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let root = root
                .titled(title, ("sans-serif", 22))
                .map_err(|e| e.to_string())?;
            let halves = root.split_evenly((1, 2));
            for (area, (y_desc, lines)) in halves.iter().zip(panels) {
                let pts: Vec<(String, Vec<(f64, f64)>)> =
                    lines.iter().map(|l| (l.0.clone(), positive(l))).collect();
                let (x_lo, x_hi) = min_max(pts.iter().flat_map(|l| l.1.iter().map(|p| p.0)))
                    .ok_or("no positive point to plot")?;
                let (y_lo, y_hi) = min_max(pts.iter().flat_map(|l| l.1.iter().map(|p| p.1)))
                    .ok_or("no positive point to plot")?;
                let mut chart = ChartBuilder::on(area)
                    .margin(14)
                    .x_label_area_size(44)
                    .y_label_area_size(64)
                    .build_cartesian_2d(
                        ((x_lo * 0.8)..(x_hi * 1.25)).log_scale(),
                        ((y_lo * 0.8)..(y_hi * 1.25)).log_scale(),
                    )
                    .map_err(|e| e.to_string())?;
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .max_light_lines(0)
                    .draw()
                    .map_err(|e| e.to_string())?;
                let kept: Vec<&(String, Vec<(f64, f64)>)> =
                    pts.iter().filter(|l| !l.1.is_empty()).collect();
                draw_lines(
                    &mut chart,
                    kept.iter()
                        .map(|(name, p)| (name.as_str(), p.iter().copied())),
                )?;
                for (i, (_, p)) in kept.iter().enumerate() {
                    let colour = COLOURS[i % COLOURS.len()];
                    chart
                        .draw_series(p.iter().map(|&q| Circle::new(q, 3, colour.filled())))
                        .map_err(|e| e.to_string())?;
                }
            }
            root.present().map_err(|e| e.to_string())
        };
        draw().map_err(|e| plot_err(svg, e))?;
    }
    write_atomic(svg, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RepeatResult;

    fn metrics(rmse: f64, accuracy: f64) -> SetMetrics {
        SetMetrics {
            rmse,
            mse: rmse * rmse,
            mae: rmse * 0.8,
            accuracy,
            n: 100,
        }
    }

    fn model(name: &str, epochs: usize, with_train: bool, secs_per_epoch: f64) -> ModelReport {
        let curve = (1..=epochs)
            .map(|e| {
                let t = e as f64;
                EpochRecord {
                    epoch: e,
                    loss: Some(1.0 / t),
                    train: with_train.then(|| metrics(1.2 / t.sqrt(), 0.2 + 0.05 * t)),
                    validation: Some(metrics(0.853 + 0.4 / t, 0.2 + 0.01 * t)),
                    seconds: secs_per_epoch * t,
                }
            })
            .collect();
        let repeat = RepeatResult {
            rmse: 0.9,
            mse: 0.81,
            mae: 0.7,
            accuracy: 0.3,
            fit_seconds: 1.0,
            predict_seconds: 0.1,
            fallbacks: 0,
            n_test: 100,
            curve,
            chosen: None,
            ranking: None,
            ranking_at: Vec::new(),
        };
        ModelReport::new(name, serde_json::Value::Null, vec![repeat])
    }

    #[test]
    fn curves_svg_has_both_panels_and_series() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.svg");
        write_curves_svg(
            &model("autoencoder", 30, true, 0.5),
            "Autoencoder",
            "epoch",
            &path,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..60.min(svg.len())]);
        for needle in [
            "Autoencoder",
            "Half-star accuracy",
            "MSE",
            "training",
            "validation",
        ] {
            assert!(svg.contains(needle), "missing {needle}");
        }
        // Same input, same bytes.
        let again = dir.path().join("again.svg");
        write_curves_svg(
            &model("autoencoder", 30, true, 0.5),
            "Autoencoder",
            "epoch",
            &again,
        )
        .unwrap();
        assert_eq!(svg, std::fs::read_to_string(&again).unwrap());
    }

    #[test]
    fn curves_without_training_metrics_draw_validation_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.svg");
        write_curves_svg(
            &model("mf-dense", 1, false, 0.5),
            "MF",
            "full-batch step",
            &path,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("validation"));
        assert!(svg.contains("no training metrics recorded"));
        assert!(svg.contains("full-batch step"));
    }

    #[test]
    fn empty_curve_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.svg");
        let mut m = model("bias", 3, true, 0.1);
        m.repeats[0].curve.clear();
        let err = write_curves_svg(&m, "Bias", "epoch", &path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`bias` has no per-epoch curve"), "{err}");
        assert!(err.contains("curves.svg"), "{err}");
        assert!(!path.exists());
        let md = dir.path().join("t.md");
        let err = write_time_to_accuracy(&[&m], &path, &md)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no per-epoch curve"), "{err}");
        let err = write_time_to_accuracy(&[], &path, &md)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no model"), "{err}");
        // A curve of records without any metric.
        m.repeats[0].curve.push(EpochRecord {
            epoch: 1,
            ..EpochRecord::default()
        });
        let err = write_curves_svg(&m, "Bias", "epoch", &path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no training or validation metrics"), "{err}");
        let err = write_time_to_accuracy(&[&m], &path, &md)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no validation RMSE"), "{err}");
    }

    #[test]
    fn time_to_accuracy_plots_every_model_and_tabulates_thresholds() {
        let dir = tempfile::tempdir().unwrap();
        let (svg, md) = (dir.path().join("t.svg"), dir.path().join("t.md"));
        let fast = model("mf-sgd", 40, true, 0.05);
        let slow = model("mf-dense", 100, false, 2.0);
        write_time_to_accuracy(&[&fast, &slow], &svg, &md).unwrap();
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(text.contains("mf-sgd") && text.contains("mf-dense"));
        let table = std::fs::read_to_string(&md).unwrap();
        // Validation RMSE is 0.853 + 0.4 / epoch: <= 0.95 first at epoch 5,
        // <= 0.86 only after epoch 57 (mf-dense alone).
        assert!(
            table.contains("| mf-sgd | 40 | 2.00 | 0.8630 | 2.00 s (epoch 40) |"),
            "{table}"
        );
        assert!(table.contains(" 0.25 s (5) |"), "{table}");
        assert!(table.contains(" 10.00 s (5) |"), "{table}");
        assert!(table.contains(" 116.00 s (58) |"), "{table}");
        assert!(
            table.trim_end().lines().nth(4).unwrap().ends_with(" - |"),
            "{table}"
        );
        assert!(table.contains("t.svg"));
        // Deterministic.
        let (svg2, md2) = (dir.path().join("t2.svg"), dir.path().join("t2.md"));
        write_time_to_accuracy(&[&fast, &slow], &svg2, &md2).unwrap();
        assert_eq!(text, std::fs::read_to_string(&svg2).unwrap());
    }
}
