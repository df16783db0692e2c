//! The order of a DSGD epoch's blocks ([`Schedule`]): which item stratum
//! each user stratum runs at each step, and which blocks a block waits for.

use rand::seq::SliceRandom;

/// The order of an epoch's blocks: at step `t` (of `I`), user stratum `a`
/// runs item stratum `perm[(a I / U + t) mod I]`, with `perm` a permutation
/// of the item strata drawn per epoch, so the `U` blocks of a step share no
/// row. Block `(a, t)` must follow `(a, t - 1)`, the last block of its user
/// stratum, and `(a + 1, t - I / U)`, the last block of its item stratum.
/// Run in any order that keeps those two, an epoch updates every row in the
/// same sequence, so a fit never depends on timing (LIBMF's scheduler
/// instead picks free blocks at run time). User stratum `a` can thus run
/// up to `I / U - 1` steps ahead of stratum `a + 1`.
pub(crate) struct Schedule {
    pub users: usize,
    pub items: usize,
    perm: Vec<usize>,
}

/// The random stream of epoch `epoch`'s block order.
pub(crate) fn epoch_stream(epoch: usize) -> u64 {
    (epoch as u64) << 32
}

/// The random stream of block `blk`'s chunk order in epoch `epoch`.
pub(crate) fn chunk_stream(epoch: usize, blk: usize) -> u64 {
    epoch_stream(epoch) | (blk as u64 + 1)
}

impl Schedule {
    /// The block order of `epoch` (1-based) for `users x items` strata.
    pub fn for_epoch(users: usize, items: usize, seed: u64, epoch: usize) -> Self {
        Self::new(
            users,
            items,
            movierec_core::rng_for(seed, epoch_stream(epoch)),
        )
    }

    pub fn new(users: usize, items: usize, mut rng: movierec_core::Rng) -> Self {
        let mut perm: Vec<usize> = (0..items).collect();
        perm.shuffle(&mut rng);
        Self { users, items, perm }
    }

    fn spread(&self) -> usize {
        self.items / self.users
    }

    pub fn item_stratum(&self, a: usize, t: usize) -> usize {
        self.perm[(a * self.spread() + t) % self.items]
    }

    /// How many blocks a step `t` block follows (0 to 2).
    pub fn waits_for(&self, t: usize) -> u8 {
        u8::from(t > 0) + u8::from(t >= self.spread())
    }

    /// The next block of the item stratum that `(a, t)` runs, if any.
    pub fn next_of_item(&self, a: usize, t: usize) -> Option<(usize, usize)> {
        let t2 = t + self.spread();
        (t2 < self.items).then(|| ((a + self.users - 1) % self.users, t2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use movierec_core::rng_for;

    /// Every block once per epoch; the blocks of a step on distinct item
    /// strata; each item stratum handed from block to block along
    /// `next_of_item`, and `waits_for` counting exactly the blocks a block
    /// follows.
    #[test]
    fn schedule_orders_every_block_once_by_its_strata() {
        for users in 1..=5 {
            for spread in 1..=4 {
                let items = users * spread;
                for seed in 0..4 {
                    let s = Schedule::new(users, items, rng_for(seed, 1));
                    let mut seen = vec![false; users * items];
                    let mut last: Vec<Option<(usize, usize)>> = vec![None; items];
                    for t in 0..items {
                        let mut step: Vec<usize> =
                            (0..users).map(|a| s.item_stratum(a, t)).collect();
                        for (a, &c) in step.iter().enumerate() {
                            assert!(!std::mem::replace(&mut seen[a * items + c], true));
                            let follows = u8::from(t > 0) + u8::from(last[c].is_some());
                            assert_eq!(s.waits_for(t), follows, "U {users}, I {items}, ({a}, {t})");
                            if let Some((a0, t0)) = last[c] {
                                assert_eq!(s.next_of_item(a0, t0), Some((a, t)));
                            }
                            last[c] = Some((a, t));
                        }
                        step.sort_unstable();
                        step.dedup();
                        assert_eq!(step.len(), users);
                    }
                    assert!(seen.iter().all(|&x| x));
                    for &(a, t) in last.iter().flatten() {
                        assert_eq!(s.next_of_item(a, t), None);
                    }
                }
            }
        }
    }
}
