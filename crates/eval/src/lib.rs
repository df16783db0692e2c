//! The report's evaluation protocol, applied honestly: fit on training
//! ratings, choose settings on validation ratings only, score held-out test
//! ratings, and summarise repeats with a mean and a 95% confidence interval.
//!
//! The runner takes any [`Fit`](movierec_core::Fit) configuration and never
//! names a concrete model; the CLI is the only crate that does.
//!
//! ```
//! use movierec_core::{BiasConfig, Rating, RatingScale, Ratings};
//! use movierec_eval::{evaluate, EvalOptions, NoMonitor};
//! use movierec_data::{Protocol, SplitConfig};
//!
//! // 40 users x 30 items with an additive pattern.
//! let mut entries = Vec::new();
//! for u in 0..40u32 {
//!     for i in 0..30u32 {
//!         if (u * 7 + i * 3) % 4 != 0 {
//!             let r = (1.0 + (u % 5) as f32 * 0.5 + (i % 3) as f32 * 0.5).min(5.0);
//!             entries.push(Rating::new(u, i, r));
//!         }
//!     }
//! }
//! let ratings = Ratings::new(entries, 40, 30, RatingScale::default());
//! let opts = EvalOptions {
//!     split: SplitConfig { repeats: 2, ..SplitConfig::default() },
//!     ..EvalOptions::default()
//! };
//! let report = evaluate("bias", &BiasConfig::default(), &ratings, None, &opts, &mut NoMonitor).unwrap();
//! assert_eq!(report.repeats.len(), 2);
//! assert!(report.mean.rmse < 0.5);
//! ```

mod error;
mod plot;
mod ranking;
mod report;
mod report_protocol;
mod report_sweep;
mod runner;
mod stats;
mod tables;
mod tune;

pub use error::{EvalError, Result};
pub use plot::{
    write_curves_svg, write_loglog_panels_svg, write_panels_svg, write_time_to_accuracy, Series,
    RMSE_THRESHOLDS,
};
pub use ranking::{ranking_metrics, RankingOptions, RankingResult};
pub use report::{write_atomic, ModelReport, RankingSummary, RepeatResult, Report, Summary};
pub use report_protocol::{
    evaluate_report, Figure, ReportProtocolModel, ReportProtocolReport, ReportScores, ReportSummary,
};
pub use report_sweep::{
    first_by_id, restrict, score_point, Noise, SweepCell, SweepData, SweepPoint, SweepReport,
    SweepRow, Target,
};
pub use runner::{
    evaluate, evaluate_given, predict_all, EvalOptions, GivenOptions, GivenResult, Monitor,
    NoMonitor,
};
pub use stats::{mean_ci95, MeanCi};
pub use tables::{
    table1, table2, Cell, Column, Metric, ReportFigure, ReportFigures, Table, TableRow,
};
pub use tune::{evaluate_tuned, grid, tune, with_params, Trial, TuningReport};
