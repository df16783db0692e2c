//! DSGD building blocks for trainers outside this crate (the timely trainer
//! of `movierec-distributed`): one block's SGD pass with this crate's
//! kernel ([`SgdBlock`]), the epoch's block schedule ([`EpochSchedule`]) and
//! the learning-rate schedule ([`SgdConfig::block_step`](crate::SgdConfig::block_step)), so that a
//! distributed fit runs exactly the updates, chunk shuffles and block order
//! of [`SgdConfig`](crate::SgdConfig)'s own fit. Nothing here changes that fit.

use movierec_core::rng_for;
use rand::seq::SliceRandom;

use crate::kernel::{padded, BlockPass, Entry, CHUNK};
use crate::schedule::{chunk_stream, Schedule};

/// The padded row width of `k` factors: rows of `p` and `q` given to
/// [`SgdBlock::run`] are this many `f32` apart (the padding stays zero).
pub fn row_width(k: usize) -> usize {
    padded(k)
}

pub use crate::kernel::Step as BlockStep;

/// The ratings of one DSGD block and their chunk visiting order, as the
/// fit's layout keeps them: shuffled once when built, then walked in
/// 64-rating chunks whose order is reshuffled before every pass.
#[derive(Debug, Clone)]
pub struct SgdBlock {
    entries: Vec<Entry>,
    order: Vec<u32>,
}

impl SgdBlock {
    /// A block of `(user row, item row, rating)` triples, rows relative to
    /// the block's strata, shuffled once by the stream `stream` of `seed`.
    pub fn new(ratings: &[(u32, u32, f32)], seed: u64, stream: u64) -> Self {
        let mut entries: Vec<Entry> = ratings.iter().map(|&(u, i, r)| Entry { u, i, r }).collect();
        entries.shuffle(&mut rng_for(seed, stream));
        let order = (0..entries.len().div_ceil(CHUNK) as u32).collect();
        Self { entries, order }
    }

    /// Number of ratings.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the block has no rating.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The ratings in their stored order.
    pub fn ratings(&self) -> impl Iterator<Item = (u32, u32, f32)> + '_ {
        self.entries.iter().map(|e| (e.u, e.i, e.r))
    }

    /// The current chunk order (for a checkpoint).
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// Restores a chunk order saved by [`order`](Self::order); `false`
    /// (and no change) if it is not a permutation of this block's chunks.
    pub fn set_order(&mut self, order: Vec<u32>) -> bool {
        let mut seen = vec![false; self.order.len()];
        if order.len() != seen.len() {
            return false;
        }
        for &c in &order {
            match seen.get_mut(c as usize) {
                Some(s) if !*s => *s = true,
                _ => return false,
            }
        }
        self.order = order;
        true
    }

    /// Reshuffles the chunk order as the fit does for block `blk` (its
    /// index among all blocks) of `epoch` with `seed`, then runs one SGD
    /// pass: `p` holds the user rows and `q` the item rows, `width`
    /// ([`row_width`]) apart, `bu` and `bi` their biases (empty without
    /// biases). `preds` (one per rating, stored order) receives each
    /// rating's prediction before its update.
    ///
    /// # Panics
    /// If `preds` is not one per rating, or a row is out of `p` or `q`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        width: usize,
        p: &mut [f32],
        q: &mut [f32],
        bu: &mut [f32],
        bi: &mut [f32],
        step: BlockStep,
        (seed, epoch, blk): (u64, usize, usize),
        preds: &mut [f32],
    ) {
        assert_eq!(preds.len(), self.entries.len(), "one prediction per rating");
        self.order
            .shuffle(&mut rng_for(seed, chunk_stream(epoch, blk)));
        let biases = !bu.is_empty();
        BlockPass {
            k: width,
            p,
            q,
            bu,
            bi,
            entries: &self.entries,
            preds,
            order: &self.order,
            step,
            biases,
        }
        .run();
    }
}

/// The block order of one epoch, as the fit draws it: at step `t` user
/// stratum `a` runs item stratum [`item_stratum(a, t)`](Self::item_stratum).
pub struct EpochSchedule(Schedule);

impl EpochSchedule {
    /// The schedule of `epoch` (1-based) for `users x items` strata
    /// (`items` a multiple of `users`).
    pub fn new(users: usize, items: usize, seed: u64, epoch: usize) -> Self {
        Self(Schedule::for_epoch(users, items, seed, epoch))
    }

    /// The item stratum user stratum `a` runs at step `t`.
    pub fn item_stratum(&self, a: usize, t: usize) -> usize {
        self.0.item_stratum(a, t)
    }
}
