//! The estimate of one (row, column) pair: the centre `b(row, col)` of the
//! prediction form, the neighbourhood rule's cut among the candidates, and
//! the weighted mean of the chosen neighbours' residuals.

use movierec_core::{ItemIdx, UserIdx};

use super::kernel::{Buf, Cand, BUF};
use super::KnnModel;
use crate::config::{Neighbourhood, Prediction};
use crate::similarity::by_preference;

impl KnnModel {
    /// The centre `b(row, col)` of the prediction form.
    #[inline]
    pub(super) fn base(&self, row: usize, col: usize) -> f32 {
        match self.config.prediction {
            Prediction::Report => 0.0,
            Prediction::MeanCentred => self.data.col_mean[col],
            Prediction::Baseline => self
                .data
                .baseline
                .estimate(UserIdx(row as u32), ItemIdx(col as u32)),
        }
    }

    /// One neighbour's share of the numerator: `sim * (r - b(row, j))`.
    #[inline]
    pub(super) fn term(&self, row: usize, c: Cand) -> f64 {
        f64::from(c.sim) * (f64::from(c.r) - f64::from(self.base(row, c.j as usize)))
    }

    #[inline]
    pub(super) fn finish(&self, row: usize, col: usize, num: f64, den: f64) -> f32 {
        if den > 0.0 {
            (f64::from(self.base(row, col)) + num / den) as f32
        } else {
            f32::NAN
        }
    }

    /// The least-preferred `(sim, item)` the neighbourhood rule keeps among
    /// the candidates in `buf.cands` for column `col`, or `None` to keep all.
    pub(super) fn neighbourhood_cut(&self, col: usize, buf: &mut Buf) -> Option<(f32, u32)> {
        match self.config.neighbourhood {
            Neighbourhood::Report => self.cuts.get(col).copied().flatten(),
            Neighbourhood::Rated if buf.cands.len() > self.config.k => {
                buf.keys.clear();
                buf.keys.extend(buf.cands.iter().map(|c| (c.sim, c.j)));
                let k = self.config.k;
                buf.keys
                    .select_nth_unstable_by(k - 1, |a, b| by_preference(*a, *b));
                Some(buf.keys[k - 1])
            }
            Neighbourhood::Rated => None,
        }
    }

    /// The estimate from the candidates in `buf.cands` (ascending items):
    /// the neighbourhood rule picks among them, then the prediction form
    /// sums in ascending item order, as the accumulating scorer does.
    pub(super) fn estimate_candidates(&self, row: usize, col: usize, buf: &mut Buf) -> f32 {
        let cut = self.neighbourhood_cut(col, buf);
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for &c in &buf.cands {
            if cut.is_none_or(|cut| by_preference((c.sim, c.j), cut).is_le()) {
                num += self.term(row, c);
                den += f64::from(c.sim.abs());
            }
        }
        self.finish(row, col, num, den)
    }

    /// The estimate for (row, col) in the model's orientation; NaN without a
    /// neighbour.
    pub(super) fn estimate(&self, row: usize, col: usize, buf: &mut Buf) -> f32 {
        self.gather(row, col, &mut buf.cands);
        self.estimate_candidates(row, col, buf)
    }

    pub(super) fn estimate_one(&self, row: usize, col: usize) -> f32 {
        BUF.with(|b| self.estimate(row, col, &mut b.borrow_mut()))
    }
}
