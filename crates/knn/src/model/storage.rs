//! What the model stores and how it reads it: the training ratings in the
//! model's orientation ([`Oriented`]), the caches derived from the
//! similarity store (each list's preference order, the report
//! neighbourhood's cuts), the lookup of a row's rated neighbours of a
//! column, and the saved form ([`Stored`]).

use std::sync::OnceLock;

use movierec_core::{BiasBaseline, ItemIdx, RatingMatrix, RatingScale, UserIdx};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kernel::{intersect, Cand};
use super::{KScore, KnnModel};
use crate::config::{KnnConfig, Neighbourhood};
use crate::similarity::{by_preference, Lookup, Similarities};

/// The training ratings in the model's orientation (rows = users, columns =
/// items; swapped in user-based mode), with what prediction needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Oriented {
    pub(super) row_ptr: Vec<usize>,
    pub(super) row_cols: Vec<u32>,
    pub(super) row_values: Vec<f32>,
    pub(super) col_ptr: Vec<usize>,
    pub(super) col_rows: Vec<u32>,
    pub(super) col_mean: Vec<f32>,
    pub(super) baseline: BiasBaseline,
    pub(super) scale: RatingScale,
}

impl Oriented {
    pub(super) fn new(m: &RatingMatrix, baseline: BiasBaseline) -> Self {
        let mut row_ptr = vec![0];
        let (mut row_cols, mut row_values) =
            (Vec::with_capacity(m.nnz()), Vec::with_capacity(m.nnz()));
        for u in 0..m.n_users() {
            let (items, values) = m.user_ratings(UserIdx(u as u32));
            row_cols.extend(items.iter().map(|&i| i as u32));
            row_values.extend_from_slice(values);
            row_ptr.push(row_cols.len());
        }
        let mut col_ptr = vec![0];
        let mut col_rows = Vec::with_capacity(m.nnz());
        for i in 0..m.n_items() {
            col_rows.extend(
                m.item_ratings(ItemIdx(i as u32))
                    .0
                    .iter()
                    .map(|&u| u as u32),
            );
            col_ptr.push(col_rows.len());
        }
        let col_mean = (0..m.n_items())
            .map(|i| m.item_mean(ItemIdx(i as u32)))
            .collect();
        Self {
            row_ptr,
            row_cols,
            row_values,
            col_ptr,
            col_rows,
            col_mean,
            baseline,
            scale: m.scale(),
        }
    }

    #[inline]
    pub(super) fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let s = self.row_ptr[r]..self.row_ptr[r + 1];
        (&self.row_cols[s.clone()], &self.row_values[s])
    }

    #[inline]
    pub(super) fn col(&self, c: usize) -> &[u32] {
        &self.col_rows[self.col_ptr[c]..self.col_ptr[c + 1]]
    }

    pub(super) fn n_cols(&self) -> usize {
        self.col_ptr.len() - 1
    }

    pub(super) fn memory_bytes(&self) -> usize {
        (self.row_ptr.len() + self.col_ptr.len()) * 8
            + (self.row_cols.len()
                + self.row_values.len()
                + self.col_rows.len()
                + self.col_mean.len())
                * 4
            + (self.baseline.user_bias.len() + self.baseline.item_bias.len()) * 4
    }
}

/// A cache derived from the model on first use: not saved, not compared
/// (two models that differ only in it are equal), shown only as built or not.
#[derive(Clone)]
pub(super) struct Derived<T>(pub(super) OnceLock<T>);

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Self(OnceLock::new())
    }
}

impl<T> PartialEq for Derived<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let built = if self.0.get().is_some() {
            "built"
        } else {
            "not built"
        };
        write!(f, "Derived({built})")
    }
}

/// The head of every neighbour list in preference order (similarity
/// descending, then item ascending), as contiguous `(item, similarity)`
/// pairs, so a walk reads memory in order: the first K of each list for the
/// report neighbourhood (its cut looks no further), the first
/// [`PrefOrder::rated_cap`] for the rated one (a walk that runs past the head
/// falls back to a gather).
#[derive(Debug, Clone)]
pub(super) struct PrefOrder {
    ptr: Vec<usize>,
    items: Vec<u32>,
    sims: Vec<f32>,
}

impl PrefOrder {
    /// The head length kept for the rated neighbourhood: a few times K,
    /// at least 256 (tests go lower, to reach the gather fallback).
    pub(super) fn rated_cap(k: usize) -> usize {
        let head = k.saturating_mul(4);
        if cfg!(test) {
            head
        } else {
            head.max(256)
        }
    }

    fn build(sims: &Similarities, cap: usize) -> Self {
        let lists: Vec<Vec<(f32, u32)>> = (0..sims.n_items())
            .into_par_iter()
            .map(|col| {
                let (ni, ns) = sims.neighbours(col);
                let mut keys: Vec<(f32, u32)> =
                    ns.iter().copied().zip(ni.iter().copied()).collect();
                let by = |a: &(f32, u32), b: &(f32, u32)| by_preference(*a, *b);
                if cap < keys.len() {
                    if cap > 0 {
                        keys.select_nth_unstable_by(cap - 1, by);
                    }
                    keys.truncate(cap);
                }
                keys.sort_unstable_by(by);
                keys
            })
            .collect();
        let total = lists.iter().map(Vec::len).sum();
        let mut ptr = Vec::with_capacity(lists.len() + 1);
        ptr.push(0);
        let (mut items, mut sims) = (Vec::with_capacity(total), Vec::with_capacity(total));
        for l in lists {
            items.extend(l.iter().map(|x| x.1));
            sims.extend(l.iter().map(|x| x.0));
            ptr.push(items.len());
        }
        Self { ptr, items, sims }
    }

    /// The head of `col`'s list: items and similarities, best first.
    #[inline]
    pub(super) fn head(&self, col: usize) -> (&[u32], &[f32]) {
        let r = self.ptr[col]..self.ptr[col + 1];
        (&self.items[r.clone()], &self.sims[r])
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.ptr.len() * 8 + self.items.len() * 8
    }
}

/// What a saved model holds: everything but the derived lookup index.
#[derive(Serialize, Deserialize)]
pub(super) struct Stored {
    config: KnnConfig,
    k_scores: Vec<KScore>,
    n_items: usize,
    data: Oriented,
    sims: Similarities,
    cuts: Vec<Option<(f32, u32)>>,
}

impl From<Stored> for KnnModel {
    /// No check but the one the lookup index needs: a damaged store gets no
    /// index, and [`validate`](movierec_core::Recommender::validate) says
    /// what is wrong.
    fn from(s: Stored) -> Self {
        let lookup = if s.sims.is_consistent() {
            Lookup::build(&s.sims)
        } else {
            None
        };
        Self {
            config: s.config,
            k_scores: s.k_scores,
            n_items: s.n_items,
            data: s.data,
            sims: s.sims,
            cuts: s.cuts,
            lookup,
            pref: Derived::default(),
        }
    }
}

impl From<KnnModel> for Stored {
    fn from(m: KnnModel) -> Self {
        Self {
            config: m.config,
            k_scores: m.k_scores,
            n_items: m.n_items,
            data: m.data,
            sims: m.sims,
            cuts: m.cuts,
        }
    }
}

impl KnnModel {
    /// The rated items of `row` with a similarity to `col`, ascending: by
    /// the lookup index where there is one and the row is not much longer
    /// than the neighbour list, else by a sorted intersection.
    #[inline]
    pub(super) fn gather(&self, row: usize, col: usize, out: &mut Vec<Cand>) {
        let (ri, rv) = self.data.row(row);
        let (ni, ns) = self.sims.neighbours(col);
        match &self.lookup {
            Some(lk) if ri.len() <= 8 * ni.len() => {
                out.clear();
                for (&j, &r) in ri.iter().zip(rv) {
                    if let Some(sim) = lk.get(&self.sims, col, j) {
                        out.push(Cand { j, sim, r });
                    }
                }
            }
            _ => intersect(ri, rv, ni, ns, out),
        }
    }

    /// The preference order of every list, built on first call.
    pub(super) fn pref(&self) -> &PrefOrder {
        self.pref.0.get_or_init(|| {
            let cap = match self.config.neighbourhood {
                Neighbourhood::Report => self.config.k,
                Neighbourhood::Rated => PrefOrder::rated_cap(self.config.k),
            };
            PrefOrder::build(&self.sims, cap)
        })
    }

    /// The report neighbourhood's cut of every column for K = `self.k()`.
    pub(super) fn compute_cuts(&mut self) {
        if self.config.neighbourhood != Neighbourhood::Report {
            self.cuts.clear();
            return;
        }
        let k = self.config.k;
        let sims = &self.sims;
        self.cuts = (0..sims.n_items())
            .into_par_iter()
            .map_init(Vec::new, |keys: &mut Vec<(f32, u32)>, col| {
                let (ni, ns) = sims.neighbours(col);
                if ni.len() <= k {
                    return None;
                }
                keys.clear();
                keys.extend(ns.iter().copied().zip(ni.iter().copied()));
                keys.select_nth_unstable_by(k - 1, |a, b| by_preference(*a, *b));
                Some(keys[k - 1])
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use movierec_core::{Fit, NoopObserver, Rating, Ratings, Recommender, RunContext};

    /// Predictions through the lookup index equal those through sorted
    /// intersection, bit for bit, and the index is not saved.
    #[test]
    fn lookup_and_intersection_agree() {
        let mut t = Vec::new();
        for u in 0..40u32 {
            for i in 0..30u32 {
                if (u * 7 + i * 13) % 5 < 2 || u % 9 == 0 {
                    t.push(Rating::new(u, i, ((u + i) % 10 + 1) as f32 / 2.0));
                }
            }
        }
        let train = RatingMatrix::new(&Ratings::new(t, 40, 30, RatingScale::default())).unwrap();
        for cfg in [
            KnnConfig::default(),
            KnnConfig {
                k_grid: vec![],
                ..KnnConfig::report()
            },
        ] {
            let model = cfg
                .fit(&train, None, &RunContext::default(), &mut NoopObserver)
                .unwrap();
            assert!(model.lookup.is_some());
            let plain = KnnModel {
                lookup: None,
                ..model.clone()
            };
            for u in 0..40 {
                for i in 0..30 {
                    let (a, b) = (
                        model.predict(UserIdx(u), ItemIdx(i)),
                        plain.predict(UserIdx(u), ItemIdx(i)),
                    );
                    assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits));
                }
            }
            let json = serde_json::to_string(&model).unwrap();
            assert!(!json.contains("lookup"));
            assert_eq!(serde_json::from_str::<KnnModel>(&json).unwrap(), model);
        }
    }
}
