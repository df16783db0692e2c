//! Vector kernels of the sparse pass, written against `pulp::Simd` so that
//! a whole pass runs inside one `Arch::dispatch` (AVX-512, AVX2 + FMA or
//! scalar, detected once) and nothing is dispatched per rating.
//!
//! Elementwise loops (sigmoid) are plain Rust marked `#[inline(always)]`:
//! inlined into the dispatched function they are auto-vectorised with its
//! instruction set. Reductions (dot products; [`dot`] itself is the shared
//! one of `movierec_core::kernels`) use explicit SIMD
//! accumulators, whose lane count fixes the summation order: results are
//! bit-identical run to run on one machine. Row tails shorter than a
//! vector are read with a plain load and a blend ([`Tail`]) wherever a full
//! vector lies in bounds: pulp's masked loads are out-of-line calls, and
//! the sparse passes make one per rating.

use pulp::Simd;

/// `a . b` with two vector accumulators, the tail fused into the second:
/// the shared kernel of `movierec_core::kernels`.
pub(crate) use movierec_core::kernels::dot;
use movierec_core::kernels::dot_accumulators;

/// `y += alpha * x` (the reference [`gather_axpy`] is tested against).
#[cfg(test)]
#[inline(always)]
pub(crate) fn axpy<S: Simd>(simd: S, alpha: f32, x: &[f32], y: &mut [f32]) {
    debug_assert_eq!(x.len(), y.len());
    let av = simd.splat_f32s(alpha);
    let (xh, xt) = S::as_simd_f32s(x);
    let (yh, yt) = S::as_mut_simd_f32s(y);
    for (xv, yv) in xh.iter().zip(yh.iter_mut()) {
        *yv = simd.mul_add_f32s(av, *xv, *yv);
    }
    if !xt.is_empty() {
        let v = simd.mul_add_f32s(av, simd.partial_load_f32s(xt), simd.partial_load_f32s(yt));
        simd.partial_store_f32s(yt, v);
    }
}

/// The tail of a row whose length is not a multiple of the lane count:
/// its length and the mask of its lanes.
#[derive(Clone, Copy)]
pub(crate) struct Tail<S: Simd> {
    /// Full vectors before the tail.
    pub nv: usize,
    /// Elements in the tail (0: none).
    pub len: usize,
    mask: S::m32s,
}

impl<S: Simd> Tail<S> {
    #[inline(always)]
    pub fn new(simd: S, h: usize) -> Self {
        let len = h % S::F32_LANES;
        Self {
            nv: h / S::F32_LANES,
            len,
            mask: simd.mask_between_m32s(0, len as u32).mask(),
        }
    }

    /// `x[..len]` in the low lanes, zeros above: what
    /// `partial_load_f32s(&x[..len])` gives, but from a plain load and a
    /// blend where `x` holds a full vector (a row that is not its buffer's
    /// last), not through pulp's out-of-line masked load.
    #[inline(always)]
    pub fn load(&self, simd: S, x: &[f32]) -> S::f32s {
        if x.len() >= S::F32_LANES {
            let v = S::as_simd_f32s(&x[..S::F32_LANES]).0[0];
            simd.select_f32s(self.mask, v, simd.splat_f32s(0.0))
        } else {
            simd.partial_load_f32s(&x[..self.len])
        }
    }
}

/// [`dot`] of `a[..h]` and `b[..h]`, bit for bit, where `a` and `b` may
/// run on past `h` (rows of larger buffers): the tail is read with
/// [`Tail::load`].
#[inline(always)]
pub(crate) fn dot_rows<S: Simd>(simd: S, tail: &Tail<S>, a: &[f32], b: &[f32]) -> f32 {
    let lanes = S::F32_LANES;
    let full = tail.nv * lanes;
    let (ah, _) = S::as_simd_f32s(&a[..full]);
    let (bh, _) = S::as_simd_f32s(&b[..full]);
    let (acc0, mut acc1) = dot_accumulators(simd, ah, bh);
    if tail.len > 0 {
        let (x, y) = (tail.load(simd, &a[full..]), tail.load(simd, &b[full..]));
        acc1 = simd.mul_add_f32s(x, y, acc1);
    }
    simd.reduce_sum_f32s(simd.add_f32s(acc0, acc1))
}

/// `y += sum_k c[k] m[idx[k], :]` (rows of the row-major `m`, `y.len()`
/// wide), terms added in `k` order for every element: the same sums as an
/// [`axpy`] per term, but `y` stays in registers, up to eight vectors and
/// the tail at a time, instead of going through memory once per term (a
/// store-to-load chain that bounded the sparse passes).
#[cfg(test)]
#[inline(always)]
pub(crate) fn gather_axpy<S: Simd>(simd: S, c: &[f32], idx: &[u32], m: &[f32], y: &mut [f32]) {
    let tail = Tail::new(simd, y.len());
    gather_t::<S, false>(simd, &tail, c, idx, m, y);
}

/// `y += sum_k c[k] m[idx[k], :]` (see `gather_axpy`), or with `SET`
/// `y = ...`: the same sums onto zeros, bit for bit, without reading `y`;
/// the tail of `y.len()` given.
#[inline(always)]
pub(crate) fn gather_t<S: Simd, const SET: bool>(
    simd: S,
    tail: &Tail<S>,
    c: &[f32],
    idx: &[u32],
    m: &[f32],
    y: &mut [f32],
) {
    debug_assert_eq!(c.len(), idx.len());
    let h = y.len();
    let (yh, yt) = S::as_mut_simd_f32s(y);
    let nv = yh.len();
    let mut j = 0;
    while nv - j > 8 {
        gather_block::<S, 8, false, SET>(simd, tail, c, idx, m, h, j, &mut yh[j..j + 8], &mut []);
        j += 8;
    }
    let t = !yt.is_empty();
    let yh = &mut yh[j..];
    macro_rules! last {
        ($($n:literal)*) => {
            match (nv - j, t) {
                $(
                    ($n, false) => gather_block::<S, $n, false, SET>(simd, tail, c, idx, m, h, j, yh, yt),
                    ($n, true) => gather_block::<S, $n, true, SET>(simd, tail, c, idx, m, h, j, yh, yt),
                )*
                _ => unreachable!(),
            }
        };
    }
    last!(0 1 2 3 4 5 6 7 8);
}

/// Vectors `j .. j + N` of [`gather_t`] (and its tail `yt` when `T`),
/// accumulated in registers, from zeros when `SET`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gather_block<S: Simd, const N: usize, const T: bool, const SET: bool>(
    simd: S,
    tail: &Tail<S>,
    c: &[f32],
    idx: &[u32],
    m: &[f32],
    h: usize,
    j: usize,
    y: &mut [S::f32s],
    yt: &mut [f32],
) {
    let zero = simd.splat_f32s(0.0);
    let mut acc: [S::f32s; N] = std::array::from_fn(|k| if SET { zero } else { y[k] });
    let mut acc_t = if T && !SET {
        simd.partial_load_f32s(yt)
    } else {
        simd.splat_f32s(0.0)
    };
    let off = j * S::F32_LANES;
    let toff = off + N * S::F32_LANES;
    for (&c, &i) in c.iter().zip(idx) {
        let at = i as usize * h;
        let cv = simd.splat_f32s(c);
        if N > 0 {
            let row = &m[at + off..at + toff];
            let (rv, _) = S::as_simd_f32s(row);
            for k in 0..N {
                acc[k] = simd.mul_add_f32s(cv, rv[k], acc[k]);
            }
        }
        if T {
            acc_t = simd.mul_add_f32s(cv, tail.load(simd, &m[at + toff..]), acc_t);
        }
    }
    y[..N].copy_from_slice(&acc);
    if T {
        simd.partial_store_f32s(yt, acc_t);
    }
}

/// `e^x` for `f32` in plain arithmetic (Cephes' `expf`: `x = n ln 2 + r`,
/// a degree-6 polynomial in `r`, `2^n` through the exponent bits), so that
/// loops over it auto-vectorise. Relative error about 2e-7; inputs are
/// clamped to [-87, 88].
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    // `shifted`'s low mantissa bits hold `round(x / ln 2)` as an integer:
    // bit arithmetic instead of a float-to-int cast keeps the loop vectorised.
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let k = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = x - n * C1 - n * C2;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let bits = ((k + 127) as u32) << 23;
    e * f32::from_bits(bits)
}

/// Below this pre-activation the logistic function is taken as exactly 0
/// (it is under `1e-30` there, far below what any sum that holds it can
/// resolve).
///
/// Saturated units would otherwise carry values near or below `f32`'s
/// smallest normal (`exp`'s clamp makes `sigmoid(-88)` subnormal), and
/// every product with a subnormal operand or result takes a microcode
/// assist of a hundred cycles or more: a few dozen such activations made
/// whole training epochs three times slower. Zero costs nothing.
pub(crate) const SIGMOID_ZERO_BELOW: f32 = -69.0;

/// The logistic function `1 / (1 + e^-z)` with [`exp`], exactly 0 below
/// [`SIGMOID_ZERO_BELOW`].
#[inline(always)]
pub(crate) fn sigmoid(z: f32) -> f32 {
    let s = 1.0 / (1.0 + exp(-z));
    if z < SIGMOID_ZERO_BELOW {
        0.0
    } else {
        s
    }
}

/// `z <- sigmoid(z)` elementwise.
#[inline(always)]
pub(crate) fn sigmoid_in_place(z: &mut [f32]) {
    for v in z.iter_mut() {
        *v = sigmoid(*v);
    }
}

/// `d <- d * a * (1 - a)`: the gradient through the sigmoid, given its output `a`.
#[inline(always)]
pub(crate) fn sigmoid_backward(d: &mut [f32], a: &[f32]) {
    for (d, &a) in d.iter_mut().zip(a) {
        *d *= a * (1.0 - a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulp::Arch;

    #[test]
    fn exp_is_accurate() {
        let mut x = -80.0f32;
        while x < 80.0 {
            let (got, want) = (f64::from(exp(x)), f64::from(x).exp());
            assert!(
                ((got - want) / want).abs() < 5e-7,
                "x = {x}: {got} vs {want}"
            );
            x += 0.0137;
        }
        assert!(sigmoid(-200.0) == 0.0 && sigmoid(-69.5) == 0.0);
        assert!(sigmoid(-68.5) > 1e-30 && sigmoid(-68.5) < 1e-29);
        assert!(sigmoid(200.0) == 1.0 && sigmoid(0.0) == 0.5);
    }

    #[test]
    fn gather_axpy_equals_one_axpy_per_term_bit_for_bit() {
        struct G(usize);
        impl pulp::WithSimd for G {
            type Output = (Vec<f32>, Vec<f32>);
            fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
                let h = self.0;
                let m: Vec<f32> = (0..7 * h).map(|x| (x as f32 * 0.37).sin()).collect();
                let idx = [3u32, 0, 6, 3, 1];
                let c = [0.5f32, -1.25, 3.0e-3, 2.0, -0.7];
                let y0: Vec<f32> = (0..h).map(|x| (x as f32 * 0.11).cos()).collect();
                let mut want = y0.clone();
                for (&c, &i) in c.iter().zip(&idx) {
                    let i = i as usize;
                    axpy(simd, c, &m[i * h..i * h + h], &mut want);
                }
                let mut got = y0;
                gather_axpy(simd, &c, &idx, &m, &mut got);
                (want, got)
            }
        }
        for h in [1usize, 3, 8, 15, 16, 17, 33, 64, 100, 129, 150, 300] {
            for (want, got) in [
                Arch::new().dispatch(G(h)),
                pulp::WithSimd::with_simd(G(h), pulp::Scalar),
            ] {
                let (want, got): (Vec<u32>, Vec<u32>) = (
                    want.iter().map(|x| x.to_bits()).collect(),
                    got.iter().map(|x| x.to_bits()).collect(),
                );
                assert_eq!(want, got, "h = {h}");
            }
        }
    }

    #[test]
    fn gather_set_equals_gather_axpy_onto_zeros_and_reads_nothing() {
        struct G(usize, usize);
        impl pulp::WithSimd for G {
            type Output = (Vec<u32>, Vec<u32>);
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
                let (h, terms) = (self.0, self.1);
                let m: Vec<f32> = (0..7 * h).map(|x| (x as f32 * 0.37).sin()).collect();
                let idx: Vec<u32> = (0..terms).map(|k| (k * 5 % 7) as u32).collect();
                let c: Vec<f32> = (0..terms).map(|k| (k as f32 * 0.9).cos()).collect();
                let mut want = vec![0.0f32; h];
                gather_axpy(simd, &c, &idx, &m, &mut want);
                // A row in the middle of a NaN buffer: nothing is read,
                // nothing outside the row is written.
                let mut buf = vec![f32::NAN; 3 * h];
                let tail = Tail::new(simd, h);
                gather_t::<S, true>(simd, &tail, &c, &idx, &m, &mut buf[h..2 * h]);
                assert!(buf[..h].iter().chain(&buf[2 * h..]).all(|x| x.is_nan()));
                let bits = |x: &[f32]| x.iter().map(|x| x.to_bits()).collect();
                (bits(&want), bits(&buf[h..2 * h]))
            }
        }
        for h in [1usize, 3, 15, 16, 17, 100, 128, 129, 150, 300] {
            for terms in [0usize, 1, 5] {
                for (want, got) in [
                    Arch::new().dispatch(G(h, terms)),
                    pulp::WithSimd::with_simd(G(h, terms), pulp::Scalar),
                ] {
                    assert_eq!(want, got, "h = {h}, {terms} terms");
                }
            }
        }
    }

    #[test]
    fn dot_rows_equals_dot_bit_for_bit_on_every_row() {
        struct D(usize);
        impl pulp::WithSimd for D {
            type Output = Vec<(u32, u32)>;
            fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
                let h = self.0;
                let a: Vec<f32> = (0..3 * h).map(|x| (x as f32 * 0.37).sin()).collect();
                let b: Vec<f32> = (0..3 * h).map(|x| (x as f32 * 0.11).cos()).collect();
                let tail = Tail::new(simd, h);
                let mut out = Vec::new();
                for r in 0..3 {
                    for s in 0..3 {
                        let want = dot(simd, &a[r * h..r * h + h], &b[s * h..s * h + h]);
                        let got = dot_rows(simd, &tail, &a[r * h..], &b[s * h..]);
                        out.push((want.to_bits(), got.to_bits()));
                    }
                }
                out
            }
        }
        for h in [1usize, 3, 8, 15, 16, 17, 33, 64, 100, 129, 150, 300] {
            for (want, got) in Arch::new().dispatch(D(h)) {
                assert_eq!(want, got, "h = {h}");
            }
            for (want, got) in pulp::WithSimd::with_simd(D(h), pulp::Scalar) {
                assert_eq!(want, got, "h = {h}");
            }
        }
    }

    #[test]
    fn dot_and_axpy_match_scalar_for_awkward_lengths() {
        for k in [0usize, 1, 3, 7, 8, 15, 16, 17, 33, 100, 129] {
            let a: Vec<f32> = (0..k).map(|x| (x as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k).map(|x| (x as f32 * 0.11).cos()).collect();
            let want: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            let got = Arch::new().dispatch(|| dot(pulp::Scalar, &a, &b));
            assert!((f64::from(got) - want).abs() < 1e-4, "k = {k}");
            struct D<'a>(&'a [f32], &'a [f32]);
            impl pulp::WithSimd for D<'_> {
                type Output = (f32, Vec<f32>);
                fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
                    let mut y = self.1.to_vec();
                    axpy(simd, 2.0, self.0, &mut y);
                    (dot(simd, self.0, self.1), y)
                }
            }
            let (got, y) = Arch::new().dispatch(D(&a, &b));
            assert!((f64::from(got) - want).abs() < 1e-4, "k = {k}");
            for ((y, a), b) in y.iter().zip(&a).zip(&b) {
                assert!((y - (b + 2.0 * a)).abs() < 1e-6);
            }
        }
    }
}
