//! The per-row least-squares solves of iALS.
//!
//! For a row (a user, or an item) with rated entries `j` of confidence
//! `c_j` against fixed factors `y_j`, the row's vector `x` minimises
//! `sum_j c_j (1 - x . y_j)^2 + w0 sum_{unrated} (x . y)^2 + reg_row |x|^2`,
//! whose normal equations are
//! `(w0 Y^T Y + sum_j (c_j - w0) y_j y_j^T + reg_row I) x = sum_j c_j y_j`.
//! `w0 Y^T Y` (the weighted Gram matrix) is shared by every row of a
//! half-step and computed once.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};

use crate::IalsConfig;

/// `w0 F^T F` of row-major factors `fixed` (`n x k`), full `k x k`,
/// column-major (symmetric). Sequential, so always the same bits.
pub(crate) fn weighted_gram(fixed: &[f32], k: usize, w0: f32) -> Vec<f32> {
    let n = fixed.len() / k;
    let mut g = vec![0.0f32; k * k];
    if n > 0 {
        let f = MatRef::from_column_major_slice(fixed, k, n);
        matmul(
            MatMut::from_column_major_slice_mut(&mut g, k, k),
            Accum::Replace,
            f,
            f.transpose(),
            w0,
            Par::Seq,
        );
    }
    g
}

/// The weights of one half-step: confidence, unobserved weight,
/// regularisation and the size of the other side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Weights<'a> {
    pub config: &'a IalsConfig,
    /// Number of rows of the fixed side (items for a user step).
    pub n_other: usize,
}

impl Weights<'_> {
    /// `reg * (sum of the row's weights)^nu`: `conf_sum` over the rated
    /// entries plus `w0` for each of the other `n_other - n` entries.
    #[inline]
    pub fn reg_for(&self, conf_sum: f64, n: usize) -> f32 {
        let c = self.config;
        if c.reg_exponent == 0.0 {
            return c.reg;
        }
        let unrated = self.n_other.saturating_sub(n) as f64;
        let total = conf_sum + f64::from(c.unobserved_weight) * unrated;
        let r = f64::from(c.reg) * total.max(0.0).powf(f64::from(c.reg_exponent));
        // Never below `reg` (an empty row keeps a positive definite system).
        (r as f32).max(c.reg)
    }
}

/// Reusable buffers of one worker.
pub(crate) struct Scratch {
    k: usize,
    gathered: Vec<f32>,
    scaled: Vec<f32>,
    conf: Vec<f32>,
    a: Vec<f32>,
    mem: MemBuffer,
}

impl Scratch {
    pub fn new(k: usize) -> Self {
        let req = llt::factor::cholesky_in_place_scratch::<f32>(k, Par::Seq, Default::default())
            .or(llt::solve::solve_in_place_scratch::<f32>(k, 1, Par::Seq));
        Self {
            k,
            gathered: Vec::new(),
            scaled: Vec::new(),
            conf: Vec::new(),
            a: vec![0.0; k * k],
            mem: MemBuffer::new(req),
        }
    }
}

/// Error of a solve: the system was not positive definite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotPd;

/// Fills `s.a` with the row's system matrix and `out` with its right-hand
/// side; gathers the rated rows and their confidences.
fn build(
    gram: &[f32],
    fixed: &[f32],
    items: &[usize],
    values: &[f32],
    w: &Weights<'_>,
    s: &mut Scratch,
    rhs: &mut [f32],
) {
    let k = s.k;
    let w0 = w.config.unobserved_weight;
    s.gathered.clear();
    s.scaled.clear();
    s.conf.clear();
    rhs.fill(0.0);
    let mut conf_sum = 0.0f64;
    for (&j, &r) in items.iter().zip(values) {
        let y = &fixed[j * k..(j + 1) * k];
        let c = w.config.confidence_of(r);
        conf_sum += f64::from(c);
        s.conf.push(c);
        s.gathered.extend_from_slice(y);
        let d = c - w0;
        s.scaled.extend(y.iter().map(|&v| v * d));
        for (b, &v) in rhs.iter_mut().zip(y) {
            *b += c * v;
        }
    }
    let n = items.len();
    s.a.copy_from_slice(gram);
    let yu = MatRef::from_column_major_slice(&s.gathered, k, n);
    let z = MatRef::from_column_major_slice(&s.scaled, k, n);
    matmul(
        MatMut::from_column_major_slice_mut(&mut s.a, k, k),
        Accum::Add,
        yu,
        z.transpose(),
        1.0f32,
        Par::Seq,
    );
    let reg = w.reg_for(conf_sum, n);
    for d in 0..k {
        s.a[d * k + d] += reg;
    }
}

/// Factors `s.a` (Cholesky, lower triangle) in place.
fn factor(s: &mut Scratch) -> Result<(), NotPd> {
    let k = s.k;
    let stack = MemStack::new(&mut s.mem);
    llt::factor::cholesky_in_place(
        MatMut::from_column_major_slice_mut(&mut s.a, k, k),
        Default::default(),
        Par::Seq,
        stack,
        Default::default(),
    )
    .map(|_| ())
    .map_err(|_| NotPd)
}

/// Solves `L L^T x = x` in place with the factor in `s.a`.
fn solve_factored(s: &mut Scratch, x: &mut [f32]) {
    let k = s.k;
    let stack = MemStack::new(&mut s.mem);
    llt::solve::solve_in_place(
        MatRef::from_column_major_slice(&s.a, k, k),
        MatMut::from_column_major_slice_mut(x, k, 1),
        Par::Seq,
        stack,
    );
}

/// The exact solution of the row's normal equations into `out` (zeros for
/// a row without ratings). The user step of the fit and the fold-in both
/// call this, so they agree bit for bit.
pub(crate) fn solve_exact(
    gram: &[f32],
    fixed: &[f32],
    items: &[usize],
    values: &[f32],
    w: &Weights<'_>,
    s: &mut Scratch,
    out: &mut [f32],
) -> Result<(), NotPd> {
    if items.is_empty() {
        out.fill(0.0);
        return Ok(());
    }
    build(gram, fixed, items, values, w, s, out);
    factor(s)?;
    solve_factored(s, out);
    if out.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(NotPd)
    }
}

/// `w_j = (W^{-1} y_target) . y_j` times `c_j` for each rated entry: the
/// contribution of rated entry `j` to the score of `target`, as in Hu et
/// al. section 5 (`s_target = sum_j c_j y_target^T W^{-1} y_j`). Returns
/// the contributions in the order of `items`.
pub(crate) fn contributions(
    gram: &[f32],
    fixed: &[f32],
    items: &[usize],
    values: &[f32],
    target: &[f32],
    w: &Weights<'_>,
    s: &mut Scratch,
) -> Result<Vec<f32>, NotPd> {
    let k = s.k;
    let mut v = vec![0.0f32; k];
    if items.is_empty() {
        return Ok(Vec::new());
    }
    build(gram, fixed, items, values, w, s, &mut v);
    factor(s)?;
    v.copy_from_slice(target);
    solve_factored(s, &mut v);
    Ok(s.conf
        .iter()
        .enumerate()
        .map(|(j, &c)| c * dot(&v, &s.gathered[j * k..(j + 1) * k]))
        .collect())
}

/// Buffers of [`solve_cg_block`].
#[derive(Default)]
pub(crate) struct CgScratch {
    r: Vec<f32>,
    p: Vec<f32>,
    ap: Vec<f32>,
    rs: Vec<f32>,
    reg: Vec<f32>,
    active: Vec<bool>,
}

/// A few conjugate-gradient steps (Takacs et al. 2011) on the normal
/// equations of a block of rows, each starting from its row of `xs` (the
/// previous iteration's vectors, row-major `rows.len() x k`), without
/// forming the matrices: `A p = gram p + sum_j (c_j - w0)(y_j . p) y_j +
/// reg p`. The `gram p` products of the whole block are one matrix product
/// (faer), the rest is per row. A row without entries gets zeros.
///
/// The blocks are fixed by the caller, independent of the thread count,
/// so the result is too.
pub(crate) fn solve_cg_block(
    gram: &[f32],
    fixed: &[f32],
    rows: &[(&[usize], &[f32])],
    w: &Weights<'_>,
    steps: usize,
    s: &mut CgScratch,
    xs: &mut [f32],
) {
    let n = rows.len();
    if n == 0 {
        return;
    }
    let k = xs.len() / n;
    let w0 = w.config.unobserved_weight;
    let CgScratch {
        r,
        p,
        ap,
        rs,
        reg,
        active,
    } = s;
    r.resize(n * k, 0.0);
    p.resize(n * k, 0.0);
    ap.resize(n * k, 0.0);
    rs.clear();
    reg.clear();
    active.clear();
    for (&(items, values), x) in rows.iter().zip(xs.chunks_exact_mut(k)) {
        let conf: f64 = values
            .iter()
            .map(|&v| f64::from(w.config.confidence_of(v)))
            .sum();
        reg.push(w.reg_for(conf, items.len()));
        active.push(!items.is_empty());
        if items.is_empty() {
            x.fill(0.0);
        }
    }
    let gram = MatRef::from_column_major_slice(gram, k, k);
    // The sparse part plus the regularisation of `A v`, added to `out`.
    let sparse = |row: usize, v: &[f32], out: &mut [f32]| {
        let (items, values) = rows[row];
        axpy(out, reg[row], v);
        for (&j, &rv) in items.iter().zip(values) {
            let y = &fixed[j * k..(j + 1) * k];
            let d = (w.config.confidence_of(rv) - w0) * dot(y, v);
            axpy(out, d, y);
        }
    };
    // r = b - A x, p = r.
    matmul(
        MatMut::from_column_major_slice_mut(r, k, n),
        Accum::Replace,
        gram,
        MatRef::from_column_major_slice(xs, k, n),
        1.0f32,
        Par::Seq,
    );
    for row in 0..n {
        let rr = &mut r[row * k..(row + 1) * k];
        let x = &xs[row * k..(row + 1) * k];
        sparse(row, x, rr);
        for v in rr.iter_mut() {
            *v = -*v;
        }
        let (items, values) = rows[row];
        for (&j, &rv) in items.iter().zip(values) {
            axpy(rr, w.config.confidence_of(rv), &fixed[j * k..(j + 1) * k]);
        }
        rs.push(dot(rr, rr));
    }
    p.copy_from_slice(r);
    for _ in 0..steps {
        for row in 0..n {
            if rs[row].is_nan() || rs[row] <= 1e-20 {
                active[row] = false;
            }
        }
        if !active.iter().any(|&a| a) {
            break;
        }
        matmul(
            MatMut::from_column_major_slice_mut(ap, k, n),
            Accum::Replace,
            gram,
            MatRef::from_column_major_slice(p, k, n),
            1.0f32,
            Par::Seq,
        );
        for row in 0..n {
            if !active[row] {
                continue;
            }
            let span = row * k..(row + 1) * k;
            let (pr, apr) = (&mut p[span.clone()], &mut ap[span.clone()]);
            sparse(row, pr, apr);
            let pap = dot(pr, apr);
            if pap.is_nan() || pap <= 0.0 {
                active[row] = false;
                continue;
            }
            let a = rs[row] / pap;
            axpy(&mut xs[span.clone()], a, pr);
            let rr = &mut r[span];
            axpy(rr, -a, apr);
            let rs_new = dot(rr, rr);
            let beta = rs_new / rs[row];
            for (pv, &rv) in pr.iter_mut().zip(rr.iter()) {
                *pv = rv + beta * *pv;
            }
            rs[row] = rs_new;
        }
    }
}

/// Dot product with eight fixed-order partial sums (vectorises, and the
/// order never depends on anything but the length).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `y += a x`.
#[inline]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv += a * xv;
    }
}
