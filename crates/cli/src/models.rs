//! The one place that names every model: `--model` values, their
//! configurations (defaults, then `--config FILE.toml`, then flags) and the
//! dispatch from a name to a generic function over `Fit`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use movierec_core::{BiasConfig, ConstantConfig, Fit, GlobalMeanConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The models `movierec` can fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// The report's constant 3.0 for every pair.
    Constant,
    /// The mean training rating for every pair.
    GlobalMean,
    /// Global mean + regularised user and item biases (Surprise's BaselineOnly).
    Bias,
}

impl ModelKind {
    /// The name used in tables and config files.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Constant => "constant",
            ModelKind::GlobalMean => "global-mean",
            ModelKind::Bias => "bias",
        }
    }
}

/// Flags that configure models.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model settings (TOML), one table per model, e.g. `[bias]` then
    /// `reg_user = 10`; flags override the file, the file the defaults.
    #[arg(long, value_name = "FILE.toml")]
    config: Option<PathBuf>,
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
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("{}: cannot read the config file", path.display()))?;
            let table: toml::Table = text
                .parse()
                .with_context(|| format!("{}: not valid TOML", path.display()))?;
            Some((path.clone(), table))
        }
        None => None,
    };
    let name = kind.name();
    match kind {
        ModelKind::Constant => visitor.visit(name, section::<ConstantConfig>(&file, name)?),
        ModelKind::GlobalMean => visitor.visit(name, section::<GlobalMeanConfig>(&file, name)?),
        ModelKind::Bias => {
            let cfg = section::<BiasConfig>(&file, name)?;
            cfg.validate()?;
            visitor.visit(name, cfg)
        }
    }
}

/// The `[name]` table of the config file, or the defaults.
fn section<T: DeserializeOwned + Default>(
    file: &Option<(PathBuf, toml::Table)>,
    name: &str,
) -> anyhow::Result<T> {
    match file {
        Some((path, table)) => match table.get(name) {
            Some(v) => v
                .clone()
                .try_into()
                .with_context(|| format!("{}: bad [{name}] table", path.display())),
            None => Ok(T::default()),
        },
        None => Ok(T::default()),
    }
}

/// The built-in search space of `movierec tune` for each model.
pub fn default_grid(kind: ModelKind) -> serde_json::Map<String, serde_json::Value> {
    let grid = match kind {
        ModelKind::Constant => serde_json::json!({"value": [3.0, 3.5, 4.0]}),
        ModelKind::GlobalMean => serde_json::json!({}),
        ModelKind::Bias => serde_json::json!({
            "reg_user": [2.0, 5.0, 10.0, 15.0, 25.0],
            "reg_item": [2.0, 5.0, 10.0, 15.0, 25.0],
        }),
    };
    match grid {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("grids are objects"),
    }
}
