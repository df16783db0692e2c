//! `movierec table`: one table from several `evaluate --out FILE.json`
//! reports of the same dataset, protocol and seed (e.g. one row per KNN
//! prediction form).

use std::path::PathBuf;

use anyhow::{ensure, Context};
use clap::Args;
use movierec_eval::Report;

/// Arguments of `movierec table`.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// Reports written by `movierec evaluate --out FILE.json`, in row order.
    #[arg(long = "from", value_name = "FILE.json", required = true)]
    from: Vec<PathBuf>,
    /// Where to write the table (.md, .csv or .json by extension); repeatable.
    #[arg(long, value_name = "FILE", value_parser = crate::report_file)]
    out: Vec<PathBuf>,
    /// Show the ranking figures at this list length (one of the reports'
    /// `evaluate --ranking --at` lengths) instead of the first.
    #[arg(long, value_name = "K")]
    at: Option<usize>,
}

/// Runs `movierec table`.
pub fn run(args: TableArgs) -> anyhow::Result<()> {
    let mut merged: Option<Report> = None;
    for path in &args.from {
        let text = crate::read_text(path, "the report")?;
        let report: Report = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a movierec report", path.display()))?;
        match &mut merged {
            None => merged = Some(report),
            Some(m) => {
                ensure!(
                    (m.dataset.as_str(), m.protocol.as_str(), m.seed)
                        == (
                            report.dataset.as_str(),
                            report.protocol.as_str(),
                            report.seed
                        ),
                    "{}: dataset, protocol or seed differ from the first report",
                    path.display()
                );
                m.models.extend(report.models);
            }
        }
    }
    let mut report = merged.expect("clap requires one --from");
    if let Some(k) = args.at {
        report = report.at_k(k).with_context(|| {
            format!("--at {k}: some report was not ranked at {k} (evaluate --ranking --at ...,{k})")
        })?;
    }
    // Name the rows' commands rather than the (often temporary) input files.
    let rows: Vec<&str> = report.models.iter().map(|m| m.model.as_str()).collect();
    let what = format!(
        "table of {} evaluate runs ({})",
        rows.len(),
        rows.join(", ")
    );
    report.provenance = Some(crate::evaluate::provenance_of(&what));
    for out in &args.out {
        report.write(out)?;
    }
    crate::emit(&report.to_markdown())?;
    Ok(())
}
