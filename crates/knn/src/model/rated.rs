//! Scoring one row for the rated neighbourhood (the K most similar among
//! the rated items) when the row has more than K ratings: see
//! [`KnnModel::score_sift`] and [`KnnModel::score_walk`].

use rayon::prelude::*;

use super::kernel::Buf;
use super::storage::PrefOrder;
use super::KnnModel;

/// Columns per parallel task of the walk: large enough that a task's
/// set-up (its own buffers) is noise, small enough to balance the threads.
const CHUNK: usize = 1024;

/// Columns per block of the sift: its candidates' keys stay within the
/// cache (about 0.5 MB for a row of 400 ratings on ml-latest-small).
const BLOCK: usize = 512;

/// A sift column's state: summed as it goes (at most K candidates), or
/// done by a walk; any other value is a position in the keys.
const SUM: u32 = u32::MAX;
const DONE: u32 = u32::MAX - 1;

/// A similarity and an item as one integer whose ascending order is the
/// preference order of `by_preference` (similarity descending by
/// `total_cmp`, then item ascending), so a selection compares integers.
#[inline]
fn pref_key(s: f32, j: u32) -> u64 {
    let b = s.to_bits() as i32;
    // `f32::total_cmp`'s key, ascending as i32; as u32 with the sign bit
    // flipped; inverted for descending similarity.
    let asc = (b ^ (((b >> 31) as u32) >> 1) as i32) as u32 ^ 0x8000_0000;
    (u64::from(!asc) << 32) | u64::from(j)
}

/// The similarity and item of a [`pref_key`].
#[inline]
fn unkey(key: u64) -> (f32, u32) {
    let t = (!((key >> 32) as u32) ^ 0x8000_0000) as i32;
    let b = t ^ (((t >> 31) as u32) >> 1) as i32;
    (f32::from_bits(b as u32), key as u32)
}

/// What every column of one row reads: the row's residuals and its rated
/// columns as a bitset.
struct Row<'a> {
    row: usize,
    n_rated: usize,
    /// `r - b(row, j)` of each rated column `j` (as [`KnnModel::term`]
    /// computes it), NaN where unrated.
    resid: Vec<f64>,
    /// One bit per column: rated by the row (1.2 KB for 9,724 items).
    rated: Vec<u64>,
    /// The best-first heads, where walks run.
    pref: Option<&'a PrefOrder>,
}

impl<'a> Row<'a> {
    fn new(
        model: &KnnModel,
        row: usize,
        ri: &[u32],
        rv: &[f32],
        pref: Option<&'a PrefOrder>,
    ) -> Self {
        let (resid, rated) = model.residuals(row, ri, rv);
        Self {
            row,
            n_rated: ri.len(),
            resid,
            rated,
            pref,
        }
    }

    #[inline]
    fn is_rated(&self, j: usize) -> bool {
        self.rated[j / 64] >> (j % 64) & 1 != 0
    }
}

/// A walk's marks: one bit per column, and the marked columns'
/// similarities by column (allocated on first use).
#[derive(Default)]
struct Marks {
    bits: Vec<u64>,
    sim: Vec<f32>,
}

/// Walks a best-first head (`hi`, `hs`) to its K-th rated item, marking
/// the rated items it passes in `m`, and returns the span of words marked
/// (`lo..=hi`, empty when none is); with fewer than K rated in the head,
/// the same when `whole` (the head is the whole list), else `None` (nothing
/// left marked). The step is branch-free but for the stop at K: every
/// similarity is written, only rated items marked.
#[inline(always)]
fn walk_mark(
    st: &Row<'_>,
    k: usize,
    hi: &[u32],
    hs: &[f32],
    whole: bool,
    m: &mut Marks,
) -> Option<(usize, usize)> {
    if m.sim.is_empty() {
        m.sim = vec![0.0; st.resid.len()];
        m.bits = vec![0; st.rated.len()];
    }
    let (mut found, mut lo_w, mut hi_w) = (0usize, usize::MAX, 0usize);
    let (rated, bits, sim) = (&st.rated[..], &mut m.bits[..], &mut m.sim[..]);
    for (&j, &s) in hi.iter().zip(hs) {
        let j = j as usize;
        let w = j / 64;
        let hit = rated[w] >> (j % 64) & 1;
        bits[w] |= hit << (j % 64);
        sim[j] = s;
        found += hit as usize;
        lo_w = lo_w.min(if hit != 0 { w } else { usize::MAX });
        hi_w = hi_w.max(if hit != 0 { w } else { 0 });
        if found == k {
            break;
        }
    }
    if found < k && !whole {
        if found > 0 {
            bits[lo_w..=hi_w].fill(0);
        }
        return None;
    }
    Some((lo_w, hi_w))
}

/// Walks a best-first head (`hi`, `hs`) to its K-th rated item and returns
/// the numerator and denominator of the K, summed in item order; with
/// fewer than K rated in the head, the same over those it holds when
/// `whole` (the head is the whole list), else `None` (see [`walk_mark`]).
#[inline]
fn walk_head(
    st: &Row<'_>,
    k: usize,
    hi: &[u32],
    hs: &[f32],
    whole: bool,
    m: &mut Marks,
) -> Option<(f64, f64)> {
    let (lo_w, hi_w) = walk_mark(st, k, hi, hs, whole, m)?;
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for w in lo_w..hi_w.wrapping_add(1).max(lo_w) {
        let mut x = std::mem::take(&mut m.bits[w]);
        while x != 0 {
            let j = w * 64 + x.trailing_zeros() as usize;
            x &= x - 1;
            let s = m.sim[j];
            num += f64::from(s) * st.resid[j];
            den += f64::from(s.abs());
        }
    }
    Some((num, den))
}

/// Columns whose sums run side by side in [`Lanes`].
const LANES: usize = 8;

/// The terms of up to [`LANES`] walked columns, each in item order, laid
/// out term by term (`[t * LANES + lane]`), so that their sums run side by
/// side: each column's sum is still one sequential sum in item order (the
/// same bits), but the columns no longer wait on one another's additions.
#[derive(Default)]
struct Lanes {
    used: usize,
    cols: [usize; LANES],
    len: [usize; LANES],
    /// Similarities and residuals (`r - b(row, j)`).
    s: Vec<f64>,
    r: Vec<f64>,
}

impl Lanes {
    /// Room for columns of up to `k` terms.
    fn reserve(&mut self, k: usize) {
        let n = k.max(1) * LANES;
        if self.s.len() < n {
            self.s.resize(n, 0.0);
            self.r.resize(n, 0.0);
        }
    }

    /// Takes the marked items of words `lo_w..=hi_w` (at most K) as the
    /// terms of `col`, clearing the marks.
    #[inline(always)]
    fn push(&mut self, st: &Row<'_>, m: &mut Marks, (lo_w, hi_w): (usize, usize), col: usize) {
        let l = self.used;
        let (s, r) = (&mut self.s[..], &mut self.r[..]);
        let mut t = l;
        for w in lo_w..hi_w.wrapping_add(1).max(lo_w) {
            let mut x = std::mem::take(&mut m.bits[w]);
            while x != 0 {
                let j = w * 64 + x.trailing_zeros() as usize;
                x &= x - 1;
                s[t] = f64::from(m.sim[j]);
                r[t] = st.resid[j];
                t += LANES;
            }
        }
        self.len[l] = t / LANES;
        self.cols[l] = col;
        self.used += 1;
    }

    /// Sums the columns held and writes their estimates into `out` (whose
    /// first column is `lo`). A shorter column is padded with `0 * 0`,
    /// which leaves its sums as they are (a sum that starts at +0 is never
    /// -0, so adding +0 changes no bit).
    #[inline(always)]
    fn flush(&mut self, model: &KnnModel, row: usize, lo: usize, out: &mut [f32]) {
        let used = self.used;
        if used == 0 {
            return;
        }
        let max = self.len[..used].iter().copied().max().unwrap_or(0);
        for l in 0..used {
            for t in self.len[l]..max {
                self.s[t * LANES + l] = 0.0;
                self.r[t * LANES + l] = 0.0;
            }
        }
        let (mut num, mut den) = ([0.0f64; LANES], [0.0f64; LANES]);
        for (s, r) in self.s[..max * LANES]
            .chunks_exact(LANES)
            .zip(self.r[..max * LANES].chunks_exact(LANES))
        {
            for l in 0..LANES {
                num[l] += s[l] * r[l];
                den[l] += s[l].abs();
            }
        }
        for l in 0..used {
            let col = self.cols[l];
            out[col - lo] = model.finish(row, col, num[l], den[l]);
        }
        self.used = 0;
    }
}

/// Per-task buffers of the sift.
#[derive(Default)]
struct Sift {
    /// Per rated item, its list's slice inside the block.
    seg: Vec<(u32, u32)>,
    /// Per column of the block: its count, then its segment's fill point.
    fill: Vec<u32>,
    start: Vec<u32>,
    keys: Vec<u64>,
    /// A copy of one column's keys for the selection.
    sel: Vec<u64>,
    walk: Marks,
    num: Vec<f64>,
    den: Vec<f64>,
}

/// Per-task buffers of the walk.
#[derive(Default)]
struct Scratch {
    walk: Marks,
    lanes: Lanes,
    /// The fallback's candidates (ascending items) and keys.
    cands: Vec<(u32, f32)>,
    keys: Vec<u64>,
    buf: Buf,
}

impl KnnModel {
    /// Rated neighbourhood, exact store, a row of more than K ratings:
    /// accumulates over the neighbour lists of the rated items, one block
    /// of [`BLOCK`] columns at a time (each rated item's list sliced to the
    /// block by binary search), so that every write stays in cache. Per
    /// block, a first pass counts each column's rated neighbours; the
    /// second sums the columns with at most K straight away and writes the
    /// others' candidates, as preference keys (8 bytes), to a segment per
    /// column, which is then cut to its K best by a selection on integers,
    /// sorted back to item order and summed. `2 * sum_j |N(j)|` steps plus
    /// the selections; the same bits as [`estimate`](Self::estimate) (the
    /// same neighbours, summed in ascending item order). Blocks are
    /// independent, so they run in parallel; each column is computed by one
    /// task alone, so the scores do not depend on the thread count.
    pub(super) fn score_sift(&self, row: usize, ri: &[u32], rv: &[f32], out: &mut [f32]) {
        let st = Row::new(self, row, ri, rv, Some(self.pref()));
        out.par_chunks_mut(BLOCK)
            .enumerate()
            .for_each_init(Sift::default, |sc, (b, chunk)| {
                self.sift_block(&st, ri, b * BLOCK, chunk, sc)
            });
    }

    /// One block of [`score_sift`](Self::score_sift): columns
    /// `lo..lo + out.len()`.
    fn sift_block(&self, st: &Row<'_>, ri: &[u32], lo: usize, out: &mut [f32], sc: &mut Sift) {
        let k = self.config.k;
        let (nb, hi) = (out.len(), lo + out.len());
        sc.seg.clear();
        sc.fill.clear();
        sc.fill.resize(nb, 0);
        for &j in ri {
            let ni = self.sims.neighbours(j as usize).0;
            let a = ni.partition_point(|&m| (m as usize) < lo);
            let b = a + ni[a..].partition_point(|&m| (m as usize) < hi);
            sc.seg.push((a as u32, b as u32));
            for &m in &ni[a..b] {
                sc.fill[m as usize - lo] += 1;
            }
        }
        // Columns with more than K candidates get a segment of `keys`,
        // `start[c]..fill[c]` once filled; the others are summed.
        // A column with more than K whose best-first head likely holds K
        // rated items (`K * len / count` within the head) is walked; the
        // others with more than K get a segment of `keys`,
        // `start[c]..fill[c]` once filled; the rest are summed.
        sc.start.clear();
        let mut total = 0u32;
        for (c, f) in sc.fill.iter_mut().enumerate() {
            let count = *f as usize;
            if count <= k {
                sc.start.push(SUM);
                *f = SUM;
                continue;
            }
            if let Some(pref) = st.pref {
                let col = lo + c;
                let (hi, hs) = pref.head(col);
                let len = self.sims.neighbours(col).0.len();
                if k.saturating_mul(len) / count <= hi.len() {
                    if let Some((num, den)) =
                        walk_head(st, k, hi, hs, hi.len() == len, &mut sc.walk)
                    {
                        out[c] = self.finish(st.row, col, num, den);
                        sc.start.push(DONE);
                        *f = DONE;
                        continue;
                    }
                }
            }
            sc.start.push(total);
            *f = total;
            total += count as u32;
        }
        sc.keys.clear();
        sc.keys.resize(total as usize, 0);
        sc.num.clear();
        sc.num.resize(nb, 0.0);
        sc.den.clear();
        sc.den.resize(nb, 0.0);
        for (&j, &(a, b)) in ri.iter().zip(&sc.seg) {
            let rj = st.resid[j as usize];
            let (ni, ns) = self.sims.neighbours(j as usize);
            let r = a as usize..b as usize;
            for (&m, &s) in ni[r.clone()].iter().zip(&ns[r]) {
                let c = m as usize - lo;
                let f = sc.fill[c];
                if f == SUM {
                    sc.num[c] += f64::from(s) * rj;
                    sc.den[c] += f64::from(s.abs());
                } else if f != DONE {
                    sc.keys[f as usize] = pref_key(s, j);
                    sc.fill[c] = f + 1;
                }
            }
        }
        for (c, o) in out.iter_mut().enumerate() {
            let s0 = sc.start[c];
            if s0 == SUM {
                *o = self.finish(st.row, lo + c, sc.num[c], sc.den[c]);
                continue;
            }
            if s0 == DONE {
                continue;
            }
            let seg = &sc.keys[s0 as usize..sc.fill[c] as usize];
            sc.sel.clear();
            sc.sel.extend_from_slice(seg);
            let cut = *sc.sel.select_nth_unstable(k - 1).1;
            let (mut sn, mut sd) = (0.0f64, 0.0f64);
            for &x in seg {
                if x <= cut {
                    let (s, j) = unkey(x);
                    sn += f64::from(s) * st.resid[j as usize];
                    sd += f64::from(s.abs());
                }
            }
            *o = self.finish(st.row, lo + c, sn, sd);
        }
    }

    /// Rated neighbourhood, a row of more than K ratings: walks the
    /// best-first head of each column's list (built once, on first need),
    /// marking rated items in a bitset over the columns until the K-th,
    /// then sums the marked ones in item order: about
    /// `n_cols * K * n_cols / n_ratings` steps, short for heavy rows whose
    /// rated items fill the head of every list. A column whose head runs
    /// out first scans its whole list against the rated bitset (or, when
    /// the list is much longer than the row, looks the rated items up), and
    /// keeps the K best by a selection. Columns are independent, so they
    /// run in parallel chunks; each column is computed by one task alone, so
    /// the scores do not depend on the thread count.
    ///
    /// Columns set in `skip` are not scored (NaN).
    pub(super) fn score_walk(
        &self,
        row: usize,
        ri: &[u32],
        rv: &[f32],
        out: &mut [f32],
        skip: Option<&[u64]>,
    ) {
        let pref = self.pref();
        let st = Row::new(self, row, ri, rv, Some(pref));
        let arch = pulp::Arch::new();
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each_init(Scratch::default, |sc, (c, chunk)| {
                arch.dispatch(WalkChunk {
                    model: self,
                    st: &st,
                    pref,
                    lo: c * CHUNK,
                    out: chunk,
                    skip,
                    sc,
                });
            });
    }

    /// The estimate of one column whose head ran out before its K-th rated
    /// item (see [`score_walk`](Self::score_walk)).
    fn walk_fallback(&self, st: &Row<'_>, col: usize, sc: &mut Scratch) -> f32 {
        let k = self.config.k;
        let (ni, ns) = self.sims.neighbours(col);
        if ni.len() > 16 * st.n_rated {
            return self.estimate(st.row, col, &mut sc.buf);
        }
        sc.cands.clear();
        for (&j, &s) in ni.iter().zip(ns) {
            if st.is_rated(j as usize) {
                sc.cands.push((j, s));
            }
        }
        let cut = if sc.cands.len() > k {
            sc.keys.clear();
            sc.keys
                .extend(sc.cands.iter().map(|&(j, s)| pref_key(s, j)));
            *sc.keys.select_nth_unstable(k - 1).1
        } else {
            u64::MAX
        };
        let (mut num, mut den) = (0.0f64, 0.0f64);
        for &(j, s) in &sc.cands {
            if pref_key(s, j) <= cut {
                num += f64::from(s) * st.resid[j as usize];
                den += f64::from(s.abs());
            }
        }
        self.finish(st.row, col, num, den)
    }
}

/// One chunk of columns of [`KnnModel::score_walk`] (columns
/// `lo..lo + out.len()`), compiled for the widest vector instructions the
/// CPU has (the same arithmetic, so the same bits).
struct WalkChunk<'a, 'b> {
    model: &'a KnnModel,
    st: &'a Row<'b>,
    pref: &'a PrefOrder,
    lo: usize,
    out: &'a mut [f32],
    skip: Option<&'a [u64]>,
    sc: &'a mut Scratch,
}

impl pulp::WithSimd for WalkChunk<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let Self {
            model,
            st,
            pref,
            lo,
            out,
            skip,
            sc,
        } = self;
        let k = model.config.k;
        // At most K marks per column, and no more than there are columns.
        sc.lanes.reserve(k.min(model.data.n_cols()));
        for i in 0..out.len() {
            let col = lo + i;
            if skip.is_some_and(|s| s[col / 64] >> (col % 64) & 1 != 0) {
                out[i] = f32::NAN;
                continue;
            }
            let (hi, hs) = pref.head(col);
            let whole = hi.len() == model.sims.neighbours(col).0.len();
            match walk_mark(st, k, hi, hs, whole, &mut sc.walk) {
                Some(span) => {
                    sc.lanes.push(st, &mut sc.walk, span, col);
                    if sc.lanes.used == LANES {
                        sc.lanes.flush(model, st.row, lo, out);
                    }
                }
                None => out[i] = model.walk_fallback(st, col, sc),
            }
        }
        sc.lanes.flush(model, st.row, lo, out);
    }
}

#[cfg(test)]
mod tests {
    use super::{pref_key, unkey};
    use crate::similarity::by_preference;

    /// Integer keys order like `by_preference` and decode to what they
    /// encode, signed zeros and extremes included.
    #[test]
    fn pref_key_orders_like_by_preference() {
        let sims = [
            -1.0f32,
            -0.5,
            -1e-30,
            -0.0,
            0.0,
            1e-30,
            0.25,
            0.5,
            1.0,
            f32::MAX,
            f32::MIN,
        ];
        let items = [0u32, 1, 7, 9_723, u32::MAX];
        for &a in &sims {
            for &i in &items {
                let (s, j) = unkey(pref_key(a, i));
                assert_eq!((s.to_bits(), j), (a.to_bits(), i));
                for &b in &sims {
                    for &j in &items {
                        assert_eq!(
                            pref_key(a, i).cmp(&pref_key(b, j)),
                            by_preference((a, i), (b, j)),
                            "{a} {i} vs {b} {j}"
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod movielens_tests {
    use movierec_core::{Fit, NoopObserver, RatingMatrix, Recommender, UserIdx};

    use crate::KnnConfig;
    use movierec_core::RunContext;

    /// On ml-latest-small (skipped without `MOVIELENS_DIR`), the default
    /// model scores light, mid-size and the heaviest users (accumulate,
    /// sift, walk) with the bits of one prediction at a time.
    #[test]
    fn scores_match_predictions_bitwise_on_movielens() {
        let Some(dir) = std::env::var_os("MOVIELENS_DIR") else {
            eprintln!("MOVIELENS_DIR is not set: skipping the ml-latest-small scoring check");
            return;
        };
        let data = movierec_data::load(std::path::Path::new(&dir), &Default::default())
            .expect("MOVIELENS_DIR loads");
        let train = RatingMatrix::new(&data.ratings).expect("valid ratings");
        let model = KnnConfig::default()
            .fit(&train, None, &RunContext::default(), &mut NoopObserver)
            .expect("default config fits");
        let mut by: Vec<(usize, u32)> = (0..train.n_users() as u32)
            .map(|u| (train.user_count(UserIdx(u)), u))
            .collect();
        by.sort_unstable();
        let mut out = vec![0.0f32; train.n_items()];
        for target in [71, 200, 400, 800, usize::MAX] {
            let u = UserIdx(
                by.iter()
                    .find(|x| x.0 >= target)
                    .unwrap_or(&by[by.len() - 1])
                    .1,
            );
            model.score_into(u, &mut out);
            let mut unseen: Vec<(usize, f32)> = out
                .iter()
                .copied()
                .enumerate()
                .filter(|&(i, s)| s.is_finite() && !train.user_ratings(u).0.contains(&i))
                .collect();
            unseen.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            unseen.truncate(10);
            let top: Vec<(usize, f32)> = model
                .recommend(u, 10, &train)
                .into_iter()
                .map(|(i, s)| (i.get(), s))
                .collect();
            assert_eq!(top, unseen, "recommend: user {u:?}");
            for (i, &o) in out.iter().enumerate() {
                let p = model.predict(u, movierec_core::ItemIdx(i as u32));
                assert_eq!(
                    p.map(f32::to_bits),
                    o.is_finite().then_some(o.to_bits()),
                    "user {u:?} item {i}"
                );
            }
        }
    }
}
