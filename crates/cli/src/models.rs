//! The one place that names every model: `--model` values, their
//! configurations and the dispatch from a name to a generic function over
//! `Fit`. A configuration is resolved in layers: the preset (default: the
//! best configuration found by `movierec tune`), then the `[model]` table of
//! `--config FILE.toml`, then flags. Flags apply to the models that have the
//! setting.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use movierec_autoencoder::AutoencoderConfig;
use movierec_core::{BiasConfig, ConstantConfig, Fit, GlobalMeanConfig, PopularConfig};
use movierec_eval::with_params;
use movierec_knn::{KnnConfig, Neighbourhood, Prediction, Similarity};
use movierec_mf::{DenseGdConfig, SgdConfig};
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
    /// Autoencoder: hidden layer sizes, comma-separated (the report: 100; its first design: 300,150).
    #[arg(long, value_delimiter = ',', help_heading = "Autoencoder")]
    hidden: Option<Vec<usize>>,
    /// Autoencoder: output activation.
    #[arg(long, value_enum, help_heading = "Autoencoder")]
    output: Option<OutputArg>,
    /// Autoencoder: items per mini-batch.
    #[arg(long, help_heading = "Autoencoder")]
    batch: Option<usize>,
    /// Autoencoder: share of L1 in the elastic-net regulariser (the report: 0.9).
    #[arg(long, help_heading = "Autoencoder")]
    l1_share: Option<f32>,
    /// Autoencoder: input dropout probability (denoising).
    #[arg(long, help_heading = "Autoencoder")]
    dropout: Option<f32>,
    /// MF: latent factors.
    #[arg(long, help_heading = "Matrix factorisation")]
    factors: Option<usize>,
    /// MF and autoencoder: epochs (mf-dense: full-batch steps), at most.
    #[arg(long)]
    epochs: Option<usize>,
    /// MF and autoencoder: learning rate (mf-sgd: of factors and biases).
    #[arg(long)]
    lr: Option<f32>,
    /// MF: L2 regularisation (mf-sgd: of factors; mf-dense: beta).
    #[arg(long, help_heading = "Matrix factorisation")]
    reg: Option<f32>,
    /// MF: user and item biases, true or false (false: the report's pure q_i^T p_u).
    #[arg(long, help_heading = "Matrix factorisation")]
    biases: Option<bool>,
}

impl ModelArgs {
    /// The flags that set a setting of `kind`, as config fields.
    fn overrides(&self, kind: ModelKind) -> Map<String, Value> {
        let mut m = Map::new();
        let mut set = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        if kind == ModelKind::Knn {
            match self.k {
                Some(KArg::Fixed(k)) => {
                    set("k", Some(json!(k)));
                    set("k_grid", Some(json!([])));
                }
                Some(KArg::Auto) => set("k_grid", Some(json!(K_GRID))),
                None => {}
            }
            set("similarity", self.similarity.map(|x| json!(x)));
            set("neighbourhood", self.neighbourhood.map(|x| json!(x)));
            set("prediction", self.prediction.map(|x| json!(x)));
            set("shrinkage", self.shrinkage.map(|x| json!(x)));
            set("min_support", self.min_support.map(|x| json!(x)));
            set("max_neighbours", self.max_neighbours.map(|x| json!(x)));
            set("user_based", self.user_based.then_some(json!(true)));
        }
        if matches!(kind, ModelKind::MfSgd | ModelKind::MfDense) {
            set("factors", self.factors.map(|x| json!(x)));
        }
        if matches!(
            kind,
            ModelKind::MfSgd | ModelKind::MfDense | ModelKind::Autoencoder
        ) {
            set("epochs", self.epochs.map(|x| json!(x)));
        }
        if kind == ModelKind::Autoencoder {
            set("hidden", self.hidden.as_ref().map(|x| json!(x)));
            let output = self.output.map(|o| match o {
                OutputArg::Relu => "relu",
                OutputArg::Identity => "identity",
            });
            set("output", output.map(|x| json!(x)));
            set("batch", self.batch.map(|x| json!(x)));
            set("lr", self.lr.map(|x| json!(x)));
            set("l1_share", self.l1_share.map(|x| json!(x)));
            set("dropout", self.dropout.map(|x| json!(x)));
            set("user_based", self.user_based.then_some(json!(true)));
        }
        if kind == ModelKind::MfSgd {
            set("lr_factors", self.lr.map(|x| json!(x)));
            set("lr_biases", self.lr.map(|x| json!(x)));
            set("reg_factors", self.reg.map(|x| json!(x)));
            set("biases", self.biases.map(|x| json!(x)));
        }
        if kind == ModelKind::MfDense {
            set("lr", self.lr.map(|x| json!(x)));
            set("beta", self.reg.map(|x| json!(x)));
        }
        m
    }

    /// The `[name]` table of the config file, as config fields.
    fn file_section(&self, name: &str) -> anyhow::Result<Map<String, Value>> {
        let Some(path) = &self.config else {
            return Ok(Map::new());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the config file", path.display()))?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("{}: not valid TOML", path.display()))?;
        match table.get(name).map(serde_json::to_value).transpose()? {
            None => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m),
            Some(_) => anyhow::bail!("{}: [{name}] must be a table", path.display()),
        }
    }

    /// `base` with the config file's and the flags' settings laid over it.
    fn resolve<F: Serialize + DeserializeOwned>(
        &self,
        kind: ModelKind,
        base: F,
    ) -> anyhow::Result<F> {
        let name = kind.name();
        let file = self.file_section(name)?;
        let cfg = with_params(&base, &file).with_context(|| {
            let path = self
                .config
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string());
            format!("{path}: bad [{name}] table")
        })?;
        with_params(&cfg, &self.overrides(kind)).with_context(|| format!("bad flags for {name}"))
    }
}

/// Something to do with a model configuration of any type.
pub trait ModelVisitor {
    /// What the visit returns.
    type Output;
    /// Runs with the resolved configuration of the model called `name`.
    fn visit<F>(&mut self, name: &str, config: F) -> anyhow::Result<Self::Output>
    where
        F: Fit + Serialize + DeserializeOwned + Clone;
}

/// Resolves the configuration of `kind` and hands it to `visitor`.
pub fn with_model<V: ModelVisitor>(
    kind: ModelKind,
    args: &ModelArgs,
    visitor: &mut V,
) -> anyhow::Result<V::Output> {
    let name = kind.name();
    let report = args.preset == Some(Preset::Report);
    match kind {
        ModelKind::Constant => visitor.visit(name, args.resolve(kind, ConstantConfig::default())?),
        ModelKind::GlobalMean => {
            visitor.visit(name, args.resolve(kind, GlobalMeanConfig::default())?)
        }
        ModelKind::Popular => visitor.visit(name, args.resolve(kind, PopularConfig::default())?),
        ModelKind::Bias => {
            let cfg = args.resolve(kind, BiasConfig::default())?;
            cfg.validate()?;
            visitor.visit(name, cfg)
        }
        ModelKind::Knn => {
            let base = if report {
                KnnConfig::report()
            } else {
                KnnConfig::default()
            };
            let cfg = args.resolve(kind, base)?;
            cfg.validate()?;
            let name = if report { "knn-report" } else { name };
            visitor.visit(name, cfg)
        }
        ModelKind::MfSgd => {
            let base = if report {
                SgdConfig::report()
            } else {
                SgdConfig::default()
            };
            let cfg = args.resolve(kind, base)?;
            cfg.validate()?;
            let name = if report { "mf-sgd-report" } else { name };
            visitor.visit(name, cfg)
        }
        ModelKind::MfDense => {
            // The dense optimiser is the report's own; its preset is its default.
            let cfg = args.resolve(kind, DenseGdConfig::default())?;
            cfg.validate()?;
            visitor.visit(name, cfg)
        }
        ModelKind::Autoencoder => {
            let (base, name) = match args.preset {
                Some(Preset::Report) => (AutoencoderConfig::report(), "autoencoder-report"),
                Some(Preset::ReportDeep) => {
                    (AutoencoderConfig::report_deep(), "autoencoder-report-deep")
                }
                None => (AutoencoderConfig::default(), name),
            };
            let cfg = args.resolve(kind, base)?;
            cfg.validate()?;
            visitor.visit(name, cfg)
        }
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
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the grid file", path.display()))?;
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
    };
    match grid {
        Value::Object(m) => m,
        _ => unreachable!("grids are objects"),
    }
}
