//! Choosing K on validation (`--k auto`): the score of each candidate K
//! ([`KScore`]), every K of the grid computed from one sorted candidate list
//! per validation pair.

use movierec_core::{ItemIdx, Ratings, SetMetrics, UserIdx};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kernel::Buf;
use super::KnnModel;
use crate::config::Neighbourhood;
use crate::similarity::by_preference;

/// The validation score of one candidate K (`--k auto`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KScore {
    /// The candidate K.
    pub k: usize,
    /// Metrics on the validation set, the model's own bias baseline standing
    /// in where KNN has no estimate.
    pub validation: SetMetrics,
}

/// The report neighbourhood's cut of one target: its K-th neighbour in
/// preference order, `None` when it has at most K.
type Cut = Option<(f32, u32)>;

impl KnnModel {
    /// Validation metrics of every K in `grid`: each pair's candidates are
    /// sorted once in preference order, and every K takes a prefix of them
    /// (the K best for the rated neighbourhood; those inside the target's
    /// top K for the report's).
    pub(super) fn grid_scores(&self, validation: &Ratings, grid: &[usize]) -> Vec<KScore> {
        let orient = |u: UserIdx, i: ItemIdx| {
            if self.config.user_based {
                (i.get(), u.get())
            } else {
                (u.get(), i.get())
            }
        };
        // Report neighbourhood: the cut of each validation target for each K.
        let mut cuts: Vec<Option<Vec<Cut>>> = vec![None; self.data.n_cols()];
        if self.config.neighbourhood == Neighbourhood::Report {
            let mut cols: Vec<usize> = validation
                .entries
                .iter()
                .map(|r| orient(r.user, r.item).1)
                .collect();
            cols.sort_unstable();
            cols.dedup();
            let computed: Vec<(usize, Vec<Cut>)> = cols
                .into_par_iter()
                .map(|col| {
                    let (ni, ns) = self.sims.neighbours(col);
                    let mut keys: Vec<(f32, u32)> =
                        ns.iter().copied().zip(ni.iter().copied()).collect();
                    keys.sort_unstable_by(|a, b| by_preference(*a, *b));
                    (
                        col,
                        grid.iter()
                            .map(|&k| (k < keys.len()).then(|| keys[k - 1]))
                            .collect(),
                    )
                })
                .collect();
            for (col, c) in computed {
                cuts[col] = Some(c);
            }
        }
        let preds: Vec<Vec<f32>> = validation
            .entries
            .par_iter()
            .map_init(Buf::default, |buf, r| {
                let (row, col) = orient(r.user, r.item);
                let fallback = self
                    .data
                    .baseline
                    .estimate(UserIdx(row as u32), ItemIdx(col as u32));
                self.gather(row, col, &mut buf.cands);
                buf.cands
                    .sort_unstable_by(|a, b| by_preference((a.sim, a.j), (b.sim, b.j)));
                let (mut num, mut den) = (
                    Vec::with_capacity(buf.cands.len() + 1),
                    Vec::with_capacity(buf.cands.len() + 1),
                );
                let (mut sn, mut sd) = (0.0f64, 0.0f64);
                num.push(0.0);
                den.push(0.0);
                for &c in &buf.cands {
                    sn += self.term(row, c);
                    sd += f64::from(c.sim.abs());
                    num.push(sn);
                    den.push(sd);
                }
                grid.iter()
                    .enumerate()
                    .map(|(g, &k)| {
                        let len = match &cuts[col] {
                            Some(cs) => match cs[g] {
                                Some(cut) => buf
                                    .cands
                                    .partition_point(|c| by_preference((c.sim, c.j), cut).is_le()),
                                None => buf.cands.len(),
                            },
                            None => k.min(buf.cands.len()),
                        };
                        let p = self.finish(row, col, num[len], den[len]);
                        if p.is_finite() {
                            p
                        } else {
                            fallback
                        }
                    })
                    .collect()
            })
            .collect();
        grid.iter()
            .enumerate()
            .map(|(g, &k)| KScore {
                k,
                validation: SetMetrics::compute(
                    preds
                        .iter()
                        .zip(&validation.entries)
                        .map(|(p, r)| (p[g], r.value)),
                    self.data.scale,
                ),
            })
            .collect()
    }
}
