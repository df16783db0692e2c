//! Criterion's saved results (`target/criterion/**/<baseline>/{benchmark,estimates}.json`)
//! read back for the generated reports (`movierec report benchmarks`,
//! `movierec report gap-analysis`), and the short figures they print.
//!
//! Criterion writes each run to `new/` and copies it to a named baseline
//! with `--save-baseline NAME`; the scripts save their own baseline, so a
//! later `cargo bench` by someone else does not change what they report.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{anyhow, Context};
use serde_json::Value;

/// One benchmark's latest result.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Group, e.g. `mf/dense_step`.
    pub group: String,
    /// Function within the group, e.g. `dense`.
    pub function: String,
    /// Parameter string, e.g. `ml-small-shape/k=10/seq` (may be empty).
    pub value: String,
    /// `group/function/value`.
    pub full_id: String,
    /// Mean nanoseconds per iteration.
    pub mean_ns: f64,
    /// 95% confidence bounds of the mean.
    pub mean_ci: (f64, f64),
    /// Median nanoseconds per iteration.
    pub median_ns: f64,
    /// Throughput per iteration: (`Elements` or `Bytes`, count).
    pub throughput: Option<(String, u64)>,
    /// When `estimates.json` was written.
    pub modified: SystemTime,
}

impl Estimate {
    /// Mean seconds per iteration.
    pub fn seconds(&self) -> f64 {
        self.mean_ns * 1e-9
    }

    /// Throughput per second from the mean, with its unit.
    pub fn rate(&self) -> Option<(f64, &str)> {
        self.throughput.as_ref().map(|(kind, n)| {
            let unit = if kind == "Bytes" { "B/s" } else { "elem/s" };
            (*n as f64 / self.seconds(), unit)
        })
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    serde_json::from_str(&text).with_context(|| path.display().to_string())
}

fn number(v: &Value, path: &[&str], file: &Path) -> anyhow::Result<f64> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_f64)
        .ok_or_else(|| anyhow!("{}: no number at {}", file.display(), path.join(".")))
}

fn walk(dir: &Path, baseline: &str, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            if p.file_name().is_some_and(|n| n == baseline) {
                if p.join("estimates.json").is_file() && p.join("benchmark.json").is_file() {
                    out.push(p);
                }
            } else if !p.join("benchmark.json").is_file() {
                // A folder with benchmark.json is some other baseline's.
                walk(&p, baseline, out)?;
            }
        }
    }
    Ok(())
}

/// Every benchmark saved under `criterion_dir` in `baseline` (`new` for
/// the latest run) whose estimates were written at or after `since` (all
/// when `None`), sorted by id.
///
/// # Errors
/// A folder that cannot be listed or a result file that cannot be parsed.
pub fn load(
    criterion_dir: &Path,
    baseline: &str,
    since: Option<SystemTime>,
) -> anyhow::Result<Vec<Estimate>> {
    let mut dirs = Vec::new();
    walk(criterion_dir, baseline, &mut dirs)
        .with_context(|| criterion_dir.display().to_string())?;
    let mut out = Vec::new();
    for d in dirs {
        let est_path = d.join("estimates.json");
        let modified = std::fs::metadata(&est_path)
            .and_then(|m| m.modified())
            .with_context(|| est_path.display().to_string())?;
        if since.is_some_and(|s| modified < s) {
            continue;
        }
        let bench_path = d.join("benchmark.json");
        let b = read_json(&bench_path)?;
        let e = read_json(&est_path)?;
        let text = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let throughput = b
            .get("throughput")
            .and_then(Value::as_object)
            .and_then(|o| {
                o.iter()
                    .next()
                    .and_then(|(k, v)| v.as_u64().map(|n| (k.clone(), n)))
            });
        out.push(Estimate {
            group: text("group_id"),
            function: text("function_id"),
            value: text("value_str"),
            full_id: text("full_id"),
            mean_ns: number(&e, &["mean", "point_estimate"], &est_path)?,
            mean_ci: (
                number(
                    &e,
                    &["mean", "confidence_interval", "lower_bound"],
                    &est_path,
                )?,
                number(
                    &e,
                    &["mean", "confidence_interval", "upper_bound"],
                    &est_path,
                )?,
            ),
            median_ns: number(&e, &["median", "point_estimate"], &est_path)?,
            throughput,
            modified,
        });
    }
    out.sort_by(|a, b| natural_cmp(&a.full_id, &b.full_id));
    Ok(out)
}

/// Compares strings with runs of digits (and decimal points inside them) as
/// numbers: `k=10` < `k=50` < `k=100`, `0.5%` < `5.0%` < `15.0%`.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<Result<f64, String>> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut digits = false;
        for c in s.chars() {
            let d = c.is_ascii_digit() || (digits && c == '.');
            if d != digits && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            digits = d;
            cur.push(c);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out.into_iter()
            .map(|c| c.trim_end_matches('.').parse::<f64>().map_err(|_| c))
            .collect()
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x, y) {
            (Ok(x), Ok(y)) => x.total_cmp(y),
            (Err(x), Err(y)) => x.cmp(y),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        };
        if o.is_ne() {
            return o;
        }
    }
    ca.len().cmp(&cb.len()).then_with(|| a.cmp(b))
}

/// Seconds as a short human figure: `812 ns`, `3.41 ms`, `1.20 s`.
pub fn fmt_seconds(s: f64) -> String {
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    format!("{} {unit}", sig3(v))
}

/// A rate with an SI prefix: `12.3 M elem/s`.
pub fn fmt_rate(r: f64, unit: &str) -> String {
    let (v, p) = if r >= 1e9 {
        (r / 1e9, "G")
    } else if r >= 1e6 {
        (r / 1e6, "M")
    } else if r >= 1e3 {
        (r / 1e3, "k")
    } else {
        (r, "")
    };
    format!("{} {p}{unit}", sig3(v))
}

/// Three significant figures (no exponent for the ranges used here).
pub fn sig3(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// What the machine is: CPU model, logical cores, rustc, commit, load.
pub fn machine() -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let run = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let unknown = || "unknown".to_string();
    let rustc = run(
        &std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()),
        &["-V"],
    )
    .unwrap_or_else(unknown);
    let mut commit = run("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_else(unknown);
    if run("git", &["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty())
    {
        commit.push_str(" (with uncommitted changes)");
    }
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into());
    vec![
        ("CPU".into(), cpu),
        ("logical cores".into(), cores.to_string()),
        ("rustc".into(), rustc),
        ("commit".into(), commit),
        ("load average (1, 5, 15 min) when written".into(), load),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_reads_numbers() {
        let mut v = vec![
            "k=100",
            "k=10",
            "k=50",
            "density/15.0%",
            "density/0.5%",
            "density/5.0%",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "density/0.5%",
                "density/5.0%",
                "density/15.0%",
                "k=10",
                "k=50",
                "k=100"
            ]
        );
    }

    #[test]
    fn figures_are_short() {
        assert_eq!(fmt_seconds(0.0123), "12.3 ms");
        assert_eq!(fmt_seconds(2.5e-7), "250 ns");
        assert_eq!(fmt_rate(1.5e6, "elem/s"), "1.50 Melem/s");
    }
}
