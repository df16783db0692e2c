//! The network's parameters, the regulariser and the Adam step.

use std::ops::Range;

use pulp::{Arch, Simd, WithSimd};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::pass::par;
use crate::{Output, Reduction};

/// Where one layer's weights and biases live in the flat parameter vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Span {
    /// Offset of the weights (row-major `rows x cols`).
    pub w: usize,
    /// Offset of the biases (`nb` of them, right after the weights).
    pub b: usize,
    pub rows: usize,
    pub cols: usize,
    pub nb: usize,
}

impl Span {
    #[inline]
    pub fn end(&self) -> usize {
        self.b + self.nb
    }
}

/// The parameters of an autoencoder with `D`-dimensional input and output
/// and sigmoid hidden layers `h_0, ..., h_{L-1}`, in one flat `f32` vector
/// (Adam and the gradients share its layout).
///
/// Layer `k < L` maps into hidden layer `k`; its weights are row-major
/// `fan_in x h_k` (input-major: the first layer's row `u` holds input `u`'s
/// weights, contiguous for the sparse pass). The output layer's weights are
/// stored output-major, `D x h_{L-1}`: row `u` is `W_out[u, :]`, the weights
/// into output unit `u`. Biases follow each layer's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    dim: usize,
    hidden: Vec<usize>,
    output: Output,
    spans: Vec<Span>,
    params: Vec<f32>,
}

/// The weights of a regulariser and a range penalty, and the reduction, for
/// one mini-batch loss (the decayed values of the config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Penalties {
    /// Elastic-net weight.
    pub beta: f32,
    /// Share of `beta` on the L1 term.
    pub l1_share: f32,
    /// Weight of the out-of-range penalty.
    pub gamma: f32,
    /// Means (the report's code) or sums (its formula).
    pub reduction: Reduction,
}

impl Network {
    /// A network with Glorot-uniform weights (bound `init_scale *
    /// sqrt(6 / (fan_in + fan_out))`), zero hidden biases and every output
    /// bias at `out_bias` (the fit uses the training mean).
    ///
    /// # Panics
    /// If `hidden` is empty or holds a zero.
    #[track_caller]
    pub fn new(
        dim: usize,
        hidden: &[usize],
        output: Output,
        init_scale: f32,
        out_bias: f32,
        rng: &mut movierec_core::Rng,
    ) -> Self {
        assert!(
            !hidden.is_empty() && !hidden.contains(&0),
            "hidden sizes {hidden:?}: need at least one layer, none empty"
        );
        let (spans, at) = Self::layout(dim, hidden).expect("layer sizes overflow usize");
        let mut params = vec![0.0f32; at];
        for (k, s) in spans.iter().enumerate() {
            let bound = init_scale * (6.0 / (s.rows + s.cols) as f32).sqrt();
            for w in &mut params[s.w..s.b] {
                *w = (2.0 * rng.random::<f32>() - 1.0) * bound;
            }
            if k == hidden.len() {
                params[s.b..s.end()].fill(out_bias);
            }
        }
        Self {
            dim,
            hidden: hidden.to_vec(),
            output,
            spans,
            params,
        }
    }

    /// Where [`Network::new`] puts each layer's weights and biases for `dim`
    /// inputs through `hidden` and back, and the parameters they hold;
    /// `None` when a size overflows.
    pub(crate) fn layout(dim: usize, hidden: &[usize]) -> Option<(Vec<Span>, usize)> {
        // Hidden layer k: fan_in x h weights, h biases; the output layer:
        // dim x (last h) weights (a row per output), dim biases.
        let last = *hidden.last()?;
        let fan_ins = std::iter::once(dim).chain(hidden.iter().copied());
        let layers = fan_ins
            .zip(hidden)
            .map(|(fan_in, &h)| (fan_in, h, h))
            .chain(std::iter::once((dim, last, dim)));
        let mut spans = Vec::with_capacity(hidden.len() + 1);
        let mut at = 0usize;
        for (rows, cols, nb) in layers {
            let b = at.checked_add(rows.checked_mul(cols)?)?;
            spans.push(Span {
                w: at,
                b,
                rows,
                cols,
                nb,
            });
            at = b.checked_add(nb)?;
        }
        Some((spans, at))
    }

    /// Checks a network read from outside: at least one hidden layer, none
    /// empty; every span where [`Network::new`] puts it for these sizes
    /// (no arithmetic overflow); as many parameters as the spans hold; every
    /// parameter finite.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return Err(format!(
                "hidden sizes {:?}: need at least one layer, none empty",
                self.hidden
            ));
        }
        let Some((want, at)) = Self::layout(self.dim, &self.hidden) else {
            return Err("the layer sizes overflow".into());
        };
        if self.spans != want {
            return Err("the layer offsets do not match the layer sizes".into());
        }
        if self.params.len() != at {
            return Err(format!(
                "{} parameters for layers that hold {at}",
                self.params.len()
            ));
        }
        if let Some(p) = self.params.iter().position(|x| !x.is_finite()) {
            return Err(format!("parameter {p} is not a finite number"));
        }
        Ok(())
    }

    /// Input and output dimension `D` (users in the item-based mode).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Hidden layer sizes.
    pub fn hidden(&self) -> &[usize] {
        &self.hidden
    }

    /// Output activation.
    pub fn output(&self) -> Output {
        self.output
    }

    /// Size of the last hidden layer (the code).
    pub fn code_dim(&self) -> usize {
        *self.hidden.last().expect("at least one hidden layer")
    }

    /// Number of parameters (weights and biases).
    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// All parameters, flat.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// All parameters, flat, mutable.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Number of weight matrices, `L + 1`.
    #[inline]
    pub(crate) fn n_layers(&self) -> usize {
        self.spans.len()
    }

    #[inline]
    pub(crate) fn span(&self, k: usize) -> Span {
        self.spans[k]
    }

    /// Weights of layer `k` (`L` is the output layer).
    #[inline]
    pub(crate) fn w(&self, k: usize) -> &[f32] {
        let s = self.spans[k];
        &self.params[s.w..s.b]
    }

    /// Biases of layer `k`.
    #[inline]
    pub(crate) fn b(&self, k: usize) -> &[f32] {
        let s = self.spans[k];
        &self.params[s.b..s.end()]
    }

    /// Layer `k`'s (weights, biases) within a buffer of this layout
    /// (parameters or gradients).
    #[inline]
    pub(crate) fn split<'a>(&self, buf: &'a mut [f32], k: usize) -> (&'a mut [f32], &'a mut [f32]) {
        let s = self.spans[k];
        buf[s.w..s.end()].split_at_mut(s.b - s.w)
    }

    /// Output unit `u`'s weights and bias: `W_out[u, :]`, `b_out[u]`.
    #[inline]
    pub(crate) fn out_row(&self, u: usize) -> (&[f32], f32) {
        let s = self.spans[self.hidden.len()];
        let h = s.cols;
        (
            &self.params[s.w + u * h..s.w + u * h + h],
            self.params[s.b + u],
        )
    }

    /// The output activation.
    #[inline(always)]
    pub(crate) fn act(&self, z: f32) -> f32 {
        match self.output {
            Output::Relu => z.max(0.0),
            Output::Identity => z,
        }
    }

    /// The coefficient of layer `k`'s regulariser: `beta` under sums,
    /// `beta / (n_layers * size)` under means (the report's
    /// `np.mean(W * W)` of each matrix, averaged over the matrices).
    #[inline]
    pub(crate) fn reg_coef(&self, k: usize, pen: &Penalties) -> f32 {
        let s = self.spans[k];
        match pen.reduction {
            Reduction::Sum => pen.beta,
            Reduction::Mean => pen.beta / (self.n_layers() * s.rows * s.cols) as f32,
        }
    }

    /// The elastic-net term of the loss:
    /// `sum_k c_k (0.5 (1 - a) |W_k|^2 + a |W_k|_1)`.
    pub fn regulariser(&self, pen: &Penalties) -> f64 {
        if pen.beta == 0.0 {
            return 0.0;
        }
        let mut total = 0.0;
        for k in 0..self.n_layers() {
            let (sq, abs) = Arch::new().dispatch(RegSums(self.w(k)));
            let c = f64::from(self.reg_coef(k, pen));
            let a = f64::from(pen.l1_share);
            total += c * (0.5 * (1.0 - a) * sq + a * abs);
        }
        total
    }

    /// Adds the elastic-net gradient `c_k ((1 - a) W + a sign(W))` to `grad`.
    pub(crate) fn add_regulariser_grad(&self, pen: &Penalties, grad: &mut [f32]) {
        if pen.beta == 0.0 {
            return;
        }
        for k in 0..self.n_layers() {
            let c = self.reg_coef(k, pen);
            let (l2, l1) = (c * (1.0 - pen.l1_share), c * pen.l1_share);
            let s = self.spans[k];
            let (w, g) = (&self.params[s.w..s.b], &mut grad[s.w..s.b]);
            Arch::new().dispatch(|| {
                for (g, &w) in g.iter_mut().zip(w) {
                    *g += l2 * w + l1 * sign(w);
                }
            });
        }
    }
}

/// `sign(w)` with `sign(0) = 0` (the subgradient numpy's `np.sign` gives).
#[inline(always)]
fn sign(w: f32) -> f32 {
    if w > 0.0 {
        1.0
    } else if w < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// `(sum w^2, sum |w|)`: f32 SIMD lanes over blocks of 4,096, blocks added in f64.
struct RegSums<'a>(&'a [f32]);

impl WithSimd for RegSums<'_> {
    type Output = (f64, f64);

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> (f64, f64) {
        let (mut sq, mut abs) = (0.0f64, 0.0f64);
        for block in self.0.chunks(4096) {
            let (head, tail) = S::as_simd_f32s(block);
            let mut q = simd.splat_f32s(0.0);
            let mut a = simd.splat_f32s(0.0);
            for &x in head {
                q = simd.mul_add_f32s(x, x, q);
                a = simd.add_f32s(a, simd.abs_f32s(x));
            }
            let (mut qs, mut as_) = (simd.reduce_sum_f32s(q), simd.reduce_sum_f32s(a));
            for &x in tail {
                qs += x * x;
                as_ += x.abs();
            }
            sq += f64::from(qs);
            abs += f64::from(as_);
        }
        (sq, abs)
    }
}

/// Adam with bias correction (Kingma and Ba 2015), the report's 6.1.3 with
/// `(beta1, beta2) = (0.9, 0.99)`; `eps = 1e-8`.
#[derive(Debug, Clone)]
pub(crate) struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    beta1: f32,
    beta2: f32,
}

impl Adam {
    pub fn new(n: usize, beta1: f32, beta2: f32) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: 0,
            beta1,
            beta2,
        }
    }

    /// One step on the gradient of the data terms plus the regulariser's,
    /// which it adds itself: `g += c_k ((1 - a) W + a sign(W))` on the
    /// weights, then `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
    /// `p -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`: one pass
    /// over the parameters.
    pub fn step(&mut self, net: &mut Network, grad: &[f32], lr: f32, pen: &Penalties) {
        let at = self.next_step(lr);
        for k in 0..net.n_layers() {
            let s = net.span(k);
            let layer = at.with_penalties(net, k, pen);
            self.dense(net, grad, s.w..s.b, layer);
            self.dense(net, grad, s.b..s.end(), at);
        }
    }

    /// Counts the step and returns its constants, without penalties.
    fn next_step(&mut self, lr: f32) -> AdamConsts {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        AdamConsts {
            l2: 0.0,
            l1: 0.0,
            b1,
            b2,
            c1: lr / (1.0 - b1.powi(self.t)),
            c2: 1.0 / (1.0 - b2.powi(self.t)),
        }
    }

    /// The full step on `range` of the parameters.
    fn dense(&mut self, net: &mut Network, grad: &[f32], range: Range<usize>, k: AdamConsts) {
        AdamStep {
            p: &mut net.params[range.clone()],
            g: &grad[range.clone()],
            m: &mut self.m[range.clone()],
            v: &mut self.v[range],
            k,
        }
        .run();
    }
}

impl AdamStep<'_> {
    /// The step, in slices across the current rayon pool when the array is
    /// large (elementwise: the same bits on any pool).
    fn run(self) {
        let n = self.p.len();
        let bounds = par::chunks(n, 8 * n);
        if bounds.len() <= 2 {
            Arch::new().dispatch(self);
            return;
        }
        let lens = || bounds.windows(2).map(|w| w[1] - w[0]);
        let AdamStep { p, g, m, v, k } = self;
        par::each(split3(p, m, v, lens), |c, ((p, m), v)| {
            Arch::new().dispatch(AdamStep {
                p,
                g: &g[bounds[c]..bounds[c + 1]],
                m,
                v,
                k,
            });
        });
    }
}

/// One piece of a parameter array with the same pieces of its two moments.
type Pieces<'a> = ((&'a mut [f32], &'a mut [f32]), &'a mut [f32]);

/// A parameter array and its two moments cut into the same consecutive
/// pieces of `lens()` values, for one parallel task each.
fn split3<'a, L: Iterator<Item = usize>>(
    p: &'a mut [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    lens: impl Fn() -> L,
) -> Vec<Pieces<'a>> {
    par::split(p, lens())
        .into_iter()
        .zip(par::split(m, lens()))
        .zip(par::split(v, lens()))
        .collect()
}

/// The rows of the first and output layers that one lazy Adam step updates
/// ([`Adam::step_lazy`]): units with an input in the batch (after dropout)
/// and units with an observed output in it, each list ascending.
#[derive(Debug, Clone, Default)]
pub(crate) struct Touched {
    pub inputs: Vec<u32>,
    pub outputs: Vec<u32>,
}

impl Adam {
    /// [`step`](Self::step) restricted to the rows a batch touches, as
    /// TensorFlow's LazyAdam: on the first layer only the rows of
    /// `touched.inputs`, on the output layer only the rows and biases of
    /// `touched.outputs`, each with its moments and its share of the
    /// regulariser; every other layer and the hidden biases take the full
    /// step. Untouched rows keep their weights and moments (no decay of the
    /// moments, no weight decay), so a step costs `O(touched rows x h)`
    /// rather than `O(D x h)`, and an epoch what its ratings cost. The
    /// gradient of untouched rows is never read.
    pub fn step_lazy(
        &mut self,
        net: &mut Network,
        grad: &[f32],
        lr: f32,
        pen: &Penalties,
        touched: &Touched,
    ) {
        let at = self.next_step(lr);
        let last = net.n_layers() - 1;
        for k in 0..net.n_layers() {
            let s = net.span(k);
            let layer = at.with_penalties(net, k, pen);
            let rows = match k {
                0 => &touched.inputs,
                _ if k == last => &touched.outputs,
                _ => {
                    self.dense(net, grad, s.w..s.b, layer);
                    self.dense(net, grad, s.b..s.end(), at);
                    continue;
                }
            };
            self.rows(net, grad, s.w, s.cols, rows, layer);
            if k == 0 {
                self.dense(net, grad, s.b..s.end(), at);
            } else {
                self.rows(net, grad, s.b, 1, rows, at);
            }
        }
    }

    /// The step on `rows` of `width` parameters from offset `at`.
    fn rows(
        &mut self,
        net: &mut Network,
        grad: &[f32],
        at: usize,
        width: usize,
        rows: &[u32],
        k: AdamConsts,
    ) {
        AdamRows {
            p: &mut net.params,
            g: grad,
            m: &mut self.m,
            v: &mut self.v,
            at,
            base: 0,
            width,
            rows,
            k,
        }
        .run();
    }
}

/// The constants of one Adam step on one array.
#[derive(Debug, Clone, Copy)]
struct AdamConsts {
    l2: f32,
    l1: f32,
    b1: f32,
    b2: f32,
    c1: f32,
    c2: f32,
}

impl AdamConsts {
    /// These constants with layer `k`'s L2 and L1 coefficients (its weights'
    /// share of the regulariser; none when `beta` is 0).
    fn with_penalties(self, net: &Network, k: usize, pen: &Penalties) -> Self {
        let c = if pen.beta == 0.0 {
            0.0
        } else {
            net.reg_coef(k, pen)
        };
        Self {
            l2: c * (1.0 - pen.l1_share),
            l1: c * pen.l1_share,
            ..self
        }
    }
}

/// [`AdamStep`] on rows `rows` of `width` values of the arrays from offset
/// `at`: the same arithmetic on every element as the full step.
struct AdamRows<'a> {
    p: &'a mut [f32],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    at: usize,
    /// Where the slices start in the full arrays (`at` counts from there).
    base: usize,
    width: usize,
    rows: &'a [u32],
    k: AdamConsts,
}

impl AdamRows<'_> {
    /// The step, in row ranges across the current rayon pool when there are
    /// many rows (each row its own: the same bits on any pool). The rows
    /// ascend, so each range of them lies in one stretch of the arrays.
    fn run(self) {
        let (n, w) = (self.rows.len(), self.width);
        let bounds = par::chunks(n, 8 * n * w);
        if bounds.len() <= 2 || n == 0 {
            Arch::new().dispatch(self);
            return;
        }
        let AdamRows {
            p,
            g,
            m,
            v,
            at,
            width,
            rows,
            k,
            ..
        } = self;
        // Stretch of rows `bounds[c]..bounds[c + 1]`: from the first one's
        // start to the next range's first row (the end for the last).
        let start = |c: usize| {
            if c + 1 == bounds.len() {
                p.len()
            } else {
                at + rows[bounds[c]] as usize * width
            }
        };
        let offsets: Vec<usize> = std::iter::once(0)
            .chain((1..bounds.len()).map(start))
            .collect();
        let lens = || offsets.windows(2).map(|o| o[1] - o[0]);
        par::each(split3(p, m, v, lens), |c, ((p, m), v)| {
            let base = offsets[c];
            Arch::new().dispatch(AdamRows {
                p,
                g: &g[base..],
                m,
                v,
                at,
                base,
                width,
                rows: &rows[bounds[c]..bounds[c + 1]],
                k,
            });
        });
    }
}

impl WithSimd for AdamRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        for &u in self.rows {
            let first = self.at + u as usize * self.width - self.base;
            let r = first..first + self.width;
            let step = AdamStep {
                p: &mut self.p[r.clone()],
                g: &self.g[r.clone()],
                m: &mut self.m[r.clone()],
                v: &mut self.v[r],
                k: self.k,
            };
            // Single values (biases) in plain scalar code: the same
            // operations as a lane, without a masked load per value.
            if self.width == 1 {
                step.with_simd(pulp::Scalar);
            } else {
                step.with_simd(simd);
            }
        }
    }
}

/// One Adam step over a parameter array with its gradient and moments, in
/// explicit SIMD, in one pass. Each lane computes what
/// the scalar formula does, operation for operation (no fused
/// multiply-adds), so the step is the same on every instruction set:
/// `gr = (g + l2 w) + l1 sign(w)`, `m = b1 m + (1 - b1) gr`,
/// `v = b2 v + ((1 - b2) gr) gr`, `p = w - (c1 m) / (sqrt(c2 v) + eps)`.
struct AdamStep<'a> {
    p: &'a mut [f32],
    g: &'a [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    k: AdamConsts,
}

impl WithSimd for AdamStep<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let k = AdamLanes::new(simd, &self);
        let (ph, pt) = S::as_mut_simd_f32s(self.p);
        let (gh, gt) = S::as_simd_f32s(self.g);
        let (mh, mt) = S::as_mut_simd_f32s(self.m);
        let (vh, vt) = S::as_mut_simd_f32s(self.v);
        for (((p, g), m), v) in ph.iter_mut().zip(gh).zip(mh).zip(vh) {
            (*p, *m, *v) = k.step(simd, *p, *g, *m, *v);
        }
        if !pt.is_empty() {
            let (w, g, m, v) = (
                simd.partial_load_f32s(pt),
                simd.partial_load_f32s(gt),
                simd.partial_load_f32s(mt),
                simd.partial_load_f32s(vt),
            );
            let (w, m, v) = k.step(simd, w, g, m, v);
            simd.partial_store_f32s(pt, w);
            simd.partial_store_f32s(mt, m);
            simd.partial_store_f32s(vt, v);
        }
    }
}

/// [`AdamStep`]'s constants, splatted.
struct AdamLanes<S: Simd> {
    l2: S::f32s,
    l1: S::f32s,
    b1: S::f32s,
    b2: S::f32s,
    nb1: S::f32s,
    nb2: S::f32s,
    c1: S::f32s,
    c2: S::f32s,
    eps: S::f32s,
    zero: S::f32s,
    one: S::f32s,
    minus: S::f32s,
}

impl<S: Simd> AdamLanes<S> {
    #[inline(always)]
    fn new(simd: S, a: &AdamStep<'_>) -> Self {
        let splat = |x: f32| simd.splat_f32s(x);
        Self {
            l2: splat(a.k.l2),
            l1: splat(a.k.l1),
            b1: splat(a.k.b1),
            b2: splat(a.k.b2),
            nb1: splat(1.0 - a.k.b1),
            nb2: splat(1.0 - a.k.b2),
            c1: splat(a.k.c1),
            c2: splat(a.k.c2),
            eps: splat(1e-8),
            zero: splat(0.0),
            one: splat(1.0),
            minus: splat(-1.0),
        }
    }

    /// New (weight, first moment, second moment) of one vector of lanes.
    #[inline(always)]
    fn step(
        &self,
        simd: S,
        w: S::f32s,
        g: S::f32s,
        m: S::f32s,
        v: S::f32s,
    ) -> (S::f32s, S::f32s, S::f32s) {
        let sign = simd.select_f32s(
            simd.greater_than_f32s(w, self.zero),
            self.one,
            simd.select_f32s(simd.less_than_f32s(w, self.zero), self.minus, self.zero),
        );
        let gr = simd.add_f32s(
            simd.add_f32s(g, simd.mul_f32s(self.l2, w)),
            simd.mul_f32s(self.l1, sign),
        );
        let m = simd.add_f32s(simd.mul_f32s(self.b1, m), simd.mul_f32s(self.nb1, gr));
        let v = simd.add_f32s(
            simd.mul_f32s(self.b2, v),
            simd.mul_f32s(simd.mul_f32s(self.nb2, gr), gr),
        );
        let den = simd.add_f32s(simd.sqrt_f32s(simd.mul_f32s(v, self.c2)), self.eps);
        let w = simd.sub_f32s(w, simd.div_f32s(simd.mul_f32s(self.c1, m), den));
        (w, m, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The explicit-SIMD step is the scalar formula, bit for bit, on every
    /// lane and in the tail, with and without the regulariser.
    #[test]
    fn adam_step_equals_the_scalar_formula_bit_for_bit() {
        let n = 16 * 5 + 7;
        let f = |k: usize, a: f32| {
            ((k as f32 * a).sin() * 0.3) * if k.is_multiple_of(11) { 0.0 } else { 1.0 }
        };
        let (b1, b2, c1, c2) = (0.9f32, 0.99f32, 0.01f32 / 0.271, 1.0 / 0.0297);
        for (l2, l1) in [(0.0f32, 0.0f32), (1e-3, 9e-3)] {
            let p0: Vec<f32> = (0..n).map(|k| f(k, 0.37)).collect();
            let g0: Vec<f32> = (0..n).map(|k| f(k, 0.11) * 1e-3).collect();
            let m0: Vec<f32> = (0..n).map(|k| f(k, 0.73) * 1e-4).collect();
            let v0: Vec<f32> = (0..n).map(|k| f(k, 0.53).abs() * 1e-6).collect();
            let (mut pw, mut mw, mut vw) = (p0.clone(), m0.clone(), v0.clone());
            for k in 0..n {
                let w = pw[k];
                let gr = g0[k] + l2 * w + l1 * sign(w);
                mw[k] = b1 * mw[k] + (1.0 - b1) * gr;
                vw[k] = b2 * vw[k] + (1.0 - b2) * gr * gr;
                pw[k] = w - c1 * mw[k] / ((vw[k] * c2).sqrt() + 1e-8);
            }
            let bits = |x: &[f32]| x.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for simd in [true, false] {
                let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
                let step = AdamStep {
                    p: &mut p,
                    g: &g0,
                    m: &mut m,
                    v: &mut v,
                    k: AdamConsts {
                        l2,
                        l1,
                        b1,
                        b2,
                        c1,
                        c2,
                    },
                };
                if simd {
                    Arch::new().dispatch(step);
                } else {
                    step.with_simd(pulp::Scalar);
                }
                assert_eq!(bits(&p), bits(&pw));
                assert_eq!(bits(&m), bits(&mw));
                assert_eq!(bits(&v), bits(&vw));
            }
        }
    }
}
