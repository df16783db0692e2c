//! Matrix factorisation (`mf-sgd`) trained by DSGD over timely dataflow,
//! on worker threads of one process or of several processes (TCP between
//! them), with the same model whatever the split.
//!
//! ## What it computes
//! The model, updates, learning-rate schedule and early stopping of
//! [`SgdConfig`] (`movierec-mf`), on a DSGD blocking of `W x W` blocks for
//! `W` workers: worker `a` owns user stratum `a` (its users' factors and
//! biases and all their ratings); item stratum `c` is one item factor
//! block (factors and biases) that moves between workers. An epoch runs in
//! `W` sub-epochs with mf's own schedule
//! ([`EpochSchedule`](movierec_mf::dsgd::EpochSchedule): at step `t`,
//! worker `a` runs item stratum `perm[(a + t) mod W]`, `perm` drawn per
//! epoch), so at every step the workers hold distinct item blocks, and
//! each block passes to worker `a - 1` after it; each block's SGD pass is
//! mf's kernel with mf's chunk shuffles
//! ([`SgdBlock`](movierec_mf::dsgd::SgdBlock)). With a validation set, `W`
//! more steps pass the blocks round once more to score each worker's
//! validation ratings; the workers sum their errors and take the same
//! early-stopping decision.
//!
//! ## Strata and ids without a central table
//! A user's stratum is a hash of the raw id (`mix(id) mod W`), an item's
//! likewise ([`input::user_stratum`], [`input::item_stratum`]); a rating
//! goes to the validation set by a seeded hash of its (user, item) pair
//! ([`input::is_validation`]). Each worker reads its own byte range of the
//! ratings file ([`input::read_part`]; lines belong to the range that
//! holds their first byte) and sends each rating to its user's owner. The
//! owner numbers its users by sorted raw id. Item rows are numbered by the
//! item's home worker (worker `c` for stratum `c`): every worker sends it
//! the distinct ids it rated in that stratum, the home sorts the union and
//! answers each worker with the rows of its own ids only. No process ever
//! holds a table of all ids until the final model is gathered on worker 0.
//!
//! Every random choice comes from `(seed, W)` streams: initial factors per
//! stratum, the one-time shuffle of each block's ratings, the chunk
//! order, the schedule. Messages are sorted by sender before use and sums
//! are taken in worker order, so the model depends on `(seed, W)` and the
//! data only, not on how the `W` workers are split into threads and
//! processes, nor on timing.
//!
//! Against single-process `mf-sgd`: the update rule, schedule formula and
//! kernel are the same, but mf balances its strata by rating counts (which
//! needs every count in one place), uses cache-sized strata (more than `W`)
//! and numbers users and items in file order. The blocks thus differ, and
//! so do the last digits of the model: test RMSE agrees within noise, not
//! bit for bit.
//!
//! ## Recovery
//! With a checkpoint folder, every worker writes its parameters, chunk
//! orders and early-stopping history at the end of every epoch
//! ([`Checkpoint`]: checksummed, written to a temporary file and renamed)
//! and keeps its last two. With `resume`, the workers agree on the latest
//! epoch all of them have whole and go on from there; as every random
//! choice is a function of the epoch, the finished model is bit-identical
//! to an uninterrupted run's.
//!
//! ## What it does not do
//! It does not balance strata by rating counts (a hash spreads users, not
//! ratings: one heavy stratum sets the pace), does not refit on the
//! validation ratings after early stopping (`movierec train` without
//! `--workers` does), does not tolerate a lost worker by itself (the
//! launcher restarts the whole job from the last epoch), and gathers the
//! finished model on worker 0, which must hold it whole.

mod checkpoint;
pub mod input;
mod worker;

use std::path::PathBuf;
use std::sync::Arc;

use movierec_core::EpochRecord;
use movierec_mf::{MfModel, SgdConfig};

pub use checkpoint::{Checkpoint, ItemBlock, Snapshot};

/// An error of a distributed fit, as one line.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Where the workers run: `threads` per process, `processes` processes,
/// this one being `process`; `addresses` are the processes'
/// `host:port`s in process order (ignored for one process).
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Worker threads in each process.
    pub threads: usize,
    /// Number of processes.
    pub processes: usize,
    /// This process's index, `0..processes`.
    pub process: usize,
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
}

impl Cluster {
    /// One process of `threads` workers.
    pub fn local(threads: usize) -> Self {
        Self {
            threads,
            processes: 1,
            process: 0,
            addresses: Vec::new(),
        }
    }

    /// Total workers.
    pub fn workers(&self) -> usize {
        self.threads * self.processes
    }
}

/// Called on worker 0 after every epoch.
pub type Progress = Arc<dyn Fn(&EpochRecord) + Send + Sync>;

/// A distributed fit.
#[derive(Clone)]
pub struct Job {
    /// The model's settings (its `seed` or [`seed`](Self::seed)).
    pub config: SgdConfig,
    /// The run's seed (when the config pins none).
    pub seed: u64,
    /// The ratings: a CSV file (`user,item,rating[,...]`, optional header)
    /// or a folder holding `ratings.csv`.
    pub ratings: PathBuf,
    /// Share of ratings held out (by a seeded hash of the pair) for early
    /// stopping; 0 trains on all and runs every epoch.
    pub validation_fraction: f64,
    /// Where each worker writes its end-of-epoch checkpoints.
    pub checkpoints: Option<PathBuf>,
    /// Go on from the latest epoch every worker has a checkpoint of.
    pub resume: bool,
    /// The workers.
    pub cluster: Cluster,
    /// Epoch reports on worker 0.
    pub progress: Option<Progress>,
}

/// What worker 0 returns: the model in dense order with its ids.
#[derive(Debug, Clone)]
pub struct Trained {
    /// Raw user ids in the model's dense order.
    pub users: Vec<u64>,
    /// Raw movie ids in the model's dense order.
    pub items: Vec<u64>,
    /// The fitted model.
    pub model: MfModel,
    /// The training ratings as dense `(user, item, rating)`, by user then item.
    pub train: Vec<(u32, u32, f32)>,
    /// Lowest and highest training rating.
    pub range: (f32, f32),
    /// Per epoch run in this execution: wall seconds and payload bytes
    /// this process sent to other processes.
    pub epochs: Vec<EpochCost>,
    /// The epoch the run resumed after (0 for a fresh start).
    pub resumed_from: u32,
}

/// The cost of one epoch, as seen from one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochCost {
    /// The epoch (1-based).
    pub epoch: usize,
    /// Wall seconds of its steps.
    pub seconds: f64,
    /// Payload bytes sent to workers of other processes in its steps,
    /// summed over all processes.
    pub bytes: u64,
}

/// Runs the fit on this process's workers; returns the model on the
/// process of worker 0 and `None` on the others.
///
/// # Errors
/// An invalid config or cluster, an unreadable or malformed ratings file
/// (named by file and byte), no training rating, diverged factors, a
/// failed checkpoint write, or a network set-up failure.
pub fn train(job: &Job) -> Result<Option<Trained>, Error> {
    job.config
        .validate()
        .map_err(|e| Error(format!("mf-sgd: {e}")))?;
    let c = &job.cluster;
    if c.threads == 0 || c.processes == 0 || c.process >= c.processes {
        return Err(Error(format!(
            "bad cluster: {} threads, {} processes, process {}",
            c.threads, c.processes, c.process
        )));
    }
    if c.processes > 1 && c.addresses.len() != c.processes {
        return Err(Error(format!(
            "{} processes need {} host:port addresses, got {}",
            c.processes,
            c.processes,
            c.addresses.len()
        )));
    }
    if !(0.0..1.0).contains(&job.validation_fraction) {
        return Err(Error(format!(
            "validation fraction {} is not in [0, 1)",
            job.validation_fraction
        )));
    }
    let file = input::ratings_file(&job.ratings);
    std::fs::metadata(&file).map_err(|e| Error(format!("{}: {e}", file.display())))?;
    worker::run(job, file)
}
