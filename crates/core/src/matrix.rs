use sprs::CsMat;

use crate::{Error, ItemIdx, RatingScale, Ratings, Result, UserIdx};

/// Training ratings in both orientations (CSR by user, CSC by item), with the
/// per-user and per-item means and counts every model needs, computed once.
///
/// Rows are users and columns items in both matrices; within a row (column)
/// indices are sorted, which models rely on for merges.
#[derive(Debug, Clone)]
pub struct RatingMatrix {
    by_user: CsMat<f32>,
    by_item: CsMat<f32>,
    user_mean: Vec<f32>,
    item_mean: Vec<f32>,
    global_mean: f32,
    scale: RatingScale,
}

impl RatingMatrix {
    /// Builds both orientations from a rating set.
    ///
    /// # Errors
    /// [`Error::DuplicatePair`] if a (user, item) pair repeats (never summed
    /// silently, unlike `sprs::TriMat`), [`Error::OutOfRange`] if an index
    /// exceeds the declared index space.
    pub fn new(ratings: &Ratings) -> Result<Self> {
        let (n_users, n_items) = (ratings.n_users, ratings.n_items);
        for r in &ratings.entries {
            if r.user.get() >= n_users || r.item.get() >= n_items {
                return Err(Error::OutOfRange {
                    user: r.user.0,
                    item: r.item.0,
                    n_users,
                    n_items,
                });
            }
        }
        // By user: a counting sort on users (no sort of all entries, whose
        // random reads dominated the build at 25M ratings), then each row
        // sorted by item, which also finds duplicates: the first one found
        // is the smallest (user, item) pair, as a global sort would report.
        let e = &ratings.entries;
        let nnz = e.len();
        let mut indptr = vec![0usize; n_users + 1];
        for r in e {
            indptr[r.user.get() + 1] += 1;
        }
        for u in 0..n_users {
            indptr[u + 1] += indptr[u];
        }
        let mut indices = vec![0usize; nnz];
        let mut data = vec![0f32; nnz];
        let mut next = indptr[..n_users].to_vec();
        for r in e {
            let at = &mut next[r.user.get()];
            indices[*at] = r.item.get();
            data[*at] = r.value;
            *at += 1;
        }
        drop(next);
        let mut row: Vec<(usize, f32)> = Vec::new();
        for u in 0..n_users {
            let range = indptr[u]..indptr[u + 1];
            let (items, values) = (&mut indices[range.clone()], &mut data[range]);
            if !items.is_sorted() {
                row.clear();
                row.extend(items.iter().copied().zip(values.iter().copied()));
                row.sort_unstable_by_key(|&(i, _)| i);
                for (k, &(i, v)) in row.iter().enumerate() {
                    items[k] = i;
                    values[k] = v;
                }
            }
            if let Some(w) = items.windows(2).find(|w| w[0] == w[1]) {
                return Err(Error::DuplicatePair {
                    user: u as u32,
                    item: w[0] as u32,
                });
            }
        }
        // By item: a counting sort of the rows, which leaves each column
        // sorted by user.
        let mut col_ptr = vec![0usize; n_items + 1];
        for &i in &indices {
            col_ptr[i + 1] += 1;
        }
        for i in 0..n_items {
            col_ptr[i + 1] += col_ptr[i];
        }
        let mut col_users = vec![0usize; nnz];
        let mut col_data = vec![0f32; nnz];
        let mut next = col_ptr[..n_items].to_vec();
        for u in 0..n_users {
            for p in indptr[u]..indptr[u + 1] {
                let at = &mut next[indices[p]];
                col_users[*at] = u;
                col_data[*at] = data[p];
                *at += 1;
            }
        }
        drop(next);
        let by_user = CsMat::new((n_users, n_items), indptr, indices, data);
        let by_item = CsMat::new_csc((n_users, n_items), col_ptr, col_users, col_data);
        let global_mean = ratings.mean().unwrap_or(0.0) as f32;
        let mean_of = |m: &CsMat<f32>, n: usize| -> Vec<f32> {
            (0..n)
                .map(|o| {
                    let (_, d) = outer(m, o);
                    if d.is_empty() {
                        global_mean
                    } else {
                        (d.iter().map(|&x| f64::from(x)).sum::<f64>() / d.len() as f64) as f32
                    }
                })
                .collect()
        };
        let user_mean = mean_of(&by_user, n_users);
        let item_mean = mean_of(&by_item, n_items);
        Ok(Self {
            by_user,
            by_item,
            user_mean,
            item_mean,
            global_mean,
            scale: ratings.scale,
        })
    }

    /// Number of users in the index space (including users with no rating).
    pub fn n_users(&self) -> usize {
        self.by_user.rows()
    }

    /// Number of items in the index space (including items with no rating).
    pub fn n_items(&self) -> usize {
        self.by_user.cols()
    }

    /// Number of ratings.
    pub fn nnz(&self) -> usize {
        self.by_user.nnz()
    }

    /// The valid rating range.
    pub fn scale(&self) -> RatingScale {
        self.scale
    }

    /// Mean of all ratings (0 when empty).
    pub fn global_mean(&self) -> f32 {
        self.global_mean
    }

    /// Items rated by `user` (sorted) and the ratings.
    #[inline]
    pub fn user_ratings(&self, user: UserIdx) -> (&[usize], &[f32]) {
        outer(&self.by_user, user.get())
    }

    /// Users who rated `item` (sorted) and the ratings.
    #[inline]
    pub fn item_ratings(&self, item: ItemIdx) -> (&[usize], &[f32]) {
        outer(&self.by_item, item.get())
    }

    /// The rating `user` gave `item`, if any (binary search in the user's row).
    pub fn get(&self, user: UserIdx, item: ItemIdx) -> Option<f32> {
        let (items, values) = self.user_ratings(user);
        items.binary_search(&item.get()).ok().map(|p| values[p])
    }

    /// Number of ratings by `user`.
    #[inline]
    pub fn user_count(&self, user: UserIdx) -> usize {
        self.user_ratings(user).0.len()
    }

    /// Number of ratings of `item`.
    #[inline]
    pub fn item_count(&self, item: ItemIdx) -> usize {
        self.item_ratings(item).0.len()
    }

    /// Mean rating of `user` (the global mean for a user with none).
    #[inline]
    pub fn user_mean(&self, user: UserIdx) -> f32 {
        self.user_mean[user.get()]
    }

    /// Mean rating of `item` (the global mean for an item with none).
    #[inline]
    pub fn item_mean(&self, item: ItemIdx) -> f32 {
        self.item_mean[item.get()]
    }

    /// The user-major CSR matrix (users x items).
    pub fn csr(&self) -> &CsMat<f32> {
        &self.by_user
    }

    /// The item-major CSC matrix (users x items, stored by column).
    pub fn csc(&self) -> &CsMat<f32> {
        &self.by_item
    }

    /// The same ratings with users and items swapped, for user-based variants
    /// of item-based models.
    pub fn transposed(&self) -> Self {
        Self {
            by_user: self.by_item.transpose_view().to_owned().to_csr(),
            by_item: self.by_user.transpose_view().to_owned().to_csc(),
            user_mean: self.item_mean.clone(),
            item_mean: self.user_mean.clone(),
            global_mean: self.global_mean,
            scale: self.scale,
        }
    }
}

#[inline]
fn outer(m: &CsMat<f32>, o: usize) -> (&[usize], &[f32]) {
    let range = m.indptr().outer_inds_sz(o);
    (&m.indices()[range.clone()], &m.data()[range])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rating;
    use proptest::prelude::*;

    fn ratings(triples: &[(u32, u32, f32)], n_users: usize, n_items: usize) -> Ratings {
        Ratings::new(
            triples
                .iter()
                .map(|&(u, i, r)| Rating::new(u, i, r))
                .collect(),
            n_users,
            n_items,
            RatingScale::default(),
        )
    }

    #[test]
    fn both_orientations_and_means() {
        let m =
            RatingMatrix::new(&ratings(&[(1, 2, 4.0), (0, 0, 5.0), (1, 0, 3.0)], 3, 4)).unwrap();
        assert_eq!(m.nnz(), 3);
        assert_eq!(
            m.user_ratings(UserIdx(1)),
            (&[0usize, 2][..], &[3.0f32, 4.0][..])
        );
        assert_eq!(
            m.item_ratings(ItemIdx(0)),
            (&[0usize, 1][..], &[5.0f32, 3.0][..])
        );
        assert_eq!(m.user_mean(UserIdx(1)), 3.5);
        assert_eq!(m.user_mean(UserIdx(2)), 4.0);
        assert_eq!(m.item_count(ItemIdx(3)), 0);
        assert_eq!(m.get(UserIdx(1), ItemIdx(2)), Some(4.0));
        assert_eq!(m.get(UserIdx(0), ItemIdx(2)), None);
        let t = m.transposed();
        assert_eq!(t.user_ratings(UserIdx(0)), m.item_ratings(ItemIdx(0)));
        assert_eq!(t.n_users(), 4);
    }

    #[test]
    fn duplicates_and_out_of_range_are_errors() {
        let dup = RatingMatrix::new(&ratings(&[(0, 1, 4.0), (0, 1, 3.0)], 1, 2));
        assert_eq!(dup.unwrap_err(), Error::DuplicatePair { user: 0, item: 1 });
        let oor = RatingMatrix::new(&ratings(&[(0, 5, 4.0)], 1, 2));
        assert!(matches!(oor, Err(Error::OutOfRange { .. })));
    }

    proptest! {
        #[test]
        fn nnz_equals_unique_pairs(pairs in proptest::collection::btree_set((0..20u32, 0..30u32), 0..200)) {
            let triples: Vec<_> = pairs.iter().map(|&(u, i)| (u, i, 3.0)).collect();
            let m = RatingMatrix::new(&ratings(&triples, 20, 30)).unwrap();
            prop_assert_eq!(m.nnz(), pairs.len());
            for &(u, i) in &pairs {
                prop_assert_eq!(m.get(UserIdx(u), ItemIdx(i)), Some(3.0));
            }
        }

        /// Rows and columns hold exactly the ratings, in index order, from
        /// entries in any order; a repeated pair reports the smallest one.
        #[test]
        fn rows_and_columns_match_a_sorted_reference(
            entries in proptest::collection::vec((0..12u32, 0..15u32, 1..10u8), 0..150),
        ) {
            let triples: Vec<_> = entries.iter().map(|&(u, i, r)| (u, i, f32::from(r) / 2.0)).collect();
            let built = RatingMatrix::new(&ratings(&triples, 12, 15));
            let mut sorted = triples.clone();
            sorted.sort_by_key(|&(u, i, _)| (u, i));
            if let Some(w) = sorted.windows(2).find(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1)) {
                prop_assert_eq!(built.unwrap_err(), Error::DuplicatePair { user: w[0].0, item: w[0].1 });
                return Ok(());
            }
            let m = built.unwrap();
            for u in 0..12u32 {
                let want: Vec<(usize, f32)> = sorted.iter().filter(|t| t.0 == u).map(|t| (t.1 as usize, t.2)).collect();
                let (items, values) = m.user_ratings(UserIdx(u));
                let got: Vec<(usize, f32)> = items.iter().copied().zip(values.iter().copied()).collect();
                prop_assert_eq!(got, want);
            }
            sorted.sort_by_key(|&(u, i, _)| (i, u));
            for i in 0..15u32 {
                let want: Vec<(usize, f32)> = sorted.iter().filter(|t| t.1 == i).map(|t| (t.0 as usize, t.2)).collect();
                let (users, values) = m.item_ratings(ItemIdx(i));
                let got: Vec<(usize, f32)> = users.iter().copied().zip(values.iter().copied()).collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
