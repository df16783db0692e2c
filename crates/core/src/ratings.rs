use serde::{Deserialize, Serialize};

use crate::{ItemIdx, UserIdx};

/// One observed rating.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// Who rated.
    pub user: UserIdx,
    /// What was rated.
    pub item: ItemIdx,
    /// The rating, on the dataset's scale.
    pub value: f32,
}

impl Rating {
    /// A rating from raw dense indices.
    pub fn new(user: u32, item: u32, value: f32) -> Self {
        Self {
            user: UserIdx(user),
            item: ItemIdx(item),
            value,
        }
    }
}

/// The closed range of valid ratings (0.5..=5 for ml-latest, 1..=5 for ml-100k).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatingScale {
    /// Lowest valid rating.
    pub min: f32,
    /// Highest valid rating.
    pub max: f32,
}

impl RatingScale {
    /// A scale `min..=max`.
    pub fn new(min: f32, max: f32) -> Self {
        Self { min, max }
    }

    /// `x` clamped into the scale; predictions are clamped before scoring.
    #[inline]
    pub fn clamp(&self, x: f32) -> f32 {
        x.clamp(self.min, self.max)
    }

    /// True when `x` is finite and inside the scale.
    pub fn contains(&self, x: f32) -> bool {
        x.is_finite() && x >= self.min && x <= self.max
    }
}

impl Default for RatingScale {
    /// The MovieLens half-star scale, 0.5..=5.
    fn default() -> Self {
        Self::new(0.5, 5.0)
    }
}

/// The ratings of one set (train, validation or test), with the size of the
/// whole dataset's index space so that every set shares one index space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratings {
    /// The triples, in no particular order.
    pub entries: Vec<Rating>,
    /// Number of users in the index space.
    pub n_users: usize,
    /// Number of items in the index space.
    pub n_items: usize,
    /// The valid rating range.
    pub scale: RatingScale,
}

impl Ratings {
    /// A rating set over `n_users x n_items`.
    pub fn new(entries: Vec<Rating>, n_users: usize, n_items: usize, scale: RatingScale) -> Self {
        Self {
            entries,
            n_users,
            n_items,
            scale,
        }
    }

    /// An empty set over the same index space.
    pub fn empty_like(&self) -> Self {
        Self::new(Vec::new(), self.n_users, self.n_items, self.scale)
    }

    /// The ratings at `positions`, in that order, over the same index space.
    ///
    /// # Panics
    /// If a position is out of bounds.
    #[track_caller]
    pub fn select(&self, positions: &[usize]) -> Self {
        let entries = positions.iter().map(|&p| self.entries[p]).collect();
        Self::new(entries, self.n_users, self.n_items, self.scale)
    }

    /// This set followed by `other` (same index space), e.g. train + validation for a refit.
    pub fn concat(&self, other: &Ratings) -> Self {
        let mut entries = Vec::with_capacity(self.len() + other.len());
        entries.extend_from_slice(&self.entries);
        entries.extend_from_slice(&other.entries);
        Self::new(
            entries,
            self.n_users.max(other.n_users),
            self.n_items.max(other.n_items),
            self.scale,
        )
    }

    /// Number of ratings.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no rating.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Mean rating (f64 accumulation), `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let sum: f64 = self.entries.iter().map(|r| f64::from(r.value)).sum();
        Some(sum / self.len() as f64)
    }
}
