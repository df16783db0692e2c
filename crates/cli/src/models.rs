//! The model table: the one place that names every model. Each model has
//! a `--model` value ([`ModelKind`]), a file code, presets, the flags that
//! set its typed configuration ([`with_model`]), a decoder for saved files
//! ([`decode_model`]) and a tuning grid ([`default_grid`]). A configuration
//! is resolved in layers: the preset (default: the best configuration found
//! by `movierec tune`), then the `[model]` table of `--config FILE.toml`,
//! then flags, assigned to typed fields. Flags apply to the models that have
//! the setting.
//!
//! Adding a model: its crate (a `Fit` config whose model implements
//! `Recommender` and serde), a variant of [`ModelKind`] with its name and
//! code, an arm in [`with_model`], [`decode_model`] and [`default_grid`],
//! and its crate in this crate's `Cargo.toml`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use movierec_autoencoder::{AutoencoderConfig, AutoencoderModel, Output};
use movierec_core::{
    BiasBaseline, BiasConfig, Constant, ConstantConfig, Fit, GlobalMeanConfig, Popular,
    PopularConfig, Recommender,
};
use movierec_ease::{EaseConfig, EaseModel};
use movierec_ials::{IalsConfig, IalsModel};
use movierec_knn::{KnnConfig, KnnModel, Neighbourhood, Prediction, Similarity};
use movierec_mf::{DenseGdConfig, MfModel, SgdConfig};
use movierec_vae::{VaeConfig, VaeModel};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The models `movierec` can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// The report's constant 3.0 for every pair.
    Constant,
    /// The mean training rating for every pair.
    GlobalMean,
    /// Global mean + regularised user and item biases (Surprise's BaselineOnly).
    Bias,
    /// Most popular first: items ranked by their number of training ratings,
    /// for top-N comparison. No rating estimate: its RMSE columns are the
    /// fallback's (every test rating counts as a fallback).
    Popular,
    /// Item-based k-nearest neighbours (the report's first model).
    Knn,
    /// Matrix factorisation by sparse SGD over observed ratings (Koren et al. 2009).
    MfSgd,
    /// Matrix factorisation by the report's dense full-batch gradient descent.
    MfDense,
    /// The report's item-based autoencoder (AutoRec-style when tuned).
    Autoencoder,
    /// EASE (Steck 2019): closed-form item-item weights, for top-N lists.
    /// Ranks only: its rating columns are the fallback's.
    Ease,
    /// Implicit ALS (Hu, Koren, Volinsky 2008), for top-N lists. Ranks only.
    Ials,
    /// Mult-DAE (Liang et al. 2018): the denoising autoencoder of a user's
    /// rated movies with a softmax over all movies, for top-N lists. Ranks only.
    MultDae,
    /// Mult-VAE (Liang et al. 2018): the variational form of Mult-DAE, with
    /// KL annealing. Ranks only.
    MultVae,
}

impl ModelKind {
    /// The name used in tables and config files.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Constant => "constant",
            ModelKind::GlobalMean => "global-mean",
            ModelKind::Bias => "bias",
            ModelKind::Popular => "popular",
            ModelKind::Knn => "knn",
            ModelKind::MfSgd => "mf-sgd",
            ModelKind::MfDense => "mf-dense",
            ModelKind::Autoencoder => "autoencoder",
            ModelKind::Ease => "ease",
            ModelKind::Ials => "ials",
            ModelKind::MultDae => "mult-dae",
            ModelKind::MultVae => "mult-vae",
        }
    }

    /// The kind's code in saved model files (stable: never reuse a number).
    pub fn code(self) -> u32 {
        match self {
            ModelKind::Bias => 1,
            ModelKind::Knn => 2,
            ModelKind::MfSgd => 3,
            ModelKind::Autoencoder => 4,
            ModelKind::MfDense => 5,
            ModelKind::Constant => 6,
            ModelKind::GlobalMean => 7,
            ModelKind::Popular => 8,
            ModelKind::Ease => 9,
            ModelKind::Ials => 10,
            ModelKind::MultDae => 11,
            ModelKind::MultVae => 12,
        }
    }

    /// The kind saved under `code`, if any.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::value_variants()
            .iter()
            .copied()
            .find(|k| k.code() == code)
    }

    /// The model flags (without `--`) that set one of this model's
    /// settings; `--config` and `--preset` concern every model. Clap accepts
    /// every model flag with every `--model`, so [`ModelArgs::check_flags`]
    /// refuses the others against this list rather than ignore them.
    pub fn flags(self) -> &'static [&'static str] {
        match self {
            ModelKind::Constant | ModelKind::GlobalMean | ModelKind::Bias | ModelKind::Popular => {
                &[]
            }
            ModelKind::Knn => &[
                "k",
                "similarity",
                "neighbourhood",
                "prediction",
                "shrinkage",
                "min-support",
                "max-neighbours",
                "user-based",
            ],
            ModelKind::MfSgd => &["factors", "epochs", "lr", "reg", "biases"],
            ModelKind::MfDense => &["factors", "epochs", "lr", "reg"],
            ModelKind::Autoencoder => &[
                "hidden",
                "output",
                "batch",
                "l1-share",
                "dropout",
                "epochs",
                "lr",
                "user-based",
            ],
            ModelKind::Ease => &["lambda"],
            ModelKind::Ials => &["factors", "epochs", "reg", "alpha"],
            ModelKind::MultDae | ModelKind::MultVae => {
                &["hidden", "epochs", "lr", "batch", "dropout"]
            }
        }
    }

    /// What one step of the model's training curve is.
    pub fn curve_unit(self) -> &'static str {
        match self {
            ModelKind::MfDense => "full-batch step",
            _ => "epoch",
        }
    }
}

/// A named starting point for a model's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// The model as the report describes it; what the report leaves out is
    /// chosen on validation.
    Report,
    /// Autoencoder: the report's first design, hidden layers of 300 and 150.
    ReportDeep,
    /// Settings for ml-25m-sized data (tens of thousands of movies, tens
    /// of millions of ratings) where the small-data defaults do not suit.
    /// KNN: each movie's list capped at 200 neighbours (the blocked
    /// similarity build; the exact store refuses such catalogues); mf-sgd:
    /// 128 factors; autoencoder: lazy Adam, batches of 256, 30 epochs.
    Large,
}

/// The autoencoder's output activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputArg {
    /// `max(0, z)`, the report's.
    Relu,
    /// `z`, as in AutoRec.
    Identity,
}

/// `--k`: a number, or `auto` to choose K on validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KArg {
    /// A fixed K.
    Fixed(usize),
    /// Choose among a grid on the validation set.
    Auto,
}

impl std::str::FromStr for KArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(KArg::Auto),
            n => n
                .parse()
                .map(KArg::Fixed)
                .map_err(|_| format!("expected a number or `auto`, got {n:?}")),
        }
    }
}

/// The K candidates of `--k auto`.
const K_GRID: [usize; 7] = [5, 10, 20, 40, 80, 160, 320];

/// Flags that configure models.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model settings (TOML), one table per model, e.g. `[bias]` then
    /// `reg_user = 10`; flags override the file, the file the preset.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
    /// Start from a preset instead of the tuned defaults.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// KNN: neighbours per prediction, or `auto` to choose K on validation.
    #[arg(long, help_heading = "KNN")]
    k: Option<KArg>,
    /// KNN: adjusted-cosine, cosine, pearson or pearson-baseline.
    #[arg(long, help_heading = "KNN")]
    similarity: Option<Similarity>,
    /// KNN: report (the report's top-K-then-rated rule) or rated (K most similar rated items).
    #[arg(long, help_heading = "KNN")]
    neighbourhood: Option<Neighbourhood>,
    /// KNN: report (sum(sim r) / sum|sim|), mean-centred or baseline.
    #[arg(long, help_heading = "KNN")]
    prediction: Option<Prediction>,
    /// KNN: shrink a similarity over n co-raters by n / (n + SHRINKAGE).
    #[arg(long, help_heading = "KNN")]
    shrinkage: Option<f32>,
    /// KNN: fewest co-rating users for a similarity.
    #[arg(long, help_heading = "KNN")]
    min_support: Option<usize>,
    /// KNN: keep only each item's N most similar items (memory items x N).
    #[arg(long, help_heading = "KNN")]
    max_neighbours: Option<usize>,
    /// KNN and autoencoder: the user-based variant (compare users; encode user vectors).
    #[arg(long)]
    user_based: bool,
    /// Autoencoder and Mult-VAE/DAE: hidden layer sizes, comma-separated (the report: 100; its first design: 300,150).
    #[arg(long, value_delimiter = ',', help_heading = "Autoencoder")]
    hidden: Option<Vec<usize>>,
    /// Autoencoder: output activation.
    #[arg(long, value_enum, help_heading = "Autoencoder")]
    output: Option<OutputArg>,
    /// Autoencoder and Mult-VAE/DAE: items (users) per mini-batch.
    #[arg(long, help_heading = "Autoencoder")]
    batch: Option<usize>,
    /// Autoencoder: share of L1 in the elastic-net regulariser (the report: 0.9).
    #[arg(long, help_heading = "Autoencoder")]
    l1_share: Option<f32>,
    /// Autoencoder and Mult-VAE/DAE: input dropout probability (denoising).
    #[arg(long, help_heading = "Autoencoder")]
    dropout: Option<f32>,
    /// MF and iALS: latent factors.
    #[arg(long, help_heading = "Matrix factorisation")]
    factors: Option<usize>,
    /// MF, autoencoder and iALS: epochs (mf-dense: full-batch steps; iALS: iterations), at most.
    #[arg(long)]
    epochs: Option<usize>,
    /// MF and autoencoder: learning rate (mf-sgd: of factors and biases).
    #[arg(long)]
    lr: Option<f32>,
    /// MF and iALS: L2 regularisation (mf-sgd: of factors; mf-dense: beta).
    #[arg(long, help_heading = "Matrix factorisation")]
    reg: Option<f32>,
    /// MF: user and item biases, true or false (false: the report's pure q_i^T p_u).
    #[arg(long, help_heading = "Matrix factorisation")]
    biases: Option<bool>,
    /// EASE: the L2 weight lambda (fixed; by default chosen on validation NDCG@10).
    #[arg(long, help_heading = "Top-N models")]
    lambda: Option<f32>,
    /// iALS: confidence of a rating r is 1 + ALPHA r.
    #[arg(long, help_heading = "Top-N models")]
    alpha: Option<f32>,
    /// KNN: the neighbour-list cap `train` applies when no
    /// `--max-neighbours` is given (saved files stay small).
    #[arg(skip)]
    pub saving_cap: Option<usize>,
}

/// `Some(v)` flags overwrite a typed setting; `None` leaves it.
fn set<T>(field: &mut T, flag: Option<T>) {
    if let Some(v) = flag {
        *field = v;
    }
}

impl ModelArgs {
    /// The model flags given (without `--`), in the order of `--help`.
    fn given(&self) -> Vec<&'static str> {
        [
            ("k", self.k.is_some()),
            ("similarity", self.similarity.is_some()),
            ("neighbourhood", self.neighbourhood.is_some()),
            ("prediction", self.prediction.is_some()),
            ("shrinkage", self.shrinkage.is_some()),
            ("min-support", self.min_support.is_some()),
            ("max-neighbours", self.max_neighbours.is_some()),
            ("user-based", self.user_based),
            ("hidden", self.hidden.is_some()),
            ("output", self.output.is_some()),
            ("batch", self.batch.is_some()),
            ("l1-share", self.l1_share.is_some()),
            ("dropout", self.dropout.is_some()),
            ("factors", self.factors.is_some()),
            ("epochs", self.epochs.is_some()),
            ("lr", self.lr.is_some()),
            ("reg", self.reg.is_some()),
            ("biases", self.biases.is_some()),
            ("lambda", self.lambda.is_some()),
            ("alpha", self.alpha.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect()
    }

    /// Refuses a model flag that none of `kinds` has (`--k 5 --model
    /// mf-sgd`), which would otherwise be dropped without a word. With
    /// several models (`evaluate --model knn,mf-sgd --k 40`) a flag applies
    /// to those that have the setting.
    ///
    /// # Errors
    /// One line naming the flag and the flags the models do take.
    pub fn check_flags(&self, kinds: &[ModelKind]) -> anyhow::Result<()> {
        let Some(flag) = self
            .given()
            .into_iter()
            .find(|f| !kinds.iter().any(|k| k.flags().contains(f)))
        else {
            return Ok(());
        };
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        let mut theirs: Vec<String> = Vec::new();
        for f in kinds.iter().flat_map(|k| k.flags()) {
            let f = format!("--{f}");
            if !theirs.contains(&f) {
                theirs.push(f);
            }
        }
        let takes = match theirs.is_empty() {
            true => "no model flags".to_string(),
            false => theirs.join(", "),
        };
        let verb = if kinds.len() == 1 { "takes" } else { "take" };
        bail!(
            "--{flag} does not apply to {}, which {verb} {takes}",
            names.join(", ")
        )
    }

    /// The `--config` file, read once and checked: every table must name a model.
    fn config_file(&self) -> anyhow::Result<Option<(String, toml::Table)>> {
        let Some(path) = &self.config else {
            return Ok(None);
        };
        let show = path.display().to_string();
        let text = crate::read_text(path, "the config file")?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("{show}: not valid TOML"))?;
        let names: Vec<&str> = ModelKind::value_variants()
            .iter()
            .map(|k| k.name())
            .collect();
        if let Some(bad) = table.keys().find(|k| !names.contains(&k.as_str())) {
            bail!(
                "{show}: [{}] is not a model; the tables are named after models: {}",
                bad.escape_debug(),
                names.join(", ")
            );
        }
        Ok(Some((show, table)))
    }

    /// `config` with the `[name]` table of the config file laid over it:
    /// the table's keys replace the config's fields, and a key the config
    /// does not have is an error (configs deny unknown fields).
    fn apply_file<F: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        config: F,
    ) -> anyhow::Result<F> {
        let Some((show, file)) = self.config_file()? else {
            return Ok(config);
        };
        let Some(section) = file.get(name) else {
            return Ok(config);
        };
        let toml::Value::Table(section) = section else {
            bail!("{show}: [{name}] must be a table");
        };
        let toml::Value::Table(mut merged) = toml::Value::try_from(&config)
            .with_context(|| format!("{name}: the settings cannot be written as TOML"))?
        else {
            bail!("{name}: the settings are not a table");
        };
        for (k, v) in section {
            merged.insert(k.clone(), v.clone());
        }
        toml::Value::Table(merged)
            .try_into()
            .with_context(|| format!("{show}: bad [{name}] table"))
    }

    /// The preset's name suffix and whether `kind` has it.
    fn preset(&self, kind: ModelKind, has: &[Preset]) -> anyhow::Result<Option<Preset>> {
        match self.preset {
            Some(p) if !has.contains(&p) => bail!(
                "{} has no preset {}",
                kind.name(),
                p.to_possible_value()
                    .map_or_else(String::new, |v| v.get_name().to_string())
            ),
            p => Ok(p),
        }
    }

    fn knn(&self, mut c: KnnConfig) -> KnnConfig {
        match self.k {
            Some(KArg::Fixed(k)) => {
                c.k = k;
                c.k_grid = Vec::new();
            }
            Some(KArg::Auto) => c.k_grid = K_GRID.to_vec(),
            None => {}
        }
        set(&mut c.similarity, self.similarity);
        set(&mut c.neighbourhood, self.neighbourhood);
        set(&mut c.prediction, self.prediction);
        set(&mut c.shrinkage, self.shrinkage);
        set(&mut c.min_support, self.min_support);
        set(&mut c.max_neighbours, self.max_neighbours.map(Some));
        if self.user_based {
            c.user_based = true;
        }
        if c.max_neighbours.is_none() {
            c.max_neighbours = self.saving_cap;
        }
        c
    }

    fn sgd(&self, mut c: SgdConfig) -> SgdConfig {
        set(&mut c.factors, self.factors);
        set(&mut c.epochs, self.epochs);
        set(&mut c.lr_factors, self.lr);
        set(&mut c.lr_biases, self.lr);
        set(&mut c.reg_factors, self.reg);
        set(&mut c.biases, self.biases);
        c
    }

    fn dense(&self, mut c: DenseGdConfig) -> DenseGdConfig {
        set(&mut c.factors, self.factors);
        set(&mut c.epochs, self.epochs);
        set(&mut c.lr, self.lr);
        set(&mut c.beta, self.reg);
        c
    }

    fn ease(&self, mut c: EaseConfig) -> EaseConfig {
        if let Some(l) = self.lambda {
            c.lambda = l;
            c.lambda_grid = Vec::new();
        }
        c
    }

    fn ials(&self, mut c: IalsConfig) -> IalsConfig {
        set(&mut c.factors, self.factors);
        set(&mut c.iterations, self.epochs);
        set(&mut c.reg, self.reg);
        set(&mut c.alpha, self.alpha);
        c
    }

    fn vae(&self, mut c: VaeConfig) -> VaeConfig {
        set(&mut c.hidden, self.hidden.clone());
        set(&mut c.epochs, self.epochs);
        set(&mut c.lr, self.lr);
        set(&mut c.batch, self.batch);
        set(&mut c.dropout, self.dropout);
        c
    }

    fn autoencoder(&self, mut c: AutoencoderConfig) -> AutoencoderConfig {
        set(&mut c.epochs, self.epochs);
        set(&mut c.hidden, self.hidden.clone());
        set(
            &mut c.output,
            self.output.map(|o| match o {
                OutputArg::Relu => Output::Relu,
                OutputArg::Identity => Output::Identity,
            }),
        );
        set(&mut c.batch, self.batch);
        set(&mut c.lr, self.lr);
        set(&mut c.l1_share, self.l1_share);
        set(&mut c.dropout, self.dropout);
        if self.user_based {
            c.user_based = true;
        }
        c
    }
}

/// Something to do with a model configuration of any type.
pub trait ModelVisitor {
    /// What the visit returns.
    type Output;
    /// Runs with the resolved configuration of `kind`, shown as `name`
    /// (the kind's name, with the preset's suffix).
    fn visit<F>(&mut self, kind: ModelKind, name: &str, config: F) -> anyhow::Result<Self::Output>
    where
        F: Fit + Serialize + DeserializeOwned + Clone,
        F::Model: Serialize + DeserializeOwned;
}

/// Resolves the configuration of `kind` (preset, then the `[model]` table
/// of `--config`, then flags, then the config's own checks) and hands it to
/// `visitor`. The one place where a model's settings are built.
pub fn with_model<V: ModelVisitor>(
    kind: ModelKind,
    args: &ModelArgs,
    visitor: &mut V,
) -> anyhow::Result<V::Output> {
    let name = kind.name();
    let bad = |e: &dyn std::fmt::Display| anyhow::anyhow!("{name}: {e}");
    match kind {
        ModelKind::Constant => {
            args.preset(kind, &[])?;
            visitor.visit(
                kind,
                name,
                args.apply_file(name, ConstantConfig::default())?,
            )
        }
        ModelKind::GlobalMean => {
            args.preset(kind, &[])?;
            visitor.visit(
                kind,
                name,
                args.apply_file(name, GlobalMeanConfig::default())?,
            )
        }
        ModelKind::Popular => {
            args.preset(kind, &[])?;
            visitor.visit(kind, name, args.apply_file(name, PopularConfig::default())?)
        }
        ModelKind::Bias => {
            args.preset(kind, &[])?;
            let cfg = args.apply_file(name, BiasConfig::default())?;
            cfg.validate().map_err(|e| bad(&e))?;
            visitor.visit(kind, name, cfg)
        }
        ModelKind::Knn => {
            let (base, name) = match args.preset(kind, &[Preset::Report, Preset::Large])? {
                Some(Preset::Large) => (KnnConfig::large(), "knn-large"),
                Some(_) => (KnnConfig::report(), "knn-report"),
                None => (KnnConfig::default(), name),
            };
            let cfg = args.knn(args.apply_file(kind.name(), base)?);
            cfg.validate().map_err(|e| bad(&e))?;
            visitor.visit(kind, name, cfg)
        }
        ModelKind::MfSgd => {
            let (base, name) = match args.preset(kind, &[Preset::Report, Preset::Large])? {
                Some(Preset::Large) => (SgdConfig::large(), "mf-sgd-large"),
                Some(_) => (SgdConfig::report(), "mf-sgd-report"),
                None => (SgdConfig::default(), name),
            };
            let cfg = args.sgd(args.apply_file(kind.name(), base)?);
            cfg.validate().map_err(|e| bad(&e))?;
            visitor.visit(kind, name, cfg)
        }
        ModelKind::MfDense => {
            // The dense optimiser is the report's own; its preset is its default.
            args.preset(kind, &[])?;
            let cfg = args.dense(args.apply_file(name, DenseGdConfig::default())?);
            cfg.validate().map_err(|e| bad(&e))?;
            visitor.visit(kind, name, cfg)
        }
        ModelKind::Autoencoder => {
            let presets = [Preset::Report, Preset::ReportDeep, Preset::Large];
            let (base, name) = match args.preset(kind, &presets)? {
                Some(Preset::Report) => (AutoencoderConfig::report(), "autoencoder-report"),
                Some(Preset::ReportDeep) => {
                    (AutoencoderConfig::report_deep(), "autoencoder-report-deep")
                }
                Some(Preset::Large) => (AutoencoderConfig::large(), "autoencoder-large"),
                None => (AutoencoderConfig::default(), name),
            };
            let cfg = args.autoencoder(args.apply_file(kind.name(), base)?);
            cfg.validate().map_err(|e| bad(&e))?;
            visitor.visit(kind, name, cfg)
        }
        ModelKind::Ease => {
            args.preset(kind, &[])?;
            let cfg = args.ease(args.apply_file(name, EaseConfig::default())?);
            cfg.validate().map_err(|e| bad(&e))?;
            visitor.visit(kind, name, cfg)
        }
        ModelKind::Ials => {
            args.preset(kind, &[])?;
            let cfg = args.ials(args.apply_file(name, IalsConfig::default())?);
            cfg.validate().map_err(|e| bad(&e))?;
            visitor.visit(kind, name, cfg)
        }
        ModelKind::MultDae | ModelKind::MultVae => {
            args.preset(kind, &[])?;
            let base = match kind {
                ModelKind::MultDae => VaeConfig::dae(),
                _ => VaeConfig::vae(),
            };
            let cfg = args.vae(args.apply_file(name, base)?);
            cfg.validate().map_err(|e| bad(&e))?;
            visitor.visit(kind, name, cfg)
        }
    }
}

/// Decodes the saved model of `kind` (postcard) and checks it as a hostile
/// input: every index and float of the payload.
pub fn decode_model(kind: ModelKind, bytes: &[u8]) -> anyhow::Result<Box<dyn Recommender>> {
    fn decode<M: Recommender + DeserializeOwned + 'static>(
        bytes: &[u8],
    ) -> anyhow::Result<Box<dyn Recommender>> {
        let model: M = postcard::from_bytes(bytes)?;
        model.validate()?;
        Ok(Box::new(model))
    }
    match kind {
        ModelKind::Constant | ModelKind::GlobalMean => decode::<Constant>(bytes),
        ModelKind::Bias => decode::<BiasBaseline>(bytes),
        ModelKind::Popular => decode::<Popular>(bytes),
        ModelKind::Knn => decode::<KnnModel>(bytes),
        ModelKind::MfSgd | ModelKind::MfDense => decode::<MfModel>(bytes),
        ModelKind::Autoencoder => decode::<AutoencoderModel>(bytes),
        ModelKind::Ease => decode::<EaseModel>(bytes),
        ModelKind::Ials => decode::<IalsModel>(bytes),
        ModelKind::MultDae | ModelKind::MultVae => decode::<VaeModel>(bytes),
    }
}

/// The search space of `kind`: the `[model]` table of a grid file (each
/// setting a list of values), or the built-in grid.
pub fn load_grid(
    kind: ModelKind,
    path: Option<&std::path::Path>,
) -> anyhow::Result<Map<String, Value>> {
    let Some(path) = path else {
        return Ok(default_grid(kind));
    };
    let name = kind.name();
    let text = crate::read_text(path, "the grid file")?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{}: not valid TOML", path.display()))?;
    let section = table
        .get(name)
        .with_context(|| format!("{}: no [{name}] table", path.display()))?;
    match serde_json::to_value(section)? {
        Value::Object(m) => Ok(m),
        _ => anyhow::bail!("{}: [{name}] must be a table", path.display()),
    }
}

/// The built-in search space of `movierec tune` for each model.
pub fn default_grid(kind: ModelKind) -> Map<String, Value> {
    let grid = match kind {
        ModelKind::Constant => json!({"value": [3.0, 3.5, 4.0]}),
        ModelKind::GlobalMean | ModelKind::Popular => json!({}),
        ModelKind::Bias => json!({
            "reg_user": [2.0, 5.0, 10.0, 15.0, 25.0],
            "reg_item": [2.0, 5.0, 10.0, 15.0, 25.0],
        }),
        ModelKind::Knn => json!({
            "similarity": ["adjusted-cosine", "pearson", "pearson-baseline"],
            "prediction": ["mean-centred", "baseline"],
            "shrinkage": [0.0, 25.0, 100.0],
            "k": [20, 40, 80],
        }),
        ModelKind::MfSgd => json!({
            "factors": [50, 100, 200],
            "reg_factors": [0.05, 0.1, 0.15],
            "lr_factors": [0.01, 0.02, 0.04, 0.08],
        }),
        ModelKind::MfDense => json!({
            "factors": [10, 20],
            "beta": [0.02, 0.2],
        }),
        ModelKind::Autoencoder => json!({
            "hidden": [[50], [100], [200]],
            "dropout": [0.3, 0.5],
            "beta": [0.5, 1.0, 2.0],
        }),
        // Lambda is chosen inside each fit on validation NDCG.
        ModelKind::Ease => json!({
            "weighting": ["rating", "binary"],
        }),
        ModelKind::Ials => json!({
            "factors": [64, 128],
            "reg": [0.003, 0.01, 0.03],
            "alpha": [0.3, 1.0, 3.0],
        }),
        ModelKind::MultDae | ModelKind::MultVae => json!({
            "hidden": [[600, 200], [200]],
            "dropout": [0.5],
            "lr": [0.001, 0.003],
        }),
    };
    match grid {
        Value::Object(m) => m,
        _ => unreachable!("grids are objects"),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        model: ModelArgs,
    }

    /// Hands back the resolved configuration as JSON.
    struct AsJson;

    impl ModelVisitor for AsJson {
        type Output = Value;
        fn visit<F>(&mut self, _: ModelKind, _: &str, config: F) -> anyhow::Result<Value>
        where
            F: Fit + Serialize + DeserializeOwned + Clone,
            F::Model: Serialize + DeserializeOwned,
        {
            Ok(serde_json::to_value(config)?)
        }
    }

    fn args(flags: &[&str]) -> ModelArgs {
        Cli::try_parse_from(std::iter::once("movierec").chain(flags.iter().copied()))
            .unwrap()
            .model
    }

    /// Every model flag with values of which at least one differs from each
    /// model's default (none: a switch).
    const SAMPLES: [(&str, &[&str]); 20] = [
        ("k", &["7"]),
        ("similarity", &["cosine", "pearson"]),
        ("neighbourhood", &["report", "rated"]),
        ("prediction", &["report", "baseline"]),
        ("shrinkage", &["3.5"]),
        ("min-support", &["9"]),
        ("max-neighbours", &["11"]),
        ("user-based", &[]),
        ("hidden", &["37"]),
        ("output", &["relu", "identity"]),
        ("batch", &["13"]),
        ("l1-share", &["0.3"]),
        ("dropout", &["0.25"]),
        ("factors", &["17"]),
        ("epochs", &["19"]),
        ("lr", &["0.0123"]),
        ("reg", &["0.0456"]),
        ("biases", &["false", "true"]),
        ("lambda", &["123"]),
        ("alpha", &["2.5"]),
    ];

    #[test]
    fn the_samples_name_every_model_flag() {
        let mut named: Vec<String> = Cli::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .filter(|l| l != "config" && l != "preset")
            .collect();
        named.sort();
        let mut samples: Vec<String> = SAMPLES.iter().map(|(f, _)| f.to_string()).collect();
        samples.sort();
        assert_eq!(named, samples);
    }

    #[test]
    fn a_flag_is_listed_for_exactly_the_models_whose_settings_it_changes() {
        for &kind in ModelKind::value_variants() {
            let default = with_model(kind, &args(&[]), &mut AsJson).unwrap();
            for (flag, values) in SAMPLES {
                let long = format!("--{flag}");
                let argvs: Vec<Vec<&str>> = match values {
                    [] => vec![vec![long.as_str()]],
                    _ => values.iter().map(|v| vec![long.as_str(), v]).collect(),
                };
                let changes = argvs.iter().any(|argv| {
                    with_model(kind, &args(argv), &mut AsJson).map_or(true, |c| c != default)
                });
                let listed = kind.flags().contains(&flag);
                assert_eq!(changes, listed, "{} {long}", kind.name());
                let check = args(&argvs[0]).check_flags(&[kind]);
                assert_eq!(check.is_ok(), listed, "{} {long}", kind.name());
            }
        }
    }

    #[test]
    fn a_flag_foreign_to_the_model_is_refused_in_one_line() {
        let e = args(&["--k", "5"])
            .check_flags(&[ModelKind::MfSgd])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--k does not apply to mf-sgd, which takes --factors, --epochs, --lr, --reg, --biases"
        );
        let e = args(&["--lr", "0.1"])
            .check_flags(&[ModelKind::Bias])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "--lr does not apply to bias, which takes no model flags"
        );
        // With several models a flag needs one model that has the setting.
        let both = [ModelKind::Knn, ModelKind::MfSgd];
        assert!(args(&["--k", "40", "--epochs", "9"])
            .check_flags(&both)
            .is_ok());
        assert!(args(&["--alpha", "2"]).check_flags(&both).is_err());
    }
}
