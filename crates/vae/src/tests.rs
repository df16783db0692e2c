//! Unit and property tests: gradients against finite differences of an
//! independent f64 reference, the sparse first layer against a dense one,
//! determinism, and the checks of models read from outside.

use faer::Par;
use movierec_core::{
    Control, EpochRecord, Error, Fit, ItemIdx, NoopObserver, Observer, Rating, RatingMatrix,
    RatingScale, Ratings, Recommender, RunContext, ScoreKind, UserIdx,
};
use proptest::prelude::*;
use rand::Rng as _;
use rand_distr::{Distribution, StandardNormal};

use crate::net::{self, Arch, Batch, Rows, Work};
use crate::{Input, VaeConfig, VaeError, VaeModel, Variant};

/// The loss of `batch` computed from scratch in f64, dense, one user at a
/// time (no code shared with `net`).
fn reference_loss(
    arch: &Arch,
    p: &[f64],
    batch: &Batch,
    eps: Option<&[f32]>,
    beta: f64,
    wd: f64,
) -> f64 {
    let n = batch.input.n();
    let nl = arch.layers.len();
    let (mut nll, mut kl) = (0.0, 0.0);
    for r in 0..n {
        let mut x = vec![0.0; arch.n_items];
        let (idx, val) = batch.input.row(r);
        for (&i, &v) in idx.iter().zip(val) {
            x[i as usize] += f64::from(v);
        }
        let mut z = Vec::new();
        for k in 0..nl {
            let lay = arch.layers[k];
            let input = if arch.dec_start() == Some(k) { &z } else { &x };
            let mut out = vec![0.0; lay.fan_out];
            for (j, o) in out.iter_mut().enumerate() {
                let mut s = p[lay.b + j];
                for (i, &xi) in input.iter().enumerate() {
                    let w = if k + 1 == nl {
                        p[lay.w + j * lay.fan_in + i]
                    } else {
                        p[lay.w + i * lay.fan_out + j]
                    };
                    s += xi * w;
                }
                *o = if lay.tanh { s.tanh() } else { s };
            }
            if let Some((c, d)) = arch.code {
                if c == k {
                    z = (0..d)
                        .map(|j| {
                            let (mu, lv) = (out[j], out[d + j]);
                            kl += 0.5 * (-lv + lv.exp() + mu * mu - 1.0);
                            mu + eps.map_or(0.0, |e| f64::from(e[r * d + j])) * (0.5 * lv).exp()
                        })
                        .collect();
                }
            }
            x = out;
        }
        let max = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        let (idx, t) = batch.target.row(r);
        for (&i, &ti) in idx.iter().zip(t) {
            nll -= f64::from(ti) * (x[i as usize] - lse);
        }
    }
    let reg: f64 = arch
        .layers
        .iter()
        .flat_map(|l| &p[l.w..l.b])
        .map(|w| w * w)
        .sum();
    nll / n as f64 + beta * kl / n as f64 + 0.5 * wd * reg
}

/// A random batch: `n` users over `n_items`, targets random weights, inputs
/// a random subset of the targets (dropout) with arbitrary positive values.
fn random_batch(rng: &mut movierec_core::Rng, n: usize, n_items: usize) -> Batch {
    let mut batch = Batch {
        input: Rows::new(),
        target: Rows::new(),
    };
    for _ in 0..n {
        for i in 0..n_items as u32 {
            if rng.random_bool(0.5) {
                batch.target.push(i, rng.random_range(0.2..1.5));
                if rng.random_bool(0.7) {
                    batch.input.push(i, rng.random_range(0.1..1.0));
                }
            }
        }
        batch.target.end_row();
        batch.input.end_row();
    }
    batch
}

fn random_params(arch: &Arch, rng: &mut movierec_core::Rng, scale: f32) -> Vec<f32> {
    (0..arch.n_params)
        .map(|_| scale * rng.random_range(-1.0f32..1.0))
        .collect()
}

fn variant_strategy() -> impl Strategy<Value = Variant> {
    prop_oneof![Just(Variant::Vae), Just(Variant::Dae)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The analytic gradient (f32) matches central differences of the f64
    /// reference loss, for both variants (the VAE with its noise fixed),
    /// with KL weight and weight decay.
    #[test]
    fn gradient_matches_finite_differences(
        variant in variant_strategy(),
        n_items in 2usize..7,
        hidden in proptest::collection::vec(1usize..5, 1..3),
        n in 1usize..4,
        seed in any::<u64>(),
        beta in 0.0f32..1.0,
        wd in prop_oneof![Just(0.0f32), Just(0.05)],
    ) {
        let arch = Arch::new(n_items, &hidden, variant).unwrap();
        let mut rng = movierec_core::rng_for(seed, 3);
        let params = random_params(&arch, &mut rng, 0.8);
        let batch = random_batch(&mut rng, n, n_items);
        let eps: Vec<f32> = (0..n * arch.code.map_or(0, |c| c.1))
            .map(|_| StandardNormal.sample(&mut rng))
            .collect();
        let eps = arch.code.map(|_| &eps[..]);
        let mut grad = vec![0f32; arch.n_params];
        let loss = net::loss_grad(&arch, &params, &batch, eps, beta, wd, &mut Work::default(), &mut grad, Par::Seq);
        let p64: Vec<f64> = params.iter().map(|&x| f64::from(x)).collect();
        let (beta64, wd64) = (f64::from(beta), f64::from(wd));
        let reference = reference_loss(&arch, &p64, &batch, eps, beta64, wd64);
        prop_assert!((loss.total(beta) - reference).abs() <= 1e-4 * (1.0 + reference.abs()),
            "loss {} vs reference {}", loss.total(beta), reference);
        let h = 1e-6;
        for j in 0..arch.n_params {
            let mut q = p64.clone();
            q[j] += h;
            let up = reference_loss(&arch, &q, &batch, eps, beta64, wd64);
            q[j] -= 2.0 * h;
            let down = reference_loss(&arch, &q, &batch, eps, beta64, wd64);
            let fd = (up - down) / (2.0 * h);
            let g = f64::from(grad[j]);
            prop_assert!((g - fd).abs() <= 1e-3 * (1.0 + fd.abs()),
                "parameter {} of {}: analytic {} vs finite difference {}", j, arch.n_params, g, fd);
        }
    }

    /// The sparse first layer (a gather over each user's inputs and a
    /// scatter of its gradient) equals the dense product of the batch matrix.
    #[test]
    fn sparse_first_layer_equals_dense(
        variant in variant_strategy(),
        n_items in 1usize..40,
        hidden in proptest::collection::vec(1usize..12, 1..3),
        n in 1usize..9,
        seed in any::<u64>(),
    ) {
        let arch = Arch::new(n_items, &hidden, variant).unwrap();
        let mut rng = movierec_core::rng_for(seed, 4);
        let params = random_params(&arch, &mut rng, 0.5);
        let batch = random_batch(&mut rng, n, n_items);
        let mut grad = vec![0f32; arch.n_params];
        let mut work = Work::default();
        let eps: Vec<f32> = vec![0.3; n * arch.code.map_or(0, |c| c.1)];
        let eps = arch.code.map(|_| &eps[..]);
        net::loss_grad(&arch, &params, &batch, eps, 0.2, 0.0, &mut work, &mut grad, Par::Seq);
        let (acts, dz0) = net::first_layer(&work);
        let (pre, dense_gw) = net::first_layer_dense(&arch, &params, &batch.input, dz0);
        let lay = arch.layers[0];
        for (a, p) in acts.iter().zip(&pre) {
            let want = if lay.tanh { p.tanh() } else { *p };
            prop_assert!((a - want).abs() <= 1e-5 * (1.0 + want.abs()), "{} vs {}", a, want);
        }
        for (g, d) in grad[lay.w..lay.b].iter().zip(&dense_gw) {
            prop_assert!((g - d).abs() <= 1e-5 * (1.0 + d.abs()), "{} vs {}", g, d);
        }
    }
}

/// Two groups of users, each rating most of its own block of movies.
fn blocks(n_users: u32, n_items: u32, seed: u64) -> (Ratings, Ratings) {
    let mut rng = movierec_core::rng_for(seed, 9);
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for u in 0..n_users {
        let group = u % 2;
        for i in 0..n_items {
            let own = (i < n_items / 2) == (group == 0);
            let p = if own { 0.6 } else { 0.05 };
            if rng.random_bool(p) {
                let r = Rating::new(u, i, if own { 4.5 } else { 2.0 });
                if rng.random_bool(0.2) {
                    held.push(r);
                } else {
                    train.push(r);
                }
            }
        }
    }
    let s = RatingScale::default();
    let n = (n_users as usize, n_items as usize);
    (
        Ratings::new(train, n.0, n.1, s),
        Ratings::new(held, n.0, n.1, s),
    )
}

fn small(variant: Variant) -> VaeConfig {
    VaeConfig {
        variant,
        hidden: vec![16, 8],
        epochs: 6,
        batch: 7,
        lr: 1e-2,
        anneal_epochs: 3,
        ..VaeConfig::default()
    }
}

fn fit(config: &VaeConfig, train: &Ratings, val: Option<&Ratings>, ctx: RunContext) -> VaeModel {
    config
        .fit(
            &RatingMatrix::new(train).unwrap(),
            val,
            &ctx,
            &mut NoopObserver,
        )
        .unwrap()
}

#[test]
fn same_seed_and_threads_give_the_same_model() {
    let (train, val) = blocks(30, 24, 1);
    for variant in [Variant::Vae, Variant::Dae] {
        for threads in [1, 2] {
            let ctx = RunContext::new(threads, 5);
            let a = fit(&small(variant), &train, Some(&val), ctx);
            let b = fit(&small(variant), &train, Some(&val), ctx);
            assert_eq!(a.params, b.params, "{variant:?}, {threads} threads");
            assert_eq!(a.epochs, b.epochs);
            let c = fit(&small(variant), &train, Some(&val), ctx.with_seed(6));
            assert_ne!(a.params, c.params);
            let pinned = VaeConfig {
                seed: Some(5),
                ..small(variant)
            };
            let d = fit(&pinned, &train, Some(&val), ctx.with_seed(6));
            assert_eq!(a.params, d.params, "a pinned seed overrides the context's");
        }
    }
}

#[test]
fn learns_the_blocks_and_scores_are_logits() {
    let (train, held) = blocks(40, 30, 2);
    let m = RatingMatrix::new(&train).unwrap();
    for variant in [Variant::Vae, Variant::Dae] {
        let config = VaeConfig {
            epochs: 40,
            ..small(variant)
        };
        let model = fit(&config, &train, None, RunContext::default());
        assert_eq!(model.score_kind(), ScoreKind::Ranking);
        assert_eq!(model.epochs(), 40);
        let ndcg =
            movierec_core::metrics::ndcg_at(&m, &held, 10, 4.0, |u, o| model.score_into(u, o));
        assert!(ndcg > 0.4, "{variant:?}: NDCG@10 {ndcg}");
        // Recommendations come from the user's own block of movies.
        let (mut own, mut all) = (0, 0);
        for u in 0..40u32 {
            for (i, _) in model.recommend(UserIdx(u), 3, &m) {
                own += usize::from((i.0 < 15) == (u % 2 == 0));
                all += 1;
            }
        }
        assert!(
            own as f64 >= 0.9 * all as f64,
            "{variant:?}: {own} of {all}"
        );
        // Fold-in of a training user's row gives that user's scores.
        let (items, values) = m.user_ratings(UserIdx(3));
        let rated: Vec<(ItemIdx, f32)> = items
            .iter()
            .zip(values)
            .map(|(&i, &v)| (ItemIdx(i as u32), v))
            .collect();
        let (mut a, mut b) = (vec![0.0; 30], vec![0.0; 30]);
        model.score_into(UserIdx(3), &mut a);
        model.score_new_user(&rated, &mut b).unwrap();
        assert_eq!(a, b);
        assert!(model.score_new_user(&[(ItemIdx(30), 4.0)], &mut b).is_err());
        // Similar movies: the same block first.
        let sim = model.similar_items(ItemIdx(0), 5).unwrap();
        assert_eq!(sim.len(), 5);
        assert!(sim.iter().all(|(i, _)| i.0 != 0));
        assert!(sim.iter().filter(|(i, _)| i.0 < 15).count() >= 4, "{sim:?}");
    }
}

#[test]
fn movies_without_training_ratings_score_nan() {
    let train = Ratings::new(
        vec![
            Rating::new(0, 0, 4.0),
            Rating::new(0, 1, 3.0),
            Rating::new(1, 1, 5.0),
        ],
        3,
        4,
        RatingScale::default(),
    );
    let model = fit(&small(Variant::Vae), &train, None, RunContext::default());
    let mut out = vec![0.0; 4];
    model.score_into(UserIdx(0), &mut out);
    assert!(out[0].is_finite() && out[1].is_finite());
    assert!(out[2].is_nan() && out[3].is_nan());
    // A user without ratings still gets the decoder's prior ranking.
    model.score_into(UserIdx(2), &mut out);
    assert!(out[0].is_finite());
    // Outside the model: NaN, no panic.
    model.score_into(UserIdx(9), &mut out);
    assert!(out.iter().all(|s| s.is_nan()));
    assert!(model.similar_items(ItemIdx(2), 3).unwrap().is_empty());
    assert!(model.similar_items(ItemIdx(7), 3).is_err());
}

struct StopAt(usize, Vec<f64>);

impl Observer for StopAt {
    fn on_epoch(&mut self, r: &EpochRecord) -> Control {
        self.1.push(r.loss.unwrap());
        if r.epoch >= self.0 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn early_stopping_refit_and_observer() {
    let (train, val) = blocks(30, 24, 3);
    let m = RatingMatrix::new(&train).unwrap();
    let config = VaeConfig {
        epochs: 30,
        patience: 3,
        ..small(Variant::Dae)
    };
    let model = fit(&config, &train, Some(&val), RunContext::default());
    let best = model.validation_ndcg().unwrap();
    assert!(model.epochs() >= 1 && model.epochs() <= 30);
    // The restored weights are the best epoch's.
    let ndcg = movierec_core::metrics::ndcg_at(&m, &val, 10, 4.0, |u, o| model.score_into(u, o));
    assert_eq!(ndcg, best);
    let refit = config.refit_config(&model);
    assert_eq!(refit.epochs, model.epochs());
    let again = fit(&refit, &train, None, RunContext::default());
    assert_eq!(again.epochs(), model.epochs());
    let mut obs = StopAt(2, Vec::new());
    let stopped = config
        .fit(&m, None, &RunContext::default(), &mut obs)
        .unwrap();
    assert_eq!(stopped.epochs(), 2);
    assert_eq!(obs.1.len(), 2);
    assert!(obs.1.iter().all(|l| l.is_finite()));
}

#[test]
fn config_checks() {
    assert!(VaeConfig::default().validate().is_ok());
    assert_eq!(VaeConfig::dae().variant, Variant::Dae);
    for bad in [
        VaeConfig {
            hidden: vec![],
            ..VaeConfig::default()
        },
        VaeConfig {
            hidden: vec![10, 0],
            ..VaeConfig::default()
        },
        VaeConfig {
            epochs: 0,
            ..VaeConfig::default()
        },
        VaeConfig {
            batch: 0,
            ..VaeConfig::default()
        },
        VaeConfig {
            dropout: 1.0,
            ..VaeConfig::default()
        },
        VaeConfig {
            lr: 0.0,
            ..VaeConfig::default()
        },
        VaeConfig {
            beta_cap: f32::NAN,
            ..VaeConfig::default()
        },
        VaeConfig {
            weight_decay: -1.0,
            ..VaeConfig::default()
        },
    ] {
        assert!(matches!(bad.validate(), Err(Error::Config(_))), "{bad:?}");
    }
    let empty = Ratings::new(Vec::new(), 2, 2, RatingScale::default());
    let r = VaeConfig::default().fit(
        &RatingMatrix::new(&empty).unwrap(),
        None,
        &RunContext::default(),
        &mut NoopObserver,
    );
    assert!(matches!(r, Err(VaeError::Core(Error::Empty(_)))));
    let json = r#"{"variant": "dae", "hidden": [64], "input": "rating"}"#;
    let c: VaeConfig = serde_json::from_str(json).unwrap();
    assert_eq!(
        (c.variant, c.input, c.hidden.clone()),
        (Variant::Dae, Input::Rating, vec![64])
    );
    assert!(serde_json::from_str::<VaeConfig>(r#"{"hiden": [64]}"#).is_err());
}

#[test]
fn rating_weighted_and_thresholded_inputs_fit() {
    let (train, _) = blocks(20, 16, 4);
    for (input, min_rating) in [(Input::Rating, 0.0), (Input::Binary, 4.0)] {
        let config = VaeConfig {
            input,
            min_rating,
            ..small(Variant::Vae)
        };
        let model = fit(&config, &train, None, RunContext::default());
        assert!(model.validate().is_ok());
    }
}

fn tiny_model() -> VaeModel {
    let (train, _) = blocks(12, 10, 5);
    fit(
        &VaeConfig {
            hidden: vec![6, 3],
            epochs: 2,
            ..small(Variant::Vae)
        },
        &train,
        None,
        RunContext::default(),
    )
}

#[test]
fn a_model_survives_a_json_round_trip() {
    let model = tiny_model();
    let json = serde_json::to_string(&model).unwrap();
    let back: VaeModel = serde_json::from_str(&json).unwrap();
    assert!(back.validate().is_ok());
    let (mut a, mut b) = (vec![0.0; 10], vec![0.0; 10]);
    model.score_into(UserIdx(1), &mut a);
    back.score_into(UserIdx(1), &mut b);
    assert_eq!(a, b);
}

/// One edit of a model's fields, as a hostile file could make.
#[derive(Debug, Clone)]
enum Edit {
    DropWeight,
    ExtraWeight,
    Weight(usize, f32),
    Hidden(usize, usize),
    AddLayer(usize),
    NItems(usize),
    Known(usize),
    Ptr(usize, usize),
    Item(usize, u32),
    Value(usize, f32),
    TruncateItems,
    RatingMax(f32),
    Variant,
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let float = prop_oneof![
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        -1e3f32..1e3
    ];
    prop_oneof![
        Just(Edit::DropWeight),
        Just(Edit::ExtraWeight),
        (any::<usize>(), float.clone()).prop_map(|(i, x)| Edit::Weight(i, x)),
        (
            any::<usize>(),
            prop_oneof![Just(0usize), 1usize..20, Just(usize::MAX)]
        )
            .prop_map(|(i, x)| Edit::Hidden(i, x)),
        (0usize..50).prop_map(Edit::AddLayer),
        prop_oneof![Just(0usize), 1usize..30, Just(usize::MAX)].prop_map(Edit::NItems),
        (0usize..30).prop_map(Edit::Known),
        (any::<usize>(), prop_oneof![0usize..200, Just(usize::MAX)])
            .prop_map(|(i, x)| Edit::Ptr(i, x)),
        (any::<usize>(), any::<u32>()).prop_map(|(i, x)| Edit::Item(i, x)),
        (any::<usize>(), float.clone()).prop_map(|(i, x)| Edit::Value(i, x)),
        Just(Edit::TruncateItems),
        float.prop_map(Edit::RatingMax),
        Just(Edit::Variant),
    ]
}

fn apply(m: &mut VaeModel, e: &Edit) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match *e {
        Edit::DropWeight => {
            m.params.pop();
        }
        Edit::ExtraWeight => m.params.push(0.1),
        Edit::Weight(i, x) => {
            let i = at(i, m.params.len());
            m.params[i] = x;
        }
        Edit::Hidden(i, x) => {
            let i = at(i, m.hidden.len());
            m.hidden[i] = x;
        }
        Edit::AddLayer(x) => m.hidden.push(x),
        Edit::NItems(x) => m.n_items = x,
        Edit::Known(x) => m.item_known.resize(x, true),
        Edit::Ptr(i, x) => {
            let i = at(i, m.user_ptr.len());
            m.user_ptr[i] = x;
        }
        Edit::Item(i, x) => {
            let i = at(i, m.user_items.len());
            m.user_items[i] = x;
        }
        Edit::Value(i, x) => {
            let i = at(i, m.user_values.len());
            m.user_values[i] = x;
        }
        Edit::TruncateItems => {
            m.user_items.pop();
        }
        Edit::RatingMax(x) => m.rating_max = x,
        Edit::Variant => {
            m.variant = match m.variant {
                Variant::Vae => Variant::Dae,
                Variant::Dae => Variant::Vae,
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any edit either leaves a model that scores without panicking, or is
    /// refused with `InvalidModel`; edits that break a length or put a
    /// non-finite float in are always refused.
    #[test]
    fn validate_rejects_edited_models(edits in proptest::collection::vec(edit_strategy(), 1..3)) {
        let mut m = tiny_model();
        for e in &edits {
            apply(&mut m, e);
        }
        match m.validate() {
            Err(Error::InvalidModel(_)) => {}
            Err(other) => prop_assert!(false, "wrong error {:?}", other),
            Ok(()) => {
                prop_assert!(m.params.iter().all(|x| x.is_finite()));
                prop_assert!(m.user_values.iter().all(|x| x.is_finite()));
                prop_assert!(m.rating_max.is_finite() && m.rating_max > 0.0);
                let n = m.n_items();
                let mut out = vec![0.0; n];
                for u in 0..m.n_users() + 1 {
                    m.score_into(UserIdx(u as u32), &mut out);
                }
                let _ = m.score_new_user(&[(ItemIdx(0), 4.0)], &mut out);
                let _ = m.similar_items(ItemIdx(0), 3);
            }
        }
        let single_break = matches!(
            edits[..],
            [Edit::DropWeight]
                | [Edit::ExtraWeight]
                | [Edit::TruncateItems]
                | [Edit::Variant]
                | [Edit::AddLayer(_)]
        );
        if single_break {
            prop_assert!(m.validate().is_err(), "{:?} was accepted", edits);
        }
        if let [Edit::Weight(_, x) | Edit::Value(_, x)] = edits[..] {
            if !x.is_finite() {
                prop_assert!(m.validate().is_err());
            }
        }
    }
}

#[test]
fn validation_scoring_matches_score_into() {
    let model = tiny_model();
    let rows: Vec<(&[u32], &[f32])> = (0..model.n_users())
        .map(|u| {
            let (a, b) = (model.user_ptr[u], model.user_ptr[u + 1]);
            (&model.user_items[a..b], &model.user_values[a..b])
        })
        .collect();
    let batch = model.score_rows(rows.iter().copied(), Par::Seq);
    let mut one = vec![0.0; model.n_items];
    for u in 0..model.n_users() {
        model.score_into(UserIdx(u as u32), &mut one);
        let row = &batch[u * model.n_items..(u + 1) * model.n_items];
        for (a, b) in one.iter().zip(row) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()) || (a.is_nan() && b.is_nan()));
        }
    }
}

#[test]
fn a_network_over_the_weight_limit_is_refused_before_allocating() {
    let entries = vec![Rating::new(0, 0, 4.0), Rating::new(1, 2999, 5.0)];
    let ratings = Ratings::new(entries, 2, 3000, RatingScale::new(0.5, 5.0));
    let train = RatingMatrix::new(&ratings).unwrap();
    let cfg = VaeConfig {
        hidden: vec![1 << 20],
        ..VaeConfig::dae()
    };
    let e = cfg
        .fit(&train, None, &RunContext::new(1, 1), &mut NoopObserver)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than 250000000 weights"), "{e}");
}
