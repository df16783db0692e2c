//! The network: layer layout in one flat parameter vector, the batch
//! forward and backward passes (sparse first layer, dense layers and the
//! softmax output through faer), and Adam.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::Variant;

/// One fully connected layer: where its weights and biases sit in the
/// parameter vector. Weights are `fan_in x fan_out` row-major, except the
/// output layer's, stored `fan_out x fan_in` (one row per movie) so that a
/// movie's output vector is contiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layer {
    pub fan_in: usize,
    pub fan_out: usize,
    pub tanh: bool,
    pub w: usize,
    pub b: usize,
}

impl Layer {
    pub fn w_len(&self) -> usize {
        self.fan_in * self.fan_out
    }
}

/// The layers of a net: `2 * hidden.len()` of them, the encoder then the
/// mirrored decoder. For the VAE, layer `hidden.len() - 1` is linear and
/// gives `2 * latent` outputs (means, then log-variances), and the decoder
/// starts from the sampled code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arch {
    pub n_items: usize,
    pub layers: Vec<Layer>,
    pub n_params: usize,
    /// VAE: (index of the mean / log-variance layer, latent size).
    pub code: Option<(usize, usize)>,
}

impl Arch {
    /// The layout, `None` when a size is zero or the parameter count overflows.
    pub fn new(n_items: usize, hidden: &[usize], variant: Variant) -> Option<Self> {
        let l = hidden.len();
        if l == 0 || n_items == 0 || hidden.contains(&0) {
            return None;
        }
        let mut enc = vec![n_items];
        enc.extend_from_slice(hidden);
        let mut shapes: Vec<(usize, usize, bool)> = Vec::with_capacity(2 * l);
        let code = match variant {
            Variant::Dae => {
                for k in 0..l {
                    shapes.push((enc[k], enc[k + 1], true));
                }
                None
            }
            Variant::Vae => {
                for k in 0..l - 1 {
                    shapes.push((enc[k], enc[k + 1], true));
                }
                let d = hidden[l - 1];
                shapes.push((enc[l - 1], d.checked_mul(2)?, false));
                Some((l - 1, d))
            }
        };
        let dec: Vec<usize> = enc.iter().rev().copied().collect();
        for k in 0..l {
            shapes.push((dec[k], dec[k + 1], k + 1 < l));
        }
        let mut layers = Vec::with_capacity(shapes.len());
        let mut off = 0usize;
        for (fan_in, fan_out, tanh) in shapes {
            let w = off;
            let b = w.checked_add(fan_in.checked_mul(fan_out)?)?;
            off = b.checked_add(fan_out)?;
            layers.push(Layer {
                fan_in,
                fan_out,
                tanh,
                w,
                b,
            });
        }
        // Keep every buffer (batch x widest layer) addressable.
        if off > isize::MAX as usize / 8 {
            return None;
        }
        Some(Self {
            n_items,
            layers,
            n_params: off,
            code,
        })
    }

    /// The first decoder layer of the VAE (its input is the sampled code).
    pub fn dec_start(&self) -> Option<usize> {
        self.code.map(|(c, _)| c + 1)
    }

    /// The output layer's weights, one row of `fan_in` per movie.
    pub fn item_vectors<'a>(&self, params: &'a [f32]) -> &'a [f32] {
        let out = self.layers[self.layers.len() - 1];
        &params[out.w..out.b]
    }
}

/// Sparse rows (CSR): a mini-batch's inputs or targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rows {
    pub ptr: Vec<usize>,
    pub idx: Vec<u32>,
    pub val: Vec<f32>,
}

impl Rows {
    pub fn new() -> Self {
        Self {
            ptr: vec![0],
            idx: Vec::new(),
            val: Vec::new(),
        }
    }

    pub fn clear(&mut self) {
        self.ptr.clear();
        self.ptr.push(0);
        self.idx.clear();
        self.val.clear();
    }

    pub fn n(&self) -> usize {
        self.ptr.len() - 1
    }

    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.ptr[r], self.ptr[r + 1]);
        (&self.idx[a..b], &self.val[a..b])
    }

    pub fn push(&mut self, i: u32, v: f32) {
        self.idx.push(i);
        self.val.push(v);
    }

    pub fn end_row(&mut self) {
        self.ptr.push(self.idx.len());
    }

    /// Appends `(idx, w)` L2-normalised (a zero row stays empty).
    pub fn push_normalised(&mut self, idx: &[u32], w: &[f32]) {
        let norm = l2(w);
        if norm > 0.0 {
            for (&i, &x) in idx.iter().zip(w) {
                self.push(i, (f64::from(x) / norm) as f32);
            }
        }
        self.end_row();
    }
}

/// Euclidean norm in f64.
pub(crate) fn l2(w: &[f32]) -> f64 {
    w.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt()
}

/// A mini-batch: the (normalised, dropped-out) inputs and the targets of
/// the multinomial likelihood, one row per user.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub input: Rows,
    pub target: Rows,
}

/// Activations and deltas of one batch, reused across batches.
#[derive(Debug, Default)]
pub(crate) struct Work {
    acts: Vec<Vec<f32>>,
    deltas: Vec<Vec<f32>>,
    z: Vec<f32>,
    dz: Vec<f32>,
}

/// The parts of a batch's loss (means over the batch's users).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Loss {
    /// Multinomial negative log-likelihood.
    pub nll: f64,
    /// KL divergence of the code's posterior to N(0, I) (VAE).
    pub kl: f64,
    /// `weight_decay / 2 * ||W||^2`.
    pub reg: f64,
}

impl Loss {
    /// The objective with KL weight `beta`.
    pub fn total(&self, beta: f32) -> f64 {
        self.nll + f64::from(beta) * self.kl + self.reg
    }
}

fn resize(v: &mut Vec<f32>, n: usize) {
    v.resize(n, 0.0);
}

fn fill_rows(out: &mut [f32], b: &[f32]) {
    for row in out.chunks_exact_mut(b.len()) {
        row.copy_from_slice(b);
    }
}

fn tanh_in_place(a: &mut [f32]) {
    a.par_chunks_mut(4096)
        .for_each(|c| c.iter_mut().for_each(|x| *x = x.tanh()));
}

#[inline]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Column sums of a row-major `n x w` matrix, rows in order.
fn col_sums(m: &[f32], w: usize, out: &mut [f32]) {
    out.fill(0.0);
    for row in m.chunks_exact(w) {
        for (o, &x) in out.iter_mut().zip(row) {
            *o += x;
        }
    }
}

/// The weights of layer `k` as a `fan_in x fan_out` view.
fn w_view<'a>(arch: &Arch, params: &'a [f32], k: usize) -> MatRef<'a, f32> {
    let lay = arch.layers[k];
    let w = &params[lay.w..lay.b];
    if k + 1 == arch.layers.len() {
        MatRef::from_row_major_slice(w, lay.fan_out, lay.fan_in).transpose()
    } else {
        MatRef::from_row_major_slice(w, lay.fan_in, lay.fan_out)
    }
}

/// Forward pass of `input` (already normalised; dropout applied by the
/// caller). With `eps` (`n x latent`) the VAE samples its code
/// `mu + eps * exp(logvar / 2)`; without, the code is the mean. Leaves the
/// logits in the last activation.
pub(crate) fn forward(
    arch: &Arch,
    params: &[f32],
    input: &Rows,
    eps: Option<&[f32]>,
    work: &mut Work,
    par: Par,
) {
    let n = input.n();
    let nl = arch.layers.len();
    work.acts.resize_with(nl, Vec::new);
    work.deltas.resize_with(nl, Vec::new);
    let Work { acts, z, .. } = work;
    for k in 0..nl {
        let lay = arch.layers[k];
        let (fi, fo) = (lay.fan_in, lay.fan_out);
        let (prev, cur) = acts.split_at_mut(k);
        let out = &mut cur[0];
        resize(out, n * fo);
        let b = &params[lay.b..lay.b + fo];
        if k == 0 {
            let w0 = &params[lay.w..lay.b];
            out.par_chunks_mut(fo).enumerate().for_each(|(r, a)| {
                a.copy_from_slice(b);
                let (idx, val) = input.row(r);
                for (&i, &v) in idx.iter().zip(val) {
                    let i = i as usize;
                    axpy(a, v, &w0[i * fo..(i + 1) * fo]);
                }
            });
        } else {
            let x: &[f32] = if arch.dec_start() == Some(k) {
                &z[..n * fi]
            } else {
                &prev[k - 1][..n * fi]
            };
            fill_rows(out, b);
            matmul(
                MatMut::from_row_major_slice_mut(&mut out[..], n, fo),
                Accum::Add,
                MatRef::from_row_major_slice(x, n, fi),
                w_view(arch, params, k),
                1.0,
                par,
            );
        }
        if lay.tanh {
            tanh_in_place(out);
        }
        if let Some((c, d)) = arch.code {
            if c == k {
                resize(z, n * d);
                for (r, zr) in z.chunks_exact_mut(d).enumerate() {
                    let o = &out[r * 2 * d..(r + 1) * 2 * d];
                    let (mu, lv) = o.split_at(d);
                    match eps {
                        Some(e) => {
                            let e = &e[r * d..(r + 1) * d];
                            for j in 0..d {
                                zr[j] = mu[j] + e[j] * (0.5 * lv[j]).exp();
                            }
                        }
                        None => zr.copy_from_slice(mu),
                    }
                }
            }
        }
    }
}

/// The logits (`n x n_items`) of the last [`forward`].
pub(crate) fn logits(work: &Work) -> &[f32] {
    work.acts.last().map_or(&[], |v| v.as_slice())
}

/// Loss and gradient (into `grad`, overwritten) of one batch: the mean over
/// its users of `-sum_i t_ui log softmax(z_u)_i`, plus `beta` times the mean
/// KL for the VAE, plus `weight_decay / 2 * ||W||^2`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn loss_grad(
    arch: &Arch,
    params: &[f32],
    batch: &Batch,
    eps: Option<&[f32]>,
    beta: f32,
    weight_decay: f32,
    work: &mut Work,
    grad: &mut [f32],
    par: Par,
) -> Loss {
    forward(arch, params, &batch.input, eps, work, par);
    let n = batch.input.n();
    let nl = arch.layers.len();
    let n_items = arch.n_items;
    let inv_n = 1.0 / n as f32;
    let Work {
        acts,
        deltas,
        z,
        dz,
    } = work;
    for (d, lay) in deltas.iter_mut().zip(&arch.layers) {
        resize(d, n * lay.fan_out);
    }
    // Softmax output: dZ = (s_u softmax(z_u) - t_u) / n, s_u = sum_i t_ui.
    let nll_rows: Vec<f64> = deltas[nl - 1]
        .par_chunks_mut(n_items)
        .zip(acts[nl - 1].par_chunks(n_items))
        .enumerate()
        .map(|(r, (d, zr))| {
            let (idx, t) = batch.target.row(r);
            let max = zr.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let mut sum = 0f64;
            for (dj, &zj) in d.iter_mut().zip(zr) {
                let e = (zj - max).exp();
                *dj = e;
                sum += f64::from(e);
            }
            let lse = max + sum.ln() as f32;
            let s: f32 = t.iter().sum();
            let scale = (f64::from(s * inv_n) / sum) as f32;
            for dj in d.iter_mut() {
                *dj *= scale;
            }
            let mut nll = 0f64;
            for (&i, &ti) in idx.iter().zip(t) {
                let i = i as usize;
                d[i] -= ti * inv_n;
                nll += f64::from(ti) * f64::from(lse - zr[i]);
            }
            nll
        })
        .collect();
    let mut loss = Loss {
        nll: nll_rows.iter().sum::<f64>() / n as f64,
        ..Loss::default()
    };
    if let Some((c, d)) = arch.code {
        let mut kl = 0f64;
        for row in acts[c].chunks_exact(2 * d) {
            let (mu, lv) = row.split_at(d);
            for (&m, &l) in mu.iter().zip(lv) {
                kl += 0.5 * f64::from(-l + l.exp() + m * m - 1.0);
            }
        }
        loss.kl = kl / n as f64;
    }
    for k in (0..nl).rev() {
        let lay = arch.layers[k];
        let (fi, fo) = (lay.fan_in, lay.fan_out);
        let (lo, hi) = deltas.split_at_mut(k);
        let dzk = &hi[0][..n * fo];
        let (gw, gb) = grad[lay.w..lay.b + fo].split_at_mut(lay.w_len());
        col_sums(dzk, fo, gb);
        if k == 0 {
            gw.fill(0.0);
            for r in 0..n {
                let (idx, val) = batch.input.row(r);
                let dr = &dzk[r * fo..(r + 1) * fo];
                for (&i, &v) in idx.iter().zip(val) {
                    let i = i as usize;
                    axpy(&mut gw[i * fo..(i + 1) * fo], v, dr);
                }
            }
            break;
        }
        let from_code = arch.dec_start() == Some(k);
        let x: &[f32] = if from_code {
            &z[..n * fi]
        } else {
            &acts[k - 1][..n * fi]
        };
        let xm = MatRef::from_row_major_slice(x, n, fi);
        let dzm = MatRef::from_row_major_slice(dzk, n, fo);
        if k + 1 == nl {
            matmul(
                MatMut::from_row_major_slice_mut(gw, fo, fi),
                Accum::Replace,
                dzm.transpose(),
                xm,
                1.0,
                par,
            );
        } else {
            matmul(
                MatMut::from_row_major_slice_mut(gw, fi, fo),
                Accum::Replace,
                xm.transpose(),
                dzm,
                1.0,
                par,
            );
        }
        let dx: &mut Vec<f32> = if from_code { &mut *dz } else { &mut lo[k - 1] };
        resize(dx, n * fi);
        matmul(
            MatMut::from_row_major_slice_mut(&mut dx[..], n, fi),
            Accum::Replace,
            dzm,
            w_view(arch, params, k).transpose(),
            1.0,
            par,
        );
        if let (true, Some((c, d))) = (from_code, arch.code) {
            // Through the reparameterisation and the KL term.
            let out = &acts[c];
            let dcode = &mut lo[c];
            let kl_w = beta * inv_n;
            for r in 0..n {
                let (mu, lv) = out[r * 2 * d..(r + 1) * 2 * d].split_at(d);
                let (dmu, dlv) = dcode[r * 2 * d..(r + 1) * 2 * d].split_at_mut(d);
                let g = &dz[r * d..(r + 1) * d];
                for j in 0..d {
                    dmu[j] = g[j] + kl_w * mu[j];
                    let e = eps.map_or(0.0, |e| e[r * d + j]);
                    dlv[j] =
                        g[j] * e * 0.5 * (0.5 * lv[j]).exp() + kl_w * 0.5 * (lv[j].exp() - 1.0);
                }
            }
        } else if arch.layers[k - 1].tanh {
            let a = &acts[k - 1][..n * fi];
            dx.par_chunks_mut(4096)
                .zip(a.par_chunks(4096))
                .for_each(|(d, a)| {
                    for (d, &a) in d.iter_mut().zip(a) {
                        *d *= 1.0 - a * a;
                    }
                });
        }
    }
    if weight_decay > 0.0 {
        let mut reg = 0f64;
        for lay in &arch.layers {
            let (p, g) = (&params[lay.w..lay.b], &mut grad[lay.w..lay.b]);
            for (g, &p) in g.iter_mut().zip(p) {
                *g += weight_decay * p;
                reg += f64::from(p) * f64::from(p);
            }
        }
        loss.reg = 0.5 * f64::from(weight_decay) * reg;
    }
    loss
}

/// The first layer's pre-activations and weight gradient computed densely
/// (the batch as an `n x n_items` matrix through faer): the reference the
/// sparse path is tested against.
#[cfg(test)]
pub(crate) fn first_layer_dense(
    arch: &Arch,
    params: &[f32],
    input: &Rows,
    dz0: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let lay = arch.layers[0];
    let (n, d, h) = (input.n(), arch.n_items, lay.fan_out);
    let mut x = vec![0f32; n * d];
    for r in 0..n {
        let (idx, val) = input.row(r);
        for (&i, &v) in idx.iter().zip(val) {
            x[r * d + i as usize] += v;
        }
    }
    let xm = MatRef::from_row_major_slice(&x, n, d);
    let mut out = vec![0f32; n * h];
    fill_rows(&mut out, &params[lay.b..lay.b + h]);
    matmul(
        MatMut::from_row_major_slice_mut(&mut out, n, h),
        Accum::Add,
        xm,
        w_view(arch, params, 0),
        1.0,
        Par::Seq,
    );
    let mut gw = vec![0f32; d * h];
    matmul(
        MatMut::from_row_major_slice_mut(&mut gw, d, h),
        Accum::Replace,
        xm.transpose(),
        MatRef::from_row_major_slice(dz0, n, h),
        1.0,
        Par::Seq,
    );
    (out, gw)
}

/// The first layer's activations of the last [`forward`] and its deltas of
/// the last [`loss_grad`] (tests).
#[cfg(test)]
pub(crate) fn first_layer(work: &Work) -> (&[f32], &[f32]) {
    (&work.acts[0], &work.deltas[0])
}

/// Adam (Kingma and Ba), element-wise, so the result does not depend on
/// the thread count.
#[derive(Debug, Clone)]
pub(crate) struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    lr: f32,
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const ADAM_EPS: f32 = 1e-8;

impl Adam {
    pub fn new(n: usize, lr: f32) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            lr,
        }
    }

    pub fn step(&mut self, params: &mut [f32], grad: &[f32]) {
        self.t = self.t.saturating_add(1);
        let bc1 = 1.0 - f64::from(BETA1).powi(self.t);
        let bc2 = 1.0 - f64::from(BETA2).powi(self.t);
        let step = (f64::from(self.lr) * bc2.sqrt() / bc1) as f32;
        const CHUNK: usize = 1 << 14;
        params
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .zip(self.m.par_chunks_mut(CHUNK))
            .zip(self.v.par_chunks_mut(CHUNK))
            .for_each(|(((p, g), m), v)| {
                for j in 0..p.len() {
                    let gj = g[j];
                    m[j] = BETA1 * m[j] + (1.0 - BETA1) * gj;
                    v[j] = BETA2 * v[j] + (1.0 - BETA2) * gj * gj;
                    p[j] -= step * m[j] / (v[j].sqrt() + ADAM_EPS);
                }
            });
    }
}
