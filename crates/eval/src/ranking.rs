//! Top-N ranking metrics on the test set: precision, recall and NDCG at k,
//! hit rate and catalogue coverage.
//!
//! ## Definitions
//! - Candidates of a user: the items with at least one training rating that
//!   the user has not rated in training (so a test item without a training
//!   rating can never be recommended and is not counted as relevant).
//! - Relevant items of a user: their test items rated at least
//!   [`RankingOptions::threshold`] (default 4.0) that are candidates.
//! - The list: the `k` best-scored candidates from
//!   [`Recommender::score_into`], best first, ties broken by item index
//!   (lower first), chosen by a partial sort (`select_nth_unstable_by`), not
//!   a full sort. A candidate the model cannot score (NaN) gets the
//!   harness's fallback estimate, as it does for the rating metrics.
//! - Per user, with `h` relevant items in the list of `k` and `R` relevant
//!   items: precision `h / k`, recall `h / R`, hit `1` if `h > 0`, NDCG the
//!   DCG of binary gains `sum_{p in hits} 1 / log2(p + 2)` (p from 0) over
//!   the ideal DCG of `min(k, R)` hits at the top. Each is averaged over
//!   the ranked users.
//! - Coverage: the share of items with a training rating that appear in at
//!   least one ranked user's list.
//! - Left out, and counted: test users without a relevant item
//!   ([`RankingResult::no_relevant`]), and users with relevant items but no
//!   training rating ([`RankingResult::cold_users`]): the model knows nothing
//!   of them, and ranking them by the fallback would score the fallback, not
//!   the model.
//!
//! ## Parallelisation
//! Users are ranked in parallel (rayon), each by one task with its own
//! buffers; the per-user values are collected in user order and summed
//! serially, so the result is the same bit for bit for any thread count.

use std::time::Instant;

use movierec_core::{FallbackModel, ItemIdx, Rating, RatingMatrix, Recommender, UserIdx};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::report::{nan, nan_if_null};

/// How top-N lists are built and scored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RankingOptions {
    /// List length. Default: 10.
    pub k: usize,
    /// A test rating at least this is relevant. Default: 4.0.
    pub threshold: f32,
}

impl Default for RankingOptions {
    fn default() -> Self {
        Self {
            k: 10,
            threshold: 4.0,
        }
    }
}

/// Ranking metrics of one repeat: means over the ranked users (NaN, written
/// as null, when no user could be ranked).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankingResult {
    /// List length.
    pub k: usize,
    /// Relevance threshold on test ratings.
    pub threshold: f32,
    /// Mean precision@k.
    #[serde(deserialize_with = "nan_if_null")]
    pub precision: f64,
    /// Mean recall@k.
    #[serde(deserialize_with = "nan_if_null")]
    pub recall: f64,
    /// Mean NDCG@k (binary gains).
    #[serde(deserialize_with = "nan_if_null")]
    pub ndcg: f64,
    /// Share of ranked users with at least one relevant item in their list.
    #[serde(deserialize_with = "nan_if_null")]
    pub hit_rate: f64,
    /// Mean average precision@k: per user, the precision at each hit's
    /// position summed over hits, over `min(k, R)`.
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub map: f64,
    /// Mean recall@k normalised by `min(k, R)` (as Mult-VAE and EASE report
    /// it), so a perfect list scores 1 whatever `R`.
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub recall_capped: f64,
    /// Share of the items with a training rating that appear in at least one
    /// ranked user's list.
    #[serde(deserialize_with = "nan_if_null")]
    pub coverage: f64,
    /// Users ranked (the mean's denominator).
    pub users: usize,
    /// Test users left out: no relevant test item among their candidates.
    pub no_relevant: usize,
    /// Test users left out: relevant test items but no training rating.
    pub cold_users: usize,
    /// Wall seconds spent scoring and ranking.
    pub seconds: f64,
}

/// One ranked user's values.
#[derive(Debug, Clone, PartialEq)]
struct UserScore {
    precision: f64,
    recall: f64,
    recall_capped: f64,
    map: f64,
    ndcg: f64,
    hit: bool,
    list: Vec<u32>,
}

/// Ranks every test user with relevant items and averages the metrics.
///
/// `train` is the matrix the model was fitted on (its items define the
/// catalogue and each user's seen items); `fallback` scores the candidates
/// the model leaves NaN. Test ratings outside the training index space (ids
/// new in a given test file) are treated as unknown users and items.
///
/// # Panics
/// If `opts.k` is 0, or the model's item space differs from `train`'s.
#[track_caller]
pub fn ranking_metrics(
    model: &dyn Recommender,
    train: &RatingMatrix,
    fallback: &FallbackModel,
    test: &[Rating],
    opts: &RankingOptions,
) -> RankingResult {
    assert!(opts.k > 0, "ranking needs k >= 1");
    assert_eq!(
        model.n_items(),
        train.n_items(),
        "the model scores another item space than its training matrix"
    );
    let start = Instant::now();
    let (n_users, n_items) = (train.n_users(), train.n_items());
    let in_catalogue = |i: ItemIdx| i.get() < n_items && train.item_count(i) > 0;

    // Every test user, and each one's relevant candidates, in user order.
    let mut pairs: Vec<(u32, u32, bool)> = test
        .iter()
        .map(|r| {
            let relevant = r.value >= opts.threshold
                && in_catalogue(r.item)
                && (r.user.get() >= n_users || train.get(r.user, r.item).is_none());
            (r.user.0, r.item.0, relevant)
        })
        .collect();
    pairs.sort_unstable();
    let (mut no_relevant, mut cold_users) = (0, 0);
    let mut ranked: Vec<(UserIdx, Vec<u32>)> = Vec::new();
    for group in pairs.chunk_by(|a, b| a.0 == b.0) {
        let user = UserIdx(group[0].0);
        let mut relevant: Vec<u32> = group.iter().filter(|p| p.2).map(|p| p.1).collect();
        relevant.dedup();
        if relevant.is_empty() {
            no_relevant += 1;
        } else if user.get() >= n_users || train.user_count(user) == 0 {
            cold_users += 1;
        } else {
            ranked.push((user, relevant));
        }
    }

    let scores: Vec<UserScore> = ranked
        .par_iter()
        .map_init(
            || (vec![0.0f32; n_items], Vec::new()),
            |(buf, cands), (user, relevant)| {
                model.score_into(*user, buf);
                let (seen, _) = train.user_ratings(*user);
                let mut seen = seen.iter().peekable();
                cands.clear();
                for (i, &s) in buf.iter().enumerate() {
                    if seen.next_if_eq(&&i).is_some() || !in_catalogue(ItemIdx(i as u32)) {
                        continue;
                    }
                    let s = if s.is_nan() {
                        fallback.estimate(*user, ItemIdx(i as u32))
                    } else {
                        s
                    };
                    cands.push((s, i as u32));
                }
                let list = top_n(cands, opts.k);
                score_list(&list, relevant, opts.k)
            },
        )
        .collect();

    let n = scores.len();
    let mean = |f: fn(&UserScore) -> f64| {
        if n == 0 {
            f64::NAN
        } else {
            scores.iter().map(f).sum::<f64>() / n as f64
        }
    };
    let mut shown = vec![false; n_items];
    for s in &scores {
        for &i in &s.list {
            shown[i as usize] = true;
        }
    }
    let catalogue = (0..n_items)
        .filter(|&i| in_catalogue(ItemIdx(i as u32)))
        .count();
    let coverage = if n == 0 || catalogue == 0 {
        f64::NAN
    } else {
        shown.iter().filter(|&&x| x).count() as f64 / catalogue as f64
    };
    RankingResult {
        k: opts.k,
        threshold: opts.threshold,
        precision: mean(|s| s.precision),
        recall: mean(|s| s.recall),
        ndcg: mean(|s| s.ndcg),
        hit_rate: mean(|s| f64::from(u8::from(s.hit))),
        map: mean(|s| s.map),
        recall_capped: mean(|s| s.recall_capped),
        coverage,
        users: n,
        no_relevant,
        cold_users,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Best first: higher score, then lower index.
fn better(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// The `k` best `(score, item)` pairs, best first, ties by item index: a
/// partial sort (`select_nth_unstable_by`) then a sort of the `k` kept.
fn top_n(cands: &mut [(f32, u32)], k: usize) -> Vec<u32> {
    let cands = if k < cands.len() {
        cands.select_nth_unstable_by(k - 1, better);
        &mut cands[..k]
    } else {
        cands
    };
    cands.sort_unstable_by(better);
    cands.iter().map(|c| c.1).collect()
}

/// The metrics of one list against the user's relevant items (sorted).
fn score_list(list: &[u32], relevant: &[u32], k: usize) -> UserScore {
    let gain = |p: usize| 1.0 / ((p + 2) as f64).log2();
    let mut hits = 0usize;
    let (mut dcg, mut ap) = (0.0, 0.0);
    for (p, i) in list.iter().enumerate() {
        if relevant.binary_search(i).is_ok() {
            hits += 1;
            dcg += gain(p);
            ap += hits as f64 / (p + 1) as f64;
        }
    }
    let cap = k.min(relevant.len());
    let ideal: f64 = (0..cap).map(gain).sum();
    UserScore {
        precision: hits as f64 / k as f64,
        recall: hits as f64 / relevant.len() as f64,
        recall_capped: hits as f64 / cap as f64,
        map: ap / cap as f64,
        ndcg: dcg / ideal,
        hit: hits > 0,
        list: list.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use movierec_core::{Fallback, RatingScale, Ratings};
    use proptest::prelude::*;

    #[test]
    fn map_and_capped_recall_of_one_list() {
        // Hits at positions 1 and 3 of 3, two relevant items: AP = (1/1 + 2/3) / 2.
        let s = score_list(&[5, 7, 9], &[5, 9], 3);
        assert_relative_eq!(s.map, (1.0 + 2.0 / 3.0) / 2.0);
        assert_relative_eq!(s.recall_capped, 1.0);
        // Four relevant, a list of two with one hit: capped by k.
        let s = score_list(&[1, 2], &[2, 3, 4, 5], 2);
        assert_relative_eq!(s.recall_capped, 0.5);
        assert_relative_eq!(s.recall, 0.25);
        assert_relative_eq!(s.map, 0.5 / 2.0);
    }

    /// Scores from a table: `table[user][item]`.
    struct Table(Vec<Vec<f32>>);

    impl Recommender for Table {
        fn n_items(&self) -> usize {
            self.0[0].len()
        }
        fn score_into(&self, user: UserIdx, out: &mut [f32]) {
            out.copy_from_slice(&self.0[user.get()]);
        }
    }

    fn matrix(entries: Vec<Rating>, n_users: usize, n_items: usize) -> RatingMatrix {
        RatingMatrix::new(&Ratings::new(
            entries,
            n_users,
            n_items,
            RatingScale::default(),
        ))
        .unwrap()
    }

    /// Three ranked users worked by hand. Items 0..=4 have training ratings,
    /// item 5 none; user 3 only gives items their ratings; user 4 is cold.
    fn example() -> (RatingMatrix, Table, Vec<Rating>) {
        let train = matrix(
            vec![
                Rating::new(0, 0, 3.0),
                Rating::new(1, 1, 3.0),
                Rating::new(2, 2, 3.0),
                Rating::new(3, 3, 3.0),
                Rating::new(3, 4, 3.0),
            ],
            5,
            6,
        );
        let model = Table(vec![
            vec![9.0, 5.0, 4.0, 3.0, 2.0, 8.0], // list [1, 2]
            vec![1.0, 9.0, 1.0, 3.0, 2.0, 7.0], // list [3, 4]
            vec![2.0, 2.0, 9.0, 2.0, 1.0, 0.0], // ties: list [0, 1]
            vec![0.0; 6],
            vec![0.0; 6],
        ]);
        let test = vec![
            Rating::new(0, 2, 5.0),
            Rating::new(0, 4, 4.0),
            Rating::new(0, 5, 5.0), // no training rating: not a candidate
            Rating::new(1, 3, 4.5),
            Rating::new(1, 0, 2.0),
            Rating::new(2, 4, 3.5), // relevant only under threshold 3.5
            Rating::new(4, 0, 5.0), // cold user
        ];
        (train, model, test)
    }

    #[test]
    fn hand_worked_example() {
        let (train, model, test) = example();
        let fb = Fallback::Report.fit(&train);
        let opts = RankingOptions {
            k: 2,
            threshold: 4.0,
        };
        let r = ranking_metrics(&model, &train, &fb, &test, &opts);
        assert_eq!((r.users, r.no_relevant, r.cold_users), (2, 1, 1));
        // User 0: list [1, 2], relevant {2, 4}: one hit at position 1.
        // User 1: list [3, 4], relevant {3}: one hit at position 0.
        let l3 = 1.0 / 3f64.log2();
        assert_relative_eq!(r.precision, (0.5 + 0.5) / 2.0);
        assert_relative_eq!(r.recall, (0.5 + 1.0) / 2.0);
        assert_relative_eq!(r.ndcg, (l3 / (1.0 + l3) + 1.0) / 2.0, epsilon = 1e-12);
        assert_eq!(r.hit_rate, 1.0);
        assert_relative_eq!(r.coverage, 4.0 / 5.0);

        // Threshold 3.5: user 2 joins with list [0, 1] (ties by index), no hit.
        let opts = RankingOptions {
            k: 2,
            threshold: 3.5,
        };
        let r = ranking_metrics(&model, &train, &fb, &test, &opts);
        assert_eq!((r.users, r.no_relevant, r.cold_users), (3, 0, 1));
        assert_relative_eq!(r.precision, 1.0 / 3.0);
        assert_relative_eq!(r.recall, 1.5 / 3.0);
        assert_relative_eq!(r.hit_rate, 2.0 / 3.0);
        assert_relative_eq!(r.coverage, 5.0 / 5.0);

        // k = 3 for user 1 alone: list [3, 4, 0]; precision 1/3, NDCG 1.
        let r = ranking_metrics(
            &model,
            &train,
            &fb,
            &test[3..5],
            &RankingOptions {
                k: 3,
                threshold: 4.0,
            },
        );
        assert_eq!(r.users, 1);
        assert_relative_eq!(r.precision, 1.0 / 3.0);
        assert_eq!(r.ndcg, 1.0);
        assert_relative_eq!(r.coverage, 3.0 / 5.0);
    }

    #[test]
    fn unscored_candidates_take_the_fallback() {
        let train = matrix(
            vec![
                Rating::new(0, 0, 4.0),
                Rating::new(1, 1, 4.0),
                Rating::new(1, 2, 4.0),
            ],
            2,
            3,
        );
        // NaN for item 2: the report's fallback 3.0 puts it above item 1 (1.0).
        let model = Table(vec![vec![0.0, 1.0, f32::NAN], vec![0.0; 3]]);
        let fb = Fallback::Report.fit(&train);
        let test = [Rating::new(0, 2, 5.0)];
        let opts = RankingOptions {
            k: 1,
            threshold: 4.0,
        };
        let r = ranking_metrics(&model, &train, &fb, &test, &opts);
        assert_eq!(r.precision, 1.0);
    }

    #[test]
    fn no_ranked_user_gives_nan_not_a_panic() {
        let (train, model, test) = example();
        let fb = Fallback::Report.fit(&train);
        let r = ranking_metrics(&model, &train, &fb, &test[5..], &RankingOptions::default());
        assert_eq!(r.users, 0);
        assert!(r.precision.is_nan() && r.coverage.is_nan());
        let json = serde_json::to_string(&r).unwrap();
        let back: RankingResult = serde_json::from_str(&json).unwrap();
        assert!(back.ndcg.is_nan());
    }

    /// A naive oracle: the full sort of every candidate.
    fn oracle(scores: &[f32], seen: &[usize], k: usize) -> Vec<u32> {
        let mut all: Vec<(f32, u32)> = scores
            .iter()
            .enumerate()
            .filter(|(i, _)| !seen.contains(i))
            .map(|(i, &s)| (s, i as u32))
            .collect();
        all.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then(a.1.cmp(&b.1)));
        all.truncate(k);
        all.into_iter().map(|c| c.1).collect()
    }

    /// Random data: 6 users x 12 items, every item rated in training by
    /// user 5 (so all are in the catalogue), scores on a coarse grid (ties).
    fn data() -> impl Strategy<Value = (Vec<Rating>, Vec<Rating>, Vec<Vec<f32>>, usize)> {
        let cells = proptest::collection::vec(0u8..4, 5 * 12);
        let values = proptest::collection::vec(1u8..=10, 5 * 12);
        let scores = proptest::collection::vec(proptest::collection::vec(0u8..5, 12), 6);
        (cells, values, scores, 1usize..15).prop_map(|(cells, values, scores, k)| {
            let (mut train, mut test) = (Vec::new(), Vec::new());
            for i in 0..12u32 {
                train.push(Rating::new(5, i, 3.0));
            }
            for (p, (&c, &v)) in cells.iter().zip(&values).enumerate() {
                let r = Rating::new((p / 12) as u32, (p % 12) as u32, f32::from(v) / 2.0);
                match c {
                    1 => train.push(r),
                    2 | 3 => test.push(r),
                    _ => {}
                }
            }
            let scores = scores
                .into_iter()
                .map(|row| row.into_iter().map(f32::from).collect())
                .collect();
            (train, test, scores, k)
        })
    }

    proptest! {
        #[test]
        fn metrics_lie_in_the_unit_interval_and_lists_match_a_full_sort(
            (train, test, scores, k) in data()
        ) {
            let m = matrix(train, 6, 12);
            let fb = Fallback::Mean.fit(&m);
            let model = Table(scores.clone());
            let opts = RankingOptions { k, threshold: 4.0 };
            let r = ranking_metrics(&model, &m, &fb, &test, &opts);
            for v in [r.precision, r.recall, r.ndcg, r.hit_rate, r.coverage] {
                prop_assert!(r.users == 0 || (0.0..=1.0).contains(&v), "{v}");
            }
            prop_assert!(r.precision <= r.hit_rate || r.users == 0);
            // The partial sort gives the full sort's lists.
            for u in 0..5u32 {
                let (seen, _) = m.user_ratings(UserIdx(u));
                let mut cands: Vec<(f32, u32)> = (0..12u32)
                    .filter(|i| !seen.contains(&(*i as usize)))
                    .map(|i| (scores[u as usize][i as usize], i))
                    .collect();
                prop_assert_eq!(top_n(&mut cands, k), oracle(&scores[u as usize], seen, k));
            }
            // Recall does not fall as k grows.
            let more = ranking_metrics(&model, &m, &fb, &test, &RankingOptions { k: k + 1, ..opts });
            prop_assert!(r.users == 0 || more.recall >= r.recall - 1e-12);
        }

        #[test]
        fn ranking_the_relevant_items_first_gives_ndcg_one(
            (train, test, _, k) in data()
        ) {
            let m = matrix(train, 6, 12);
            let fb = Fallback::Mean.fit(&m);
            // Score each item by the user's test rating if relevant (higher
            // rating first), else 0.
            let mut table = vec![vec![0.0f32; 12]; 6];
            for r in &test {
                if r.value >= 4.0 {
                    table[r.user.get()][r.item.get()] = r.value;
                }
            }
            let r = ranking_metrics(&Table(table), &m, &fb, &test, &RankingOptions { k, threshold: 4.0 });
            prop_assert!(r.users == 0 || (r.ndcg - 1.0).abs() < 1e-12, "{}", r.ndcg);
            prop_assert!(r.users == 0 || r.hit_rate == 1.0);
        }

        #[test]
        fn same_result_on_one_thread_and_many((train, test, scores, k) in data()) {
            let m = matrix(train, 6, 12);
            let fb = Fallback::Mean.fit(&m);
            let model = Table(scores);
            let opts = RankingOptions { k, threshold: 4.0 };
            let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
            let a = one.install(|| ranking_metrics(&model, &m, &fb, &test, &opts));
            let b = ranking_metrics(&model, &m, &fb, &test, &opts);
            // Debug text, so that NaN (no ranked user) compares equal.
            prop_assert_eq!(format!("{:?}", RankingResult { seconds: 0.0, ..a }), format!("{:?}", RankingResult { seconds: 0.0, ..b }));
        }
    }
}
