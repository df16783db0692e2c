use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Dense user index, `0..n_users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserIdx(pub u32);

/// Dense item index, `0..n_items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemIdx(pub u32);

impl UserIdx {
    /// The index as `usize`, for slicing.
    #[inline]
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

impl ItemIdx {
    /// The index as `usize`, for slicing.
    #[inline]
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// Raw dataset ids <-> dense indices, in order of first appearance.
///
/// Raw MovieLens ids live only here; everything else works on dense indices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    raw: Vec<u64>,
    #[serde(skip)]
    index: HashMap<u64, u32>,
}

impl IdMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a map from raw ids in dense order (index i holds `raw[i]`).
    ///
    /// # Panics
    /// If a raw id repeats (a programmer error: maps are built by `insert`).
    #[track_caller]
    pub fn from_raw(raw: Vec<u64>) -> Self {
        let mut index = HashMap::with_capacity(raw.len());
        for (i, &r) in raw.iter().enumerate() {
            assert!(index.insert(r, i as u32).is_none(), "raw id {r} repeats");
        }
        Self { raw, index }
    }

    /// The dense index of `raw`, inserting it at the end if new.
    pub fn insert(&mut self, raw: u64) -> u32 {
        let next = self.raw.len() as u32;
        *self.index.entry(raw).or_insert_with(|| {
            self.raw.push(raw);
            next
        })
    }

    /// The dense index of `raw`, if known.
    pub fn get(&self, raw: u64) -> Option<u32> {
        self.index.get(&raw).copied()
    }

    /// The raw id at dense index `idx`.
    ///
    /// # Panics
    /// If `idx >= self.len()`.
    #[track_caller]
    pub fn raw(&self, idx: u32) -> u64 {
        self.raw[idx as usize]
    }

    /// Raw ids in dense order.
    pub fn raw_ids(&self) -> &[u64] {
        &self.raw
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True when no id was inserted.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Rebuilds the reverse index after deserialising (it is not stored).
    pub fn rebuild_index(&mut self) {
        *self = Self::from_raw(std::mem::take(&mut self.raw));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_is_idempotent_and_dense() {
        let mut m = IdMap::new();
        assert_eq!(m.insert(10), 0);
        assert_eq!(m.insert(7), 1);
        assert_eq!(m.insert(10), 0);
        assert_eq!(m.len(), 2);
        assert_eq!(m.raw(1), 7);
        assert_eq!(m.get(7), Some(1));
        assert_eq!(m.get(8), None);
    }
}
