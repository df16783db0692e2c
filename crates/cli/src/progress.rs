//! Progress bars on stderr (hidden under `--quiet` or when stderr is not a terminal).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use movierec_core::{Control, EpochRecord, Observer};
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
        b.set_style(spinner_style());
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

    fn progress(&mut self, phase: &str, done: usize, total: usize) {
        self.bar.set_message(format!(
            "{}: {phase} {}%",
            self.model,
            (done * 100).checked_div(total).unwrap_or(100)
        ));
    }
}

/// The style of a spinner: message and time so far.
fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template")
}

/// The style of a bar over counted work: position, rate and time left.
pub fn counted_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{prefix} [{bar:30}] {human_pos}/{human_len} ({per_sec}, ETA {eta}) {elapsed}",
    )
    .expect("valid template")
    .progress_chars("=> ")
}

/// Draws a bar over the bytes of the ratings file while `progress` is read,
/// then "checking and indexing" until `done`; drawn only for a load that
/// lasts over half a second (a small file shows nothing).
pub fn reading(progress: &movierec_data::ReadProgress, done: &std::sync::atomic::AtomicBool) {
    use std::sync::atomic::Ordering;
    let start = std::time::Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if bar.is_none() && start.elapsed() > Duration::from_millis(500) {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {elapsed} {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix("reading ratings");
            b.set_length(progress.total());
            b.set_position(progress.read());
            b.enable_steady_tick(Duration::from_millis(200));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            let (read, total) = (progress.read(), progress.total());
            b.set_length(total);
            b.set_position(read);
            if total > 0 && read >= total {
                b.set_message("checking and indexing");
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// The observer of one fit: each epoch on a spinner after what is being
/// fitted; a long step within the fit (e.g. KNN's similarity blocks) as a
/// bar with rate and ETA while it runs.
pub struct FitProgress {
    bar: ProgressBar,
    what: String,
    phase: Option<String>,
}

impl FitProgress {
    /// The observer drawing on `bar` (a spinner), `what` its message.
    pub fn new(bar: ProgressBar, what: String) -> Self {
        Self {
            bar,
            what,
            phase: None,
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for FitProgress {
    fn on_epoch(&mut self, r: &EpochRecord) -> Control {
        let val = r
            .validation
            .map(|m| format!(", validation RMSE {:.4}", m.rmse))
            .unwrap_or_default();
        self.bar
            .set_message(format!("{}: epoch {}{val}", self.what, r.epoch));
        Control::Continue
    }

    /// The spinner shows the validation RMSE only, so a fit need not pay a
    /// pass over its training ratings per epoch for figures nobody reads.
    fn wants_training_metrics(&self) -> bool {
        false
    }

    fn on_progress(&mut self, phase: &str, done: usize, total: usize) {
        if self.bar.is_hidden() {
            return;
        }
        if self.phase.as_deref() != Some(phase) {
            self.phase = Some(phase.to_string());
            self.bar.reset();
            self.bar.set_length(total as u64);
            self.bar.set_style(counted_style());
            self.bar.set_prefix(format!("{}: {phase}", self.what));
        }
        self.bar.set_position(done as u64);
        if done >= total {
            // Back to a spinner for what follows.
            self.phase = None;
            self.bar.set_style(spinner_style());
            self.bar.set_message(self.what.clone());
        }
    }
}
