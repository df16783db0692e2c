//! The kernel of one prediction: a neighbour candidate ([`Cand`]), the
//! reusable per-thread buffers, and the sorted intersections of a row's
//! rated items with a neighbour list.

use std::cell::RefCell;

/// A neighbour candidate of one prediction: a rated item with a similarity.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cand {
    pub(super) j: u32,
    pub(super) sim: f32,
    pub(super) r: f32,
}

/// Reusable per-thread buffers of a prediction.
#[derive(Debug, Default)]
pub(super) struct Buf {
    pub(super) cands: Vec<Cand>,
    pub(super) keys: Vec<(f32, u32)>,
}

thread_local! {
    pub(super) static BUF: RefCell<Buf> = RefCell::new(Buf::default());
}

/// The rated items of a row that have a similarity with the target: a
/// sorted intersection, in ascending item order, by binary search from the
/// shorter side when the lengths differ much, else by a linear merge.
pub(super) fn intersect(a: &[u32], ar: &[f32], b: &[u32], bs: &[f32], out: &mut Vec<Cand>) {
    out.clear();
    if a.len() * 8 < b.len() {
        let mut lo = 0;
        for (p, &j) in a.iter().enumerate() {
            lo += b[lo..].partition_point(|&x| x < j);
            if lo == b.len() {
                break;
            }
            if b[lo] == j {
                out.push(Cand {
                    j,
                    sim: bs[lo],
                    r: ar[p],
                });
                lo += 1;
            }
        }
    } else if b.len() * 8 < a.len() {
        let mut lo = 0;
        for (q, &j) in b.iter().enumerate() {
            lo += a[lo..].partition_point(|&x| x < j);
            if lo == a.len() {
                break;
            }
            if a[lo] == j {
                out.push(Cand {
                    j,
                    sim: bs[q],
                    r: ar[lo],
                });
                lo += 1;
            }
        }
    } else {
        let (mut p, mut q) = (0, 0);
        while p < a.len() && q < b.len() {
            match a[p].cmp(&b[q]) {
                std::cmp::Ordering::Less => p += 1,
                std::cmp::Ordering::Greater => q += 1,
                std::cmp::Ordering::Equal => {
                    out.push(Cand {
                        j: a[p],
                        sim: bs[q],
                        r: ar[p],
                    });
                    p += 1;
                    q += 1;
                }
            }
        }
    }
}

/// Number of common entries of two sorted lists.
pub(super) fn common(a: &[u32], b: &[u32]) -> u32 {
    let (mut p, mut q, mut n) = (0, 0, 0);
    while p < a.len() && q < b.len() {
        match a[p].cmp(&b[q]) {
            std::cmp::Ordering::Less => p += 1,
            std::cmp::Ordering::Greater => q += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                p += 1;
                q += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_modes_agree() {
        let a: Vec<u32> = (0..200).filter(|x| x % 3 == 0).collect();
        let ar: Vec<f32> = a.iter().map(|&x| x as f32).collect();
        for b in [
            vec![3u32, 4, 99, 150],
            (0..200).filter(|x| x % 2 == 0).collect(),
            (0..2000).collect::<Vec<u32>>(),
        ] {
            let bs: Vec<f32> = b.iter().map(|&x| -(x as f32)).collect();
            let mut got = Vec::new();
            intersect(&a, &ar, &b, &bs, &mut got);
            let want: Vec<u32> = a.iter().copied().filter(|x| b.contains(x)).collect();
            assert_eq!(got.iter().map(|c| c.j).collect::<Vec<_>>(), want);
            assert!(got
                .iter()
                .all(|c| c.r == c.j as f32 && c.sim == -(c.j as f32)));
            // And from the other side.
            intersect(&b, &bs, &a, &ar, &mut got);
            assert_eq!(got.iter().map(|c| c.j).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn common_counts_shared_entries() {
        assert_eq!(common(&[1, 3, 5, 7], &[0, 3, 7, 8]), 2);
        assert_eq!(common(&[], &[1]), 0);
    }
}
