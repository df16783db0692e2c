use movierec_core::{
    Control, EpochRecord, Error, Fit, ItemIdx, NoopObserver, Observer, Rating, RatingMatrix,
    RatingScale, Ratings, Recommender, RunContext, UserIdx,
};
use proptest::prelude::*;

use crate::solve::{solve_cg_block, solve_exact, weighted_gram, CgScratch, Scratch, Weights};
use crate::{Confidence, IalsConfig, IalsModel};

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

/// Small random rating sets: unique pairs, half-star ratings.
fn data() -> impl Strategy<Value = (Vec<(u32, u32, f32)>, usize, usize)> {
    (1usize..8, 1usize..10).prop_flat_map(|(nu, ni)| {
        proptest::collection::btree_map((0..nu as u32, 0..ni as u32), 1u8..=10, 0..40).prop_map(
            move |m| {
                let t = m
                    .into_iter()
                    .map(|((u, i), r)| (u, i, f32::from(r) / 2.0))
                    .collect();
                (t, nu, ni)
            },
        )
    })
}

fn config() -> impl Strategy<Value = IalsConfig> {
    (
        1usize..6,
        1usize..4,
        0.0f32..5.0,
        prop_oneof![Just(Confidence::Linear), Just(Confidence::Binary)],
        0.05f32..2.0,
        prop_oneof![Just(0.0f32), 0.0f32..1.0],
        prop_oneof![Just(1.0f32), 0.05f32..1.0],
        0usize..4,
    )
        .prop_map(
            |(factors, iterations, alpha, confidence, reg, nu, w0, cg)| IalsConfig {
                factors,
                iterations,
                alpha,
                confidence,
                reg,
                reg_exponent: nu,
                unobserved_weight: w0,
                cg_steps: cg,
                ..IalsConfig::default()
            },
        )
}

/// The row's weighted least squares solved directly in f64: every other
/// row of `fixed` enters with weight `c` (rated) or `w0` (unrated).
fn direct_solve(
    config: &IalsConfig,
    fixed: &[f32],
    k: usize,
    items: &[usize],
    values: &[f32],
) -> Vec<f64> {
    let n = fixed.len() / k;
    let mut a = vec![0.0f64; k * k];
    let mut b = vec![0.0f64; k];
    let w0 = f64::from(config.unobserved_weight);
    let mut total = 0.0f64;
    for j in 0..n {
        let y: Vec<f64> = fixed[j * k..(j + 1) * k]
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let (c, p) = match items.iter().position(|&i| i == j) {
            Some(pos) => (f64::from(config.confidence_of(values[pos])), 1.0),
            None => (w0, 0.0),
        };
        total += c;
        for r in 0..k {
            b[r] += c * p * y[r];
            for s in 0..k {
                a[r * k + s] += c * y[r] * y[s];
            }
        }
    }
    let reg = if config.reg_exponent == 0.0 {
        f64::from(config.reg)
    } else {
        (f64::from(config.reg) * total.powf(f64::from(config.reg_exponent)))
            .max(f64::from(config.reg))
    };
    for d in 0..k {
        a[d * k + d] += reg;
    }
    gauss(a, b, k)
}

/// Gaussian elimination with partial pivoting.
fn gauss(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for c in 0..n {
        let p = (c..n)
            .max_by(|&x, &y| a[x * n + c].abs().total_cmp(&a[y * n + c].abs()))
            .unwrap();
        for j in 0..n {
            a.swap(c * n + j, p * n + j);
        }
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[r * n + c] / a[c * n + c];
            for j in c..n {
                a[r * n + j] -= f * a[c * n + j];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|j| a[r * n + j] * x[j]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    x
}

fn close(got: &[f32], want: &[f64], tol: f64) -> bool {
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .all(|(&g, &w)| (f64::from(g) - w).abs() <= tol * scale)
}

fn fit(config: &IalsConfig, train: &RatingMatrix, threads: usize) -> IalsModel {
    config
        .fit(train, None, &RunContext::new(threads, 7), &mut NoopObserver)
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The solver of both half-steps against a direct f64 solve of the
    /// row's regularised weighted least squares.
    #[test]
    fn exact_row_solve_matches_direct_f64(
        config in config(),
        seed in 0u64..1000,
        n in 1usize..12,
        picks in proptest::collection::btree_map(0usize..12, 1u8..=10, 0..8),
    ) {
        let k = config.factors;
        let fixed = config.init(n, seed, 3);
        let fixed: Vec<f32> = fixed.iter().map(|v| v * 10.0).collect();
        let (items, values): (Vec<usize>, Vec<f32>) = picks
            .into_iter()
            .filter(|&(i, _)| i < n)
            .map(|(i, r)| (i, f32::from(r) / 2.0))
            .unzip();
        let gram = weighted_gram(&fixed, k, config.unobserved_weight);
        let w = Weights { config: &config, n_other: n };
        let mut s = Scratch::new(k);
        let mut x = vec![f32::NAN; k];
        solve_exact(&gram, &fixed, &items, &values, &w, &mut s, &mut x).unwrap();
        if items.is_empty() {
            prop_assert!(x.iter().all(|&v| v == 0.0));
        } else {
            let want = direct_solve(&config, &fixed, k, &items, &values);
            prop_assert!(close(&x, &want, 2e-3), "{x:?} vs {want:?}");
            // Conjugate gradient with k steps from zero reaches the same
            // solution (exact arithmetic: at most k steps).
            let mut y = vec![0.0f32; k];
            let rows = [(&items[..], &values[..])];
            solve_cg_block(&gram, &fixed, &rows, &w, 4 * k, &mut CgScratch::default(), &mut y);
            prop_assert!(close(&y, &want, 2e-2), "cg {y:?} vs {want:?}");
        }
    }

    /// Every fitted user is the exact solution of its user step against
    /// the final item factors, and its fold-in (ratings in any order)
    /// reproduces it bit for bit, scores included.
    #[test]
    fn fitted_users_are_their_user_step_and_fold_in((t, nu, ni) in data(), config in config()) {
        let train = matrix(&t, nu, ni);
        let model = fit(&config, &train, 1);
        model.validate().unwrap();
        let k = config.factors;
        let mut a = vec![0.0; ni];
        let mut b = vec![0.0; ni];
        for u in 0..nu {
            let user = UserIdx(u as u32);
            let (items, values) = train.user_ratings(user);
            let x = model.user_vector(user).unwrap();
            if items.is_empty() {
                prop_assert!(x.iter().all(|&v| v == 0.0));
                model.score_into(user, &mut a);
                prop_assert!(a.iter().all(|s| s.is_nan()));
                continue;
            }
            let want = direct_solve(&config, model.item_factors(), k, items, values);
            prop_assert!(close(x, &want, 2e-3), "{x:?} vs {want:?}");
            let mut rated: Vec<(ItemIdx, f32)> =
                items.iter().zip(values).map(|(&i, &r)| (ItemIdx(i as u32), r)).collect();
            rated.reverse();
            let folded = model.fold_in(&rated).unwrap();
            prop_assert_eq!(folded.as_slice(), x);
            model.score_into(user, &mut a);
            model.score_new_user(&rated, &mut b).unwrap();
            prop_assert_eq!(a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                b.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
            for (i, s) in a.iter().enumerate() {
                prop_assert_eq!(s.is_nan(), train.item_count(ItemIdx(i as u32)) == 0);
            }
            // Hu et al.'s explanation: the contributions sum to the score.
            for (i, &score) in a.iter().enumerate() {
                let item = ItemIdx(i as u32);
                if train.item_count(item) == 0 {
                    prop_assert!(model.reasons(&rated, item, 100).is_empty());
                    continue;
                }
                let why = model.reasons(&rated, item, 100);
                prop_assert_eq!(why.len(), items.len());
                prop_assert!(why.windows(2).all(|w| w[0].1 >= w[1].1));
                let sum: f32 = why.iter().map(|p| p.1).sum();
                let scale = why.iter().fold(score.abs(), |m, p| m.max(p.1.abs()));
                prop_assert!((sum - score).abs() <= 1e-3 * scale.max(1.0), "{sum} vs {score}");
            }
        }
    }

    /// Same data and context: the same bits, for 1 and 2 threads.
    #[test]
    fn deterministic_for_any_thread_count((t, nu, ni) in data(), config in config()) {
        let train = matrix(&t, nu, ni);
        let a = fit(&config, &train, 1);
        let b = fit(&config, &train, 1);
        let c = fit(&config, &train, 2);
        for m in [&b, &c] {
            prop_assert_eq!(a.user_factors(), m.user_factors());
            prop_assert_eq!(a.item_factors(), m.item_factors());
        }
    }

    /// Damaged models: validate never panics, and whatever it accepts
    /// scores, folds in and explains without panicking.
    #[test]
    fn validate_rejects_damage_and_never_panics(
        (t, nu, ni) in data(),
        edit in 0usize..9,
        at in 0usize..1000,
        value in prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(1e30f32), -3.0f32..3.0],
    ) {
        let config = IalsConfig { factors: 3, iterations: 2, ..IalsConfig::default() };
        let train = matrix(&t, nu, ni);
        let model = fit(&config, &train, 1);
        let bytes = postcard::to_allocvec(&model).unwrap();
        let mut m: IalsModel = postcard::from_bytes(&bytes).unwrap();
        prop_assert!(m.validate().is_ok());
        let must_fail = match edit {
            0 => { m.user_factors.push(value); true }
            1 => { m.item_factors.pop(); !model.item_factors.is_empty() }
            2 => { m.item_counts.push(1); true }
            3 => { m.k += 1; true }
            4 => { m.config.reg = -value.abs(); true }
            5 => {
                let n = m.item_factors.len();
                if n > 0 { m.item_factors[at % n] = value; }
                n > 0 && !value.is_finite()
            }
            6 => {
                let n = m.user_factors.len();
                if n > 0 { m.user_factors[at % n] = value; }
                n > 0 && !value.is_finite()
            }
            7 => { m.iterations = 99; true }
            _ => { m.config.factors = 0; true }
        };
        let r = m.validate();
        if must_fail {
            prop_assert!(matches!(r, Err(Error::InvalidModel(_))), "{r:?}");
        }
        if r.is_ok() {
            let n = m.n_items();
            let mut out = vec![0.0; n];
            for u in 0..nu + 2 {
                m.score_into(UserIdx(u as u32), &mut out);
            }
            let rated = [(ItemIdx(0), 4.0), (ItemIdx(at as u32 % 12), 2.0)];
            let _ = m.score_new_user(&rated, &mut out);
            for i in 0..n + 2 {
                let _ = m.similar_items(ItemIdx(i as u32), 3);
                let _ = m.reasons(&rated, ItemIdx(i as u32), 3);
            }
        }
    }
}

#[test]
fn empty_rows_and_empty_data_do_not_crash() {
    let config = IalsConfig {
        factors: 4,
        iterations: 2,
        ..IalsConfig::default()
    };
    let empty = matrix(&[], 3, 4);
    let model = fit(&config, &empty, 2);
    model.validate().unwrap();
    let mut out = vec![0.0; 4];
    model.score_into(UserIdx(1), &mut out);
    assert!(out.iter().all(|s| s.is_nan()));
    assert!(model.similar_items(ItemIdx(0), 3).is_err());
    let train = matrix(&[(0, 0, 4.0), (0, 2, 3.0), (2, 2, 5.0)], 3, 4);
    let model = fit(&config, &train, 2);
    model.score_into(UserIdx(1), &mut out); // no ratings
    assert!(out.iter().all(|s| s.is_nan()));
    model.score_into(UserIdx(0), &mut out);
    assert!(out[0].is_finite() && out[1].is_nan() && out[3].is_nan());
    model.score_into(UserIdx(9), &mut out); // outside the index space
    assert!(out.iter().all(|s| s.is_nan()));
    let sim = model.similar_items(ItemIdx(0), 5).unwrap();
    assert_eq!(
        sim.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![ItemIdx(2)]
    );
    assert!(model.similar_items(ItemIdx(1), 5).is_err());
    assert!(model.similar_items(ItemIdx(7), 5).is_err());
    assert!(model
        .score_new_user(&[(ItemIdx(9), 4.0)], &mut out)
        .is_err());
    assert!(model
        .score_new_user(&[(ItemIdx(0), f32::NAN)], &mut out)
        .is_err());
    assert!(model.score_new_user(&[], &mut [0.0; 2]).is_err());
    model.score_new_user(&[], &mut out).unwrap();
    assert!(out.iter().all(|s| s.is_nan()));
}

#[test]
fn config_validation_names_the_setting() {
    let bad = [
        (
            IalsConfig {
                factors: 0,
                ..IalsConfig::default()
            },
            "factors",
        ),
        (
            IalsConfig {
                iterations: 0,
                ..IalsConfig::default()
            },
            "iterations",
        ),
        (
            IalsConfig {
                alpha: -1.0,
                ..IalsConfig::default()
            },
            "alpha",
        ),
        (
            IalsConfig {
                reg: 0.0,
                ..IalsConfig::default()
            },
            "reg",
        ),
        (
            IalsConfig {
                reg_exponent: 2.0,
                ..IalsConfig::default()
            },
            "reg_exponent",
        ),
        (
            IalsConfig {
                unobserved_weight: f32::NAN,
                ..IalsConfig::default()
            },
            "unobserved_weight",
        ),
        (
            IalsConfig {
                patience: 0,
                ..IalsConfig::default()
            },
            "patience",
        ),
    ];
    for (c, name) in bad {
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(name), "{e}");
        let fitted = c.fit(
            &matrix(&[], 1, 1),
            None,
            &RunContext::default(),
            &mut NoopObserver,
        );
        assert!(fitted.is_err());
    }
    IalsConfig::default().validate().unwrap();
    let parsed: IalsConfig =
        serde_json::from_str(r#"{"factors": 8, "confidence": "binary"}"#).unwrap();
    assert_eq!(parsed.factors, 8);
    assert_eq!(parsed.confidence, Confidence::Binary);
    assert!(serde_json::from_str::<IalsConfig>(r#"{"factor": 8}"#).is_err());
}

/// A small block-structured data set: two groups of users, each rating
/// its own group of items.
fn blocks() -> (RatingMatrix, Ratings) {
    let mut train = Vec::new();
    let mut val = Vec::new();
    for u in 0..20u32 {
        let g = u % 2;
        for i in 0..10u32 {
            let item = 10 * g + i;
            if (u + i) % 5 == 0 {
                val.push(Rating::new(u, item, 5.0));
            } else if (u + i) % 3 != 0 {
                train.push((u, item, 4.0));
            }
        }
    }
    let m = matrix(&train, 20, 20);
    (m, Ratings::new(val, 20, 20, RatingScale::default()))
}

#[test]
fn early_stopping_keeps_the_best_iteration_and_refit_uses_it() {
    struct Record(Vec<EpochRecord>);
    impl Observer for Record {
        fn on_epoch(&mut self, r: &EpochRecord) -> Control {
            self.0.push(r.clone());
            Control::Continue
        }
    }
    let (train, val) = blocks();
    let config = IalsConfig {
        factors: 4,
        iterations: 12,
        patience: 2,
        ..IalsConfig::default()
    };
    let mut rec = Record(Vec::new());
    let model = config
        .fit(&train, Some(&val), &RunContext::new(2, 1), &mut rec)
        .unwrap();
    assert!(model.iterations() >= 1 && model.iterations() <= rec.0.len());
    assert!(rec.0.iter().all(|r| r.loss.is_some_and(f64::is_finite)));
    assert_eq!(rec.0[0].epoch, 1);
    let refit = config.refit_config(&model);
    assert_eq!(refit.iterations, model.iterations());
    // The group structure is learnt: a user's own group scores higher.
    let mut s = vec![0.0; 20];
    model.score_into(UserIdx(0), &mut s);
    let own: f32 = s[..10].iter().filter(|v| v.is_finite()).sum();
    let other: f32 = s[10..].iter().filter(|v| v.is_finite()).sum();
    assert!(own > other, "{own} vs {other}");
}

#[test]
fn observer_stop_ends_the_fit() {
    struct StopAt(usize);
    impl Observer for StopAt {
        fn on_epoch(&mut self, r: &EpochRecord) -> Control {
            if r.epoch >= self.0 {
                Control::Stop
            } else {
                Control::Continue
            }
        }
    }
    let (train, _) = blocks();
    let config = IalsConfig {
        factors: 3,
        iterations: 10,
        ..IalsConfig::default()
    };
    let model = config
        .fit(&train, None, &RunContext::default(), &mut StopAt(2))
        .unwrap();
    assert_eq!(model.iterations(), 2);
}

#[test]
fn loss_decreases_with_exact_solves() {
    struct Losses(Vec<f64>);
    impl Observer for Losses {
        fn on_epoch(&mut self, r: &EpochRecord) -> Control {
            self.0.push(r.loss.unwrap());
            Control::Continue
        }
    }
    let (train, _) = blocks();
    let config = IalsConfig {
        factors: 4,
        iterations: 6,
        cg_steps: 0,
        ..IalsConfig::default()
    };
    let mut l = Losses(Vec::new());
    config
        .fit(&train, None, &RunContext::default(), &mut l)
        .unwrap();
    assert!(
        l.0.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-5)),
        "{:?}",
        l.0
    );
}

/// A non-finite factor or loss after an iteration is `Diverged`, naming the
/// settings to change; extreme settings never give a NaN model.
#[test]
fn non_finite_factors_are_diverged_not_a_model() {
    use crate::fit::finite_or_diverged;
    use crate::IalsError;
    assert!(finite_or_diverged(1, &[1.0], &[2.0], Some(3.0)).is_ok());
    for (users, items, loss) in [
        (vec![f32::NAN], vec![1.0], None),
        (vec![1.0], vec![f32::INFINITY], Some(1.0)),
        (vec![1.0], vec![1.0], Some(f64::NAN)),
    ] {
        match finite_or_diverged(4, &users, &items, loss) {
            Err(IalsError::Core(e @ Error::Diverged { epoch: 4, .. })) => {
                assert!(e.to_string().contains("raise `reg`"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
    let train = matrix(&[(0, 0, 4.0), (0, 1, 5.0), (1, 1, 3.0), (2, 0, 5.0)], 3, 2);
    let extreme = IalsConfig {
        factors: 2,
        iterations: 3,
        alpha: 1e30,
        reg: 1e-30,
        ..IalsConfig::default()
    };
    if let Ok(m) = extreme.fit(&train, None, &RunContext::default(), &mut NoopObserver) {
        m.validate().expect("a returned model is finite");
    }
}
