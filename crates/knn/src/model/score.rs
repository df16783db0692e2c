//! Scoring every column of one row, with the bits one prediction at a time
//! gives: the choice of scorer ([`KnnModel::score_row`]), the accumulating
//! scorer, and the walk over the head of each column's preference order
//! (the rated neighbourhood's own scorers are in `rated`).

use super::kernel::{Buf, Cand, BUF};
use super::storage::PrefOrder;
use super::KnnModel;
use crate::config::Neighbourhood;
use crate::similarity::by_preference;

impl KnnModel {
    /// Scores every column for one row, all ways giving the bits `estimate`
    /// gives (the same neighbours, summed in ascending item order), by the
    /// cheapest of:
    /// - accumulating over the neighbour lists of the rated items,
    ///   `sum_j |N(j)|` steps, where the store is exact (symmetric): every
    ///   rated neighbour counts for the report neighbourhood (within its
    ///   cut); for the rated neighbourhood a first pass counts each column's
    ///   rated neighbours, the second sums the columns with at most K and
    ///   collects the others' candidates (in item order) to keep their K best;
    /// - walking the head of each column's list in preference order (built
    ///   once, on first need) and marking rated neighbours in a bitset over
    ///   the columns until K are found (rated neighbourhood) or the K-entry
    ///   head ends (report neighbourhood), then summing the marked ones in
    ///   item order: about `n_cols * K * n_cols / n_ratings` steps, short for
    ///   heavy rows whose rated items fill the head of every list (a column
    ///   whose head runs out first is gathered);
    /// - else, for a light row of a capped store, gathering column by
    ///   column: `n_cols * n_ratings` lookups.
    ///
    /// The rated neighbourhood on the exact store, for a row of more than K
    /// ratings, has its own two (in [`rated`](super::rated)): below `n_cols / 20` ratings
    /// the blocked sift ([`score_sift`](Self::score_sift)), above it the
    /// parallel walk with a cheap fallback ([`score_walk`](Self::score_walk)).
    ///
    /// Columns set in `skip` may be left unscored (NaN or anything): the
    /// walk skips them.
    pub(super) fn score_row(&self, row: usize, out: &mut [f32], skip: Option<&[u64]>) {
        let (ri, rv) = self.data.row(row);
        let n = self.data.n_cols();
        let k = self.config.k;
        let exact = self.config.max_neighbours.is_none();
        let report = self.config.neighbourhood == Neighbourhood::Report;
        let spread: usize = ri
            .iter()
            .map(|&j| self.sims.neighbours(j as usize).0.len())
            .sum();
        // Steps of a walk: each column's head up to K of the row's ratings,
        // spread evenly, then a gather where the head runs out.
        let walk_steps = if report {
            n.saturating_mul(k)
        } else {
            let head = PrefOrder::rated_cap(k);
            let per_col = k.saturating_mul(n) / ri.len().max(1);
            if per_col <= head {
                n.saturating_mul(per_col)
            } else {
                n.saturating_mul(head + ri.len())
            }
        };
        let accumulate_steps = if report || ri.len() <= k {
            spread
        } else {
            spread.saturating_mul(2)
        };
        if exact && !report && ri.len() > k {
            if ri.len().saturating_mul(20) >= n {
                self.score_walk(row, ri, rv, out, skip);
            } else {
                self.score_sift(row, ri, rv, out);
            }
        } else if exact && accumulate_steps <= walk_steps {
            self.score_accumulate(row, ri, rv, out);
        } else if !exact && ri.len().saturating_mul(n) <= walk_steps.min(self.sims.nnz()) {
            BUF.with(|b| {
                let buf = &mut b.borrow_mut();
                for (col, o) in out.iter_mut().enumerate() {
                    *o = self.estimate(row, col, buf);
                }
            });
        } else {
            let mut walk = Walk::new(self, row, ri, rv);
            for (col, o) in out.iter_mut().enumerate() {
                *o = walk.estimate(row, col);
            }
        }
    }

    /// The accumulating scorer of [`score_row`](Self::score_row) (exact
    /// store only).
    fn score_accumulate(&self, row: usize, ri: &[u32], rv: &[f32], out: &mut [f32]) {
        let n = self.data.n_cols();
        let k = self.config.k;
        let report = self.config.neighbourhood == Neighbourhood::Report;
        let mut num = vec![0.0f64; n];
        let mut den = vec![0.0f64; n];
        // Rated neighbourhood with more than K ratings: count first; the
        // columns with more than K rated neighbours get their candidates
        // collected at `start[m]..` instead of summed.
        let sift = !report && ri.len() > k;
        let mut start = Vec::new();
        let mut cands: Vec<Cand> = Vec::new();
        if sift {
            let mut count = vec![0u32; n];
            for &j in ri {
                for &m in self.sims.neighbours(j as usize).0 {
                    count[m as usize] += 1;
                }
            }
            start = vec![u32::MAX; n + 1];
            let mut total = 0u32;
            for (m, &c) in count.iter().enumerate() {
                if c as usize > k {
                    start[m] = total;
                    total += c;
                }
            }
            start[n] = total;
            cands.resize(
                total as usize,
                Cand {
                    j: 0,
                    sim: 0.0,
                    r: 0.0,
                },
            );
        }
        let mut fill = start.clone();
        for (&j, &r) in ri.iter().zip(rv) {
            let (ni, ns) = self.sims.neighbours(j as usize);
            for (&m, &s) in ni.iter().zip(ns) {
                let m = m as usize;
                if report {
                    if let Some(cut) = self.cuts[m] {
                        if by_preference((s, j), cut).is_gt() {
                            continue;
                        }
                    }
                } else if sift && fill[m] != u32::MAX {
                    cands[fill[m] as usize] = Cand { j, sim: s, r };
                    fill[m] += 1;
                    continue;
                }
                num[m] += self.term(row, Cand { j, sim: s, r });
                den[m] += f64::from(s.abs());
            }
        }
        let mut keys: Vec<(f32, u32)> = Vec::new();
        for (col, o) in out.iter_mut().enumerate() {
            if sift && start[col] != u32::MAX {
                // The K best of this column's candidates (in item order).
                let c = &cands[start[col] as usize..fill[col] as usize];
                keys.clear();
                keys.extend(c.iter().map(|c| (c.sim, c.j)));
                keys.select_nth_unstable_by(k - 1, |a, b| by_preference(*a, *b));
                let cut = keys[k - 1];
                let (mut sn, mut sd) = (0.0f64, 0.0f64);
                for &c in c {
                    if by_preference((c.sim, c.j), cut).is_le() {
                        sn += self.term(row, c);
                        sd += f64::from(c.sim.abs());
                    }
                }
                *o = self.finish(row, col, sn, sd);
            } else {
                *o = self.finish(row, col, num[col], den[col]);
            }
        }
    }
}

impl KnnModel {
    /// The row's residuals `r - b(row, j)` by column (as [`KnnModel::term`]
    /// computes them, NaN where unrated) and one bit per column it rated:
    /// the per-row state of both column walks.
    pub(super) fn residuals(&self, row: usize, ri: &[u32], rv: &[f32]) -> (Vec<f64>, Vec<u64>) {
        let n = self.data.n_cols();
        let mut resid = vec![f64::NAN; n];
        let mut rated = vec![0u64; n.div_ceil(64)];
        for (&j, &r) in ri.iter().zip(rv) {
            let j = j as usize;
            resid[j] = f64::from(r) - f64::from(self.base(row, j));
            rated[j / 64] |= 1 << (j % 64);
        }
        (resid, rated)
    }
}

/// Scores columns of one row by walking the heads of their lists in
/// preference order (see [`KnnModel::score_row`]).
struct Walk<'a> {
    model: &'a KnnModel,
    pref: &'a PrefOrder,
    /// `r - b(row, j)` of each rated column `j` (as [`KnnModel::term`]
    /// computes it), NaN where unrated.
    resid: Vec<f64>,
    /// One bit per column: rated by the row (a small, cache-resident test).
    rated: Vec<u64>,
    /// One bit per column: a chosen neighbour of the current target.
    bits: Vec<u64>,
    /// The chosen neighbours' similarities, by column.
    sim: Vec<f32>,
    /// Buffers of the gather fallback.
    buf: Buf,
}

impl<'a> Walk<'a> {
    fn new(model: &'a KnnModel, row: usize, ri: &[u32], rv: &[f32]) -> Self {
        let n = model.data.n_cols();
        let (resid, rated) = model.residuals(row, ri, rv);
        Self {
            model,
            pref: model.pref(),
            resid,
            rated,
            bits: vec![0; n.div_ceil(64)],
            sim: vec![0.0; n],
            buf: Buf::default(),
        }
    }

    /// The estimate for (row, col): the same neighbours as
    /// [`KnnModel::estimate_candidates`] picks, summed in the same
    /// (ascending item) order, so the same bits.
    fn estimate(&mut self, row: usize, col: usize) -> f32 {
        let m = self.model;
        let k = m.config.k;
        let rated_rule = m.config.neighbourhood == Neighbourhood::Rated;
        let (hi, hs) = self.pref.head(col);
        let (mut found, mut lo_w, mut hi_w) = (0usize, usize::MAX, 0usize);
        let mut complete = false;
        for (&j, &s) in hi.iter().zip(hs) {
            let j = j as usize;
            if self.rated[j / 64] >> (j % 64) & 1 != 0 {
                self.bits[j / 64] |= 1 << (j % 64);
                self.sim[j] = s;
                lo_w = lo_w.min(j / 64);
                hi_w = hi_w.max(j / 64);
                found += 1;
                if rated_rule && found == k {
                    complete = true;
                    break;
                }
            }
        }
        // The report rule's head is its whole neighbourhood; the rated rule
        // is done when it found K or its head is the whole list.
        let complete = complete || !rated_rule || hi.len() == m.sims.neighbours(col).0.len();
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for w in lo_w..hi_w.wrapping_add(1).max(lo_w) {
            let mut x = std::mem::take(&mut self.bits[w]);
            while x != 0 {
                let j = w * 64 + x.trailing_zeros() as usize;
                x &= x - 1;
                let s = self.sim[j];
                num += f64::from(s) * self.resid[j];
                den += f64::from(s.abs());
            }
        }
        if complete {
            m.finish(row, col, num, den)
        } else {
            m.estimate(row, col, &mut self.buf)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KnnConfig;
    use movierec_core::{
        Fit, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings, Recommender, RunContext,
        UserIdx,
    };

    /// 60 users x 50 items, user u rating about u / 60 of the items, so
    /// rows run from light to nearly full.
    fn train() -> RatingMatrix {
        let mut t = Vec::new();
        for u in 0..60u32 {
            for i in 0..50u32 {
                if (u * 31 + i * 17) % 60 < u.max(3) {
                    t.push(Rating::new(u, i, ((u * 3 + i * 7) % 10 + 1) as f32 / 2.0));
                }
            }
        }
        RatingMatrix::new(&Ratings::new(t, 60, 50, RatingScale::default())).unwrap()
    }

    /// Every way of scoring (accumulate, walk, gather) gives the bits of
    /// one prediction at a time, for both neighbourhoods, exact and capped
    /// stores, and Ks below and above the row lengths.
    #[test]
    fn walk_and_score_into_match_predictions_bitwise() {
        let train = train();
        for neighbourhood in [Neighbourhood::Rated, Neighbourhood::Report] {
            for max_neighbours in [None, Some(7)] {
                for k in [1, 3, 10, 30, 80] {
                    let cfg = KnnConfig {
                        k,
                        neighbourhood,
                        max_neighbours,
                        keep_negative: neighbourhood == Neighbourhood::Report,
                        ..KnnConfig::default()
                    };
                    let model = cfg
                        .fit(&train, None, &RunContext::default(), &mut NoopObserver)
                        .unwrap();
                    let mut out = vec![0.0f32; 50];
                    for u in 0..60 {
                        let want: Vec<u32> = (0..50)
                            .map(|i| model.estimate_one(u, i).to_bits())
                            .collect();
                        let (ri, rv) = model.data.row(u);
                        let mut walk = Walk::new(&model, u, ri, rv);
                        let walked: Vec<u32> =
                            (0..50).map(|i| walk.estimate(u, i).to_bits()).collect();
                        assert_eq!(walked, want, "walk: {cfg:?}, user {u}");
                        model.score_into(UserIdx(u as u32), &mut out);
                        let scored: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
                        assert_eq!(scored, want, "score_into: {cfg:?}, user {u}");
                        // Top-N skips the seen columns, and keeps the rest.
                        let mut unseen: Vec<(u32, f32)> = (0..50u32)
                            .filter(|i| !ri.contains(i))
                            .map(|i| (i, out[i as usize]))
                            .filter(|x| x.1.is_finite())
                            .collect();
                        unseen.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                        unseen.truncate(7);
                        let top: Vec<(u32, f32)> = model
                            .recommend(UserIdx(u as u32), 7, &train)
                            .into_iter()
                            .map(|(i, s)| (i.0, s))
                            .collect();
                        assert_eq!(top, unseen, "recommend: {cfg:?}, user {u}");
                        // The rated neighbourhood's scorers, whichever
                        // score_row would pick: the walk on any store, the
                        // sift on the exact (symmetric) one.
                        if neighbourhood == Neighbourhood::Rated {
                            model.score_walk(u, ri, rv, &mut out, None);
                            let walked: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
                            assert_eq!(walked, want, "score_walk: {cfg:?}, user {u}");
                            if max_neighbours.is_none() && ri.len() > k {
                                model.score_sift(u, ri, rv, &mut out);
                                let sifted: Vec<u32> = out.iter().map(|x| x.to_bits()).collect();
                                assert_eq!(sifted, want, "score_sift: {cfg:?}, user {u}");
                            }
                        }
                    }
                    assert!(model.pref.0.get().is_some(), "the walk built its order");
                    let json = serde_json::to_string(&model).unwrap();
                    let back = serde_json::from_str::<KnnModel>(&json).unwrap();
                    assert!(back.pref.0.get().is_none(), "the order is not saved");
                    assert_eq!(back, model);
                }
            }
        }
    }
}
