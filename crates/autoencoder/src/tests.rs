//! Unit tests: the dense and sparse passes against each other and against
//! a finite-difference gradient of a plain f64 reference loss; configs;
//! determinism; learning.

use approx::assert_relative_eq;
use movierec_core::RunContext;
use movierec_core::{
    rng_for, Control, EpochRecord, Fit, ItemIdx, NoopObserver, Observer, Rating, RatingMatrix,
    RatingScale, Ratings, Recommender, UserIdx,
};
use proptest::prelude::*;

use crate::net::Network;
use crate::pass::{out_of_range, Batch, Workspace};
use crate::{AutoencoderConfig, ConfigError, Output, Path, Penalties, Reduction, Update};

fn matrix(triples: &[(u32, u32, f32)], n_users: usize, n_items: usize) -> RatingMatrix {
    let ratings = Ratings::new(
        triples
            .iter()
            .map(|&(u, i, r)| Rating::new(u, i, r))
            .collect(),
        n_users,
        n_items,
        RatingScale::default(),
    );
    RatingMatrix::new(&ratings).unwrap()
}

/// The loss of a batch in plain f64 loops over dense vectors, written from
/// the report's formulas without any of the crate's kernels.
fn reference_loss(net: &Network, params: &[f64], batch: &Batch, pen: &Penalties) -> f64 {
    let d = net.dim();
    let hidden = net.hidden();
    let l = hidden.len();
    let n = batch.len();
    let sig = |z: f64| 1.0 / (1.0 + (-z).exp());
    let (mut data, mut range) = (0.0, 0.0);
    for r in 0..n {
        let mut x = vec![0.0f64; d];
        let (idx, val) = batch.input(r);
        for (&u, &v) in idx.iter().zip(val) {
            x[u as usize] = f64::from(v);
        }
        let mut a = x;
        for (k, &h) in hidden.iter().enumerate() {
            let s = net.span(k);
            let mut z = vec![0.0f64; h];
            for (j, zj) in z.iter_mut().enumerate() {
                *zj = params[s.b + j];
                for (i, ai) in a.iter().enumerate() {
                    *zj += ai * params[s.w + i * h + j];
                }
            }
            a = z.into_iter().map(sig).collect();
        }
        let s = net.span(l);
        let h = hidden[l - 1];
        let mut target = vec![None; d];
        for e in batch.tg_ptr[r]..batch.tg_ptr[r + 1] {
            target[batch.tg_idx[e] as usize] = Some(f64::from(batch.tg_val[e]));
        }
        for (u, t) in target.iter().enumerate() {
            let Some(t) = t else { continue };
            let mut z = params[s.b + u];
            for (j, aj) in a.iter().enumerate() {
                z += params[s.w + u * h + j] * aj;
            }
            let o = match net.output() {
                Output::Relu => z.max(0.0),
                Output::Identity => z,
            };
            data += (t - o) * (t - o);
            let half = (2.0 * o).round_ties_even() / 2.0;
            if half <= 0.0 || half > 5.0 {
                range += o * o;
            }
        }
    }
    let scale = match pen.reduction {
        Reduction::Sum => 1.0,
        Reduction::Mean => 1.0 / (n * d) as f64,
    };
    let mut reg = 0.0;
    let a = f64::from(pen.l1_share);
    for k in 0..=l {
        let s = net.span(k);
        let w = &params[s.w..s.b];
        let c = match pen.reduction {
            Reduction::Sum => f64::from(pen.beta),
            Reduction::Mean => f64::from(pen.beta) / ((l + 1) * w.len()) as f64,
        };
        let sq: f64 = w.iter().map(|w| w * w).sum();
        let abs: f64 = w.iter().map(|w| w.abs()).sum();
        reg += c * (0.5 * (1.0 - a) * sq + a * abs);
    }
    0.5 * scale * data + 0.5 * f64::from(pen.gamma) * range + reg
}

/// A random small problem: ratings, a network and a batch of every item.
#[derive(Debug, Clone)]
struct Case {
    triples: Vec<(u32, u32, f32)>,
    n_users: usize,
    n_items: usize,
    hidden: Vec<usize>,
    output: Output,
    reduction: Reduction,
    dropout: f32,
    pen: (f32, f32, f32),
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..10, 1usize..10)
        .prop_flat_map(|(n_users, n_items)| {
            (
                proptest::collection::btree_map(
                    (0..n_users as u32, 0..n_items as u32),
                    1u8..=10,
                    1..(n_users * n_items).max(2),
                ),
                Just(n_users),
                Just(n_items),
                prop_oneof![
                    (1usize..6).prop_map(|h| vec![h]),
                    (1usize..6, 1usize..5).prop_map(|(a, b)| vec![a, b])
                ],
                prop_oneof![Just(Output::Relu), Just(Output::Identity)],
                prop_oneof![Just(Reduction::Mean), Just(Reduction::Sum)],
                prop_oneof![Just(0.0f32), Just(0.4f32)],
                (
                    prop_oneof![Just(0.0f32), Just(0.3)],
                    prop_oneof![Just(0.0f32), Just(0.5), Just(1.0)],
                    prop_oneof![Just(0.0f32), Just(0.5)],
                ),
                any::<u64>(),
            )
        })
        .prop_map(
            |(pairs, n_users, n_items, hidden, output, reduction, dropout, pen, seed)| Case {
                triples: pairs
                    .into_iter()
                    .map(|((u, i), r)| (u, i, f32::from(r) / 2.0))
                    .collect(),
                n_users,
                n_items,
                hidden,
                output,
                reduction,
                dropout,
                pen,
                seed,
            },
        )
}

impl Case {
    /// (network, batch of all items, penalties); weights scaled up so that
    /// outputs spread past the range penalty's bounds.
    fn build(&self) -> (Network, Batch, Penalties) {
        let m = matrix(&self.triples, self.n_users, self.n_items);
        let net = Network::new(
            self.n_users,
            &self.hidden,
            self.output,
            3.0,
            2.0,
            &mut rng_for(self.seed, 0),
        );
        let rows: Vec<usize> = (0..self.n_items).collect();
        let batch = Batch::new(&m, false, &rows, self.dropout, self.seed);
        let pen = Penalties {
            beta: self.pen.0,
            l1_share: self.pen.1,
            gamma: self.pen.2,
            reduction: self.reduction,
        };
        (net, batch, pen)
    }
}

fn loss_and_grad(path: Path, net: &Network, batch: &Batch, pen: &Penalties) -> (f64, Vec<f32>) {
    let mut ws = Workspace::new(path, net);
    let loss = ws.forward(net, batch, pen);
    let mut grad = vec![f32::NAN; net.n_params()];
    ws.backward(net, batch, pen, &mut grad);
    (loss, grad)
}

/// An absolute slack for the f32 passes' rounding in a gradient element:
/// an output near 5 is rounded by about 5e-7, which every gradient carries
/// scaled by the data term's weight (`1 / (n D)` under means, the batch
/// holding every item; 1 under sums), once per rating. When the outputs all
/// but equal their targets (saturated units, a target at the initial
/// output bias) that rounding is the whole residual, and every element is
/// off by about 1%: 1e-5 per rating covers it twentyfold.
fn rounding_slack(pen: &Penalties, c: &Case) -> f64 {
    let weight = match pen.reduction {
        Reduction::Sum => 1.0,
        Reduction::Mean => 1.0 / (c.n_items * c.n_users) as f64,
    };
    1e-5 * weight * c.triples.len() as f64
}

fn close(a: f64, b: f64, rel: f64, floor: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(floor)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The dense (faer) and sparse passes compute the same loss and the same
    /// gradient, within 1e-4 relative (an element is compared relative to
    /// the larger of itself and 1% of the largest gradient element, a loss
    /// to at least 1e-4, so that f32 sums that cancel to nearly zero do not
    /// fail on rounding; plus the f32 slack of [`rounding_slack`]: without
    /// it, 1 case in a few thousand failed).
    #[test]
    fn dense_and_sparse_passes_agree(c in case()) {
        let (net, batch, pen) = c.build();
        let (ld, gd) = loss_and_grad(Path::Dense, &net, &batch, &pen);
        let (ls, gs) = loss_and_grad(Path::Sparse, &net, &batch, &pen);
        prop_assert!(close(ld, ls, 1e-4, 1e-4), "loss {} vs {}", ld, ls);
        let gmax = gd.iter().fold(0.0f32, |m, g| m.max(g.abs()));
        let slack = rounding_slack(&pen, &c) as f32;
        for (p, (a, b)) in gd.iter().zip(&gs).enumerate() {
            prop_assert!(
                close(f64::from(*a), f64::from(*b), 1e-4, f64::from(gmax) * 1e-2) || (a - b).abs() <= slack,
                "param {}: dense {} vs sparse {}", p, a, b
            );
        }
    }

    /// The trainer's fused sparse step (the output layer's backward row
    /// pass run inside the forward pass) gives the loss and gradient of
    /// the separate passes, bit for bit, and so does a second batch through
    /// the same workspace.
    #[test]
    fn fused_sparse_step_equals_separate_passes(c in case()) {
        let (net, batch, pen) = c.build();
        let (loss, grad) = loss_and_grad(Path::Sparse, &net, &batch, &pen);
        let mut ws = Workspace::new(Path::Sparse, &net);
        for _ in 0..2 {
            // NaN: the backward pass writes every gradient over.
            let mut g = vec![f32::NAN; net.n_params()];
            let l = ws.forward_terms_fused(&net, &batch, &pen, None, true) + net.regulariser(&pen);
            ws.backward_terms(&net, &batch, &pen, &mut g);
            net.add_regulariser_grad(&pen, &mut g);
            prop_assert_eq!(l.to_bits(), loss.to_bits());
            let (a, b): (Vec<u32>, Vec<u32>) =
                (grad.iter().map(|x| x.to_bits()).collect(), g.iter().map(|x| x.to_bits()).collect());
            prop_assert_eq!(a, b);
        }
    }

    /// Both passes agree with the f64 reference loss and with a central
    /// finite difference of it at every parameter.
    #[test]
    fn gradients_match_finite_differences(c in case()) {
        let (net, batch, pen) = c.build();
        let params: Vec<f64> = net.params().iter().map(|&p| f64::from(p)).collect();
        let want = reference_loss(&net, &params, &batch, &pen);
        let mut fd = vec![0.0f64; params.len()];
        let mut kink = vec![false; params.len()];
        let eps = 1e-6;
        let mut p = params.clone();
        for k in 0..params.len() {
            p[k] = params[k] + eps;
            let up = reference_loss(&net, &p, &batch, &pen);
            p[k] = params[k] - eps;
            let down = reference_loss(&net, &p, &batch, &pen);
            p[k] = params[k];
            fd[k] = (up - down) / (2.0 * eps);
            // One-sided slopes that disagree: a kink (ReLU or L1 at 0, an
            // edge of the range penalty) lies within `eps`, and the central
            // difference averages it away.
            let (fwd, bwd) = ((up - want) / eps, (want - down) / eps);
            kink[k] = (fwd - bwd).abs() > 1e-2 * fwd.abs().max(bwd.abs()) + 1e-6;
        }
        let fmax = fd.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        for path in [Path::Dense, Path::Sparse] {
            let (loss, grad) = loss_and_grad(path, &net, &batch, &pen);
            prop_assert!(close(loss, want, 1e-4, 1e-4), "{:?} loss {} vs f64 {}", path, loss, want);
            // Elements are compared relative to at least 0.1% of the largest,
            // plus the f32 slack of `rounding_slack`.
            let slack = rounding_slack(&pen, &c);
            for (k, (g, f)) in grad.iter().zip(&fd).enumerate() {
                if kink[k] {
                    continue;
                }
                let g = f64::from(*g);
                prop_assert!(
                    (g - f).abs() <= 1e-3 * g.abs().max(f.abs()).max(fmax * 1e-3) + slack,
                    "{:?} param {}: analytic {} vs finite difference {}", path, k, g, f
                );
            }
        }
    }
}

#[test]
fn range_penalty_bounds_follow_half_star_rounding() {
    // (0, 5] after rounding to half stars, ties to even as numpy.
    assert!(out_of_range(0.25) && out_of_range(-1.0) && out_of_range(5.26));
    assert!(!out_of_range(0.26) && !out_of_range(5.25) && !out_of_range(3.0));
    let mut o = -2.0f32;
    while o < 8.0 {
        for x in [o, o.next_up(), o.next_down()] {
            let h = movierec_core::metrics::half_star(x);
            assert_eq!(out_of_range(x), h <= 0.0 || h > 5.0, "o = {x}");
        }
        o += 0.125;
    }
}

#[test]
fn presets_are_the_reports() {
    let r = AutoencoderConfig::report();
    assert_eq!(r.hidden, vec![100]);
    assert_eq!(r.output, Output::Relu);
    assert_eq!(r.reduction, Reduction::Mean);
    assert_eq!((r.lr, r.adam_beta1, r.adam_beta2), (0.01, 0.9, 0.99));
    assert_eq!((r.beta, r.l1_share, r.gamma), (0.002, 0.9, 0.01));
    assert_eq!((r.decay, r.decay_every), (0.9, 10));
    assert!(!r.user_based);
    let deep = AutoencoderConfig::report_deep();
    assert_eq!(deep.hidden, vec![300, 150]);
    assert_eq!(
        AutoencoderConfig {
            hidden: vec![100],
            batch: r.batch,
            init_scale: r.init_scale,
            ..deep
        },
        r
    );
    for c in [
        r,
        AutoencoderConfig::report_deep(),
        AutoencoderConfig::default(),
    ] {
        c.validate().unwrap();
    }
}

#[test]
fn config_round_trips_and_rejects_unknown_fields() {
    let c = AutoencoderConfig::report();
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<AutoencoderConfig>(&json).unwrap(), c);
    let partial: AutoencoderConfig =
        serde_json::from_str(r#"{"hidden": [20], "output": "relu", "path": "dense"}"#).unwrap();
    assert_eq!(partial.hidden, vec![20]);
    assert_eq!(partial.path, Path::Dense);
    assert_eq!(partial.epochs, AutoencoderConfig::default().epochs);
    assert!(serde_json::from_str::<AutoencoderConfig>(r#"{"hiden": [20]}"#).is_err());
}

#[test]
fn validation_rejects_each_bad_setting() {
    let ok = AutoencoderConfig::default;
    let bad = |c: AutoencoderConfig| c.validate().unwrap_err();
    assert!(matches!(
        bad(AutoencoderConfig {
            hidden: vec![],
            ..ok()
        }),
        ConfigError::Hidden(_)
    ));
    assert!(matches!(
        bad(AutoencoderConfig {
            hidden: vec![4, 0],
            ..ok()
        }),
        ConfigError::Hidden(_)
    ));
    assert_eq!(
        bad(AutoencoderConfig { epochs: 0, ..ok() }),
        ConfigError::Epochs
    );
    assert_eq!(
        bad(AutoencoderConfig { batch: 0, ..ok() }),
        ConfigError::Batch
    );
    assert_eq!(
        bad(AutoencoderConfig {
            decay_every: 0,
            ..ok()
        }),
        ConfigError::DecayEvery
    );
    for c in [
        AutoencoderConfig { lr: -0.1, ..ok() },
        AutoencoderConfig {
            beta: f32::NAN,
            ..ok()
        },
        AutoencoderConfig {
            gamma: -1.0,
            ..ok()
        },
        AutoencoderConfig {
            init_scale: f32::INFINITY,
            ..ok()
        },
    ] {
        assert!(matches!(bad(c), ConfigError::NonNegative { .. }));
    }
    for c in [
        AutoencoderConfig {
            adam_beta1: 1.0,
            ..ok()
        },
        AutoencoderConfig {
            adam_beta2: -0.1,
            ..ok()
        },
        AutoencoderConfig {
            l1_share: 1.5,
            ..ok()
        },
        AutoencoderConfig { decay: 0.0, ..ok() },
        AutoencoderConfig {
            dropout: 1.0,
            ..ok()
        },
    ] {
        assert!(matches!(bad(c), ConfigError::Unit { .. }));
    }
    let empty = matrix(&[], 2, 2);
    assert!(matches!(
        ok().fit(&empty, None, &RunContext::default(), &mut NoopObserver),
        Err(crate::Error::EmptyTrain)
    ));
    assert!(matches!(
        AutoencoderConfig { batch: 0, ..ok() }.fit(
            &empty,
            None,
            &RunContext::default(),
            &mut NoopObserver
        ),
        Err(crate::Error::Config(ConfigError::Batch))
    ));
}

/// Two blocks of users who agree within the block; 8 users x 6 items.
fn blocks() -> (RatingMatrix, Ratings) {
    let mut triples = Vec::new();
    let mut held = Vec::new();
    for u in 0..8u32 {
        for i in 0..6u32 {
            let r = if (u < 4) == (i < 3) { 4.5 } else { 1.5 } + 0.5 * (u % 2) as f32;
            if (u + i) % 5 == 0 {
                held.push(Rating::new(u, i, r));
            } else {
                triples.push((u, i, r));
            }
        }
    }
    (
        matrix(&triples, 8, 6),
        Ratings::new(held, 8, 6, RatingScale::default()),
    )
}

#[derive(Default)]
struct Recorder(Vec<EpochRecord>);

impl Observer for Recorder {
    fn on_epoch(&mut self, record: &EpochRecord) -> Control {
        self.0.push(record.clone());
        Control::Continue
    }
}

fn small_config(path: Path) -> AutoencoderConfig {
    AutoencoderConfig {
        hidden: vec![6],
        epochs: 60,
        batch: 2,
        lr: 0.03,
        beta: 0.01,
        dropout: 0.0,
        seed: Some(3),
        path,
        ..Default::default()
    }
}

#[test]
fn a_tiny_matrix_is_learned_on_both_paths() {
    let (train, validation) = blocks();
    for path in [Path::Sparse, Path::Dense] {
        let mut rec = Recorder::default();
        let cfg = AutoencoderConfig {
            patience: 0,
            ..small_config(path)
        };
        let model = cfg
            .fit(&train, Some(&validation), &RunContext::default(), &mut rec)
            .unwrap();
        assert_eq!(rec.0.len(), 60);
        let first = rec.0[0].train.unwrap().rmse;
        let last = rec.0.last().unwrap().train.unwrap().rmse;
        assert!(
            last < 0.5 * first && last < 0.3,
            "{path:?}: rmse {first} -> {last}"
        );
        assert!(rec
            .0
            .iter()
            .all(|r| r.loss.unwrap().is_finite() && r.validation.is_some()));
        let val = rec.0.last().unwrap().validation.unwrap();
        assert!(val.rmse < 1.0, "{path:?}: validation rmse {}", val.rmse);
        // The held-out (user 0, item 0) is a within-block pair: high.
        assert!(model.predict(UserIdx(0), ItemIdx(0)).unwrap() > 3.5);
        assert!(model.predict(UserIdx(0), ItemIdx(5)).unwrap() < 3.0);
    }
}

#[test]
fn the_report_preset_learns_the_tiny_matrix() {
    let (train, _) = blocks();
    let mut rec = Recorder::default();
    let cfg = AutoencoderConfig {
        hidden: vec![10],
        epochs: 80,
        batch: 2,
        lr: 0.03,
        ..AutoencoderConfig::report()
    };
    cfg.fit(&train, None, &RunContext::default(), &mut rec)
        .unwrap();
    let first = rec.0[0].train.unwrap().rmse;
    let last = rec.0.last().unwrap().train.unwrap().rmse;
    assert!(last < 0.6 * first, "rmse {first} -> {last}");
}

#[test]
fn same_seed_gives_a_bitwise_equal_model() {
    let (train, validation) = blocks();
    let cfg = AutoencoderConfig {
        dropout: 0.2,
        ..small_config(Path::Sparse)
    };
    let a = cfg
        .fit(
            &train,
            Some(&validation),
            &RunContext::default(),
            &mut NoopObserver,
        )
        .unwrap();
    let b = cfg
        .fit(
            &train,
            Some(&validation),
            &RunContext::default(),
            &mut NoopObserver,
        )
        .unwrap();
    assert_eq!(a, b);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let c = pool.install(|| {
        cfg.fit(
            &train,
            Some(&validation),
            &RunContext::default(),
            &mut NoopObserver,
        )
        .unwrap()
    });
    assert_eq!(a, c, "the thread count does not change the model");
    let other = AutoencoderConfig {
        seed: Some(4),
        ..cfg
    };
    let d = other
        .fit(
            &train,
            Some(&validation),
            &RunContext::default(),
            &mut NoopObserver,
        )
        .unwrap();
    assert_ne!(a, d);
}

#[test]
fn early_stopping_restores_the_best_epoch_and_refit_uses_it() {
    let (train, validation) = blocks();
    let mut rec = Recorder::default();
    let cfg = AutoencoderConfig {
        epochs: 400,
        lr: 0.05,
        beta: 0.0,
        patience: 3,
        ..small_config(Path::Sparse)
    };
    let model = cfg
        .fit(&train, Some(&validation), &RunContext::default(), &mut rec)
        .unwrap();
    let rmses: Vec<f64> = rec.0.iter().map(|r| r.validation.unwrap().rmse).collect();
    let best = rmses.iter().copied().fold(f64::INFINITY, f64::min);
    let best_epoch = rmses.iter().position(|&r| r == best).unwrap() + 1;
    assert_eq!(model.best_epoch(), best_epoch);
    assert_eq!(model.epochs(), rec.0.len());
    assert!(rec.0.len() < 400 && rec.0.len() == best_epoch + 3);
    // The restored weights give the best epoch's validation RMSE.
    let m = movierec_core::SetMetrics::compute(
        validation.entries.iter().map(|r| {
            (
                model.predict(r.user, r.item).unwrap_or(train.global_mean()),
                r.value,
            )
        }),
        train.scale(),
    );
    assert_relative_eq!(m.rmse, best, max_relative = 1e-6);
    let refit = cfg.refit_config(&model);
    assert_eq!((refit.epochs, refit.patience), (best_epoch, 0));
}

#[test]
fn observer_can_stop_training() {
    struct StopAt(usize);
    impl Observer for StopAt {
        fn on_epoch(&mut self, r: &EpochRecord) -> Control {
            if r.epoch == self.0 {
                Control::Stop
            } else {
                Control::Continue
            }
        }
    }
    let (train, _) = blocks();
    let model = small_config(Path::Sparse)
        .fit(&train, None, &RunContext::default(), &mut StopAt(4))
        .unwrap();
    assert_eq!(model.epochs(), 4);
}

#[test]
fn cold_users_and_items_have_no_estimate() {
    // User 2 and item 2 have no training rating.
    let train = matrix(&[(0, 0, 4.0), (0, 1, 2.0), (1, 0, 5.0), (1, 1, 3.0)], 3, 3);
    for user_based in [false, true] {
        let cfg = AutoencoderConfig {
            user_based,
            ..small_config(Path::Sparse)
        };
        let model = cfg
            .fit(&train, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        assert!(model.predict(UserIdx(2), ItemIdx(0)).is_none());
        assert!(model.predict(UserIdx(0), ItemIdx(2)).is_none());
        assert!(model.predict(UserIdx(1), ItemIdx(1)).is_some());
        let mut scores = vec![0.0; 3];
        model.score_into(UserIdx(0), &mut scores);
        assert!(scores[0].is_finite() && scores[1].is_finite() && scores[2].is_nan());
        assert_eq!(Some(scores[1]), model.predict(UserIdx(0), ItemIdx(1)));
        model.score_into(UserIdx(2), &mut scores);
        assert!(scores.iter().all(|s| s.is_nan()));
        assert!(model.item_code(ItemIdx(2)).is_none());
        assert_eq!(model.item_codes().nrows(), 3);
        assert_eq!(model.item_codes().ncols(), model.code_dim());
    }
}

#[test]
fn user_based_is_item_based_on_the_transpose() {
    let (train, _) = blocks();
    let cfg = small_config(Path::Sparse);
    let ub = AutoencoderConfig {
        user_based: true,
        ..cfg.clone()
    }
    .fit(&train, None, &RunContext::default(), &mut NoopObserver)
    .unwrap();
    let ib = cfg
        .fit(
            &train.transposed(),
            None,
            &RunContext::default(),
            &mut NoopObserver,
        )
        .unwrap();
    assert_eq!(ub.network(), ib.network());
    for u in 0..8u32 {
        for i in 0..6u32 {
            assert_eq!(
                ub.predict(UserIdx(u), ItemIdx(i)),
                ib.predict(UserIdx(i), ItemIdx(u))
            );
        }
    }
}

#[test]
fn score_into_matches_predict_and_the_model_round_trips() {
    let (train, _) = blocks();
    let model = small_config(Path::Dense)
        .fit(&train, None, &RunContext::default(), &mut NoopObserver)
        .unwrap();
    let mut scores = vec![0.0; 6];
    for u in 0..8u32 {
        model.score_into(UserIdx(u), &mut scores);
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(Some(*s), model.predict(UserIdx(u), ItemIdx(i as u32)));
        }
    }
    let json = serde_json::to_string(&model).unwrap();
    let back: crate::AutoencoderModel = serde_json::from_str(&json).unwrap();
    assert_eq!(back, model);
}

#[test]
fn the_model_is_send_and_sync() {
    fn has_autotraits<T: Send + Sync + Sized + Unpin>() {}
    has_autotraits::<crate::AutoencoderModel>();
    has_autotraits::<crate::AutoencoderConfig>();
}

/// A matrix of `users x items` with about `density` of the cells rated
/// (seeded), ratings 1 to 5.
fn dense_random(users: u32, items: u32, density: f64, seed: u64) -> RatingMatrix {
    use rand::Rng as _;
    let mut rng = rng_for(seed, 9);
    let mut triples = Vec::new();
    for u in 0..users {
        for i in 0..items {
            if rng.random::<f64>() < density {
                let r = 1.0 + f32::from(rng.random_range(0u8..9)) * 0.5;
                triples.push((u, i, r));
            }
        }
    }
    matrix(&triples, users as usize, items as usize)
}

#[test]
fn large_settings_are_valid_and_lazy() {
    let c = AutoencoderConfig::large();
    c.validate().unwrap();
    assert_eq!(c.update, Update::Lazy);
    assert_eq!(c.path, Path::Sparse);
    let bad = AutoencoderConfig {
        path: Path::Dense,
        ..AutoencoderConfig::large()
    };
    assert_eq!(bad.validate(), Err(ConfigError::LazyDense));
}

/// A lazy step leaves the first-layer rows of units without an input in
/// the batch, and the output rows and biases of units without a target in
/// it, exactly as they were, and moves the touched ones; a dense step moves
/// them all (weight decay).
#[test]
fn lazy_adam_moves_only_the_rows_a_batch_touches() {
    // Item-based: units are users. Users 0-3 rate items 0 and 1; users 4-7
    // rate nothing, so no batch touches them.
    let mut triples = Vec::new();
    for u in 0..4u32 {
        for i in [0, 1] {
            triples.push((u, i, 1.0 + ((u + i) % 5) as f32));
        }
    }
    let train = matrix(&triples, 8, 2);
    for update in [Update::Lazy, Update::Dense] {
        let cfg = AutoencoderConfig {
            hidden: vec![5],
            batch: 2,
            dropout: 0.0,
            update,
            ..AutoencoderConfig::default()
        };
        let mut t = crate::Trainer::new(&cfg, &train, 7).unwrap();
        let before = t.network().params().to_vec();
        t.run_epoch();
        let (net, after) = (t.network(), t.network().params());
        let (s0, so) = (net.span(0), net.span(1));
        let h = 5;
        let moved = |r: std::ops::Range<usize>| before[r.clone()] != after[r];
        assert!(moved(s0.w..s0.w + 4 * h) && moved(so.w..so.w + 4 * h));
        assert!(moved(so.b..so.b + 4) && moved(s0.b..s0.end()));
        let lazy = update == Update::Lazy;
        assert_eq!(moved(s0.w + 4 * h..s0.w + 8 * h), !lazy, "{update:?}");
        assert_eq!(moved(so.w + 4 * h..so.w + 8 * h), !lazy, "{update:?}");
    }
}

/// Large batches run their passes and Adam steps in parallel chunks: the
/// fitted weights are the same bits on 1 and 3 threads, dense and lazy.
#[test]
fn parallel_passes_give_the_same_bits_on_any_pool() {
    let train = dense_random(400, 120, 0.5, 5);
    for update in [Update::Dense, Update::Lazy] {
        let cfg = AutoencoderConfig {
            hidden: vec![40],
            epochs: 2,
            batch: 120,
            dropout: 0.3,
            update,
            seed: Some(11),
            ..AutoencoderConfig::default()
        };
        let fit = |threads| {
            cfg.fit(
                &train,
                None,
                &RunContext::new(threads, 1),
                &mut NoopObserver,
            )
            .unwrap()
        };
        let (a, b) = (fit(1), fit(3));
        let bits = |m: &crate::AutoencoderModel| {
            m.network()
                .params()
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&a), bits(&b), "{update:?}");
    }
}
