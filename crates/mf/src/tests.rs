//! Oracle and behaviour tests of both optimisers.

use faer::Par;
use movierec_core::RunContext;
use movierec_core::{
    rng_for, Control, EpochRecord, Fit, ItemIdx, NoopObserver, Observer, Rating, RatingMatrix,
    RatingScale, Ratings, Recommender, UserIdx,
};
use proptest::prelude::*;
use rand::Rng as _;

use crate::dense::{row_major, DenseState};
use crate::kernel::{BlockPass, Entry, Step};
use crate::{ConfigError, DenseGdConfig, Error, MfModel, SgdConfig, MAX_FACTORS};

/// A random low-rank-plus-noise rating set, every user and item rated.
pub(crate) fn random_ratings(n_users: usize, n_items: usize, density: f64, seed: u64) -> Ratings {
    let mut rng = rng_for(seed, 99);
    let k = 3;
    let pu: Vec<f32> = (0..n_users * k).map(|_| rng.random::<f32>()).collect();
    let qi: Vec<f32> = (0..n_items * k).map(|_| rng.random::<f32>()).collect();
    let mut entries = Vec::new();
    for u in 0..n_users {
        for i in 0..n_items {
            let forced = i == u % n_items || u == i % n_users;
            if forced || rng.random::<f64>() < density {
                let d: f32 = (0..k).map(|f| pu[u * k + f] * qi[i * k + f]).sum();
                let r = (1.0 + 1.4 * d + rng.random::<f32>() * 0.5).clamp(0.5, 5.0);
                entries.push(Rating::new(u as u32, i as u32, (r * 2.0).round() / 2.0));
            }
        }
    }
    Ratings::new(entries, n_users, n_items, RatingScale::default())
}

/// The report's 5 x 4 example (5.2.1 part 2); 0 = unrated.
const REPORT: [[f32; 4]; 5] = [
    [5., 0., 3., 0.],
    [4., 0., 1., 1.],
    [2., 1., 0., 5.],
    [1., 0., 3., 2.],
    [0., 1., 4., 0.],
];

fn report_matrix() -> RatingMatrix {
    let mut entries = Vec::new();
    for (u, row) in REPORT.iter().enumerate() {
        for (i, &x) in row.iter().enumerate() {
            if x > 0.0 {
                entries.push(Rating::new(u as u32, i as u32, x));
            }
        }
    }
    RatingMatrix::new(&Ratings::new(entries, 5, 4, RatingScale::new(1.0, 5.0))).unwrap()
}

fn assert_reconstructs_report(model: &MfModel, tol: f32) {
    for (u, row) in REPORT.iter().enumerate() {
        for (i, &x) in row.iter().enumerate() {
            if x > 0.0 {
                let p = model.predict(UserIdx(u as u32), ItemIdx(i as u32)).unwrap();
                assert!((p - x).abs() < tol, "({u}, {i}): {p} vs {x}");
            }
        }
    }
}

/// The report's loss in f64, straight from the definition.
fn reference_loss(train: &RatingMatrix, p: &[f64], q: &[f64], k: usize, beta: f64) -> f64 {
    let mut sse = 0.0;
    for u in 0..train.n_users() {
        let (items, values) = train.user_ratings(UserIdx(u as u32));
        for (&i, &r) in items.iter().zip(values) {
            let d: f64 = (0..k).map(|f| p[u * k + f] * q[i * k + f]).sum();
            sse += (f64::from(r) - d).powi(2);
        }
    }
    let norm: f64 = p.iter().chain(q).map(|x| x * x).sum();
    0.5 * sse + beta * 0.5 * norm
}

/// Central finite differences of `reference_loss` with respect to `x`.
fn fd_gradient(loss: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
    let h = 1e-5;
    let mut x = x.to_vec();
    (0..x.len())
        .map(|j| {
            let keep = x[j];
            x[j] = keep + h;
            let up = loss(&x);
            x[j] = keep - h;
            let down = loss(&x);
            x[j] = keep;
            (up - down) / (2.0 * h)
        })
        .collect()
}

fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    let num: f64 = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).powi(2))
        .sum::<f64>()
        .sqrt();
    let den: f64 = want.iter().map(|b| b * b).sum::<f64>().sqrt();
    num / den.max(1e-12)
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The dense gradients are the finite-difference gradients of the
    /// report's loss (an f64 reference written here), and one step follows
    /// the numpy code: P moves along its gradient, then Q along the old
    /// residual times the *updated* P.
    #[test]
    fn dense_gradient_matches_finite_differences(
        nu in 2usize..9, ni in 2usize..9, k in 1usize..5, density in 0.3f64..1.0,
        beta in 0.0f32..0.5, seed in 0u64..1000,
    ) {
        let train = RatingMatrix::new(&random_ratings(nu, ni, density, seed)).unwrap();
        let mut st = DenseState::new(&train, k, 1.0, seed).unwrap();
        let p0f = row_major(st.p.as_ref());
        let q0f = row_major(st.q.as_ref());
        let (gp, gq) = st.gradients(beta);
        let (gp, gq) = (to_f64(&row_major(gp.as_ref())), to_f64(&row_major(gq.as_ref())));
        let b = f64::from(beta);
        let (p0, q0) = (to_f64(&p0f), to_f64(&q0f));
        let fd_p = fd_gradient(|p| reference_loss(&train, p, &q0, k, b), &p0);
        prop_assert!(rel_err(&gp, &fd_p) < 1e-3, "P: {}", rel_err(&gp, &fd_p));
        let fd_q = fd_gradient(|q| reference_loss(&train, &p0, q, k, b), &q0);
        prop_assert!(rel_err(&gq, &fd_q) < 1e-3, "Q: {}", rel_err(&gq, &fd_q));

        // The step itself, alpha = 0.1.
        let alpha = 0.1;
        let err = st.step(alpha as f32, beta, Par::Seq);
        let loss0 = reference_loss(&train, &p0, &q0, k, b);
        prop_assert!((err - loss0).abs() <= 1e-4 * loss0.max(1.0), "err {err} vs {loss0}");
        let p1 = to_f64(&row_major(st.p.as_ref()));
        let q1 = to_f64(&row_major(st.q.as_ref()));
        let want_p1: Vec<f64> = p0.iter().zip(&fd_p).map(|(x, g)| x - alpha * g).collect();
        prop_assert!(rel_err(&p1, &want_p1) < 1e-5);
        // Q's gradient: sum over ratings of -(r - p_old . q_old) p_new, plus beta q.
        let mut gq_gs: Vec<f64> = q0.iter().map(|x| b * x).collect();
        for u in 0..nu {
            let (items, values) = train.user_ratings(UserIdx(u as u32));
            for (&i, &r) in items.iter().zip(values) {
                let d: f64 = (0..k).map(|f| p0[u * k + f] * q0[i * k + f]).sum();
                for f in 0..k {
                    gq_gs[i * k + f] -= (f64::from(r) - d) * p1[u * k + f];
                }
            }
        }
        let want_q1: Vec<f64> = q0.iter().zip(&gq_gs).map(|(x, g)| x - alpha * g).collect();
        prop_assert!(rel_err(&q1, &want_q1) < 1e-5);
    }

    /// One dense step (beta = 0) moves P by exactly the sum of the sparse
    /// per-rating SGD steps taken from the same point.
    #[test]
    fn dense_step_is_the_sum_of_sparse_rating_gradients(
        nu in 2usize..8, ni in 2usize..8, k in 1usize..6, density in 0.3f64..1.0, seed in 0u64..1000,
    ) {
        let train = RatingMatrix::new(&random_ratings(nu, ni, density, seed)).unwrap();
        let mut st = DenseState::new(&train, k, 1.0, seed).unwrap();
        let p0 = row_major(st.p.as_ref());
        let q0 = row_major(st.q.as_ref());
        let alpha = 0.01;
        st.step(alpha, 0.0, Par::Seq);
        let dense_dp: Vec<f64> = p0.iter().zip(&row_major(st.p.as_ref()))
            .map(|(a, b)| f64::from(*b) - f64::from(*a)).collect();
        let mut sparse_dp = vec![0.0f64; p0.len()];
        for u in 0..nu {
            let (items, values) = train.user_ratings(UserIdx(u as u32));
            for (&i, &r) in items.iter().zip(values) {
                let (mut p, mut q) = (p0.clone(), q0.clone());
                BlockPass {
                    k, p: &mut p, q: &mut q, bu: &mut [], bi: &mut [],
                    entries: &[Entry { u: u as u32, i: i as u32, r }],
                    preds: &mut [0.0],
                    order: &[0],
                    step: Step { lr_factors: alpha, reg_factors: 0.0, lr_biases: 0.0, reg_biases: 0.0, mu: 0.0 },
                    biases: false,
                }.run();
                for f in 0..k {
                    sparse_dp[u * k + f] += f64::from(p[u * k + f]) - f64::from(p0[u * k + f]);
                }
            }
        }
        prop_assert!(rel_err(&dense_dp, &sparse_dp) < 1e-3, "{}", rel_err(&dense_dp, &sparse_dp));
    }
}

#[test]
fn sgd_with_zero_learning_rate_leaves_the_model_unchanged() {
    let ratings = random_ratings(30, 40, 0.2, 3);
    let train = RatingMatrix::new(&ratings).unwrap();
    for threads in [1, 2] {
        for biases in [true, false] {
            let config = SgdConfig {
                factors: 7,
                epochs: 3,
                lr_factors: 0.0,
                lr_biases: 0.0,
                biases,
                ..SgdConfig::default()
            };
            let model = config
                .fit(
                    &train,
                    None,
                    &RunContext::new(threads, 42),
                    &mut NoopObserver,
                )
                .unwrap();
            let (p0, q0) = config.initial_factors(&train, 42);
            assert_eq!(model.user_factors(), &p0[..], "threads {threads}");
            assert_eq!(model.item_factors(), &q0[..], "threads {threads}");
            if let Some(b) = model.biases() {
                assert!(b.user.iter().chain(&b.item).all(|&x| x == 0.0));
                assert_eq!(b.mu, train.global_mean());
            }
        }
    }
}

#[test]
fn dense_gd_reconstructs_the_report_example() {
    let config = DenseGdConfig {
        factors: 3,
        lr: 0.01,
        beta: 0.002,
        epochs: 5000,
        ..DenseGdConfig::default()
    };
    let model = config
        .fit(
            &report_matrix(),
            None,
            &RunContext::new(1, 42),
            &mut NoopObserver,
        )
        .unwrap();
    assert_reconstructs_report(&model, 0.1);
    assert!(model.biases().is_none());
    assert_eq!(model.epochs(), 5000);
}

#[test]
fn sgd_reconstructs_the_report_example() {
    for preset in [SgdConfig::report(), SgdConfig::default()] {
        let config = SgdConfig {
            factors: 3,
            epochs: 1000,
            lr_factors: 0.02,
            lr_biases: 0.02,
            lr_decay: 1.0,
            reg_factors: 0.001,
            reg_biases: 0.001,
            ..preset
        };
        let model = config
            .fit(
                &report_matrix(),
                None,
                &RunContext::new(1, 42),
                &mut NoopObserver,
            )
            .unwrap();
        assert_reconstructs_report(&model, 0.1);
    }
}

#[test]
fn same_seed_and_threads_give_bitwise_equal_models() {
    let ratings = random_ratings(120, 200, 0.08, 11);
    let train = RatingMatrix::new(&ratings).unwrap();
    for threads in [1, 2] {
        let config = SgdConfig {
            factors: 16,
            epochs: 4,
            ..SgdConfig::default()
        };
        let a = config
            .fit(
                &train,
                None,
                &RunContext::new(threads, 42),
                &mut NoopObserver,
            )
            .unwrap();
        let b = config
            .fit(
                &train,
                None,
                &RunContext::new(threads, 42),
                &mut NoopObserver,
            )
            .unwrap();
        assert_eq!(a, b, "SGD, threads {threads}");
        let other = SgdConfig {
            seed: Some(43),
            ..config
        }
        .fit(
            &train,
            None,
            &RunContext::new(threads, 42),
            &mut NoopObserver,
        )
        .unwrap();
        assert_ne!(a, other, "the seed matters");
    }
    let small = RatingMatrix::new(&random_ratings(30, 50, 0.2, 12)).unwrap();
    for threads in [1, 2] {
        let config = DenseGdConfig {
            factors: 5,
            epochs: 20,
            ..DenseGdConfig::default()
        };
        let a = config
            .fit(
                &small,
                None,
                &RunContext::new(threads, 42),
                &mut NoopObserver,
            )
            .unwrap();
        let b = config
            .fit(
                &small,
                None,
                &RunContext::new(threads, 42),
                &mut NoopObserver,
            )
            .unwrap();
        assert_eq!(a, b, "dense, threads {threads}");
    }
}

/// Records every epoch; optionally stops after `stop_at`.
#[derive(Default)]
struct Recorder {
    records: Vec<EpochRecord>,
    stop_at: Option<usize>,
}

impl Observer for Recorder {
    fn on_epoch(&mut self, record: &EpochRecord) -> Control {
        self.records.push(record.clone());
        if Some(record.epoch) == self.stop_at {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

fn split(ratings: &Ratings, every: usize) -> (Ratings, Ratings) {
    let (mut train, mut val) = (ratings.empty_like(), ratings.empty_like());
    for (x, r) in ratings.entries.iter().enumerate() {
        if x % every == 0 {
            val.entries.push(*r);
        } else {
            train.entries.push(*r);
        }
    }
    (train, val)
}

#[test]
fn sgd_learns_reports_epochs_and_early_stops_on_the_best_epoch() {
    let ratings = random_ratings(150, 200, 0.1, 5);
    let (train, val) = split(&ratings, 10);
    let train = RatingMatrix::new(&train).unwrap();
    // A learning rate high enough to overfit, so validation RMSE turns up.
    let config = SgdConfig {
        factors: 32,
        epochs: 60,
        lr_factors: 0.05,
        reg_factors: 0.0,
        lr_decay: 1.0,
        patience: 3,
        ..SgdConfig::default()
    };
    let mut rec = Recorder::default();
    let model = config
        .fit(&train, Some(&val), &RunContext::new(2, 42), &mut rec)
        .unwrap();
    let n = rec.records.len();
    assert!(n < 60, "early stopping never fired");
    let rmse: Vec<f64> = rec
        .records
        .iter()
        .map(|r| r.validation.unwrap().rmse)
        .collect();
    let best = rmse.iter().cloned().fold(f64::INFINITY, f64::min);
    let best_epoch = rec
        .records
        .iter()
        .find(|r| r.validation.unwrap().rmse == best)
        .unwrap()
        .epoch;
    assert_eq!(model.epochs(), best_epoch);
    assert_eq!(n, best_epoch + 3);
    let first = rec.records[0].train.unwrap().rmse;
    assert!(
        rec.records[n - 1].train.unwrap().rmse < first,
        "training error must fall"
    );
    assert!(rec
        .records
        .iter()
        .all(|r| r.loss.is_some() && r.seconds >= 0.0));
    // The restored model scores validation at the best RMSE.
    let m = movierec_core::SetMetrics::compute(
        val.entries
            .iter()
            .map(|r| (model.predict(r.user, r.item).unwrap(), r.value)),
        RatingScale::default(),
    );
    assert!((m.rmse - best).abs() < 1e-5, "{} vs {best}", m.rmse);
    // Refit settings: the chosen epoch count, early stopping off.
    let again = config.refit_config(&model);
    assert_eq!((again.epochs, again.patience), (best_epoch, 0));
}

#[test]
fn observer_can_stop_training() {
    let train = RatingMatrix::new(&random_ratings(20, 30, 0.3, 1)).unwrap();
    let mut rec = Recorder {
        stop_at: Some(2),
        ..Default::default()
    };
    let model = SgdConfig {
        epochs: 10,
        ..Default::default()
    }
    .fit(&train, None, &RunContext::new(1, 42), &mut rec)
    .unwrap();
    assert_eq!(rec.records.len(), 2);
    assert_eq!(model.epochs(), 2);
    let mut rec = Recorder {
        stop_at: Some(3),
        ..Default::default()
    };
    DenseGdConfig {
        epochs: 10,
        eval_every: 2,
        ..Default::default()
    }
    .fit(&train, None, &RunContext::new(1, 42), &mut rec)
    .unwrap();
    assert_eq!(rec.records.len(), 3);
    assert!(rec.records[0].train.is_none() && rec.records[1].train.is_some());
}

#[test]
fn dense_gd_early_stops_and_refits_with_the_chosen_steps() {
    let ratings = random_ratings(40, 60, 0.3, 8);
    let (train, val) = split(&ratings, 8);
    let train = RatingMatrix::new(&train).unwrap();
    let config = DenseGdConfig {
        factors: 20,
        lr: 0.01,
        beta: 0.0,
        epochs: 3000,
        eval_every: 10,
        patience: 5,
        ..Default::default()
    };
    let mut rec = Recorder::default();
    let model = config
        .fit(&train, Some(&val), &RunContext::new(1, 42), &mut rec)
        .unwrap();
    let evals: Vec<&EpochRecord> = rec
        .records
        .iter()
        .filter(|r| r.validation.is_some())
        .collect();
    let best = evals
        .iter()
        .map(|r| r.validation.unwrap().rmse)
        .fold(f64::INFINITY, f64::min);
    assert!(rec.records.len() < 3000, "overfitting must stop it");
    assert_eq!(model.epochs() % 10, 0);
    assert_eq!(rec.records.last().unwrap().epoch, model.epochs() + 50);
    assert!(evals
        .iter()
        .any(|r| r.epoch == model.epochs() && r.validation.unwrap().rmse == best));
    let again = config.refit_config(&model);
    assert_eq!((again.epochs, again.patience), (model.epochs(), 0));
}

#[test]
fn parallel_sgd_fits_as_well_as_sequential() {
    let ratings = random_ratings(200, 300, 0.08, 21);
    let (train, val) = split(&ratings, 10);
    let train = RatingMatrix::new(&train).unwrap();
    let rmse = |threads| {
        let mut rec = Recorder::default();
        SgdConfig {
            factors: 16,
            epochs: 15,
            patience: 0,
            ..Default::default()
        }
        .fit(&train, Some(&val), &RunContext::new(threads, 42), &mut rec)
        .unwrap();
        rec.records.last().unwrap().validation.unwrap().rmse
    };
    let (one, two, three) = (rmse(1), rmse(2), rmse(3));
    assert!(
        (one - two).abs() < 0.03 && (one - three).abs() < 0.03,
        "{one} {two} {three}"
    );
}

#[test]
fn cold_users_and_items_get_zero_factors() {
    let mut ratings = random_ratings(10, 12, 0.5, 2);
    ratings.n_users = 12;
    ratings.n_items = 14;
    let train = RatingMatrix::new(&ratings).unwrap();
    let sgd = SgdConfig {
        factors: 4,
        epochs: 3,
        ..Default::default()
    }
    .fit(&train, None, &RunContext::new(2, 42), &mut NoopObserver)
    .unwrap();
    assert!(sgd.user_vector(UserIdx(11)).iter().all(|&x| x == 0.0));
    assert!(sgd.item_vector(ItemIdx(13)).iter().all(|&x| x == 0.0));
    let b = sgd.biases().unwrap();
    assert_eq!(sgd.predict(UserIdx(11), ItemIdx(13)), Some(b.mu));
    let mut out = vec![0.0; 14];
    sgd.score_into(UserIdx(3), &mut out);
    assert_eq!(out[13], b.mu + b.user[3]);
    let dense = DenseGdConfig {
        factors: 4,
        epochs: 3,
        ..Default::default()
    }
    .fit(&train, None, &RunContext::new(1, 42), &mut NoopObserver)
    .unwrap();
    assert_eq!(dense.predict(UserIdx(11), ItemIdx(0)), Some(0.0));
}

#[test]
fn errors_name_the_problem() {
    let empty = RatingMatrix::new(&Ratings::new(Vec::new(), 3, 3, RatingScale::default())).unwrap();
    let e = SgdConfig::default()
        .fit(&empty, None, &RunContext::new(1, 42), &mut NoopObserver)
        .unwrap_err();
    assert!(matches!(e, Error::EmptyTrain { .. }));
    let e = DenseGdConfig::default()
        .fit(&empty, None, &RunContext::new(1, 42), &mut NoopObserver)
        .unwrap_err();
    assert!(matches!(e, Error::EmptyTrain { .. }));
    let train = report_matrix();
    let val = Ratings::new(vec![Rating::new(9, 0, 3.0)], 10, 4, RatingScale::default());
    let e = SgdConfig::default()
        .fit(
            &train,
            Some(&val),
            &RunContext::new(1, 42),
            &mut NoopObserver,
        )
        .unwrap_err();
    assert!(
        matches!(e, Error::ValidationOutOfRange { user: 9, .. }),
        "{e}"
    );
    let e = SgdConfig {
        factors: 0,
        ..Default::default()
    }
    .fit(&train, None, &RunContext::new(1, 42), &mut NoopObserver)
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid config: factors must be in 1..=4096, got 0"
    );
    let huge = RatingMatrix::new(&Ratings::new(
        vec![Rating::new(0, 0, 3.0)],
        20_000,
        10_000,
        RatingScale::default(),
    ))
    .unwrap();
    let e = DenseGdConfig::default()
        .fit(&huge, None, &RunContext::new(1, 42), &mut NoopObserver)
        .unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }));
}

mod config {
    use super::*;

    fn sgd(f: impl FnOnce(&mut SgdConfig)) -> Result<(), ConfigError> {
        let mut c = SgdConfig::default();
        f(&mut c);
        c.validate()
    }

    fn dense(f: impl FnOnce(&mut DenseGdConfig)) -> Result<(), ConfigError> {
        let mut c = DenseGdConfig::default();
        f(&mut c);
        c.validate()
    }

    #[test]
    fn defaults_and_presets_are_valid() {
        assert_eq!(SgdConfig::default().validate(), Ok(()));
        assert_eq!(SgdConfig::report().validate(), Ok(()));
        assert!(!SgdConfig::report().biases);
        assert_eq!(DenseGdConfig::default().validate(), Ok(()));
    }

    #[test]
    fn factors_cannot_be_zero() {
        assert_eq!(sgd(|c| c.factors = 0), Err(ConfigError::Factors(0)));
        assert_eq!(dense(|c| c.factors = 0), Err(ConfigError::Factors(0)));
        assert_eq!(
            sgd(|c| c.factors = 4_000_000_000),
            Err(ConfigError::Factors(4_000_000_000))
        );
        assert_eq!(
            dense(|c| c.factors = MAX_FACTORS + 1),
            Err(ConfigError::Factors(MAX_FACTORS + 1))
        );
    }

    #[test]
    fn epochs_cannot_be_zero() {
        assert_eq!(sgd(|c| c.epochs = 0), Err(ConfigError::Epochs));
        assert_eq!(dense(|c| c.epochs = 0), Err(ConfigError::Epochs));
    }

    #[test]
    fn learning_rates_must_be_finite_and_non_negative() {
        assert!(matches!(
            sgd(|c| c.lr_factors = -0.1),
            Err(ConfigError::LearningRate {
                name: "lr_factors",
                ..
            })
        ));
        assert!(matches!(
            sgd(|c| c.lr_biases = f32::NAN),
            Err(ConfigError::LearningRate {
                name: "lr_biases",
                ..
            })
        ));
        assert!(matches!(
            dense(|c| c.lr = f32::INFINITY),
            Err(ConfigError::LearningRate { name: "lr", .. })
        ));
        assert_eq!(sgd(|c| c.lr_factors = 0.0), Ok(()));
    }

    #[test]
    fn regularisation_must_be_finite_and_non_negative() {
        assert!(matches!(
            sgd(|c| c.reg_factors = -1.0),
            Err(ConfigError::Regularisation {
                name: "reg_factors",
                ..
            })
        ));
        assert!(matches!(
            sgd(|c| c.reg_biases = f32::NAN),
            Err(ConfigError::Regularisation {
                name: "reg_biases",
                ..
            })
        ));
        assert!(matches!(
            dense(|c| c.beta = -0.5),
            Err(ConfigError::Regularisation { name: "beta", .. })
        ));
    }

    #[test]
    fn lr_decay_must_be_in_unit_interval() {
        assert_eq!(sgd(|c| c.lr_decay = 0.0), Err(ConfigError::LrDecay(0.0)));
        assert_eq!(sgd(|c| c.lr_decay = 1.5), Err(ConfigError::LrDecay(1.5)));
        assert_eq!(sgd(|c| c.lr_decay = 1.0), Ok(()));
    }

    #[test]
    fn init_must_be_finite_and_non_negative() {
        assert!(matches!(
            sgd(|c| c.init_std = -0.1),
            Err(ConfigError::Init {
                name: "init_std",
                ..
            })
        ));
        assert!(matches!(
            dense(|c| c.init_scale = f32::NAN),
            Err(ConfigError::Init {
                name: "init_scale",
                ..
            })
        ));
    }

    #[test]
    fn eval_every_cannot_be_zero() {
        assert_eq!(dense(|c| c.eval_every = 0), Err(ConfigError::EvalEvery));
    }

    #[test]
    fn configs_round_trip_and_reject_unknown_fields() {
        let c = SgdConfig::report();
        let back: SgdConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let partial: SgdConfig = serde_json::from_str(r#"{"factors": 8}"#).unwrap();
        assert_eq!(
            partial,
            SgdConfig {
                factors: 8,
                ..Default::default()
            }
        );
        assert!(serde_json::from_str::<SgdConfig>(r#"{"factor": 8}"#).is_err());
        let d: DenseGdConfig = serde_json::from_str(r#"{"beta": 0.1}"#).unwrap();
        assert_eq!(
            d,
            DenseGdConfig {
                beta: 0.1,
                ..Default::default()
            }
        );
        assert!(serde_json::from_str::<DenseGdConfig>(r#"{"alpha": 0.1}"#).is_err());
    }
}

/// A learning rate far too large diverges to NaN: both optimisers fail
/// with `Diverged` (observed or not), never returning a NaN model.
#[test]
fn a_diverging_fit_is_an_error_not_a_nan_model() {
    let train = RatingMatrix::new(&random_ratings(30, 20, 0.3, 5)).unwrap();
    let sgd = SgdConfig {
        lr_factors: 1e6,
        lr_biases: 1e6,
        epochs: 20,
        ..SgdConfig::default()
    };
    let dense = DenseGdConfig {
        lr: 1e6,
        epochs: 20,
        ..DenseGdConfig::default()
    };
    let ctx = RunContext::default();
    let diverged = |r: Result<MfModel, Error>| match r {
        Err(Error::Core(e @ movierec_core::Error::Diverged { .. })) => {
            let text = e.to_string();
            assert!(
                text.contains("diverged at epoch") && text.contains("--lr"),
                "{text}"
            );
        }
        Err(e) => panic!("another error: {e}"),
        Ok(_) => panic!("a diverged model was returned"),
    };
    diverged(sgd.fit(&train, None, &ctx, &mut NoopObserver));
    diverged(sgd.fit(&train, None, &ctx, &mut Recorder::default()));
    diverged(dense.fit(&train, None, &ctx, &mut NoopObserver));
    diverged(dense.fit(&train, None, &ctx, &mut Recorder::default()));
}

#[test]
fn large_settings_are_valid_and_smaller() {
    let large = SgdConfig::large();
    large.validate().unwrap();
    assert_eq!(large.factors, 128);
    assert_eq!(
        SgdConfig {
            factors: 200,
            ..large
        },
        SgdConfig::default()
    );
}
