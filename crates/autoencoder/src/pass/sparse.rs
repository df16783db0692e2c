//! The sparse passes: the first layer over each vector's observed inputs,
//! the output layer over its observed targets, and their backward passes,
//! each compiled for the widest vector instructions the CPU has.

use super::*;

/// Sparse first layer: `A_0[n] = sigmoid(b_0 + sum_(u, x) x W_0[u, :])`
/// over the observed inputs of each vector.
pub(super) struct SparseInput<'a> {
    pub(super) net: &'a Network,
    pub(super) batch: &'a Batch,
    pub(super) a0: &'a mut [f32],
    /// The batch row of `a0`'s first row.
    pub(super) first: usize,
}

impl SparseInput<'_> {
    /// The first layer of every vector of `batch` into `a0`, in row chunks
    /// across the current rayon pool when the batch is large (each row
    /// depends on its own inputs only: the same bits on any pool).
    pub(super) fn run(net: &Network, batch: &Batch, a0: &mut [f32]) {
        let h = net.hidden()[0];
        let work = batch.in_nnz() * h;
        let bounds = par::chunks(batch.len(), work);
        let parts = par::split(a0, bounds.windows(2).map(|w| (w[1] - w[0]) * h));
        par::each(parts, |c, a0| {
            Arch::new().dispatch(SparseInput {
                net,
                batch,
                a0,
                first: bounds[c],
            });
        });
    }
}

impl WithSimd for SparseInput<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let h = self.net.hidden()[0];
        let (w, b) = (self.net.w(0), self.net.b(0));
        let tail = Tail::new(simd, h);
        for (r, a) in self.a0.chunks_exact_mut(h).enumerate() {
            a.copy_from_slice(b);
            let (idx, val) = self.batch.input(self.first + r);
            gather_t::<S, false>(simd, &tail, val, idx, w, a);
            sigmoid_in_place(a);
        }
    }
}

/// Sparse output layer: `z = b_out[u] + W_out[u, :] . A[n]` at observed
/// entries only. Returns (sum of squared errors, sum of squared
/// out-of-range outputs).
pub(super) struct SparseOutput<'a> {
    pub(super) net: &'a Network,
    pub(super) batch: &'a Batch,
    pub(super) a: &'a [f32],
    pub(super) zo: &'a mut [f32],
    pub(super) metrics: Option<(&'a mut Accumulator, RatingScale)>,
    /// The fused backward row pass: `dA` (written over), scratch, data scale
    /// and `gamma`.
    pub(super) back: Option<(&'a mut [f32], &'a mut OutGrad, f32, f32)>,
}

impl SparseOutput<'_> {
    /// The dots (and the fused row pass) of every vector, in row chunks
    /// across the current rayon pool when the batch is large (each entry
    /// and each `dA` row depends on its own vector only), then the sums
    /// over the entries in batch order on this thread: the same bits on
    /// any pool.
    pub(super) fn run(self) -> (f64, f64) {
        let SparseOutput {
            net,
            batch,
            a,
            zo,
            metrics,
            back,
        } = self;
        let h = net.code_dim();
        let (n, nnz) = (batch.len(), batch.nnz());
        let zo = &mut zo[..nnz];
        let bounds = par::chunks(n, nnz * h);
        let ents = |w: &[usize]| batch.tg_ptr[w[1]] - batch.tg_ptr[w[0]];
        let zos = par::split(&mut *zo, bounds.windows(2).map(ents));
        match back {
            Some((da, og, scale, gamma)) => {
                og.start(nnz);
                let dzs = par::split(&mut og.all[..nnz], bounds.windows(2).map(ents));
                let das = par::split(
                    &mut da[..n * h],
                    bounds.windows(2).map(|w| (w[1] - w[0]) * h),
                );
                let parts: Vec<_> = zos.into_iter().zip(dzs).zip(das).collect();
                par::each(parts, |c, ((zo, dz), da)| {
                    Arch::new().dispatch(OutRows {
                        net,
                        batch,
                        a,
                        first: bounds[c],
                        rows: bounds[c + 1] - bounds[c],
                        zo,
                        back: Some((dz, da, scale, gamma)),
                    });
                });
            }
            None => par::each(zos, |c, zo| {
                Arch::new().dispatch(OutRows {
                    net,
                    batch,
                    a,
                    first: bounds[c],
                    rows: bounds[c + 1] - bounds[c],
                    zo,
                    back: None,
                });
            }),
        }
        output_sums(net, batch, zo, metrics)
    }
}

/// Rows `first..` of [`SparseOutput`]: for each, the dots at its observed
/// entries into `zo` (the entries of these rows), then with `back` the row
/// pass of [`out_row`] into `dz` (the same entries) and `dA`.
pub(super) struct OutRows<'a> {
    pub(super) net: &'a Network,
    pub(super) batch: &'a Batch,
    pub(super) a: &'a [f32],
    pub(super) first: usize,
    pub(super) rows: usize,
    pub(super) zo: &'a mut [f32],
    pub(super) back: Option<(&'a mut [f32], &'a mut [f32], f32, f32)>,
}

impl WithSimd for OutRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        let net = self.net;
        let h = net.code_dim();
        let tail = Tail::new(simd, h);
        let l = net.hidden().len();
        let (w_out, b_out) = (net.w(l), net.b(l));
        let base = self.batch.tg_ptr[self.first];
        for k in 0..self.rows {
            let r = self.first + k;
            let range = self.batch.tg_ptr[r] - base..self.batch.tg_ptr[r + 1] - base;
            let idx = &self.batch.tg_idx[base + range.start..base + range.end];
            let a = &self.a[r * h..];
            // The dots first, free of the scalar chains below.
            for (z, &u) in self.zo[range.clone()].iter_mut().zip(idx) {
                let u = u as usize;
                *z = b_out[u] + dot_rows(simd, &tail, &w_out[u * h..], a);
            }
            if let Some((dz, da, scale, gamma)) = self.back.as_mut() {
                let tg = &self.batch.tg_val[base + range.start..base + range.end];
                out_row(
                    simd,
                    &tail,
                    net,
                    idx,
                    tg,
                    &self.zo[range.clone()],
                    &mut dz[range],
                    *scale,
                    *gamma,
                    &mut da[k * h..k * h + h],
                );
            }
        }
    }
}

/// (Sum of squared errors, sum of squared out-of-range outputs) over the
/// batch's entries in order, each output also added to `metrics`.
pub(super) fn output_sums(
    net: &Network,
    batch: &Batch,
    zo: &[f32],
    mut metrics: Option<(&mut Accumulator, RatingScale)>,
) -> (f64, f64) {
    let (mut data, mut range) = (0.0f64, 0.0f64);
    for (&z, &t) in zo.iter().zip(&batch.tg_val) {
        let o = net.act(z);
        let diff = t - o;
        data += f64::from(diff * diff);
        if let Some((acc, scale)) = metrics.as_mut() {
            acc.add(o, t, *scale);
        }
        if out_of_range(o) {
            range += f64::from(o * o);
        }
    }
    (data, range)
}

/// The unit-major transpose of a batch's entries (CSR by vector to CSR by
/// unit): for each unit, the vectors holding an entry there, in batch
/// order, the entries' positions in the batch, and values.
#[derive(Debug, Clone, Default)]
pub(super) struct Transposed {
    pub(super) ptr: Vec<u32>,
    pub(super) row: Vec<u32>,
    pub(super) ent: Vec<u32>,
    pub(super) val: Vec<f32>,
    /// Scratch: the next free slot of each unit.
    pub(super) next: Vec<u32>,
}

impl Transposed {
    /// Rebuilds the structure from vectors `r` holding entries `ptr[r]..ptr[r
    /// + 1]` at units `idx`, all below `dim` (a counting sort: stable, so
    /// each unit's vectors come in batch order); values are set by
    /// [`set_values`](Self::set_values).
    pub(super) fn build(&mut self, dim: usize, ptr: &[usize], idx: &[u32]) {
        let nnz = idx.len();
        self.ptr.clear();
        self.ptr.resize(dim + 1, 0);
        for &u in idx {
            self.ptr[u as usize + 1] += 1;
        }
        for u in 0..dim {
            self.ptr[u + 1] += self.ptr[u];
        }
        self.next.clear();
        self.next.extend_from_slice(&self.ptr[..dim]);
        self.row.resize(nnz, 0);
        self.ent.resize(nnz, 0);
        for (r, w) in ptr.windows(2).enumerate() {
            for (e, &u) in (w[0]..w[1]).zip(&idx[w[0]..w[1]]) {
                let k = &mut self.next[u as usize];
                self.row[*k as usize] = r as u32;
                self.ent[*k as usize] = e as u32;
                *k += 1;
            }
        }
    }

    /// Each entry's value from `src`, indexed by position in the batch.
    pub(super) fn set_values(&mut self, src: &[f32]) {
        self.val.clear();
        self.val.extend(self.ent.iter().map(|&e| src[e as usize]));
    }

    /// `out[u, :] = sum_k val_k m[row_k, :]` for every unit `u` (`m` and
    /// `out` row-major, `h` wide; zeros for units without entries), terms
    /// in batch order: the sums one `axpy` per entry in batch order gives
    /// from zeros, bit for bit, but each output row is summed in registers
    /// and stored once.
    ///
    /// With `touched`, only the rows of units with entries are written (the
    /// others keep whatever they held) and those units are listed there, in
    /// order: the lazy update's gradient, whose cost follows the entries.
    ///
    /// Large batches run in unit ranges across the current rayon pool (each
    /// row is its unit's own sum: the same bits on any pool).
    pub(super) fn gather_rows(
        &self,
        m: &[f32],
        h: usize,
        out: &mut [f32],
        touched: Option<&mut Vec<u32>>,
    ) {
        let dim = self.ptr.len() - 1;
        let bounds = par::chunks(dim, self.row.len() * h);
        let parts = par::split(
            &mut out[..dim * h],
            bounds.windows(2).map(|w| (w[1] - w[0]) * h),
        );
        let skip_empty = touched.is_some();
        par::each(parts, |c, out| {
            Arch::new().dispatch(GatherRows {
                tr: self,
                m,
                h,
                first: bounds[c],
                out,
                skip_empty,
            });
        });
        if let Some(all) = touched {
            all.clear();
            all.extend(
                (0..dim)
                    .filter(|&u| self.ptr[u] != self.ptr[u + 1])
                    .map(|u| u as u32),
            );
        }
    }
}

/// Units `first..` of [`Transposed::gather_rows`] into `out`.
pub(super) struct GatherRows<'a> {
    pub(super) tr: &'a Transposed,
    pub(super) m: &'a [f32],
    pub(super) h: usize,
    pub(super) first: usize,
    pub(super) out: &'a mut [f32],
    /// Leave the rows of units without entries as they are (instead of
    /// zeros).
    pub(super) skip_empty: bool,
}

impl WithSimd for GatherRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (tr, m, h) = (self.tr, self.m, self.h);
        let tail = Tail::new(simd, h);
        let ptr = &tr.ptr[self.first..];
        for (k, y) in self.out.chunks_exact_mut(h).enumerate() {
            let (a, b) = (ptr[k] as usize, ptr[k + 1] as usize);
            if self.skip_empty && a == b {
                continue;
            }
            gather_t::<S, true>(simd, &tail, &tr.val[a..b], &tr.row[a..b], m, y);
        }
    }
}

/// Scratch of the output layer's backward pass: every target entry's `dz`
/// (zero where ReLU passes no gradient) and the unit-major transpose of
/// the batch's targets.
#[derive(Debug, Clone, Default)]
pub(super) struct OutGrad {
    pub(super) all: Vec<f32>,
    pub(super) tr: Transposed,
}

impl OutGrad {
    /// Room for `nnz` entries' `dz`, each written by [`row`](Self::row).
    pub(super) fn start(&mut self, nnz: usize) {
        self.all.resize(nnz, 0.0);
    }

    /// Vector `r`'s row pass ([`out_row`]).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn row<S: Simd>(
        &mut self,
        simd: S,
        tail: &Tail<S>,
        net: &Network,
        batch: &Batch,
        r: usize,
        zo: &[f32],
        scale: f32,
        gamma: f32,
        da: &mut [f32],
    ) {
        let range = batch.target_range(r);
        out_row(
            simd,
            tail,
            net,
            &batch.tg_idx[range.clone()],
            &batch.tg_val[range.clone()],
            &zo[range.clone()],
            &mut self.all[range],
            scale,
            gamma,
            da,
        );
    }
}

/// One vector's row pass: at each observed entry (units `idx`, targets
/// `tg`, pre-activations `zo`) `dz = (s (o - t) + gamma [out of range] o)
/// f'(z)`, then `dA = sum dz W_out[u, :]` (summed in registers). ReLU's
/// dead entries carry `dz = 0` and add `0 * W_out[u, :]`: nothing while
/// `W_out` is finite, but for the sign of a zero.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn out_row<S: Simd>(
    simd: S,
    tail: &Tail<S>,
    net: &Network,
    idx: &[u32],
    tg: &[f32],
    zo: &[f32],
    dz: &mut [f32],
    scale: f32,
    gamma: f32,
    da: &mut [f32],
) {
    let relu = net.output() == Output::Relu;
    for ((dz, &z), &t) in dz.iter_mut().zip(zo).zip(tg) {
        let o = net.act(z);
        let wrong = if out_of_range(o) { o } else { 0.0 };
        let g = scale * (o - t) + gamma * wrong;
        *dz = if relu && z <= 0.0 { 0.0 } else { g };
    }
    let w_out = net.w(net.hidden().len());
    gather_t::<S, true>(simd, tail, dz, idx, w_out, da);
}

/// Sparse output backward: the row pass of [`OutGrad::row`] for every
/// vector (unless the fused forward pass ran it), `db_out[u] = sum dz` in
/// batch order, and, from the unit-major transpose of the `dz`,
/// `dW_out[u, :] = sum dz A[n]` (summed in registers, in batch order;
/// written over, zero rows for units without entries).
pub(super) struct SparseOutputBack<'a> {
    pub(super) net: &'a Network,
    pub(super) batch: &'a Batch,
    pub(super) a: &'a [f32],
    pub(super) zo: &'a [f32],
    pub(super) scale: f32,
    pub(super) gamma: f32,
    pub(super) dw: &'a mut [f32],
    pub(super) db: &'a mut [f32],
    pub(super) da: &'a mut [f32],
    pub(super) og: &'a mut OutGrad,
    /// The row pass already ran (`og` and `da` hold it).
    pub(super) rows_done: bool,
    /// Lazy: write only the rows of observed units and list them here.
    pub(super) touched: Option<&'a mut Vec<u32>>,
}

impl WithSimd for SparseOutputBack<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let net = self.net;
        let h = net.code_dim();
        let tail = Tail::new(simd, h);
        let og = self.og;
        if !self.rows_done {
            og.start(self.batch.nnz());
            for (r, da) in self.da.chunks_exact_mut(h).enumerate() {
                og.row(
                    simd, &tail, net, self.batch, r, self.zo, self.scale, self.gamma, da,
                );
            }
        }
        self.db.fill(0.0);
        for (&dz, &u) in og.all.iter().zip(&self.batch.tg_idx) {
            self.db[u as usize] += dz;
        }
        // ReLU's dead entries carry `dz = 0`: `0 * A[n]` adds `+0`
        // (activations are non-negative), which leaves a sum that starts at
        // `+0` unchanged, so the sums are those without them.
        let b = self.batch;
        og.tr.build(net.dim(), &b.tg_ptr, &b.tg_idx);
        og.tr.set_values(&og.all);
        og.tr.gather_rows(self.a, h, self.dw, self.touched);
    }
}

/// Sparse first-layer weight gradient: `dW_0[u, :] = sum x dZ_0[n]` over
/// the observed inputs, from their unit-major transpose (each row summed
/// in registers, in batch order; written over, zero rows for units without
/// inputs).
pub(super) struct SparseInputBack<'a> {
    pub(super) batch: &'a Batch,
    pub(super) dz0: &'a [f32],
    pub(super) h0: usize,
    pub(super) dw0: &'a mut [f32],
    pub(super) tr: &'a mut Transposed,
    /// Lazy: write only the rows of input units and list them here.
    pub(super) touched: Option<&'a mut Vec<u32>>,
}

impl WithSimd for SparseInputBack<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let h = self.h0;
        let b = self.batch;
        let dim = self.dw0.len() / h;
        // Without dropout the inputs are the targets, whose transpose the
        // output layer's backward pass left.
        if b.same {
            self.tr.set_values(&b.tg_val);
        } else {
            self.tr.build(dim, &b.in_ptr, &b.in_idx);
            self.tr.set_values(&b.in_val);
        }
        self.tr.gather_rows(self.dz0, h, self.dw0, self.touched);
    }
}
