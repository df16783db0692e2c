//! The forward and backward passes of one mini-batch, dense and sparse.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use movierec_core::metrics::Accumulator;
use movierec_core::{RatingMatrix, RatingScale};
use pulp::{Arch, Simd, WithSimd};
use rand::Rng as _;

use crate::kernel::{dot_rows, gather_t, sigmoid_backward, sigmoid_in_place, Tail};
use crate::net::{Network, Penalties, Touched};
use crate::{Output, Path, Reduction};

pub(crate) mod par;
mod sparse;
use sparse::*;

/// The upper end of the valid output range of the report's penalty (its
/// ratings lie in (0, 5]).
const RANGE_MAX: f32 = 5.0;

/// True where the report's range penalty applies: the half-star rounding of
/// `o` (`round(2 o) / 2`, ties to even) is outside (0, 5].
///
/// `round(2 o) <= 0` exactly when `2 o <= 0.5` (0.5 rounds to 0), and
/// `round(2 o) > 10` exactly when `2 o > 10.5` (10.5 rounds to 10); doubling
/// is exact in floating point, so two comparisons replace the rounding (a
/// libm call that kept the dense loop scalar).
#[inline(always)]
pub(crate) fn out_of_range(o: f32) -> bool {
    o <= 0.25 || o > RANGE_MAX + 0.25
}

/// The training vectors the network reconstructs (items' vectors over users
/// in the item-based mode, users' vectors over items in the user-based one),
/// compressed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vectors {
    pub dim: usize,
    pub ptr: Vec<usize>,
    pub idx: Vec<u32>,
    pub val: Vec<f32>,
}

impl Vectors {
    pub fn new(train: &RatingMatrix, user_based: bool) -> Self {
        let (m, n, dim) = if user_based {
            (train.csr(), train.n_users(), train.n_items())
        } else {
            (train.csc(), train.n_items(), train.n_users())
        };
        let mut ptr = Vec::with_capacity(n + 1);
        ptr.push(0);
        let mut idx = Vec::with_capacity(m.nnz());
        let mut val = Vec::with_capacity(m.nnz());
        for o in 0..n {
            let range = m.indptr().outer_inds_sz(o);
            idx.extend(m.indices()[range.clone()].iter().map(|&i| i as u32));
            val.extend_from_slice(&m.data()[range]);
            ptr.push(idx.len());
        }
        Self { dim, ptr, idx, val }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.ptr.len() - 1
    }

    /// Entries (positions, values) of vector `v`.
    #[inline]
    pub fn get(&self, v: usize) -> (&[u32], &[f32]) {
        let r = self.ptr[v]..self.ptr[v + 1];
        (&self.idx[r.clone()], &self.val[r])
    }
}

/// One mini-batch: for each of its vectors, the input entries (after
/// dropout) and the target entries (every observed rating).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub(crate) in_ptr: Vec<usize>,
    pub(crate) in_idx: Vec<u32>,
    pub(crate) in_val: Vec<f32>,
    pub(crate) tg_ptr: Vec<usize>,
    pub(crate) tg_idx: Vec<u32>,
    pub(crate) tg_val: Vec<f32>,
    /// No dropout: the input entries are the target entries (not copied).
    pub(crate) same: bool,
}

impl Batch {
    /// The batch of vectors `rows` of `train` (items, or users when
    /// `user_based`), each observed input dropped with probability `dropout`
    /// (kept ones scaled by `1 / (1 - dropout)`; the draws seeded by `seed`).
    ///
    /// # Panics
    /// If a row is out of range or `dropout` is not in [0, 1).
    #[track_caller]
    pub fn new(
        train: &RatingMatrix,
        user_based: bool,
        rows: &[usize],
        dropout: f32,
        seed: u64,
    ) -> Self {
        assert!(
            (0.0..1.0).contains(&dropout),
            "dropout {dropout} not in [0, 1)"
        );
        let vectors = Vectors::new(train, user_based);
        let rows: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
        let mut batch = Self::default();
        let mut rng = movierec_core::rng_for(seed, 0);
        batch.fill(&vectors, &rows, dropout, &mut rng);
        batch
    }

    /// Refills the batch in place (no allocation once grown).
    pub(crate) fn fill(
        &mut self,
        vectors: &Vectors,
        rows: &[u32],
        dropout: f32,
        rng: &mut movierec_core::Rng,
    ) {
        for v in [&mut self.in_ptr, &mut self.tg_ptr] {
            v.clear();
            v.push(0);
        }
        for v in [&mut self.in_idx, &mut self.tg_idx] {
            v.clear();
        }
        for v in [&mut self.in_val, &mut self.tg_val] {
            v.clear();
        }
        let keep_scale = 1.0 / (1.0 - dropout);
        self.same = dropout == 0.0;
        for &r in rows {
            let (idx, val) = vectors.get(r as usize);
            self.tg_idx.extend_from_slice(idx);
            self.tg_val.extend_from_slice(val);
            self.tg_ptr.push(self.tg_idx.len());
            if !self.same {
                for (&i, &x) in idx.iter().zip(val) {
                    if rng.random::<f32>() >= dropout {
                        self.in_idx.push(i);
                        self.in_val.push(x * keep_scale);
                    }
                }
                self.in_ptr.push(self.in_idx.len());
            }
        }
    }

    /// Number of vectors in the batch.
    pub fn len(&self) -> usize {
        self.tg_ptr.len().saturating_sub(1)
    }

    /// True when the batch holds no vector.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of observed (target) entries.
    pub fn nnz(&self) -> usize {
        self.tg_idx.len()
    }

    /// Number of input entries (after dropout).
    pub(crate) fn in_nnz(&self) -> usize {
        if self.same {
            self.nnz()
        } else {
            self.in_idx.len()
        }
    }

    /// Input entries (positions, values) of the batch's `n`-th vector.
    #[inline]
    pub(crate) fn input(&self, n: usize) -> (&[u32], &[f32]) {
        if self.same {
            let r = self.target_range(n);
            return (&self.tg_idx[r.clone()], &self.tg_val[r]);
        }
        let r = self.in_ptr[n]..self.in_ptr[n + 1];
        (&self.in_idx[r.clone()], &self.in_val[r])
    }

    #[inline]
    fn target_range(&self, n: usize) -> std::ops::Range<usize> {
        self.tg_ptr[n]..self.tg_ptr[n + 1]
    }
}

/// Buffers of the forward and backward passes for batches of up to a given
/// number of vectors, on one [`Path`]. Reused across batches: a training
/// step allocates nothing.
#[derive(Debug, Clone)]
pub struct Workspace {
    path: Path,
    /// Rows of the batch of the last forward pass.
    n: usize,
    /// Per hidden layer, the activations `A_k` (`n x h_k`, row-major).
    acts: Vec<Vec<f32>>,
    /// Per hidden layer, `dA_k`, then `dZ_k` (`n x h_k`).
    deltas: Vec<Vec<f32>>,
    /// Sparse: pre-activation of the output at each target entry.
    zo: Vec<f32>,
    /// Sparse backward scratch: the output layer's gradients, and the
    /// unit-major transpose of the batch's targets.
    og: OutGrad,
    /// `og` and `dA` already hold the output layer's backward row pass of
    /// the last forward pass (the trainer's fused step).
    fused: bool,
    /// Lazy updates (sparse path): the backward pass writes only the
    /// gradient rows of the units the batch touches, listed here.
    touched: Option<Touched>,
    /// Dense: input, target, mask, output pre-activation, its gradient (`n x D`).
    x: Vec<f32>,
    t: Vec<f32>,
    m: Vec<f32>,
    z: Vec<f32>,
    dz: Vec<f32>,
}

impl Workspace {
    /// Buffers for `net` on `path`; they grow with the first larger batch.
    pub fn new(path: Path, net: &Network) -> Self {
        Self {
            path,
            n: 0,
            acts: vec![Vec::new(); net.hidden().len()],
            deltas: vec![Vec::new(); net.hidden().len()],
            zo: Vec::new(),
            og: OutGrad::default(),
            fused: false,
            touched: None,
            x: Vec::new(),
            t: Vec::new(),
            m: Vec::new(),
            z: Vec::new(),
            dz: Vec::new(),
        }
    }

    /// The execution path.
    pub fn path(&self) -> Path {
        self.path
    }

    /// Turns on lazy gradients (sparse path only): each backward pass then
    /// writes only the first- and output-layer rows of the units its batch
    /// touches and lists them in [`touched`](Self::touched), for
    /// [`Adam::step_lazy`](crate::net::Adam::step_lazy).
    pub(crate) fn set_lazy(&mut self) {
        debug_assert_eq!(self.path, Path::Sparse, "lazy gradients are sparse");
        self.touched = Some(Touched::default());
    }

    /// The units the last lazy backward pass touched.
    pub(crate) fn touched(&self) -> Option<&Touched> {
        self.touched.as_ref()
    }

    /// The batch loss: data term, range penalty and regulariser (see
    /// [`Reduction`]).
    pub fn forward(&mut self, net: &Network, batch: &Batch, pen: &Penalties) -> f64 {
        self.forward_terms(net, batch, pen, None) + net.regulariser(pen)
    }

    /// The gradient of the loss of the batch last passed to
    /// [`forward`](Self::forward), written over `grad` (the layout of
    /// [`Network::params`]).
    ///
    /// # Panics
    /// If `grad.len() != net.n_params()`, or `batch` is not the batch of the
    /// last forward pass.
    #[track_caller]
    pub fn backward(&mut self, net: &Network, batch: &Batch, pen: &Penalties, grad: &mut [f32]) {
        assert_eq!(grad.len(), net.n_params(), "gradient buffer size");
        self.backward_terms(net, batch, pen, grad);
        net.add_regulariser_grad(pen, grad);
    }

    /// The codes (last hidden layer, `n x h`) of the batch's vectors, from
    /// their inputs (the sparse first layer on either path: same math).
    pub(crate) fn encode(&mut self, net: &Network, batch: &Batch) -> &[f32] {
        let n = batch.len();
        self.n = n;
        for (a, &h) in self.acts.iter_mut().zip(net.hidden()) {
            grow(a, n * h);
        }
        let a0 = &mut self.acts[0][..n * net.hidden()[0]];
        SparseInput::run(net, batch, a0);
        self.forward_hidden(net);
        &self.acts[net.hidden().len() - 1][..n * net.code_dim()]
    }

    /// Data term plus range penalty (no regulariser).
    ///
    /// With `metrics`, each observed output is also added to the accumulator
    /// (the training curve of the report's Figures 5 and 6, which its code
    /// takes batch by batch during the epoch).
    pub(crate) fn forward_terms(
        &mut self,
        net: &Network,
        batch: &Batch,
        pen: &Penalties,
        metrics: Option<(&mut Accumulator, RatingScale)>,
    ) -> f64 {
        self.forward_terms_fused(net, batch, pen, metrics, false)
    }

    /// [`forward_terms`](Self::forward_terms) and, with `fuse` on the
    /// sparse path, the output layer's backward row pass too (`dz` and
    /// `dA`, while the rows of `W_out` just read are in cache), which the
    /// next [`backward_terms`](Self::backward_terms) then skips: the same
    /// operations in the same order.
    pub(crate) fn forward_terms_fused(
        &mut self,
        net: &Network,
        batch: &Batch,
        pen: &Penalties,
        metrics: Option<(&mut Accumulator, RatingScale)>,
        fuse: bool,
    ) -> f64 {
        let n = batch.len();
        self.n = n;
        self.fused = fuse && self.path == Path::Sparse;
        for (a, &h) in self.acts.iter_mut().zip(net.hidden()) {
            grow(a, n * h);
        }
        let scale = data_scale(pen.reduction, n, net.dim());
        let (data, range) = match self.path {
            Path::Sparse => {
                let a0 = &mut self.acts[0][..n * net.hidden()[0]];
                SparseInput::run(net, batch, a0);
                self.forward_hidden(net);
                grow(&mut self.zo, batch.nnz());
                let l = net.hidden().len();
                let h = net.code_dim();
                let back = if self.fused {
                    grow(&mut self.deltas[l - 1], n * h);
                    let da = &mut self.deltas[l - 1][..n * h];
                    Some((da, &mut self.og, scale, pen.gamma))
                } else {
                    None
                };
                SparseOutput {
                    net,
                    batch,
                    a: &self.acts[l - 1][..n * h],
                    zo: &mut self.zo,
                    metrics,
                    back,
                }
                .run()
            }
            Path::Dense => self.dense_forward(net, batch, metrics),
        };
        let data = f64::from(scale) * data;
        0.5 * data + 0.5 * f64::from(pen.gamma) * range
    }

    /// Gradient of the data term and range penalty, written over `grad`.
    pub(crate) fn backward_terms(
        &mut self,
        net: &Network,
        batch: &Batch,
        pen: &Penalties,
        grad: &mut [f32],
    ) {
        let n = self.n;
        debug_assert_eq!(n, batch.len());
        for (d, &h) in self.deltas.iter_mut().zip(net.hidden()) {
            grow(d, n * h);
        }
        let l = net.hidden().len();
        let h_code = net.code_dim();
        let scale = data_scale(pen.reduction, n, net.dim());
        match self.path {
            Path::Sparse => {
                let (dw, db) = net.split(grad, l);
                let da = &mut self.deltas[l - 1][..n * h_code];
                Arch::new().dispatch(SparseOutputBack {
                    net,
                    batch,
                    a: &self.acts[l - 1][..n * h_code],
                    zo: &self.zo,
                    scale,
                    gamma: pen.gamma,
                    dw,
                    db,
                    da,
                    og: &mut self.og,
                    rows_done: self.fused,
                    touched: self.touched.as_mut().map(|t| &mut t.outputs),
                });
                self.fused = false;
            }
            Path::Dense => self.dense_output_backward(net, pen, scale, grad),
        }
        self.backward_hidden(net, grad);
        let h0 = net.hidden()[0];
        let dz0 = &self.deltas[0][..n * h0];
        let (dw0, db0) = net.split(grad, 0);
        col_sums(dz0, h0, db0);
        match self.path {
            Path::Sparse => Arch::new().dispatch(SparseInputBack {
                batch,
                dz0,
                h0,
                dw0,
                tr: &mut self.og.tr,
                touched: self.touched.as_mut().map(|t| &mut t.inputs),
            }),
            Path::Dense => {
                let d = net.dim();
                let x = MatRef::from_row_major_slice(&self.x[..n * d], n, d);
                let dz0 = MatRef::from_row_major_slice(dz0, n, h0);
                let dw0 = MatMut::from_row_major_slice_mut(dw0, d, h0);
                matmul(dw0, Accum::Replace, x.transpose(), dz0, 1.0, Par::Seq);
            }
        }
    }

    /// Hidden layers 1.. (dense products on both paths): `A_k = sigmoid(A_{k-1} W_k + b_k)`.
    fn forward_hidden(&mut self, net: &Network) {
        let n = self.n;
        let hidden = net.hidden();
        for k in 1..hidden.len() {
            let (prev, rest) = self.acts.split_at_mut(k);
            let (hp, hk) = (hidden[k - 1], hidden[k]);
            let a_prev = MatRef::from_row_major_slice(&prev[k - 1][..n * hp], n, hp);
            let a = &mut rest[0][..n * hk];
            fill_rows(a, net.b(k));
            let w = MatRef::from_row_major_slice(net.w(k), hp, hk);
            matmul(
                MatMut::from_row_major_slice_mut(&mut *a, n, hk),
                Accum::Add,
                a_prev,
                w,
                1.0,
                Par::Seq,
            );
            Arch::new().dispatch(|| sigmoid_in_place(a));
        }
    }

    /// Backward through hidden layers `L-1 .. 1`, given `dA_{L-1}` in
    /// `deltas[L-1]`; leaves `dZ_0` in `deltas[0]`.
    fn backward_hidden(&mut self, net: &Network, grad: &mut [f32]) {
        let n = self.n;
        let hidden = net.hidden();
        let l = hidden.len();
        {
            let h = hidden[l - 1];
            let (d, a) = (&mut self.deltas[l - 1][..n * h], &self.acts[l - 1][..n * h]);
            Arch::new().dispatch(|| sigmoid_backward(d, a));
        }
        for k in (1..l).rev() {
            let (hp, hk) = (hidden[k - 1], hidden[k]);
            let (lo, hi) = self.deltas.split_at_mut(k);
            let dz = &hi[0][..n * hk];
            let (dw, db) = net.split(grad, k);
            col_sums(dz, hk, db);
            let dzm = MatRef::from_row_major_slice(dz, n, hk);
            let a_prev = MatRef::from_row_major_slice(&self.acts[k - 1][..n * hp], n, hp);
            matmul(
                MatMut::from_row_major_slice_mut(dw, hp, hk),
                Accum::Replace,
                a_prev.transpose(),
                dzm,
                1.0,
                Par::Seq,
            );
            let d_prev = &mut lo[k - 1][..n * hp];
            let w = MatRef::from_row_major_slice(net.w(k), hp, hk);
            matmul(
                MatMut::from_row_major_slice_mut(&mut *d_prev, n, hp),
                Accum::Replace,
                dzm,
                w.transpose(),
                1.0,
                Par::Seq,
            );
            let a = &self.acts[k - 1][..n * hp];
            Arch::new().dispatch(|| sigmoid_backward(d_prev, a));
        }
    }

    /// The report's numpy, in faer: the batch as dense `n x D` matrices.
    /// Returns (sum of squared masked errors, sum of squared out-of-range
    /// outputs).
    fn dense_forward(
        &mut self,
        net: &Network,
        batch: &Batch,
        mut metrics: Option<(&mut Accumulator, RatingScale)>,
    ) -> (f64, f64) {
        let (n, d) = (self.n, net.dim());
        for buf in [&mut self.x, &mut self.t, &mut self.m, &mut self.z] {
            grow(buf, n * d);
            buf[..n * d].fill(0.0);
        }
        for r in 0..n {
            let (idx, val) = batch.input(r);
            for (&u, &x) in idx.iter().zip(val) {
                self.x[r * d + u as usize] = x;
            }
            let tr = batch.target_range(r);
            for (&u, &t) in batch.tg_idx[tr.clone()].iter().zip(&batch.tg_val[tr]) {
                self.t[r * d + u as usize] = t;
                self.m[r * d + u as usize] = 1.0;
            }
        }
        let h0 = net.hidden()[0];
        let a0 = &mut self.acts[0][..n * h0];
        fill_rows(a0, net.b(0));
        matmul(
            MatMut::from_row_major_slice_mut(&mut *a0, n, h0),
            Accum::Add,
            MatRef::from_row_major_slice(&self.x[..n * d], n, d),
            MatRef::from_row_major_slice(net.w(0), d, h0),
            1.0,
            Par::Seq,
        );
        Arch::new().dispatch(|| sigmoid_in_place(a0));
        self.forward_hidden(net);
        let l = net.hidden().len();
        let h = net.code_dim();
        let z = &mut self.z[..n * d];
        fill_rows(z, net.b(l));
        matmul(
            MatMut::from_row_major_slice_mut(&mut *z, n, d),
            Accum::Add,
            MatRef::from_row_major_slice(&self.acts[l - 1][..n * h], n, h),
            MatRef::from_row_major_slice(net.w(l), d, h).transpose(),
            1.0,
            Par::Seq,
        );
        let (mut data, mut range) = (0.0f64, 0.0f64);
        for ((&z, &t), &m) in z.iter().zip(&self.t).zip(&self.m) {
            let o = net.act(z);
            let diff = (t - o) * m;
            data += f64::from(diff * diff);
            if let Some((acc, scale)) = metrics.as_mut() {
                if m != 0.0 {
                    acc.add(o, t, *scale);
                }
            }
            let wrong = if out_of_range(o) { o * m } else { 0.0 };
            range += f64::from(wrong * wrong);
        }
        (data, range)
    }

    fn dense_output_backward(
        &mut self,
        net: &Network,
        pen: &Penalties,
        scale: f32,
        grad: &mut [f32],
    ) {
        let (n, d) = (self.n, net.dim());
        let l = net.hidden().len();
        let h = net.code_dim();
        grow(&mut self.dz, n * d);
        let relu = net.output() == Output::Relu;
        for (((dz, &z), &t), &m) in self.dz[..n * d]
            .iter_mut()
            .zip(&self.z)
            .zip(&self.t)
            .zip(&self.m)
        {
            let o = net.act(z);
            let wrong = if out_of_range(o) { o } else { 0.0 };
            let g = (scale * (o - t) + pen.gamma * wrong) * m;
            *dz = if relu && z <= 0.0 { 0.0 } else { g };
        }
        let dzm = MatRef::from_row_major_slice(&self.dz[..n * d], n, d);
        let a = MatRef::from_row_major_slice(&self.acts[l - 1][..n * h], n, h);
        {
            let (dw, db) = net.split(grad, l);
            matmul(
                MatMut::from_row_major_slice_mut(dw, d, h),
                Accum::Replace,
                dzm.transpose(),
                a,
                1.0,
                Par::Seq,
            );
            col_sums(&self.dz[..n * d], d, db);
        }
        matmul(
            MatMut::from_row_major_slice_mut(&mut self.deltas[l - 1][..n * h], n, h),
            Accum::Replace,
            dzm,
            MatRef::from_row_major_slice(net.w(l), d, h),
            1.0,
            Par::Seq,
        );
    }
}

/// `1 / (n D)` under means (the report's `np.mean` over the batch matrix), 1 under sums.
#[inline]
fn data_scale(reduction: Reduction, n: usize, dim: usize) -> f32 {
    match reduction {
        Reduction::Sum => 1.0,
        Reduction::Mean => 1.0 / (n * dim) as f32,
    }
}

fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// Every `row.len()`-wide row of `m` set to `row`.
fn fill_rows(m: &mut [f32], row: &[f32]) {
    for r in m.chunks_exact_mut(row.len()) {
        r.copy_from_slice(row);
    }
}

/// `out[j] = sum_r m[r, j]`, rows added in order.
fn col_sums(m: &[f32], width: usize, out: &mut [f32]) {
    out.fill(0.0);
    for r in m.chunks_exact(width) {
        for (o, x) in out.iter_mut().zip(r) {
            *o += x;
        }
    }
}
