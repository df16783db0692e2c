//! What both optimisers share: where parallel work runs, the rating triples
//! they evaluate, per-epoch metrics. The epoch loop and early stopping are
//! `movierec_core::training`'s.

use movierec_core::metrics::Accumulator;
use movierec_core::{RatingMatrix, RatingScale, Ratings, SetMetrics, UserIdx};
use rayon::prelude::*;

use crate::{kernel, Error, Result};

/// Where the parallel parts of a fit run.
pub(crate) enum Exec {
    /// One thread, no rayon at all.
    Seq,
    /// The current rayon pool already has the requested thread count.
    Current,
    /// A pool built for this fit.
    Pool(rayon::ThreadPool),
}

impl Exec {
    /// `threads == 0` means the current pool's size. Returns the executor and
    /// the resolved thread count.
    pub fn new(threads: usize) -> Result<(Self, usize)> {
        let t = if threads == 0 {
            rayon::current_num_threads()
        } else {
            threads
        };
        let exec = if t == 1 {
            Exec::Seq
        } else if t == rayon::current_num_threads() {
            Exec::Current
        } else {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .map_err(|e| Error::ThreadPool {
                    threads: t,
                    message: e.to_string(),
                })?;
            Exec::Pool(pool)
        };
        Ok((exec, t))
    }

    pub fn parallel(&self) -> bool {
        !matches!(self, Exec::Seq)
    }

    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match self {
            Exec::Pool(pool) => pool.install(f),
            _ => f(),
        }
    }
}

/// Factors (in whatever row order the caller indexes them by) and biases.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub k: usize,
    pub p: &'a [f32],
    pub q: &'a [f32],
    /// Empty without biases.
    pub bu: &'a [f32],
    pub bi: &'a [f32],
    pub mu: f32,
}

/// A rating as `(user row, item row, value)` in a view's row order.
pub(crate) type Triple = (u32, u32, f32);

/// Metrics of `view` on `pairs`, plus the unclamped sum of squared errors.
/// Predictions are computed in parallel chunks (order kept) and summed
/// serially, so the result does not depend on the thread count.
pub(crate) fn evaluate(
    view: View<'_>,
    pairs: &[Triple],
    scale: RatingScale,
    parallel: bool,
    buf: &mut Vec<f32>,
) -> (SetMetrics, f64) {
    buf.clear();
    buf.resize(pairs.len(), 0.0);
    let fill = |(out, chunk): (&mut [f32], &[Triple])| {
        kernel::predict_pairs(
            view.k, view.p, view.q, view.bu, view.bi, view.mu, chunk, out,
        );
    };
    const CHUNK: usize = 4096;
    if parallel {
        buf.par_chunks_mut(CHUNK)
            .zip(pairs.par_chunks(CHUNK))
            .for_each(fill);
    } else {
        buf.chunks_mut(CHUNK)
            .zip(pairs.chunks(CHUNK))
            .for_each(fill);
    }
    let mut acc = Accumulator::default();
    let mut sse = 0.0f64;
    for (&p, &(_, _, r)) in buf.iter().zip(pairs) {
        acc.add(p, r, scale);
        let e = f64::from(r) - f64::from(p);
        sse += e * e;
    }
    (acc.finish(), sse)
}

/// The training ratings as triples in user-major order, external indices.
pub(crate) fn train_triples(train: &RatingMatrix) -> Vec<Triple> {
    let mut out = Vec::with_capacity(train.nnz());
    for u in 0..train.n_users() {
        let (items, values) = train.user_ratings(UserIdx(u as u32));
        out.extend(
            items
                .iter()
                .zip(values)
                .map(|(&i, &r)| (u as u32, i as u32, r)),
        );
    }
    out
}

/// The validation ratings as triples, checked against the index space.
pub(crate) fn validation_triples(
    validation: Option<&Ratings>,
    n_users: usize,
    n_items: usize,
) -> Result<Vec<Triple>> {
    let Some(v) = validation else {
        return Ok(Vec::new());
    };
    v.entries
        .iter()
        .map(|r| {
            if r.user.get() < n_users && r.item.get() < n_items {
                Ok((r.user.0, r.item.0, r.value))
            } else {
                Err(Error::ValidationOutOfRange {
                    user: r.user.0,
                    item: r.item.0,
                    n_users,
                    n_items,
                })
            }
        })
        .collect()
}
