//! The settings ([`AutoencoderConfig`]): network shape, loss, optimiser
//! schedule, defaults, presets and checks.

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// The widest hidden layer a config accepts, checked before anything is
/// allocated (a mistyped `--hidden 1000000000` would otherwise abort on an
/// allocation of gigabytes per input); AutoRec uses 500.
pub const MAX_HIDDEN: usize = 65_536;

/// Activation of the output layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Output {
    /// `max(0, z)`, the report's (`np.maximum(0, Z3)`).
    Relu,
    /// `z`, as in AutoRec (Sedhain et al. 2015).
    #[default]
    Identity,
}

/// How the loss of one mini-batch is reduced.
///
/// The report's formula (its 6.1.2) sums; its code takes means:
/// `0.5 * np.mean(np.square(diff))` averages over all `N x D` cells of the
/// batch matrix (`N` vectors of `D` entries, unobserved cells counting as
/// zeros), and the regulariser takes `np.mean` of the squared and absolute
/// weights of each matrix, divided by the number of weight matrices. The
/// range penalty is a sum in both.
///
/// Adam is nearly invariant to a constant factor on the gradient, so what
/// matters is the weight of each term relative to the data term. Multiplying
/// the `Mean` loss by `N * D` shows it is the `Sum` loss with
/// - the regulariser of a `D x h` matrix weighted `beta * N / (n_w * h)`
///   instead of `beta` (`n_w` weight matrices; `2.56 * beta` at `N = 512`,
///   `h = 100`, but `beta / 200` at `N = 1`), and
/// - the range penalty weighted `gamma * N * D` instead of `gamma`
///   (`3,100 * gamma` at `N = 512`, `D = 610`): orders of magnitude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reduction {
    /// The report's code: means over the batch matrix and over each weight matrix.
    Mean,
    /// The report's formula: sums over observed entries and weights.
    #[default]
    Sum,
}

/// Which implementation of the (identical) math runs the mini-batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Path {
    /// Whole batch matrices through faer matrix products, unobserved cells
    /// included (what the report's numpy did); `O(N * D * h)` per batch.
    Dense,
    /// Only observed inputs and outputs; `O(nnz * h)` per batch.
    #[default]
    Sparse,
}

/// Which weights an Adam step updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Update {
    /// Every weight at every step, the regulariser's gradient on all of
    /// them (the report's Adam): `O(D x h)` per step, whatever the batch.
    #[default]
    Dense,
    /// Lazy Adam (TensorFlow's LazyAdam): on the first layer only the rows
    /// of units with an input in the batch, on the output layer only the
    /// rows and biases of units with an observed output, each with its
    /// moments and regulariser; the other layers and the hidden biases
    /// every step. A step costs what its batch's ratings touch, so an
    /// epoch costs `O(nnz h)` however many steps it takes. A unit's weights
    /// decay (L2) only at the steps that touch it, i.e. in proportion to
    /// its ratings rather than to the step count. Sparse path only.
    Lazy,
}

/// Hyperparameters of the autoencoder.
///
/// The defaults are the best configuration found on the validation sets of
/// ml-latest-small with `examples/tune.rs` (validation RMSE 0.842, 0.837,
/// 0.829, 0.845, 0.841 on the five 90/10 repeats, fit about 0.3 s): a
/// denoising AutoRec-style net, identity output, summed losses with L2
/// weight decay only, half of the inputs dropped. On the first split,
/// against 0.842: 100 hidden units 0.847 (with `batch = 256`), 200 0.851,
/// 500 0.869; no dropout 0.892 (500 units, `beta = 10`); dropout 0.4 0.846,
/// 0.6 0.844; `beta` 0.5 0.844, 2 0.851; `l1_share = 0.5` 0.895; ReLU
/// output 0.843; two layers `[50, 50]` 0.843; user-based 0.930. The
/// report's own settings are [`AutoencoderConfig::report`] and
/// [`AutoencoderConfig::report_deep`].
///
/// Defaults: `hidden = [50]`, `output = identity`, `user_based = false`,
/// `epochs = 60`, `batch = 512`, `lr = 0.005`, `adam_beta1 = 0.9`,
/// `adam_beta2 = 0.99`, `beta = 0.5`, `l1_share = 0` (L2 only), `gamma = 0`,
/// `decay = 0.9`, `decay_every = 10`, `reduction = sum`, `dropout = 0.5`,
/// `patience = 5`, `init_scale = 1`, the run's seed, `path = sparse`,
/// `update = dense`. [`AutoencoderConfig::large`] is the setting for
/// ml-25m-sized data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AutoencoderConfig {
    /// Sizes of the sigmoid hidden layers, input side first. The report's
    /// final net is `[100]`, its first design `[300, 150]`.
    pub hidden: Vec<usize>,
    /// Output activation.
    pub output: Output,
    /// Reconstruct users' vectors over items instead of items' vectors over
    /// users (the report's "transform to user based").
    pub user_based: bool,
    /// Epoch budget (passes over all training vectors).
    pub epochs: usize,
    /// Vectors (items, or users when `user_based`) per mini-batch.
    pub batch: usize,
    /// Adam learning rate. The report: 0.01.
    pub lr: f32,
    /// Adam's first-moment decay. The report: 0.9.
    pub adam_beta1: f32,
    /// Adam's second-moment decay. The report: 0.99.
    pub adam_beta2: f32,
    /// Weight of the elastic-net regulariser on the weight matrices (biases
    /// are not regularised). The report: 0.002.
    pub beta: f32,
    /// Share of the regulariser on the L1 term, the rest on L2. The report's
    /// code and text put 0.9 on L1 (its formula writes alpha on L2).
    pub l1_share: f32,
    /// Weight of the penalty `0.5 * gamma * o^2` on each observed output `o`
    /// whose half-star rounding lies outside (0, 5]. The report: 0.01.
    pub gamma: f32,
    /// Factor applied to `lr`, `beta` and `gamma` every `decay_every`
    /// epochs. The report: 0.9 every 10.
    pub decay: f32,
    /// Epochs between decays.
    pub decay_every: usize,
    /// Means (the report's code) or sums (its formula); see [`Reduction`].
    pub reduction: Reduction,
    /// Probability of dropping each observed input rating (denoising; the
    /// target keeps it). Kept inputs are scaled by `1 / (1 - dropout)`.
    pub dropout: f32,
    /// Epochs without a better validation RMSE before training stops and
    /// the best weights are restored; 0 turns early stopping off. Needs a
    /// validation set.
    pub patience: usize,
    /// Multiplier on the Glorot-uniform bound `sqrt(6 / (fan_in + fan_out))`
    /// of the initial weights (the report does not give its initialisation).
    pub init_scale: f32,
    /// Seed of the initial weights, the shuffling and the dropout; `None`
    /// (the default) takes the run's seed ([`RunContext::seed`](movierec_core::RunContext)).
    pub seed: Option<u64>,
    /// Dense or sparse execution of the same math.
    pub path: Path,
    /// Dense or lazy Adam steps (lazy needs the sparse path). Default: dense.
    pub update: Update,
}

impl Default for AutoencoderConfig {
    /// The winner of `movierec tune --model autoencoder` on ml-latest-small's
    /// validation sets (results/ml-latest-small/tuning-autoencoder.json; a
    /// test keeps the two equal): AutoRec-style, 50 sigmoid units, identity
    /// output, summed loss, L2 only (beta 0.5), input dropout 0.5.
    fn default() -> Self {
        Self {
            hidden: vec![50],
            output: Output::Identity,
            user_based: false,
            epochs: 60,
            batch: 512,
            lr: 0.005,
            adam_beta1: 0.9,
            adam_beta2: 0.99,
            beta: 0.5,
            l1_share: 0.0,
            gamma: 0.0,
            decay: 0.9,
            decay_every: 10,
            reduction: Reduction::Sum,
            dropout: 0.5,
            patience: 5,
            init_scale: 1.0,
            seed: None,
            path: Path::Sparse,
            update: Update::Dense,
        }
    }
}

impl AutoencoderConfig {
    /// The report's final network (its 6.1): item-based, one hidden layer of
    /// 100 sigmoid units, ReLU output, the code's mean reduction, elastic
    /// net 0.002 with 0.9 on L1, range penalty 0.01, Adam (0.9, 0.99) at
    /// 0.01, all three decayed by 0.9 every 10 epochs.
    ///
    /// The report leaves out the batch size, the epoch count and the
    /// initialisation; the values here were chosen on a validation set of
    /// ml-latest-small: batch 1024 (validation RMSE 0.898, against 0.939,
    /// 0.917, 0.908, 0.903, 0.897 and 0.905 at 16, 64, 256, 512, 2048 and
    /// full batches), Glorot-uniform weights scaled by 0.3 (0.890, against
    /// 0.898 at 1 and 0.902 at 0.1), and up to 100 epochs with early
    /// stopping after 10 without progress (the best epoch is the 3rd to
    /// 5th: the net overfits fast without dropout).
    pub fn report() -> Self {
        Self {
            hidden: vec![100],
            output: Output::Relu,
            user_based: false,
            epochs: 100,
            batch: 1024,
            lr: 0.01,
            adam_beta1: 0.9,
            adam_beta2: 0.99,
            beta: 0.002,
            l1_share: 0.9,
            gamma: 0.01,
            decay: 0.9,
            decay_every: 10,
            reduction: Reduction::Mean,
            dropout: 0.0,
            patience: 10,
            init_scale: 0.3,
            seed: None,
            path: Path::Sparse,
            update: Update::Dense,
        }
    }

    /// The report's first design: [`report`](Self::report) with two hidden
    /// layers of 300 and 150 units (its 5.2.1 part 3), which it dropped for
    /// overfitting and slow training.
    ///
    /// Batch 256 and Glorot-uniform weights at scale 1 were chosen on
    /// validation (RMSE 0.863, against 0.884, 0.866 and 0.871 at batches 64,
    /// 512 and 1024, and 0.879 at scale 0.3).
    pub fn report_deep() -> Self {
        Self {
            hidden: vec![300, 150],
            batch: 256,
            init_scale: 1.0,
            ..Self::report()
        }
    }

    /// Settings for ml-25m-sized data (tens of millions of ratings, item
    /// vectors over a hundred thousand users or more), where the
    /// small-data defaults cost more than they return: [`Default`] with lazy
    /// Adam ([`Update::Lazy`]), no dropout, batches of 256 items, and a
    /// budget of 30 epochs with patience 3.
    ///
    /// At 162,541 users per item vector each of the two outer layers holds
    /// 8 million weights at 50 units; dense Adam walks all 16 million (and
    /// their two moments) at every step, while lazy Adam touches only the
    /// rows of users rated in the batch, so an epoch costs in proportion to
    /// its ratings and smaller batches (more steps) cost no more Adam work
    /// per epoch. At 25 million ratings the net sees 40 times the ratings
    /// per weight it does on ml-latest-small, and dropout's noise only
    /// slows it. Measured on the synthetic ml-25m shape (`movierec synth
    /// --users 162541 --items 59047 --ratings 25000095`, first 90/10
    /// split, held-out RMSE after a fixed number of epochs, lazy Adam):
    /// dropout 0.5 0.712 after 3 epochs; dropout 0.2 0.675 after 5; after 8,
    /// dropout 0.1 0.666 and none 0.663; no dropout with batches of 256
    /// 0.656 after 12, where a larger step (lr 0.01) gave 0.677 and
    /// lr 0.02 diverged slowly.
    pub fn large() -> Self {
        Self {
            update: Update::Lazy,
            dropout: 0.0,
            batch: 256,
            epochs: 30,
            patience: 3,
            ..Self::default()
        }
    }

    /// Checks every setting before a fit.
    ///
    /// # Errors
    /// The first [`ConfigError`] found.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.hidden.is_empty() || self.hidden.iter().any(|&h| h == 0 || h > MAX_HIDDEN) {
            return Err(ConfigError::Hidden(self.hidden.clone()));
        }
        if self.epochs == 0 {
            return Err(ConfigError::Epochs);
        }
        if self.batch == 0 {
            return Err(ConfigError::Batch);
        }
        if self.decay_every == 0 {
            return Err(ConfigError::DecayEvery);
        }
        for (name, value) in [
            ("lr", self.lr),
            ("beta", self.beta),
            ("gamma", self.gamma),
            ("init_scale", self.init_scale),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::NonNegative { name, value });
            }
        }
        let unit = |name, value: f32, ok: bool, range| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::Unit { name, range, value })
            }
        };
        let b1 = self.adam_beta1;
        unit("adam_beta1", b1, (0.0..1.0).contains(&b1), "[0, 1)")?;
        let b2 = self.adam_beta2;
        unit("adam_beta2", b2, (0.0..1.0).contains(&b2), "[0, 1)")?;
        let l1 = self.l1_share;
        unit("l1_share", l1, (0.0..=1.0).contains(&l1), "[0, 1]")?;
        let d = self.decay;
        unit("decay", d, d > 0.0 && d <= 1.0, "(0, 1]")?;
        let p = self.dropout;
        unit("dropout", p, (0.0..1.0).contains(&p), "[0, 1)")?;
        if self.update == Update::Lazy && self.path == Path::Dense {
            return Err(ConfigError::LazyDense);
        }
        Ok(())
    }
}
