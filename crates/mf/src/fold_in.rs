//! Fold-in: a user the model was not fitted on, from their own ratings,
//! without retraining. The item side (`Q` and the item biases) stays fixed
//! and the user's side is the regularised least-squares solution, the
//! half-step of alternating least squares (Hu, Koren, Volinsky 2008), so a
//! new user costs one `(k + 1) x (k + 1)` solve instead of a refit.

use movierec_core::ItemIdx;

use crate::MfModel;

/// A user folded into a fitted factorisation: factors `p` and, when the
/// model has biases, the user bias `b_u` (else 0).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedUser {
    /// The user's factors, `k` of them.
    pub factors: Vec<f32>,
    /// The user's bias (0 for a model without biases).
    pub bias: f32,
}

impl MfModel {
    /// Solves, with the items fixed,
    /// `min_{p, b_u} sum_S (r_i - mu - b_i - b_u - q_i . p)^2 + reg_factors |p|^2 + reg_bias b_u^2`
    /// over the rated items `S` (`mu`, `b_i` and `b_u` only for a model with
    /// biases). Sparse SGD regularises per rating, so its callers pass the
    /// per-rating weights times `|S|` to match the fitted objective.
    ///
    /// An empty `ratings` gives zero factors and bias (the item side alone).
    ///
    /// # Panics
    /// If an item is outside the model's index space.
    #[track_caller]
    pub fn fold_in(
        &self,
        ratings: &[(ItemIdx, f32)],
        reg_factors: f32,
        reg_bias: f32,
    ) -> FoldedUser {
        let k = self.factors();
        let with_bias = self.biases().is_some();
        let n = k + usize::from(with_bias);
        // Normal equations (X^T X + diag(reg)) w = X^T y in f64: rows of X
        // are [q_i, 1], y the rating minus the fixed part.
        let mut a = vec![0.0f64; n * n];
        let mut rhs = vec![0.0f64; n];
        let mut x = vec![0.0f64; n];
        for &(item, r) in ratings {
            assert!(
                item.get() < self.n_items_inner(),
                "fold_in: item {} out of range",
                item.0
            );
            let q = self.item_vector(item);
            for (xv, &qv) in x.iter_mut().zip(q) {
                *xv = f64::from(qv);
            }
            let mut y = f64::from(r);
            if let Some(b) = self.biases() {
                x[k] = 1.0;
                y -= f64::from(b.mu) + f64::from(b.item[item.get()]);
            }
            for i in 0..n {
                rhs[i] += x[i] * y;
                for j in 0..=i {
                    a[i * n + j] += x[i] * x[j];
                }
            }
        }
        for i in 0..n {
            let reg = if i < k { reg_factors } else { reg_bias };
            // A tiny floor keeps the system positive definite without regularisation.
            a[i * n + i] += f64::from(reg).max(1e-9);
        }
        let w = solve_spd(&mut a, &rhs, n);
        FoldedUser {
            factors: w[..k].iter().map(|&v| v as f32).collect(),
            bias: if with_bias { w[k] as f32 } else { 0.0 },
        }
    }

    /// Scores every item for a folded user, as
    /// [`score_into`](movierec_core::Recommender::score_into) does for a
    /// fitted one.
    ///
    /// # Panics
    /// If `out.len()` is not the number of items or the factors' length is not `k`.
    #[track_caller]
    pub fn score_folded(&self, user: &FoldedUser, out: &mut [f32]) {
        let k = self.factors();
        assert_eq!(user.factors.len(), k, "score_folded: factor length");
        assert_eq!(
            out.len(),
            self.n_items_inner(),
            "score_folded: output length"
        );
        let base = self.biases().map_or(0.0, |b| b.mu + user.bias);
        for (i, (o, q)) in out
            .iter_mut()
            .zip(self.item_factors().chunks_exact(k))
            .enumerate()
        {
            let d: f32 = q.iter().zip(&user.factors).map(|(a, b)| a * b).sum();
            let bi = self.biases().map_or(0.0, |b| b.item[i]);
            *o = base + bi + d;
        }
    }

    fn n_items_inner(&self) -> usize {
        self.item_factors().len() / self.factors()
    }
}

/// Solves `A w = b` for a symmetric positive definite `A` whose lower
/// triangle is filled (Cholesky in place, then two triangular solves).
fn solve_spd(a: &mut [f64], b: &[f64], n: usize) -> Vec<f64> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for p in 0..j {
            d -= a[j * n + p] * a[j * n + p];
        }
        let d = d.max(1e-12).sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for p in 0..j {
                s -= a[i * n + p] * a[j * n + p];
            }
            a[i * n + j] = s / d;
        }
    }
    let mut y = b.to_vec();
    for i in 0..n {
        for p in 0..i {
            y[i] -= a[i * n + p] * y[p];
        }
        y[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for p in i + 1..n {
            y[i] -= a[p * n + i] * y[p];
        }
        y[i] /= a[i * n + i];
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Biases;
    use movierec_core::{Recommender, UserIdx};

    #[test]
    fn solve_matches_a_known_system() {
        // [[4, 2], [2, 3]] w = [2, 1] => w = [0.5, 0].
        let mut a = vec![4.0, 0.0, 2.0, 3.0];
        let w = solve_spd(&mut a, &[2.0, 1.0], 2);
        assert!((w[0] - 0.5).abs() < 1e-12 && w[1].abs() < 1e-12);
    }

    #[test]
    fn folding_in_an_exact_user_recovers_their_scores() {
        // Items with independent factors; a user's ratings made from known
        // factors and bias are recovered with no regularisation.
        let q = vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, -1.0];
        let biases = Biases {
            mu: 3.0,
            user: vec![0.25],
            item: vec![0.1, -0.2, 0.0, 0.3],
        };
        let m = MfModel::new(2, vec![0.5, -0.5], q, Some(biases), 1);
        let mut want = vec![0.0; 4];
        m.score_into(UserIdx(0), &mut want);
        let rated: Vec<(ItemIdx, f32)> = (0..4).map(|i| (ItemIdx(i), want[i as usize])).collect();
        let folded = m.fold_in(&rated, 0.0, 0.0);
        assert!((folded.bias - 0.25).abs() < 1e-4, "{folded:?}");
        let mut got = vec![0.0; 4];
        m.score_folded(&folded, &mut got);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4);
        }
        // Nothing rated: the item side alone.
        let empty = m.fold_in(&[], 0.1, 0.1);
        assert_eq!(empty.bias, 0.0);
        assert!(empty.factors.iter().all(|&f| f == 0.0));
    }
}
