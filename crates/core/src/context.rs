//! The run context: how many threads a fit may use and the seed its random
//! choices derive from, passed as a value into every fit (as faer passes
//! `Par`), never read from global state.

use serde::{Deserialize, Serialize};

use crate::Error;

/// Threads and seed of one fit. Results depend on both: the same context
/// and data give the same model, bit for bit.
///
/// ```
/// use movierec_core::RunContext;
/// let ctx = RunContext::new(2, 7);
/// assert_eq!(ctx.model_seed(None), 7);     // derived from the run's seed
/// assert_eq!(ctx.model_seed(Some(3)), 3);  // unless the config pins it
/// let sum: u64 = ctx.install(|| (0..10u64).sum()).unwrap();
/// assert_eq!(sum, 45);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunContext {
    /// Worker threads a fit may use (at least 1). Models whose results depend
    /// on the thread count (MF's parallel SGD) read it from here.
    pub threads: usize,
    /// The seed every random choice of a model derives from, unless the
    /// model's config pins its own.
    pub seed: u64,
}

impl Default for RunContext {
    /// One thread, seed 42 (the CLI's default seed).
    fn default() -> Self {
        RunContext {
            threads: 1,
            seed: 42,
        }
    }
}

impl RunContext {
    /// `threads` workers (0: every core of this machine) and `seed`.
    pub fn new(threads: usize, seed: u64) -> Self {
        let threads = if threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            threads
        };
        RunContext { threads, seed }
    }

    /// One thread: the sequential path, whatever the machine.
    pub fn sequential(seed: u64) -> Self {
        RunContext { threads: 1, seed }
    }

    /// The same threads with another seed.
    pub fn with_seed(self, seed: u64) -> Self {
        RunContext { seed, ..self }
    }

    /// The seed of a model whose config may pin one.
    pub fn model_seed(&self, pinned: Option<u64>) -> u64 {
        pinned.unwrap_or(self.seed)
    }

    /// Runs `f` on a rayon pool of exactly [`threads`](Self::threads)
    /// workers: the current pool when it has that size, else one built for
    /// this call (a few hundred microseconds), so `rayon::current_num_threads()`
    /// inside `f` is always the context's count.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> Result<R, Error> {
        let t = self.threads.max(1);
        if t == rayon::current_num_threads() {
            return Ok(f());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .map_err(|e| Error::Config(format!("cannot start {t} worker threads: {e}")))?;
        Ok(pool.install(f))
    }
}
