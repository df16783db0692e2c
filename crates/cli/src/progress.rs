//! Progress bars on stderr (hidden under `--quiet` or when stderr is not a terminal).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use movierec_core::EpochRecord;
use movierec_eval::Monitor;

/// A bar over the repeats of one model, with the latest epoch as its message.
pub struct Bar {
    bar: ProgressBar,
    model: String,
}

impl Bar {
    /// A bar for `model`; hidden when `quiet`.
    pub fn new(model: &str, quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {elapsed} {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        };
        bar.set_prefix(model.to_string());
        Self {
            bar,
            model: model.to_string(),
        }
    }

    /// A spinner for work without repeats (e.g. writing synthetic data).
    pub fn spinner(message: &str, quiet: bool) -> ProgressBar {
        if quiet {
            return ProgressBar::hidden();
        }
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_message(message.to_string());
        b.enable_steady_tick(Duration::from_millis(200));
        b
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Monitor for Bar {
    fn repeat(&mut self, index: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(index as u64);
        self.bar
            .set_message(format!("{}: repeat {}", self.model, index + 1));
    }

    fn epoch(&mut self, record: &EpochRecord) {
        let val = record
            .validation
            .map(|m| format!(", validation RMSE {:.4}", m.rmse))
            .unwrap_or_default();
        self.bar.set_message(format!("epoch {}{val}", record.epoch));
    }
}
