//! SIMD kernels that several model crates share: dot products written
//! against `pulp::Simd`, so that a caller runs them inside its own
//! `Arch::dispatch` (AVX-512, AVX2 + FMA or scalar, detected once), plus
//! dispatched forms for single calls. Crate-specific kernels (MF's SGD
//! update, the autoencoder's gathers) stay in their crates.
//!
//! The lane count fixes the summation order, so the last bits can differ
//! between machines of different SIMD width; on one machine results are
//! bit-identical run to run. The two dot products differ only in how they
//! add a tail shorter than a vector, and each caller keeps its own so that
//! its results do not change:
//! - [`dot`] adds the tail as one masked vector into the second
//!   accumulator (the autoencoder);
//! - [`dot_scalar_tail`] adds it element by element after the reduction
//!   (matrix factorisation).
//!
//! ```
//! use movierec_core::kernels::{dot_dispatched, dot_scalar_tail_dispatched};
//! let a: Vec<f32> = (0..19).map(|x| x as f32).collect();
//! let want: f32 = a.iter().map(|x| x * x).sum();
//! assert_eq!(dot_dispatched(&a, &a), want);
//! assert_eq!(dot_scalar_tail_dispatched(&a, &a), want);
//! ```

use pulp::{Arch, Simd, WithSimd};

/// The two accumulators of `a . b` over whole vectors, alternating (even
/// vectors into the first, odd into the second): the common body of
/// [`dot`] and [`dot_scalar_tail`], open for kernels that read their tails
/// their own way.
#[inline(always)]
pub fn dot_accumulators<S: Simd>(simd: S, ah: &[S::f32s], bh: &[S::f32s]) -> (S::f32s, S::f32s) {
    let mut acc0 = simd.splat_f32s(0.0);
    let mut acc1 = simd.splat_f32s(0.0);
    let mut a2 = ah.chunks_exact(2);
    let mut b2 = bh.chunks_exact(2);
    for (x, y) in (&mut a2).zip(&mut b2) {
        acc0 = simd.mul_add_f32s(x[0], y[0], acc0);
        acc1 = simd.mul_add_f32s(x[1], y[1], acc1);
    }
    for (x, y) in a2.remainder().iter().zip(b2.remainder()) {
        acc0 = simd.mul_add_f32s(*x, *y, acc0);
    }
    (acc0, acc1)
}

/// `a . b` with two vector accumulators (`a.len() == b.len()`); a tail
/// shorter than a vector is one masked vector fused into the second
/// accumulator before the reduction.
#[inline(always)]
pub fn dot<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let (ah, at) = S::as_simd_f32s(a);
    let (bh, bt) = S::as_simd_f32s(b);
    let (acc0, mut acc1) = dot_accumulators(simd, ah, bh);
    if !at.is_empty() {
        // One masked vector for the tail (zero lanes add nothing).
        let (x, y) = (simd.partial_load_f32s(at), simd.partial_load_f32s(bt));
        acc1 = simd.mul_add_f32s(x, y, acc1);
    }
    simd.reduce_sum_f32s(simd.add_f32s(acc0, acc1))
}

/// `a . b` with two vector accumulators (`a.len() == b.len()`); a tail
/// shorter than a vector is added element by element, in order, after the
/// reduction.
#[inline(always)]
pub fn dot_scalar_tail<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let (ah, at) = S::as_simd_f32s(a);
    let (bh, bt) = S::as_simd_f32s(b);
    let (acc0, acc1) = dot_accumulators(simd, ah, bh);
    let mut s = simd.reduce_sum_f32s(simd.add_f32s(acc0, acc1));
    for (x, y) in at.iter().zip(bt) {
        s += x * y;
    }
    s
}

/// [`dot`], dispatched once (for single predictions).
pub fn dot_dispatched(a: &[f32], b: &[f32]) -> f32 {
    struct Dot<'a>(&'a [f32], &'a [f32]);
    impl WithSimd for Dot<'_> {
        type Output = f32;
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) -> f32 {
            dot(simd, self.0, self.1)
        }
    }
    Arch::new().dispatch(Dot(a, b))
}

/// [`dot_scalar_tail`], dispatched once (for single predictions).
pub fn dot_scalar_tail_dispatched(a: &[f32], b: &[f32]) -> f32 {
    struct Dot<'a>(&'a [f32], &'a [f32]);
    impl WithSimd for Dot<'_> {
        type Output = f32;
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) -> f32 {
            dot_scalar_tail(simd, self.0, self.1)
        }
    }
    Arch::new().dispatch(Dot(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_match_scalar_for_awkward_lengths() {
        for k in [0usize, 1, 3, 7, 8, 15, 16, 17, 33, 100, 129] {
            let a: Vec<f32> = (0..k).map(|x| (x as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k).map(|x| (x as f32 * 0.11).cos()).collect();
            let want: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            for got in [
                dot_dispatched(&a, &b),
                dot_scalar_tail_dispatched(&a, &b),
                dot(pulp::Scalar, &a, &b),
                dot_scalar_tail(pulp::Scalar, &a, &b),
            ] {
                assert!((f64::from(got) - want).abs() < 1e-4, "k = {k}");
            }
        }
    }

    #[test]
    fn dots_agree_without_a_tail() {
        // Whole vectors only (a multiple of 16 lanes): the two are the same sum.
        let a: Vec<f32> = (0..64).map(|x| (x as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..64).map(|x| (x as f32 * 0.11).cos()).collect();
        assert_eq!(
            dot_dispatched(&a, &b).to_bits(),
            dot_scalar_tail_dispatched(&a, &b).to_bits()
        );
    }
}
