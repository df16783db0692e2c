//! The exact store: every pair computed once (upper rows in parallel),
//! then mirrored.

use super::*;

/// The upper rows of [`TASK`] consecutive items, stored one after another.
struct UpperChunk {
    /// Row `r` of the chunk is `ptr[r]..ptr[r + 1]`.
    ptr: Vec<u32>,
    items: Vec<u32>,
    sims: Vec<f32>,
}

impl UpperChunk {
    #[inline]
    fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let span = self.ptr[r] as usize..self.ptr[r + 1] as usize;
        (&self.items[span.clone()], &self.sims[span])
    }
}

/// The exact build: upper rows in parallel (a chunk of [`TASK`] rows per
/// task, stored contiguously), then the mirror, filled in parallel over
/// ranges of rows balanced by their number of entries.
pub(super) fn build_exact(n: usize, input: &Centred, rule: Rule) -> Similarities {
    let n_chunks = n.div_ceil(TASK);
    let upper: Vec<UpperChunk> = (0..n_chunks)
        .into_par_iter()
        .map_init(
            || Scratch::new(n),
            |s, c| {
                let rows = c * TASK..((c + 1) * TASK).min(n);
                let mut chunk = UpperChunk {
                    ptr: Vec::with_capacity(rows.len() + 1),
                    items: Vec::new(),
                    sims: Vec::new(),
                };
                chunk.ptr.push(0);
                for i in rows {
                    let len = pulp::Arch::new().dispatch(UpperRow {
                        scratch: s,
                        i,
                        input,
                        rule,
                    });
                    chunk.items.extend_from_slice(&s.items[..len]);
                    chunk.sims.extend_from_slice(&s.sims[..len]);
                    chunk.ptr.push(chunk.items.len() as u32);
                }
                chunk
            },
        )
        .collect();
    let row = |i: usize| upper[i / TASK].row(i % TASK);
    // Lower lengths (entries mirrored into each row from the rows before):
    // counted per group of chunks, then summed.
    let groups = rayon::current_num_threads().clamp(1, n_chunks.max(1));
    let lower: Vec<u32> = (0..groups)
        .into_par_iter()
        .map(|g| {
            let mut count = vec![0u32; n];
            for c in &upper[g * n_chunks / groups..(g + 1) * n_chunks / groups] {
                for &j in &c.items {
                    count[j as usize] += 1;
                }
            }
            count
        })
        .reduce_with(|mut a, b| {
            for (x, y) in a.iter_mut().zip(&b) {
                *x += y;
            }
            a
        })
        .unwrap_or_default();
    let mut ptr = Vec::with_capacity(n + 1);
    ptr.push(0);
    for i in 0..n {
        let own = row(i).0.len();
        ptr.push(ptr[i] + lower[i] as usize + own);
    }
    let nnz = ptr[n];
    // Row ranges of the mirror, one task each, of about equal entries:
    // `bounds` are their starts and the end.
    let parts = (rayon::current_num_threads() * RANGES_PER_THREAD).clamp(1, n.max(1));
    let mut bounds: Vec<usize> = (0..parts)
        .map(|t| {
            ptr.partition_point(|&p| p * parts < t * nnz)
                .saturating_sub(1)
                .min(n)
        })
        .collect();
    bounds[0] = 0;
    bounds.push(n);
    bounds.dedup();
    let parts = bounds.len() - 1;
    let mut items = vec![0u32; nnz];
    let mut sims = vec![0f32; nnz];
    let mut outs = Vec::with_capacity(parts);
    let (mut rest_i, mut rest_s) = (items.as_mut_slice(), sims.as_mut_slice());
    for t in 0..parts {
        let size = ptr[bounds[t + 1]] - ptr[bounds[t]];
        let (hi, ti) = rest_i.split_at_mut(size);
        let (hs, ts) = rest_s.split_at_mut(size);
        outs.push((t, hi, hs));
        (rest_i, rest_s) = (ti, ts);
    }
    outs.into_par_iter().for_each(|(t, out_i, out_s)| {
        let (a, b) = (bounds[t], bounds[t + 1]);
        // Lower part first (rows before, ascending), then the row's own.
        // The lower parts are filled one tile of rows at a time, so that
        // the lines and pages being written stay in cache and the TLB;
        // `pos[i]` is where row `i` resumes.
        let mut next: Vec<usize> = (a..b).map(|j| ptr[j] - ptr[a]).collect();
        let mut pos: Vec<u32> = (0..b)
            .map(|i| {
                if i + 1 >= a {
                    0
                } else {
                    row(i).0.partition_point(|&j| (j as usize) < a) as u32
                }
            })
            .collect();
        let mut lo = a;
        while lo < b {
            let hi = (lo + MIRROR_TILE).min(b);
            for (i, p) in pos[..hi].iter_mut().enumerate() {
                let (cols, vals) = row(i);
                let mut q = *p as usize;
                while let Some(&j) = cols.get(q).filter(|&&j| (j as usize) < hi) {
                    let k = &mut next[j as usize - a];
                    out_i[*k] = i as u32;
                    out_s[*k] = vals[q];
                    *k += 1;
                    q += 1;
                }
                *p = q as u32;
            }
            lo = hi;
        }
        for j in a..b {
            let (k, end) = (next[j - a], ptr[j + 1] - ptr[a]);
            let (cols, vals) = row(j);
            out_i[k..end].copy_from_slice(cols);
            out_s[k..end].copy_from_slice(vals);
        }
    });
    Similarities { ptr, items, sims }
}

/// One upper row of the exact build (accumulate, then emit), compiled for
/// the widest vector instructions the CPU has: the same arithmetic, so the
/// same bits, only more lanes at once. The capped build uses it too.
pub(super) struct UpperRow<'a> {
    pub(super) scratch: &'a mut Scratch,
    pub(super) i: usize,
    pub(super) input: &'a Centred,
    pub(super) rule: Rule,
}

impl pulp::WithSimd for UpperRow<'_> {
    type Output = usize;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> usize {
        let Self {
            scratch,
            i,
            input,
            rule,
        } = self;
        scratch.accumulate(i, input, true);
        scratch.emit(i, (i + 1) / 64, rule, input.row_xx.is_empty())
    }
}
