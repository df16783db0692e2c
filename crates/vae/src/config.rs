use movierec_core::Error;
use serde::{Deserialize, Serialize};

/// Which of the two models of Liang et al. (2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// Mult-VAE: the encoder's last layer gives a mean and a log-variance,
    /// the code is sampled (reparameterisation) in training, and the loss
    /// adds `beta` times the KL divergence to a standard normal.
    #[default]
    Vae,
    /// Mult-DAE: a plain denoising autoencoder (tanh on every hidden layer,
    /// the code layer included), no KL term.
    Dae,
}

/// What a user's row holds before it is L2-normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Input {
    /// 1 for every rated movie (the paper's implicit feedback).
    #[default]
    Binary,
    /// The rating divided by the top of the scale, as input and as the
    /// weight of the movie in the multinomial likelihood.
    Rating,
}

/// Settings of Mult-VAE / Mult-DAE.
///
/// Paper values (Liang et al. 2018): hidden `[600, 200]`, dropout 0.5 on
/// the L2-normalised input, Adam at `lr = 1e-3`, batches of 500 users,
/// `beta` annealed linearly up to 0.2 over ~200k updates, no weight decay
/// for the VAE (the DAE: `0.01 / batch` on `||W||^2`); see
/// [`VaeConfig::paper_vae`] and [`VaeConfig::paper_dae`]. The defaults were
/// chosen on ml-latest-small's validation sets (see the crate docs for the
/// measurements and for why the schedule is in epochs, not updates):
/// `hidden = [200]` (both variants), `min_rating = 3.5`, `dropout = 0.5`,
/// `epochs = 200`, `patience = 20`, `batch = 64`, `lr = 2e-3`, no weight
/// decay, `beta_cap = 0.2`, `anneal_epochs = 20`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaeConfig {
    /// Mult-VAE or Mult-DAE.
    pub variant: Variant,
    /// Encoder layer sizes, input side first; the decoder mirrors them.
    /// For the VAE the last size is the latent dimension (with one size,
    /// the encoder is one linear layer to the latent mean and log-variance).
    pub hidden: Vec<usize>,
    /// Binary or rating-weighted rows.
    pub input: Input,
    /// Ratings below this are left out of the rows (0: keep every rating).
    pub min_rating: f32,
    /// Probability of dropping each input movie in training (kept inputs
    /// scaled by `1 / (1 - dropout)`; the target keeps every movie).
    pub dropout: f32,
    /// Epoch budget (passes over all training users).
    pub epochs: usize,
    /// Epochs without a better validation NDCG@10 before training stops and
    /// the best epoch's weights are restored; 0 turns early stopping off.
    /// Used only when a validation set is given.
    pub patience: usize,
    /// Users per mini-batch.
    pub batch: usize,
    /// Adam learning rate.
    pub lr: f32,
    /// L2 penalty `weight_decay / 2 * ||W||^2` on the weight matrices (not
    /// the biases), added to the batch-mean loss.
    pub weight_decay: f32,
    /// VAE only: the cap of the KL weight `beta`.
    pub beta_cap: f32,
    /// VAE only: epochs over which `beta` rises linearly from 0 to
    /// `beta_cap` (per update, within epochs); 0 starts at the cap.
    pub anneal_epochs: usize,
    /// Pins the seed of the initial weights, batch order, dropout masks and
    /// the VAE's noise; `None` takes the run context's seed.
    pub seed: Option<u64>,
}

impl Default for VaeConfig {
    /// Mult-VAE with the defaults chosen on ml-latest-small's validation sets.
    fn default() -> Self {
        Self {
            variant: Variant::Vae,
            hidden: vec![200],
            input: Input::Binary,
            min_rating: 3.5,
            dropout: 0.5,
            epochs: 200,
            patience: 20,
            batch: 64,
            lr: 2e-3,
            weight_decay: 0.0,
            beta_cap: 0.2,
            anneal_epochs: 20,
            seed: None,
        }
    }
}

impl VaeConfig {
    /// Mult-VAE with the default settings (the CLI's `mult-vae`).
    pub fn vae() -> Self {
        Self::default()
    }

    /// Mult-DAE with the default settings (the CLI's `mult-dae`).
    pub fn dae() -> Self {
        Self {
            variant: Variant::Dae,
            hidden: vec![200],
            ..Self::default()
        }
    }

    /// The paper's Mult-VAE for large data (ML-20M): `[600, 200]`, batch
    /// 500, lr 1e-3, `beta` capped at 0.2 and reached after 150 epochs
    /// (the paper's 200k-update schedule, ~270 updates per epoch, where its
    /// 200 epochs reach the cap at about epoch 150), all ratings >= 3.5.
    pub fn paper_vae() -> Self {
        Self {
            hidden: vec![600, 200],
            batch: 500,
            lr: 1e-3,
            anneal_epochs: 150,
            ..Self::default()
        }
    }

    /// The paper's Mult-DAE for large data: one hidden layer of 200, batch
    /// 500, lr 1e-3, weight decay `2 * 0.01 / 500` (its `lam / batch` on
    /// `||W||^2`).
    pub fn paper_dae() -> Self {
        Self {
            variant: Variant::Dae,
            hidden: vec![200],
            batch: 500,
            lr: 1e-3,
            weight_decay: 4e-5,
            ..Self::default()
        }
    }

    /// Checks the settings before a fit.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first setting out of its domain.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |m: String| Err(Error::Config(format!("mult-vae/dae: {m}")));
        if self.hidden.is_empty() || self.hidden.iter().any(|&h| h == 0 || h > 1 << 20) {
            return bad(format!(
                "hidden must list at least one layer of 1..=1048576 units, got {:?}",
                self.hidden
            ));
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if self.batch == 0 {
            return bad("batch must be at least 1".into());
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return bad(format!("dropout must be in [0, 1), got {}", self.dropout));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("lr must be finite and > 0, got {}", self.lr));
        }
        for (name, v) in [
            ("weight_decay", self.weight_decay),
            ("beta_cap", self.beta_cap),
            ("min_rating", self.min_rating),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(format!("{name} must be finite and >= 0, got {v}"));
            }
        }
        Ok(())
    }
}
