//! Unit and property tests of the KNN model: the report's 5x4 example by
//! hand, similarity properties, the dense oracle, prediction properties,
//! determinism.

use movierec_core::RunContext;
use std::collections::BTreeMap;

use approx::assert_abs_diff_eq;
use movierec_core::{
    Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings, Recommender, UserIdx,
};
use proptest::prelude::*;

use crate::*;

const NU: usize = 12;
const NI: usize = 10;

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

fn matrix(triples: &[(u32, u32, f32)], n_users: usize, n_items: usize) -> RatingMatrix {
    RatingMatrix::new(&ratings(triples, n_users, n_items)).unwrap()
}

/// The report's 5x4 example (its 5.2.1 part 2): rows are users, columns
/// items, 0 = unrated.
fn report_example() -> RatingMatrix {
    let dense = [
        [5., 0., 3., 0.],
        [4., 0., 1., 1.],
        [2., 1., 0., 5.],
        [1., 0., 3., 2.],
        [0., 1., 4., 0.],
    ];
    let mut t = Vec::new();
    for (u, row) in dense.iter().enumerate() {
        for (i, &r) in row.iter().enumerate() {
            if r > 0.0 {
                t.push((u as u32, i as u32, r));
            }
        }
    }
    matrix(&t, 5, 4)
}

fn fit(cfg: &KnnConfig, m: &RatingMatrix) -> KnnModel {
    cfg.fit(m, None, &RunContext::default(), &mut NoopObserver)
        .unwrap()
}

fn all_scores(model: &KnnModel, n_users: usize) -> Vec<Vec<f32>> {
    (0..n_users)
        .map(|u| {
            let mut out = vec![0.0; model.n_items()];
            model.score_into(UserIdx(u as u32), &mut out);
            out
        })
        .collect()
}

/// Hand-computed adjusted cosine on the 5x4 example. User means: 4, 2, 8/3,
/// 2, 2.5. Centred ratings (user: item=value):
/// u0: 0=1, 2=-1; u1: 0=2, 2=-1, 3=-1; u2: 0=-2/3, 1=-5/3, 3=7/3;
/// u3: 0=-1, 2=1, 3=0; u4: 1=-1.5, 2=1.5.
/// - (0,1): only u2 co-rates: (-2/3)(-5/3) / (2/3 * 5/3) = 1
/// - (0,2): u0, u1, u3: dot = -1 - 2 - 1 = -4, norms 6 and 3: -4/sqrt(18)
/// - (0,3): u1, u2, u3: dot = -2 - 14/9 = -32/9, norms 49/9 and 58/9: -32/sqrt(2842)
/// - (1,2): only u4: -1; (1,3): only u2: -1
/// - (2,3): u1, u3: dot = 1, norms 2 and 1: 1/sqrt(2)
#[test]
fn report_example_by_hand() {
    let m = report_example();
    let model = fit(
        &KnnConfig {
            k: 100,
            k_grid: vec![],
            ..KnnConfig::report()
        },
        &m,
    );
    let s = model.similarities();
    let want = [
        (0, 1, 1.0f64),
        (0, 2, -4.0 / 18f64.sqrt()),
        (0, 3, -32.0 / 2842f64.sqrt()),
        (1, 2, -1.0),
        (1, 3, -1.0),
        (2, 3, 1.0 / 2f64.sqrt()),
    ];
    assert_eq!(s.nnz(), 12);
    for (i, j, w) in want {
        assert_abs_diff_eq!(f64::from(s.get(i, j).unwrap()), w, epsilon = 1e-6);
        assert_eq!(s.get(i, j), s.get(j, i));
    }
    // The report's formula, K = all: user 0 on item 3 has neighbours 0 (r=5)
    // and 2 (r=3); the |sim| denominator lets the prediction go negative.
    let (s03, s23) = (-32.0 / 2842f64.sqrt(), 1.0 / 2f64.sqrt());
    let p = model.predict(UserIdx(0), ItemIdx(3)).unwrap();
    assert_abs_diff_eq!(
        f64::from(p),
        (s03 * 5.0 + s23 * 3.0) / (s03.abs() + s23),
        epsilon = 1e-6
    );
    // User 4 on item 0: neighbours 1 (sim 1, r=1) and 2 (sim -4/sqrt 18, r=4).
    let s02 = -4.0 / 18f64.sqrt();
    let p = model.predict(UserIdx(4), ItemIdx(0)).unwrap();
    assert_abs_diff_eq!(
        f64::from(p),
        (1.0 + s02 * 4.0) / (1.0 + s02.abs()),
        epsilon = 1e-6
    );
    // The report's neighbourhood with K = 1: item 3's most similar item is 2
    // (1/sqrt 2), rated 3 by user 0; item 2's is item 3, rated 5 by user 2.
    let k1 = fit(
        &KnnConfig {
            k: 1,
            k_grid: vec![],
            ..KnnConfig::report()
        },
        &m,
    );
    assert_abs_diff_eq!(
        k1.predict(UserIdx(0), ItemIdx(3)).unwrap(),
        3.0,
        epsilon = 1e-6
    );
    assert_abs_diff_eq!(
        k1.predict(UserIdx(2), ItemIdx(2)).unwrap(),
        5.0,
        epsilon = 1e-6
    );
    // Positive similarities only: item 3 for user 0 keeps neighbour 2 only.
    let pos = fit(
        &KnnConfig {
            k: 100,
            k_grid: vec![],
            keep_negative: false,
            ..KnnConfig::report()
        },
        &m,
    );
    assert_abs_diff_eq!(
        pos.predict(UserIdx(0), ItemIdx(3)).unwrap(),
        3.0,
        epsilon = 1e-6
    );
    assert_eq!(pos.similarities().nnz(), 4);
    // similar(): support is the number of co-rating users.
    let sim = model.similar(ItemIdx(0), 3);
    assert_eq!(
        sim.iter()
            .map(|n| (n.item.0, n.support))
            .collect::<Vec<_>>(),
        vec![(1, 1), (3, 3), (2, 3)]
    );
}

/// Random small matrices: (user, item) -> half-star rating.
fn arb_triples() -> impl Strategy<Value = Vec<(u32, u32, f32)>> {
    proptest::collection::btree_map((0..NU as u32, 0..NI as u32), 1..=10u8, 0..80).prop_map(
        |m: BTreeMap<(u32, u32), u8>| {
            m.into_iter()
                .map(|((u, i), r)| (u, i, f32::from(r) / 2.0))
                .collect()
        },
    )
}

fn arb_similarity() -> impl Strategy<Value = Similarity> {
    prop::sample::select(Similarity::ALL.iter().map(|p| p.0).collect::<Vec<_>>())
}

fn arb_config() -> impl Strategy<Value = KnnConfig> {
    (
        arb_similarity(),
        prop::sample::select(vec![0.0f32, 3.0]),
        1..4usize,
        any::<bool>(),
        1..12usize,
        any::<bool>(),
        prop::sample::select(Prediction::ALL.iter().map(|p| p.0).collect::<Vec<_>>()),
    )
        .prop_map(
            |(similarity, shrinkage, min_support, keep_negative, k, report, prediction)| {
                KnnConfig {
                    similarity,
                    shrinkage,
                    min_support,
                    keep_negative,
                    k,
                    neighbourhood: if report {
                        Neighbourhood::Report
                    } else {
                        Neighbourhood::Rated
                    },
                    prediction,
                    ..KnnConfig::default()
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn similarity_is_symmetric_and_bounded(t in arb_triples(), cfg in arb_config()) {
        let s = sparse_similarities(&matrix(&t, NU, NI), &cfg).unwrap();
        for i in 0..NI {
            prop_assert_eq!(s.get(i, i), None);
            for j in 0..NI {
                let v = s.get(i, j);
                prop_assert_eq!(v.map(f32::to_bits), s.get(j, i).map(f32::to_bits));
                if let Some(v) = v {
                    prop_assert!((-1.0..=1.0).contains(&v) && v != 0.0);
                    prop_assert!(cfg.keep_negative || v > 0.0);
                }
            }
        }
    }

    #[test]
    fn sparse_and_dense_agree(t in arb_triples(), cfg in arb_config(), user_based in any::<bool>()) {
        let cfg = KnnConfig { user_based, ..cfg };
        let m = matrix(&t, NU, NI);
        let sparse = sparse_similarities(&m, &cfg).unwrap().to_dense();
        let dense = dense_similarities(&m, &cfg, Par::Seq).unwrap();
        prop_assert_eq!((sparse.nrows(), sparse.ncols()), (dense.nrows(), dense.ncols()));
        for i in 0..dense.nrows() {
            for j in 0..dense.ncols() {
                prop_assert!((sparse[(i, j)] - dense[(i, j)]).abs() <= 1e-5,
                    "({}, {}): sparse {} dense {}", i, j, sparse[(i, j)], dense[(i, j)]);
            }
        }
    }

    #[test]
    fn an_item_is_most_similar_to_its_copy(t in arb_triples(), sim in arb_similarity(), shrinkage in prop::sample::select(vec![0.0f32, 5.0]), src in 0..(NI as u32 - 1)) {
        // Item NI-1 becomes an exact copy of item `src`.
        let copy = NI as u32 - 1;
        let mut t: Vec<_> = t.into_iter().filter(|x| x.1 != copy).collect();
        let extra: Vec<_> = t.iter().filter(|x| x.1 == src).map(|&(u, _, r)| (u, copy, r)).collect();
        t.extend(extra);
        let cfg = KnnConfig { similarity: sim, shrinkage, keep_negative: true, ..KnnConfig::default() };
        let s = sparse_similarities(&matrix(&t, NU, NI), &cfg).unwrap();
        let (items, sims) = s.neighbours(src as usize);
        match s.get(src as usize, copy as usize) {
            Some(c) => {
                for (&j, &v) in items.iter().zip(sims) {
                    prop_assert!(c >= v, "copy {} < item {} at {}", c, j, v);
                }
                if shrinkage == 0.0 {
                    prop_assert!((c - 1.0).abs() < 1e-6);
                }
            }
            None => prop_assert!(items.is_empty()),
        }
    }

    #[test]
    fn identical_neighbour_ratings_give_that_rating(t in arb_triples(), sim in arb_similarity(), report in any::<bool>(), r in 1..=10u8, user in 0..NU as u32) {
        // The user rates every item they rated with the same value r.
        let r = f32::from(r) / 2.0;
        let t: Vec<_> = t.into_iter().map(|(u, i, v)| if u == user { (u, i, r) } else { (u, i, v) }).collect();
        let cfg = KnnConfig {
            k: NI,
            similarity: sim,
            neighbourhood: if report { Neighbourhood::Report } else { Neighbourhood::Rated },
            prediction: Prediction::Report,
            keep_negative: false,
            ..KnnConfig::default()
        };
        let model = fit(&cfg, &matrix(&t, NU, NI));
        let mut out = vec![0.0; NI];
        model.score_into(UserIdx(user), &mut out);
        for (i, &p) in out.iter().enumerate() {
            prop_assert!(p.is_nan() || (p - r).abs() < 1e-6, "item {}: {} vs {}", i, p, r);
            prop_assert_eq!(model.predict(UserIdx(user), ItemIdx(i as u32)).map(f32::to_bits), p.is_finite().then_some(p.to_bits()));
        }
    }

    /// `recommend` (which skips scoring the seen items where it can) keeps
    /// what scoring every item, dropping the seen ones and sorting gives.
    #[test]
    fn recommend_is_the_top_of_score_into(t in arb_triples(), cfg in arb_config(), user_based in any::<bool>(), cap in prop::option::of(1..6usize), n in 0..=NI) {
        let cfg = KnnConfig { user_based, max_neighbours: cap, ..cfg };
        let m = matrix(&t, NU, NI);
        let model = fit(&cfg, &m);
        for (u, mut scores) in all_scores(&model, NU).into_iter().enumerate() {
            let user = UserIdx(u as u32);
            for &i in m.user_ratings(user).0 {
                scores[i] = f32::NAN;
            }
            let mut want: Vec<(u32, u32)> = scores
                .iter()
                .enumerate()
                .filter(|(_, s)| s.is_finite())
                .map(|(i, s)| (i as u32, s.to_bits()))
                .collect();
            want.sort_by(|a, b| f32::from_bits(b.1).total_cmp(&f32::from_bits(a.1)).then(a.0.cmp(&b.0)));
            want.truncate(n);
            let got: Vec<(u32, u32)> = model
                .recommend(user, n, &m)
                .into_iter()
                .map(|(i, s)| (i.0, s.to_bits()))
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn predict_matches_score_into_bitwise(t in arb_triples(), cfg in arb_config(), user_based in any::<bool>(), cap in prop::option::of(1..6usize)) {
        let cfg = KnnConfig { user_based, max_neighbours: cap, ..cfg };
        let model = fit(&cfg, &matrix(&t, NU, NI));
        for (u, scores) in all_scores(&model, NU).into_iter().enumerate() {
            for (i, &p) in scores.iter().enumerate() {
                let q = model.predict(UserIdx(u as u32), ItemIdx(i as u32));
                prop_assert_eq!(q.map(f32::to_bits), p.is_finite().then_some(p.to_bits()));
            }
        }
    }

    #[test]
    fn user_based_is_item_based_on_the_transpose(t in arb_triples(), cfg in arb_config()) {
        let m = matrix(&t, NU, NI);
        let ub = fit(&KnnConfig { user_based: true, ..cfg.clone() }, &m);
        let mut swapped = cfg.clone();
        swapped.baseline.reg_user = cfg.baseline.reg_item;
        swapped.baseline.reg_item = cfg.baseline.reg_user;
        let ib = fit(&swapped, &m.transposed());
        for u in 0..NU as u32 {
            for i in 0..NI as u32 {
                prop_assert_eq!(ub.predict(UserIdx(u), ItemIdx(i)), ib.predict(UserIdx(i), ItemIdx(u)));
            }
        }
    }

    #[test]
    fn both_capped_builds_agree_bitwise(t in arb_triples(), cfg in arb_config(), user_based in any::<bool>(), cap in 1..5usize) {
        let m = matrix(&t, NU, NI);
        let cfg = KnnConfig { user_based, ..cfg };
        let (pairwise, by_rows) = crate::similarity::capped_both_ways(&m, &cfg, cap);
        prop_assert_eq!(pairwise, by_rows);
    }

    #[test]
    fn the_cap_keeps_each_items_best_neighbours(t in arb_triples(), cfg in arb_config(), cap in 1..5usize) {
        let m = matrix(&t, NU, NI);
        let exact = sparse_similarities(&m, &cfg).unwrap();
        let capped = sparse_similarities(&m, &KnnConfig { max_neighbours: Some(cap), ..cfg }).unwrap();
        for i in 0..NI {
            let (ei, es) = exact.neighbours(i);
            let mut want: Vec<(f32, u32)> = es.iter().copied().zip(ei.iter().copied()).collect();
            want.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            want.truncate(cap);
            want.sort_by_key(|p| p.1);
            let (ci, cs) = capped.neighbours(i);
            prop_assert_eq!(cs.iter().copied().zip(ci.iter().copied()).collect::<Vec<_>>(), want);
        }
    }
}

/// A deterministic pseudo-random matrix (no RNG crate needed): `n` users x
/// `m` items, each pair rated with probability about `p`.
fn synthetic(n_users: u32, n_items: u32, p: f64, seed: u64) -> RatingMatrix {
    let mut rng = movierec_core::rng_for(seed, 0);
    use rand::Rng as _;
    let mut t = Vec::new();
    for u in 0..n_users {
        for i in 0..n_items {
            if rng.random_bool(p) {
                t.push((u, i, f32::from(rng.random_range(1..=10u8)) / 2.0));
            }
        }
    }
    matrix(&t, n_users as usize, n_items as usize)
}

#[test]
fn fitting_twice_gives_bitwise_equal_scores() {
    let m = synthetic(60, 80, 0.2, 7);
    for cfg in [
        KnnConfig::default(),
        KnnConfig {
            k_grid: vec![],
            ..KnnConfig::report()
        },
    ] {
        let a = all_scores(&fit(&cfg, &m), 60);
        let b = all_scores(&fit(&cfg, &m), 60);
        let bits = |s: &Vec<Vec<f32>>| s.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b));
    }
}

#[test]
fn k_is_chosen_on_validation() {
    let all = synthetic(80, 60, 0.3, 11);
    let mut train = Vec::new();
    let mut valid = Vec::new();
    for u in 0..80u32 {
        let (items, values) = all.user_ratings(UserIdx(u));
        for (p, (&i, &r)) in items.iter().zip(values).enumerate() {
            let rating = Rating::new(u, i as u32, r);
            if p % 5 == 0 {
                valid.push(rating)
            } else {
                train.push(rating)
            }
        }
    }
    let train = RatingMatrix::new(&Ratings::new(train, 80, 60, RatingScale::default())).unwrap();
    let valid = Ratings::new(valid, 80, 60, RatingScale::default());
    for neighbourhood in [Neighbourhood::Rated, Neighbourhood::Report] {
        let cfg = KnnConfig {
            k_grid: vec![2, 5, 20, 60],
            neighbourhood,
            ..KnnConfig::default()
        };
        let mut records = Vec::new();
        let mut obs = Recorder(&mut records);
        let model = cfg
            .fit(&train, Some(&valid), &RunContext::default(), &mut obs)
            .unwrap();
        let scores = model.k_scores();
        assert_eq!(
            scores.iter().map(|s| s.k).collect::<Vec<_>>(),
            vec![2, 5, 20, 60]
        );
        assert_eq!(records.len(), 4);
        let best = scores
            .iter()
            .min_by(|a, b| a.validation.rmse.total_cmp(&b.validation.rmse))
            .unwrap();
        assert_eq!(model.k(), best.k);
        // The grid's score of the chosen K is what the fitted model scores.
        let fallback = movierec_core::BiasConfig::default()
            .fit(&train, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        let direct = movierec_core::SetMetrics::compute(
            valid.entries.iter().map(|r| {
                (
                    model
                        .predict(r.user, r.item)
                        .unwrap_or_else(|| fallback.estimate(r.user, r.item)),
                    r.value,
                )
            }),
            valid.scale,
        );
        assert_abs_diff_eq!(direct.rmse, best.validation.rmse, epsilon = 1e-6);
    }
}

struct Recorder<'a>(&'a mut Vec<movierec_core::EpochRecord>);

impl movierec_core::Observer for Recorder<'_> {
    fn on_epoch(&mut self, record: &movierec_core::EpochRecord) -> movierec_core::Control {
        self.0.push(record.clone());
        movierec_core::Control::Continue
    }
}

#[test]
fn validation_in_another_index_space_is_an_error() {
    let m = report_example();
    let v = ratings(&[(0, 0, 3.0)], 6, 4);
    let err = KnnConfig::default()
        .fit(&m, Some(&v), &RunContext::default(), &mut NoopObserver)
        .unwrap_err();
    assert!(matches!(err, Error::Shape { got_users: 6, .. }), "{err}");
    let bad = KnnConfig {
        k: 0,
        ..KnnConfig::default()
    };
    assert!(matches!(
        bad.fit(&m, None, &RunContext::default(), &mut NoopObserver),
        Err(Error::Config(ConfigError::K))
    ));
}

#[test]
fn model_round_trips_through_serde() {
    let m = synthetic(20, 15, 0.4, 3);
    let model = fit(&KnnConfig::report(), &m);
    let json = serde_json::to_string(&model).unwrap();
    let back: KnnModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
}

#[test]
fn model_is_send_sync() {
    fn has_autotraits<T: Send + Sync + Sized + Unpin>() {}
    has_autotraits::<KnnModel>();
    has_autotraits::<KnnConfig>();
}

#[test]
fn empty_and_cold_inputs() {
    let m = matrix(&[], 3, 4);
    let model = fit(&KnnConfig::default(), &m);
    assert_eq!(model.similarities().nnz(), 0);
    assert_eq!(model.predict(UserIdx(0), ItemIdx(0)), None);
    let mut out = vec![0.0; 4];
    model.score_into(UserIdx(2), &mut out);
    assert!(out.iter().all(|x| x.is_nan()));
    assert!(model.similar(ItemIdx(1), 5).is_empty());
}

/// An exact store that could outgrow `EXACT_PAIR_LIMIT` is refused before
/// anything is allocated, naming the size, the limit and the way out
/// (item-based KNN or a neighbour cap), which then fits.
#[test]
fn an_exact_store_too_large_is_refused_before_allocating() {
    use crate::{Error, EXACT_PAIR_LIMIT};
    // 16,000 users who rated one movie: user-based, every pair of users
    // shares a rater (16,000 * 15,999 > the limit).
    let n = 16_000u32;
    let entries: Vec<Rating> = (0..n)
        .map(|u| Rating::new(u, 0, f32::from((u % 9) as u8) / 2.0 + 1.0))
        .collect();
    let train = RatingMatrix::new(&Ratings::new(
        entries,
        n as usize,
        2,
        RatingScale::default(),
    ))
    .unwrap();
    let user_based = KnnConfig {
        user_based: true,
        ..KnnConfig::default()
    };
    let err = user_based
        .fit(&train, None, &RunContext::default(), &mut NoopObserver)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                n: 16_000,
                limit: EXACT_PAIR_LIMIT,
                ..
            }
        ),
        "{text}"
    );
    for part in [
        "16000 users",
        "255984000 pairs",
        "item-based",
        "--max-neighbours",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    // The way out fits: item-based (2 movies).
    KnnConfig::default()
        .fit(&train, None, &RunContext::default(), &mut NoopObserver)
        .unwrap();
}
