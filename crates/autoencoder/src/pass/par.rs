//! Splitting a pass into tasks on the current rayon pool. Every task
//! computes values that depend on its own rows only, so the results are
//! the same bits however many threads run them (or none).

use rayon::prelude::*;

/// Least work (multiply-adds) worth a task of its own: smaller batches
/// (ml-latest-small's) run on the calling thread, with no overhead.
#[cfg(not(test))]
const MIN_TASK_WORK: usize = 1 << 20;
/// Unit tests split even small passes, so that they exercise the tasks.
#[cfg(test)]
const MIN_TASK_WORK: usize = 1 << 8;

/// Bounds (`tasks + 1` values, from 0 to `n`) of equal row ranges for
/// `work` in all: one range on one thread or for little work, else up
/// to four per thread.
pub fn chunks(n: usize, work: usize) -> Vec<usize> {
    let threads = rayon::current_num_threads();
    let tasks = if threads <= 1 {
        1
    } else {
        (work / MIN_TASK_WORK).clamp(1, 4 * threads).min(n.max(1))
    };
    (0..=tasks).map(|t| t * n / tasks).collect()
}

/// `s` cut into consecutive pieces of `lens` (their sum at most `s.len()`).
pub fn split<T>(mut s: &mut [T], lens: impl Iterator<Item = usize>) -> Vec<&mut [T]> {
    let mut out = Vec::new();
    for len in lens {
        let (head, tail) = std::mem::take(&mut s).split_at_mut(len);
        out.push(head);
        s = tail;
    }
    out
}

/// `f(index, part)` for every part: in parallel when there are several.
pub fn each<T: Send>(parts: Vec<T>, f: impl Fn(usize, T) + Sync) {
    if parts.len() <= 1 {
        parts.into_iter().enumerate().for_each(|(c, p)| f(c, p));
    } else {
        parts.into_par_iter().enumerate().for_each(|(c, p)| f(c, p));
    }
}
