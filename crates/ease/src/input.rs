//! The matrix X of a fit: the kept training ratings over the active items
//! (those with a kept rating, or the `max_items` most rated) and the users
//! with at least one of them, in both orientations.

use movierec_core::{Error, ItemIdx, RatingMatrix, UserIdx};

use crate::{EaseConfig, EaseError};

/// Marks "no slot" in the index maps.
pub(crate) const NONE: u32 = u32::MAX;

/// X in compact indices: rows are active users, columns active items.
#[derive(Debug, Clone)]
pub(crate) struct Input {
    /// Active item -> item index (ascending).
    pub items: Vec<u32>,
    /// Item index -> active item, or [`NONE`].
    pub slot: Vec<u32>,
    /// Active user -> user index (ascending).
    pub users: Vec<u32>,
    /// User index -> active user, or [`NONE`].
    pub row_of: Vec<u32>,
    /// CSR by active user (active item indices, sorted).
    pub u_ptr: Vec<usize>,
    pub u_idx: Vec<u32>,
    pub u_val: Vec<f32>,
    /// CSC by active item (active user indices, sorted).
    pub i_ptr: Vec<usize>,
    pub i_idx: Vec<u32>,
    pub i_val: Vec<f32>,
    /// `diag(X^T X)`, per active item.
    pub gram_diag: Vec<f64>,
}

impl Input {
    pub(crate) fn build(train: &RatingMatrix, cfg: &EaseConfig) -> Result<Self, EaseError> {
        let (n_users, n_items) = (train.n_users(), train.n_items());
        if train.nnz() == 0 {
            return Err(Error::Empty("EASE training ratings").into());
        }
        if n_items >= NONE as usize || n_users >= NONE as usize {
            return Err(Error::Config(format!(
                "EASE supports fewer than {NONE} users and items, got {n_users} x {n_items}"
            ))
            .into());
        }
        let smax = train.scale().max;
        let value = |r: f32| cfg.input_value(r, smax);
        let counts: Vec<usize> = (0..n_items)
            .map(|i| {
                let (_, vals) = train.item_ratings(ItemIdx(i as u32));
                vals.iter().filter(|&&r| value(r).is_some()).count()
            })
            .collect();
        let mut items: Vec<u32> = (0..n_items as u32)
            .filter(|&i| counts[i as usize] > 0)
            .collect();
        if items.is_empty() {
            return Err(EaseError::NoRatings(cfg.min_rating.unwrap_or(f32::NAN)));
        }
        if items.len() > cfg.max_items {
            if !cfg.most_rated_only {
                let n = items.len();
                return Err(EaseError::TooManyItems {
                    n_items: n,
                    max_items: cfg.max_items,
                    gib: (n as f64).powi(2) * 4.0 / f64::from(1u32 << 30),
                });
            }
            items.sort_by_key(|&i| (std::cmp::Reverse(counts[i as usize]), i));
            items.truncate(cfg.max_items);
            items.sort_unstable();
        }
        let mut slot = vec![NONE; n_items];
        for (a, &i) in items.iter().enumerate() {
            slot[i as usize] = a as u32;
        }
        let (mut users, mut row_of) = (Vec::new(), vec![NONE; n_users]);
        let (mut u_ptr, mut u_idx, mut u_val) = (vec![0usize], Vec::new(), Vec::new());
        for (u, row) in row_of.iter_mut().enumerate() {
            let (its, vals) = train.user_ratings(UserIdx(u as u32));
            let before = u_idx.len();
            for (&i, &r) in its.iter().zip(vals) {
                if let (s, Some(x)) = (slot[i], value(r)) {
                    if s != NONE {
                        u_idx.push(s);
                        u_val.push(x);
                    }
                }
            }
            if u_idx.len() > before {
                *row = users.len() as u32;
                users.push(u as u32);
                u_ptr.push(u_idx.len());
            }
        }
        let n = items.len();
        let mut i_ptr = vec![0usize; n + 1];
        for &a in &u_idx {
            i_ptr[a as usize + 1] += 1;
        }
        for a in 0..n {
            i_ptr[a + 1] += i_ptr[a];
        }
        let mut fill = i_ptr.clone();
        let mut i_idx = vec![0u32; u_idx.len()];
        let mut i_val = vec![0f32; u_idx.len()];
        for r in 0..users.len() {
            for p in u_ptr[r]..u_ptr[r + 1] {
                let a = u_idx[p] as usize;
                i_idx[fill[a]] = r as u32;
                i_val[fill[a]] = u_val[p];
                fill[a] += 1;
            }
        }
        let gram_diag = (0..n)
            .map(|a| {
                i_val[i_ptr[a]..i_ptr[a + 1]]
                    .iter()
                    .map(|&x| f64::from(x) * f64::from(x))
                    .sum()
            })
            .collect();
        Ok(Self {
            items,
            slot,
            users,
            row_of,
            u_ptr,
            u_idx,
            u_val,
            i_ptr,
            i_idx,
            i_val,
            gram_diag,
        })
    }

    /// Number of active items.
    pub(crate) fn n(&self) -> usize {
        self.items.len()
    }

    /// Number of active users.
    pub(crate) fn m(&self) -> usize {
        self.users.len()
    }

    /// The diagonal penalties `lambda + diag_weight * diag(X^T X)`.
    pub(crate) fn penalties(&self, lambda: f32, diag_weight: f32) -> Vec<f64> {
        self.gram_diag
            .iter()
            .map(|&g| f64::from(lambda) + f64::from(diag_weight) * g)
            .collect()
    }
}
