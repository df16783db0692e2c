//! The SGD inner loop and MF's row kernels (predictions, scores, norms),
//! vectorised with `pulp`; the dot product itself is the shared one of
//! `movierec_core::kernels` ([`dot_scalar_tail`]).
//!
//! `pulp::Arch::new()` detects the CPU once (AVX-512, AVX2 + FMA, or
//! scalar) and `dispatch` runs a whole block of updates inside one
//! `#[target_feature]` context, so the portable binary still gets the wide
//! registers and nothing is dispatched per rating. All of it is safe code.
//!
//! The lane count decides the order of the partial sums in a dot product, so
//! the last bits of a fit can differ between an AVX-512 and an AVX2 machine;
//! on one machine, results are bit-identical run to run.

use std::ops::{Deref, DerefMut};

use bytemuck::{Pod, Zeroable};
use movierec_core::kernels::dot_scalar_tail;
use pulp::{Arch, Simd, WithSimd};

/// One training rating inside a DSGD block: user and item rows relative to
/// the block's first user and item, and the rating.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub(crate) struct Entry {
    pub u: u32,
    pub i: u32,
    pub r: f32,
}

/// Step sizes and weights of one epoch (see [`SgdConfig::block_step`](crate::SgdConfig::block_step)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Learning rate of the factors.
    pub lr_factors: f32,
    /// L2 weight of the factors.
    pub reg_factors: f32,
    /// Learning rate of the biases.
    pub lr_biases: f32,
    /// L2 weight of the biases.
    pub reg_biases: f32,
    /// Global mean added to every prediction (0 without biases).
    pub mu: f32,
}

/// Ratings per chunk of a block's visiting order (768 bytes of entries).
pub(crate) const CHUNK: usize = 64;

/// Factor rows are padded to a multiple of this many `f32` (one AVX-512
/// register, two AVX2 ones) with zeros, so the SIMD loops have no scalar
/// tail; a zero column stays zero under the update.
pub(crate) const ROW_ALIGN: usize = 16;

/// One cache line of values.
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
#[repr(C, align(64))]
struct Line([f32; ROW_ALIGN]);

/// `f32` values stored from a 64-byte boundary. With rows padded to
/// [`ROW_ALIGN`] values, every factor row starts on a cache line, so no
/// AVX-512 load or store of a row straddles two lines (a `Vec<f32>` is only
/// 16-byte aligned, which made every vector access of the SGD loop a split
/// one).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Aligned {
    lines: Vec<Line>,
    len: usize,
}

impl Aligned {
    /// `len` zeros.
    pub fn zeroed(len: usize) -> Self {
        Self {
            lines: vec![Line([0.0; ROW_ALIGN]); len.div_ceil(ROW_ALIGN)],
            len,
        }
    }

    /// A copy of `values`.
    #[cfg(test)]
    pub fn from_slice(values: &[f32]) -> Self {
        let mut out = Self::zeroed(values.len());
        out.copy_from_slice(values);
        out
    }
}

impl Deref for Aligned {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &bytemuck::cast_slice(&self.lines)[..self.len]
    }
}

impl DerefMut for Aligned {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut bytemuck::cast_slice_mut(&mut self.lines)[..self.len]
    }
}

/// The padded row width for `k` factors.
pub(crate) fn padded(k: usize) -> usize {
    k.div_ceil(ROW_ALIGN) * ROW_ALIGN
}

/// One pass of SGD over the ratings of a block, chunk by chunk in the order
/// given.
///
/// `p` holds the block's user rows and `q` its item rows (row-major, `k`
/// wide); `bu`, `bi` the matching biases (empty when `biases` is false).
/// `order` lists chunk indices: chunk `c` is `entries[c * CHUNK..][..CHUNK]`.
/// `preds[x]` receives the prediction that entry `x`'s update started from
/// (before the update), for the epoch's training metrics.
pub(crate) struct BlockPass<'a> {
    pub k: usize,
    pub p: &'a mut [f32],
    pub q: &'a mut [f32],
    pub bu: &'a mut [f32],
    pub bi: &'a mut [f32],
    pub entries: &'a [Entry],
    pub preds: &'a mut [f32],
    pub order: &'a [u32],
    pub step: Step,
    pub biases: bool,
}

impl BlockPass<'_> {
    /// Runs the pass with the widest SIMD the CPU has.
    pub fn run(self) {
        if !self.entries.is_empty() {
            Arch::new().dispatch(self);
        }
    }
}

impl WithSimd for BlockPass<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        if self.biases {
            pass::<S, true>(simd, self);
        } else {
            pass::<S, false>(simd, self);
        }
    }
}

/// The Koren-Bell-Volinsky update for every entry:
/// `e = r - (mu + b_u + b_i + p.q)`, `b += lr_b (e - reg_b b)`,
/// `p += lr_f (e q - reg_f p)`, `q += lr_f (e p_old - reg_f q)`.
#[inline(always)]
fn pass<S: Simd, const BIASES: bool>(simd: S, pass: BlockPass<'_>) {
    let BlockPass {
        k,
        p,
        q,
        bu,
        bi,
        entries,
        preds,
        order,
        step,
        ..
    } = pass;
    if entries.len() * k >= q.len() {
        warm(simd, q);
    }
    let decay = 1.0 - step.lr_factors * step.reg_factors;
    let decay_v = simd.splat_f32s(decay);
    let lanes = std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>();
    macro_rules! rows_of {
        ($($n:literal)*) => {
            match k / lanes {
                $($n if k % lanes == 0 => walk(order, entries, preds, |e| {
                    update_in_registers::<S, BIASES, $n>(simd, p, q, bu, bi, e, step, decay_v)
                }),)*
                _ => walk(order, entries, preds, |e| {
                    update::<S, BIASES>(simd, k, p, q, bu, bi, e, step, decay, decay_v)
                }),
            }
        };
    }
    rows_of!(1 2 3 4 5 6 7 8 9 10 11 12 13 14);
}

/// `preds[x] = update(entries[x])` for every entry, chunk by chunk in
/// `order` (chunk `c` is `entries[c * CHUNK..][..CHUNK]`).
#[inline(always)]
fn walk(
    order: &[u32],
    entries: &[Entry],
    preds: &mut [f32],
    mut update: impl FnMut(&Entry) -> f32,
) {
    for &c in order {
        let lo = c as usize * CHUNK;
        let hi = (lo + CHUNK).min(entries.len());
        for (e, out) in entries[lo..hi].iter().zip(&mut preds[lo..hi]) {
            *out = update(e);
        }
    }
}

/// [`update`] for rows of exactly `N` vectors (`k` up to 224 with
/// AVX-512): both rows are loaded once into registers, the dot product runs
/// on two accumulators, and the update writes the rows back from the
/// registers, so each row is read once instead of twice and the loops
/// unroll completely. Past 14 vectors the two rows no longer fit the 32
/// AVX-512 registers, and [`update`] takes over.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn update_in_registers<S: Simd, const BIASES: bool, const N: usize>(
    simd: S,
    p: &mut [f32],
    q: &mut [f32],
    bu: &mut [f32],
    bi: &mut [f32],
    e: &Entry,
    step: Step,
    decay_v: S::f32s,
) -> f32 {
    let (u, i) = (e.u as usize, e.i as usize);
    let (ph, _) = S::as_mut_simd_f32s(&mut p[u * k_of::<S, N>()..(u + 1) * k_of::<S, N>()]);
    let (qh, _) = S::as_mut_simd_f32s(&mut q[i * k_of::<S, N>()..(i + 1) * k_of::<S, N>()]);
    let ph: &mut [S::f32s; N] = ph.try_into().expect("a row of N vectors");
    let qh: &mut [S::f32s; N] = qh.try_into().expect("a row of N vectors");
    let (pv, qv) = (*ph, *qh);
    let mut acc = [simd.splat_f32s(0.0); 2];
    for j in 0..N {
        acc[j % 2] = simd.mul_add_f32s(pv[j], qv[j], acc[j % 2]);
    }
    let sum = simd.add_f32s(acc[0], acc[1]);
    let (pred, err) = finish::<BIASES>(simd.reduce_sum_f32s(sum), bu, bi, e, step);
    let g_v = simd.splat_f32s(step.lr_factors * err);
    for j in 0..N {
        ph[j] = simd.mul_add_f32s(g_v, qv[j], simd.mul_f32s(decay_v, pv[j]));
        qh[j] = simd.mul_add_f32s(g_v, pv[j], simd.mul_f32s(decay_v, qv[j]));
    }
    pred
}

/// The prediction from the factors' dot product (plus `mu + b_u + b_i`
/// with biases) and its error; updates the biases. Returns both.
#[inline(always)]
fn finish<const BIASES: bool>(
    dot: f32,
    bu: &mut [f32],
    bi: &mut [f32],
    e: &Entry,
    step: Step,
) -> (f32, f32) {
    let (u, i) = (e.u as usize, e.i as usize);
    let mut pred = dot;
    if BIASES {
        pred += step.mu + bu[u] + bi[i];
    }
    let err = e.r - pred;
    if BIASES {
        bu[u] += step.lr_biases * (err - step.reg_biases * bu[u]);
        bi[i] += step.lr_biases * (err - step.reg_biases * bi[i]);
    }
    (pred, err)
}

/// Row width of `N` vectors of `S`.
#[inline(always)]
fn k_of<S: Simd, const N: usize>() -> usize {
    N * std::mem::size_of::<S::f32s>() / std::mem::size_of::<f32>()
}

/// One rating's update (see [`pass`]); returns the prediction it started
/// from.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn update<S: Simd, const BIASES: bool>(
    simd: S,
    k: usize,
    p: &mut [f32],
    q: &mut [f32],
    bu: &mut [f32],
    bi: &mut [f32],
    e: &Entry,
    step: Step,
    decay: f32,
    decay_v: S::f32s,
) -> f32 {
    let (u, i) = (e.u as usize, e.i as usize);
    let pu = &mut p[u * k..u * k + k];
    let qi = &mut q[i * k..i * k + k];
    let (pred, err) = finish::<BIASES>(dot_scalar_tail(simd, pu, qi), bu, bi, e, step);
    let g = step.lr_factors * err;
    let g_v = simd.splat_f32s(g);
    let (ph, pt) = S::as_mut_simd_f32s(pu);
    let (qh, qt) = S::as_mut_simd_f32s(qi);
    for (pv, qv) in ph.iter_mut().zip(qh.iter_mut()) {
        let (p0, q0) = (*pv, *qv);
        *pv = simd.mul_add_f32s(g_v, q0, simd.mul_f32s(decay_v, p0));
        *qv = simd.mul_add_f32s(g_v, p0, simd.mul_f32s(decay_v, q0));
    }
    for (ps, qs) in pt.iter_mut().zip(qt.iter_mut()) {
        let (p0, q0) = (*ps, *qs);
        *ps = g * q0 + decay * p0;
        *qs = g * p0 + decay * q0;
    }
    pred
}

/// Reads `rows` once, front to back. A block's item rows were last written
/// by another block, so most are out of the L2 cache when it starts: read
/// in order, the hardware prefetcher streams them in, where the block's
/// random order would wait out one miss at a time. Skipped for blocks with
/// fewer ratings than item rows, which would not use most of what it reads.
#[inline(always)]
fn warm<S: Simd>(simd: S, rows: &[f32]) {
    let (head, _) = S::as_simd_f32s(rows);
    let mut acc = [simd.splat_f32s(0.0); 4];
    for v in head.chunks_exact(4) {
        for j in 0..4 {
            acc[j] = simd.add_f32s(acc[j], v[j]);
        }
    }
    std::hint::black_box(acc);
}

/// `a . b`, dispatched once (for single predictions): the shared
/// [`dot_scalar_tail`] of `movierec_core::kernels`.
pub(crate) use movierec_core::kernels::dot_scalar_tail_dispatched as dot;

/// `out[x] = [mu + bu[u] + bi[i] +] p_u . q_i` for each `(u, i, _)` in
/// `pairs`, dispatched once; `bu` and `bi` empty without biases.
#[allow(clippy::too_many_arguments)]
pub(crate) fn predict_pairs(
    k: usize,
    p: &[f32],
    q: &[f32],
    bu: &[f32],
    bi: &[f32],
    mu: f32,
    pairs: &[(u32, u32, f32)],
    out: &mut [f32],
) {
    struct Pairs<'a> {
        k: usize,
        p: &'a [f32],
        q: &'a [f32],
        bu: &'a [f32],
        bi: &'a [f32],
        mu: f32,
        pairs: &'a [(u32, u32, f32)],
        out: &'a mut [f32],
    }
    impl WithSimd for Pairs<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let k = self.k;
            let biases = !self.bu.is_empty();
            for (o, &(u, i, _)) in self.out.iter_mut().zip(self.pairs) {
                let (u, i) = (u as usize, i as usize);
                let d = dot_scalar_tail(simd, &self.p[u * k..u * k + k], &self.q[i * k..i * k + k]);
                *o = if biases {
                    self.mu + self.bu[u] + self.bi[i] + d
                } else {
                    d
                };
            }
        }
    }
    Arch::new().dispatch(Pairs {
        k,
        p,
        q,
        bu,
        bi,
        mu,
        pairs,
        out,
    });
}

/// `out[i] = base + bias[i] + p . q_i` for every row `q_i` of `q` (row-major,
/// `p.len()` wide); `bias` may be empty (no item biases).
pub(crate) fn score_rows(p: &[f32], q: &[f32], base: f32, bias: &[f32], out: &mut [f32]) {
    struct Rows<'a> {
        p: &'a [f32],
        q: &'a [f32],
        base: f32,
        bias: &'a [f32],
        out: &'a mut [f32],
    }
    impl WithSimd for Rows<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let k = self.p.len();
            for (i, o) in self.out.iter_mut().enumerate() {
                let b = self.bias.get(i).copied().unwrap_or(0.0);
                *o = self.base + b + dot_scalar_tail(simd, self.p, &self.q[i * k..i * k + k]);
            }
        }
    }
    Arch::new().dispatch(Rows {
        p,
        q,
        base,
        bias,
        out,
    });
}

/// `sum_r w[r] |m_r|^2` over the rows of `m` (row-major, `k` wide): each
/// row's squared norm in f32 SIMD, the weighted sum in f64, dispatched once.
pub(crate) fn weighted_sq_norms(m: &[f32], k: usize, w: &[f64]) -> f64 {
    struct Norms<'a> {
        m: &'a [f32],
        k: usize,
        w: &'a [f64],
    }
    impl WithSimd for Norms<'_> {
        type Output = f64;
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) -> f64 {
            let k = self.k;
            self.w
                .iter()
                .enumerate()
                .map(|(r, &n)| {
                    let row = &self.m[r * k..(r + 1) * k];
                    n * f64::from(dot_scalar_tail(simd, row, row))
                })
                .sum()
        }
    }
    Arch::new().dispatch(Norms { m, k, w })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_pass_matches_scalar_update() {
        let k = 19;
        let mut p: Vec<f32> = (0..2 * k).map(|x| (x as f32 * 0.3).sin() * 0.1).collect();
        let mut q: Vec<f32> = (0..3 * k).map(|x| (x as f32 * 0.7).cos() * 0.1).collect();
        let (mut bu, mut bi) = (vec![0.1f32, -0.2], vec![0.0f32, 0.3, -0.1]);
        let entries = [
            Entry { u: 0, i: 1, r: 4.0 },
            Entry { u: 1, i: 2, r: 2.5 },
            Entry { u: 0, i: 2, r: 3.0 },
        ];
        let step = Step {
            lr_factors: 0.05,
            reg_factors: 0.1,
            lr_biases: 0.02,
            reg_biases: 0.3,
            mu: 3.5,
        };
        let (mut p2, mut q2, mut bu2, mut bi2) = (p.clone(), q.clone(), bu.clone(), bi.clone());
        for e in &entries {
            let (u, i) = (e.u as usize, e.i as usize);
            let d: f32 = (0..k).map(|f| p2[u * k + f] * q2[i * k + f]).sum();
            let err = e.r - (step.mu + bu2[u] + bi2[i] + d);
            bu2[u] += step.lr_biases * (err - step.reg_biases * bu2[u]);
            bi2[i] += step.lr_biases * (err - step.reg_biases * bi2[i]);
            for f in 0..k {
                let (pf, qf) = (p2[u * k + f], q2[i * k + f]);
                p2[u * k + f] += step.lr_factors * (err * qf - step.reg_factors * pf);
                q2[i * k + f] += step.lr_factors * (err * pf - step.reg_factors * qf);
            }
        }
        BlockPass {
            k,
            p: &mut p,
            q: &mut q,
            bu: &mut bu,
            bi: &mut bi,
            entries: &entries,
            preds: &mut [0.0; 3],
            order: &[0],
            step,
            biases: true,
        }
        .run();
        for (a, b) in p
            .iter()
            .chain(&q)
            .chain(&bu)
            .chain(&bi)
            .zip(p2.iter().chain(&q2).chain(&bu2).chain(&bi2))
        {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
