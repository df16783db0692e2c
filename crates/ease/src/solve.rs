//! The closed form, two ways: the item Gram matrix (Steck's form) or the
//! user Gram matrix through Woodbury's identity, both by a faer Cholesky.
//!
//! With `L = diag(l)` the penalties, `P = (X^T X + L)^-1` and
//! `B = I - P diag(1 / diag P)`:
//! - items: `P` from the Cholesky of `X^T X + L` (f32), then `B`;
//! - users: with `Y = X L^-1` and `M = (I + X L^-1 X^T)^-1` (f64),
//!   `P = L^-1 - Y^T M Y`, so `x_u P = (M Y)_u`, `diag P = 1/l - diag(Y^T M Y)`
//!   and `B_ij = (Y^T M Y)_ij / P_jj` off the diagonal: validation scores need
//!   only `M Y` (users x items), the weights one sparse product.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::matmul::triangular::{matmul, BlockStructure};
use faer::linalg::triangular_inverse::invert_lower_triangular;
use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::input::Input;

/// `A^-1` of a symmetric positive definite `A` (column-major `n x n`,
/// lower triangle read), written over `a` in full; `None` when the
/// Cholesky factorisation fails or the inverse is not finite.
fn spd_inverse<T: ComplexField + Copy + Send + Sync>(
    a: &mut [T],
    n: usize,
    zero: T,
    one: T,
    par: Par,
) -> Option<()> {
    {
        let mut am = MatMut::from_column_major_slice_mut(a, n, n);
        let mut buf = MemBuffer::new(cholesky_in_place_scratch::<T>(n, par, Default::default()));
        cholesky_in_place(
            am.as_mut(),
            Default::default(),
            par,
            MemStack::new(&mut buf),
            Default::default(),
        )
        .ok()?;
    }
    let mut linv = vec![zero; n * n];
    invert_lower_triangular(
        MatMut::from_column_major_slice_mut(&mut linv, n, n),
        MatRef::from_column_major_slice(a, n, n),
        par,
    );
    let l = MatRef::from_column_major_slice(&linv, n, n);
    matmul(
        MatMut::from_column_major_slice_mut(a, n, n),
        BlockStructure::TriangularLower,
        Accum::Replace,
        l.transpose(),
        BlockStructure::TriangularUpper,
        l,
        BlockStructure::TriangularLower,
        one,
        par,
    );
    drop(linv);
    mirror_lower(a, n);
    Some(())
}

/// Copies the lower triangle of a column-major `n x n` matrix onto its
/// upper triangle, in tiles.
fn mirror_lower<T: Copy>(a: &mut [T], n: usize) {
    const TILE: usize = 64;
    for cb in (0..n).step_by(TILE) {
        for rb in (cb..n).step_by(TILE) {
            for c in cb..(cb + TILE).min(n) {
                for r in rb.max(c + 1)..(rb + TILE).min(n) {
                    a[c + r * n] = a[r + c * n];
                }
            }
        }
    }
}

/// The dual factor of one penalty vector: `M Y` (users x items, row-major)
/// and `diag P`.
pub(crate) struct Dual {
    pub my: Vec<f64>,
    pub diag_p: Vec<f64>,
}

/// `M Y` and `diag P` for penalties `l`; `None` when not numerically
/// positive definite.
pub(crate) fn dual(inp: &Input, l: &[f64], par: Par) -> Option<Dual> {
    let (m, n) = (inp.m(), inp.n());
    // A = I + X L^-1 X^T, row u = column u (symmetric), from the sparse X.
    let mut a = vec![0f64; m * m];
    a.par_chunks_mut(m).enumerate().for_each(|(u, row)| {
        for p in inp.u_ptr[u]..inp.u_ptr[u + 1] {
            let i = inp.u_idx[p] as usize;
            let w = f64::from(inp.u_val[p]) / l[i];
            let (lo, hi) = (inp.i_ptr[i], inp.i_ptr[i + 1]);
            // Only the lower triangle (v >= u) is read.
            let start = lo + inp.i_idx[lo..hi].partition_point(|&v| (v as usize) < u);
            for q in start..hi {
                row[inp.i_idx[q] as usize] += w * f64::from(inp.i_val[q]);
            }
        }
        row[u] += 1.0;
    });
    spd_inverse(&mut a, m, 0.0, 1.0, par)?;
    let y: Vec<f64> = inp
        .u_idx
        .iter()
        .zip(&inp.u_val)
        .map(|(&i, &x)| f64::from(x) / l[i as usize])
        .collect();
    // M Y, row u = sum_k M[u, k] Y_k.
    let mut my = vec![0f64; m * n];
    my.par_chunks_mut(n).enumerate().for_each(|(u, row)| {
        let mcol = &a[u * m..(u + 1) * m];
        for (k, &c) in mcol.iter().enumerate() {
            for p in inp.u_ptr[k]..inp.u_ptr[k + 1] {
                row[inp.u_idx[p] as usize] += c * y[p];
            }
        }
    });
    let diag_p: Vec<f64> = (0..n)
        .map(|j| {
            let c: f64 = (inp.i_ptr[j]..inp.i_ptr[j + 1])
                .map(|q| f64::from(inp.i_val[q]) / l[j] * my[inp.i_idx[q] as usize * n + j])
                .sum();
            1.0 / l[j] - c
        })
        .collect();
    diag_p
        .iter()
        .all(|&d| d.is_finite() && d > 0.0)
        .then_some(Dual { my, diag_p })
}

/// Scores of active user `r` from the dual factor: `x_r - (M Y)_r / diag P`,
/// per active item.
pub(crate) fn dual_scores(inp: &Input, f: &Dual, r: usize, out: &mut [f32]) {
    let n = inp.n();
    let row = &f.my[r * n..(r + 1) * n];
    for ((o, &v), &d) in out.iter_mut().zip(row).zip(&f.diag_p) {
        *o = (-v / d) as f32;
    }
    for p in inp.u_ptr[r]..inp.u_ptr[r + 1] {
        out[inp.u_idx[p] as usize] += inp.u_val[p];
    }
}

/// `B` (row-major, active items) from the dual factor: row `i` is
/// `sum_u Y_ui (M Y)_u / diag P`, accumulated in f32 over the item's raters
/// (a few hundred terms at most on MovieLens) from an f32 copy of `M Y`,
/// which halves the memory traffic of this, the fit's largest, product.
pub(crate) fn dual_weights(inp: &Input, f: &Dual, l: &[f64]) -> Vec<f32> {
    let n = inp.n();
    let my: Vec<f32> = f.my.par_iter().map(|&v| v as f32).collect();
    let inv_d: Vec<f32> = f.diag_p.iter().map(|&d| (1.0 / d) as f32).collect();
    let mut b = vec![0f32; n * n];
    b.par_chunks_mut(n).enumerate().for_each(|(i, out)| {
        for q in inp.i_ptr[i]..inp.i_ptr[i + 1] {
            let w = (f64::from(inp.i_val[q]) / l[i]) as f32;
            let u = inp.i_idx[q] as usize;
            for (s, &v) in out.iter_mut().zip(&my[u * n..(u + 1) * n]) {
                *s += w * v;
            }
        }
        for (o, &d) in out.iter_mut().zip(&inv_d) {
            *o *= d;
        }
        out[i] = 0.0;
    });
    b
}

/// `X^T X` over the active items (row-major = column-major, symmetric), f32.
pub(crate) fn gram(inp: &Input) -> Vec<f32> {
    let n = inp.n();
    let mut g = vec![0f32; n * n];
    g.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for q in inp.i_ptr[i]..inp.i_ptr[i + 1] {
            let (r, x) = (inp.i_idx[q] as usize, inp.i_val[q]);
            for p in inp.u_ptr[r]..inp.u_ptr[r + 1] {
                row[inp.u_idx[p] as usize] += x * inp.u_val[p];
            }
        }
    });
    g
}

/// `B` (row-major) from the Gram matrix and the penalties, by an f32
/// Cholesky; `None` when not numerically positive definite.
pub(crate) fn primal_weights(g: &[f32], n: usize, l: &[f64], par: Par) -> Option<Vec<f32>> {
    let mut a = g.to_vec();
    for (i, &li) in l.iter().enumerate() {
        a[i * n + i] += li as f32;
    }
    spd_inverse(&mut a, n, 0.0f32, 1.0f32, par)?;
    // P is symmetric, so the column-major buffer read row-major is P too.
    let d: Vec<f32> = (0..n).map(|j| a[j * n + j]).collect();
    if !d.iter().all(|&x| x.is_finite() && x > 0.0) {
        return None;
    }
    let ok = a
        .par_chunks_mut(n)
        .enumerate()
        .map(|(i, row)| {
            for (v, &dj) in row.iter_mut().zip(&d) {
                *v = -*v / dj;
            }
            row[i] = 0.0;
            row.iter().all(|v| v.is_finite())
        })
        .reduce(|| true, |x, y| x && y);
    ok.then_some(a)
}

/// `x_r B` for active user `r` of `inp`, per active item.
pub(crate) fn weights_scores(inp: &Input, b: &[f32], r: usize, out: &mut [f32]) {
    let n = inp.n();
    out.fill(0.0);
    for p in inp.u_ptr[r]..inp.u_ptr[r + 1] {
        let (i, x) = (inp.u_idx[p] as usize, inp.u_val[p]);
        for (o, &w) in out.iter_mut().zip(&b[i * n..(i + 1) * n]) {
            *o += x * w;
        }
    }
}
