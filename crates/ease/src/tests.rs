//! Unit and property tests of the fit against a direct f64 solve.

use movierec_core::{
    Control, EpochRecord, Error, Fit, ItemIdx, NoopObserver, Observer, Rating, RatingMatrix,
    RatingScale, Ratings, Recommender, RunContext, ScoreKind, UserIdx,
};
use proptest::prelude::*;

use crate::{EaseConfig, EaseError, EaseModel, Solver, Weighting};

fn matrix(triples: &[(u32, u32, f32)], n_users: usize, n_items: usize) -> RatingMatrix {
    let entries = triples
        .iter()
        .map(|&(u, i, r)| Rating::new(u, i, r))
        .collect();
    RatingMatrix::new(&Ratings::new(
        entries,
        n_users,
        n_items,
        RatingScale::default(),
    ))
    .unwrap()
}

fn fixed(lambda: f32, solver: Solver) -> EaseConfig {
    EaseConfig {
        lambda,
        lambda_grid: Vec::new(),
        solver,
        ..EaseConfig::default()
    }
}

fn fit(cfg: &EaseConfig, m: &RatingMatrix) -> EaseModel {
    cfg.fit(m, None, &RunContext::default(), &mut NoopObserver)
        .unwrap()
}

/// Solves `a x = b` (n x n, row-major) by Gaussian elimination with
/// partial pivoting, in f64.
fn gauss_solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for c in 0..n {
        let p = (c..n)
            .max_by(|&x, &y| a[x * n + c].abs().total_cmp(&a[y * n + c].abs()))
            .unwrap();
        for k in 0..n {
            a.swap(c * n + k, p * n + k);
        }
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[r * n + c] / a[c * n + c];
            for k in c..n {
                a[r * n + k] -= f * a[c * n + k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    x
}

/// Column `j` of the weights solved directly: with `diag(B) = 0`, column j
/// is `argmin ||x_j - X_{-j} b||^2 + sum_i l_i b_i^2`, i.e.
/// `(X_{-j}^T X_{-j} + diag(l_{-j})) b = X_{-j}^T x_j`, over the items of
/// `cols` (dense X, users x items).
fn direct_column(x: &[Vec<f64>], cols: &[usize], l: &[f64], j: usize) -> Vec<f64> {
    let others: Vec<usize> = (0..cols.len()).filter(|&c| c != j).collect();
    let k = others.len();
    let mut a = vec![0.0; k * k];
    let mut b = vec![0.0; k];
    for row in x {
        for (p, &cp) in others.iter().enumerate() {
            let xp = row[cols[cp]];
            b[p] += xp * row[cols[j]];
            for (q, &cq) in others.iter().enumerate() {
                a[p * k + q] += xp * row[cols[cq]];
            }
        }
    }
    for (p, &cp) in others.iter().enumerate() {
        a[p * k + p] += l[cp];
    }
    let sol = gauss_solve(a, b, k);
    let mut full = vec![0.0; cols.len()];
    for (p, &cp) in others.iter().enumerate() {
        full[cp] = sol[p];
    }
    full
}

/// Random rating sets: up to 12 users, 7 items, half-star ratings.
fn data() -> impl Strategy<Value = (Vec<(u32, u32, f32)>, usize, usize)> {
    (2usize..12, 2usize..8).prop_flat_map(|(nu, ni)| {
        (
            proptest::collection::btree_map((0..nu as u32, 0..ni as u32), 1u8..=10, 1..nu * ni),
            Just(nu),
            Just(ni),
        )
            .prop_map(|(pairs, nu, ni)| {
                let t = pairs
                    .into_iter()
                    .map(|((u, i), r)| (u, i, f32::from(r) / 2.0))
                    .collect();
                (t, nu, ni)
            })
    })
}

fn solver() -> impl Strategy<Value = Solver> {
    prop_oneof![Just(Solver::Auto), Just(Solver::Items), Just(Solver::Users)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn weights_solve_the_constrained_least_squares(
        (triples, nu, ni) in data(),
        lambda in 0.5f32..50.0,
        diag_weight in prop_oneof![Just(0.0f32), 0.0f32..1.0],
        rating in any::<bool>(),
        min_rating in prop_oneof![Just(None), Just(Some(2.5f32))],
        solver in solver(),
    ) {
        let m = matrix(&triples, nu, ni);
        let cfg = EaseConfig {
            diag_weight,
            weighting: if rating { Weighting::Rating } else { Weighting::Binary },
            min_rating,
            ..fixed(lambda, solver)
        };
        let model = match cfg.fit(&m, None, &RunContext::default(), &mut NoopObserver) {
            Ok(model) => model,
            Err(EaseError::NoRatings(_)) => {
                prop_assert!(triples.iter().all(|t| t.2 < 2.5));
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        prop_assert!(model.validate().is_ok());
        // Dense X as the fit sees it.
        let mut x = vec![vec![0f64; ni]; nu];
        for &(u, i, r) in &triples {
            if let Some(v) = cfg.input_value(r, 5.0) {
                x[u as usize][i as usize] = f64::from(v);
            }
        }
        let cols: Vec<usize> = (0..ni).filter(|&i| x.iter().any(|row| row[i] != 0.0)).collect();
        prop_assert_eq!(model.model_items().map(|i| i.get()).collect::<Vec<_>>(), cols.clone());
        let l: Vec<f64> = cols.iter().map(|&c| {
            let g: f64 = x.iter().map(|row| row[c] * row[c]).sum();
            f64::from(lambda) + f64::from(diag_weight) * g
        }).collect();
        for j in 0..cols.len() {
            let want = direct_column(&x, &cols, &l, j);
            for (i, &w) in want.iter().enumerate() {
                let got = model.weight(ItemIdx(cols[i] as u32), ItemIdx(cols[j] as u32)).unwrap();
                if i == j {
                    prop_assert_eq!(got, 0.0);
                }
                prop_assert!((f64::from(got) - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "B[{}, {}] = {} want {}", i, j, got, w);
            }
        }
        // Items without X entries score NaN.
        let mut out = vec![0.0; ni];
        model.score_into(UserIdx(0), &mut out);
        for (i, s) in out.iter().enumerate() {
            prop_assert_eq!(s.is_nan(), !cols.contains(&i));
        }
    }

    #[test]
    fn fold_in_of_a_training_user_equals_its_scores(
        (triples, nu, ni) in data(),
        lambda in 0.5f32..50.0,
        solver in solver(),
    ) {
        let m = matrix(&triples, nu, ni);
        let model = fit(&fixed(lambda, solver), &m);
        let (mut a, mut b) = (vec![0.0; ni], vec![0.0; ni]);
        for u in 0..nu as u32 {
            model.score_into(UserIdx(u), &mut a);
            let (items, values) = m.user_ratings(UserIdx(u));
            let rated: Vec<(ItemIdx, f32)> =
                items.iter().zip(values).map(|(&i, &r)| (ItemIdx(i as u32), r)).collect();
            model.score_new_user(&rated, &mut b).unwrap();
            for (x, y) in a.iter().zip(&b) {
                prop_assert!(x == y || (x.is_nan() && y.is_nan()));
            }
        }
    }

    #[test]
    fn same_context_same_model_and_threads_agree(
        (triples, nu, ni) in data(),
        lambda in 0.5f32..50.0,
        solver in solver(),
    ) {
        let m = matrix(&triples, nu, ni);
        let cfg = fixed(lambda, solver);
        let two = RunContext::new(2, 1);
        let a = cfg.fit(&m, None, &two, &mut NoopObserver).unwrap();
        let b = cfg.fit(&m, None, &two, &mut NoopObserver).unwrap();
        prop_assert_eq!(&a, &b);
        let one = fit(&cfg, &m);
        for i in a.model_items() {
            for j in a.model_items() {
                let (x, y) = (a.weight(i, j).unwrap(), one.weight(i, j).unwrap());
                prop_assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()));
            }
        }
    }

    #[test]
    fn edited_models_are_rejected_without_panicking(
        (triples, nu, ni) in data(),
        edit in 0usize..8,
        at in any::<prop::sample::Index>(),
    ) {
        let m = matrix(&triples, nu, ni);
        let model = fit(&fixed(5.0, Solver::Auto), &m);
        let mut v = serde_json::to_value(&model).unwrap();
        let arr = |v: &mut serde_json::Value, k: &str| v[k].as_array_mut().unwrap().clone();
        let (field, value): (&str, serde_json::Value) = match edit {
            0 => { let mut w = arr(&mut v, "weights"); w.pop(); ("weights", w.into()) }
            1 => { let mut w = arr(&mut v, "items"); let p = at.index(w.len()); w[p] = (ni as u64 + 3).into(); ("items", w.into()) }
            2 => { let mut w = arr(&mut v, "user_items"); if w.is_empty() { return Ok(()); } let p = at.index(w.len()); w[p] = 1000.into(); ("user_items", w.into()) }
            3 => { let mut w = arr(&mut v, "user_ptr"); let p = at.index(w.len()); w[p] = 10_000.into(); ("user_ptr", w.into()) }
            4 => { let mut w = arr(&mut v, "slot"); w.pop(); ("slot", w.into()) }
            5 => ("lambda", (-1.0).into()),
            6 => { let mut w = arr(&mut v, "user_values"); w.push(1.0.into()); ("user_values", w.into()) }
            _ => ("n_items", (ni as u64 + 1).into()),
        };
        v[field] = value;
        let edited: EaseModel = serde_json::from_value(v).unwrap();
        if edited != model {
            prop_assert!(matches!(edited.validate(), Err(Error::InvalidModel(_))));
        }
    }
}

#[test]
fn non_finite_values_are_rejected() {
    let m = matrix(&[(0, 0, 4.0), (0, 1, 3.0), (1, 1, 5.0)], 2, 2);
    let model = fit(&fixed(1.0, Solver::Items), &m);
    let bytes = postcard::to_allocvec(&model).unwrap();
    let back: EaseModel = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, model);
    assert!(back.validate().is_ok());
    // Every f32 of the encoding (weights, values, lambda) set to NaN in turn.
    let nan = f32::NAN.to_le_bytes();
    let mut rejected = 0;
    for p in 0..bytes.len().saturating_sub(3) {
        let mut b = bytes.clone();
        b[p..p + 4].copy_from_slice(&nan);
        if let Ok(edited) = postcard::from_bytes::<EaseModel>(&b) {
            if edited.validate().is_err() {
                rejected += 1;
            } else {
                // Accepted: it must still score without panicking.
                let mut out = vec![0.0; edited.n_items()];
                edited.score_into(UserIdx(0), &mut out);
            }
        }
    }
    assert!(rejected > 0);
    let mut edited = model.clone();
    edited.lambda = f32::NAN;
    assert!(edited.validate().is_err());
}

#[test]
fn lambda_search_picks_on_validation_and_refit_fixes_it() {
    // Two taste groups: users 0-5 like items 0-2, users 6-11 like items 3-5.
    let mut t = Vec::new();
    for u in 0..12u32 {
        let base = if u < 6 { 0 } else { 3 };
        for k in 0..3 {
            if (u + k) % 3 != 0 {
                t.push((u, base + k, 4.5));
            }
        }
    }
    let train = matrix(&t, 12, 6);
    let val_entries: Vec<Rating> = (0..12u32)
        .map(|u| {
            let base = if u < 6 { 0 } else { 3 };
            Rating::new(u, base + u % 3, 5.0)
        })
        .collect();
    let val = Ratings::new(val_entries, 12, 6, RatingScale::default());
    struct Count(usize);
    impl Observer for Count {
        fn on_epoch(&mut self, r: &EpochRecord) -> Control {
            self.0 += 1;
            assert_eq!(r.epoch, self.0);
            Control::Continue
        }
    }
    for solver in [Solver::Items, Solver::Users] {
        let cfg = EaseConfig {
            lambda_grid: vec![1.0, 10.0, 100.0],
            solver,
            ..EaseConfig::default()
        };
        let mut obs = Count(0);
        let model = cfg
            .fit(&train, Some(&val), &RunContext::default(), &mut obs)
            .unwrap();
        assert_eq!(obs.0, 3);
        assert_eq!(model.lambda_search.len(), 3);
        assert!(cfg.lambda_grid.contains(&model.lambda));
        let best = model
            .lambda_search
            .iter()
            .map(|s| s.ndcg)
            .fold(f64::NEG_INFINITY, f64::max);
        let chosen = model
            .lambda_search
            .iter()
            .find(|s| s.lambda == model.lambda)
            .unwrap();
        assert_eq!(chosen.ndcg, best);
        let again = cfg.refit_config(&model);
        assert_eq!(again.lambda, model.lambda);
        assert!(again.lambda_grid.is_empty());
        assert_eq!(model.score_kind(), ScoreKind::Ranking);
    }
}

#[test]
fn solvers_agree_on_a_wider_matrix() {
    let t: Vec<(u32, u32, f32)> = (0..40u32)
        .flat_map(|u| {
            (0..25u32)
                .filter(move |i| (u * 7 + i * 3) % 5 < 2)
                .map(move |i| (u, i, 4.0))
        })
        .collect();
    let m = matrix(&t, 40, 25);
    let a = fit(&fixed(3.0, Solver::Items), &m);
    let b = fit(&fixed(3.0, Solver::Users), &m);
    for i in a.model_items() {
        for j in a.model_items() {
            let (x, y) = (a.weight(i, j).unwrap(), b.weight(i, j).unwrap());
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }
}

#[test]
fn too_many_items_refuses_or_keeps_the_most_rated() {
    let m = matrix(
        &[
            (0, 0, 4.0),
            (1, 0, 4.0),
            (0, 1, 3.0),
            (1, 2, 5.0),
            (2, 2, 2.0),
        ],
        3,
        4,
    );
    let cfg = EaseConfig {
        max_items: 2,
        ..fixed(1.0, Solver::Auto)
    };
    let err = cfg
        .fit(&m, None, &RunContext::default(), &mut NoopObserver)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("max_items = 2") && msg.contains("most_rated_only"),
        "{msg}"
    );
    let model = fit(
        &EaseConfig {
            most_rated_only: true,
            ..cfg
        },
        &m,
    );
    assert_eq!(
        model.model_items().collect::<Vec<_>>(),
        [ItemIdx(0), ItemIdx(2)]
    );
    let mut out = vec![0.0; 4];
    model.score_into(UserIdx(0), &mut out);
    assert!(out[0].is_finite() && out[1].is_nan() && out[2].is_finite() && out[3].is_nan());
}

#[test]
fn config_errors_name_the_setting() {
    let bad = [
        EaseConfig {
            lambda: 0.0,
            ..EaseConfig::default()
        },
        EaseConfig {
            lambda_grid: vec![10.0, f32::NAN],
            ..EaseConfig::default()
        },
        EaseConfig {
            diag_weight: -1.0,
            ..EaseConfig::default()
        },
        EaseConfig {
            min_rating: Some(f32::INFINITY),
            ..EaseConfig::default()
        },
        EaseConfig {
            max_items: 0,
            ..EaseConfig::default()
        },
    ];
    for (cfg, name) in bad.iter().zip([
        "lambda",
        "lambda_grid",
        "diag_weight",
        "min_rating",
        "max_items",
    ]) {
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
    }
    assert!(EaseConfig::default().validate().is_ok());
    let toml_like: EaseConfig =
        serde_json::from_str(r#"{"lambda": 50, "solver": "users"}"#).unwrap();
    assert_eq!(toml_like.lambda, 50.0);
    assert!(serde_json::from_str::<EaseConfig>(r#"{"lamda": 50}"#).is_err());
    let empty = matrix(&[], 2, 2);
    assert!(EaseConfig::default()
        .fit(&empty, None, &RunContext::default(), &mut NoopObserver)
        .is_err());
}

#[test]
fn similar_items_and_reasons_follow_the_weights() {
    // Items 0 and 1 always together, item 2 with nobody in particular.
    let t = [
        (0, 0, 5.0),
        (0, 1, 5.0),
        (1, 0, 4.0),
        (1, 1, 4.0),
        (2, 0, 4.0),
        (2, 1, 5.0),
        (3, 2, 3.0),
        (4, 2, 4.0),
        (4, 0, 2.0),
        (5, 3, 4.0),
    ];
    let m = matrix(&t, 6, 5);
    let model = fit(&fixed(1.0, Solver::Items), &m);
    let sim = model.similar_items(ItemIdx(0), 3).unwrap();
    assert_eq!(sim[0].0, ItemIdx(1));
    assert!(sim.iter().all(|&(i, w)| i != ItemIdx(0) && w > 0.0));
    assert!(model.similar_items(ItemIdx(4), 3).is_err());
    assert!(model.similar_items(ItemIdx(9), 3).is_err());
    let rated = [(ItemIdx(0), 5.0), (ItemIdx(2), 4.0)];
    let why = model.reasons(&rated, ItemIdx(1), 5);
    assert_eq!(why[0].0, ItemIdx(0));
    let b = model.weight(ItemIdx(0), ItemIdx(1)).unwrap();
    assert!((why[0].1 - b).abs() < 1e-6);
    assert!(model.reasons(&rated, ItemIdx(4), 5).is_empty());
    let mut out = vec![0.0; 5];
    assert!(model
        .score_new_user(&[(ItemIdx(7), 4.0)], &mut out)
        .is_err());
    model.score_into(UserIdx(99), &mut out);
    assert!(out.iter().all(|s| s.is_nan()));
}

/// Weights with a NaN or an infinity are `NotFinite`, naming lambda and the
/// remedy: a fit never returns them.
#[test]
fn non_finite_weights_are_an_error() {
    use crate::error::check_finite;
    assert!(check_finite(&[0.0, 1.5, -2.0], 1.0).is_ok());
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let e = check_finite(&[0.0, bad], 0.5).unwrap_err();
        assert!(matches!(e, EaseError::NotFinite { lambda } if lambda == 0.5));
        assert!(e.to_string().contains("larger ease lambda"), "{e}");
    }
}
