//! `movierec tune`: grid or seeded random search scored on validation sets
//! only, writing `results/<dataset>/tuning-<model>.{md,json}`.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use movierec_core::{rng_for, Fit};
use movierec_data::{Dataset, SplitConfig};
use movierec_eval::{grid, tune, EvalOptions};
use rand::seq::SliceRandom;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::evaluate::{provenance, ProtocolArgs};
use crate::models::{load_grid, with_model, ModelArgs, ModelKind, ModelVisitor};
use crate::progress::Bar;

/// Arguments of `movierec tune`.
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// The model to tune.
    #[arg(long, value_enum)]
    model: ModelKind,
    #[command(flatten)]
    model_args: ModelArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Search space (TOML): under `[MODEL]`, each setting a list of values,
    /// e.g. `[bias]` then `reg_user = [5, 10, 15]`. Default: the model's built-in grid.
    #[arg(long, value_name = "FILE.toml")]
    grid: Option<PathBuf>,
    /// Try only N settings of the grid, drawn with the seed (default: all).
    #[arg(long)]
    trials: Option<usize>,
    /// Folder under which `<dataset>/tuning-<model>.md` and `.json` are written
    /// (`<model>` with its preset, e.g. `mf-sgd-report`). Default `results`,
    /// or `results/quick` with fewer than the default 5 repeats, so that a
    /// quick search never overwrites the committed five-repeat tables.
    #[arg(long)]
    out_dir: Option<PathBuf>,
}

/// Runs `movierec tune`.
pub fn run(args: TuneArgs, quiet: bool, threads: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.protocol.is_report(),
        "tune scores validation sets only; --protocol report is an evaluate option"
    );
    args.model_args.check_flags(&[args.model])?;
    args.protocol.check_split_flags()?;
    let axes = load_grid(args.model, args.grid.as_deref())?;
    let mut trials = grid(&axes);
    if let Some(n) = args.trials {
        if n < trials.len() {
            let mut order: Vec<usize> = (0..trials.len()).collect();
            order.shuffle(&mut rng_for(args.protocol.seed, 0x7475_6e65));
            order.truncate(n);
            order.sort_unstable();
            trials = order.into_iter().map(|i| trials[i].clone()).collect();
        }
    }
    let dataset = args.protocol.load(quiet)?;
    let opts = args.protocol.options(false, threads);
    let mut v = TuneRun {
        dataset: &dataset,
        opts: &opts,
        trials: &trials,
        quiet,
    };
    let mut report = with_model(args.model, &args.model_args, &mut v)?;
    report.provenance = Some(provenance());
    let quick = opts.split.repeats < SplitConfig::default().repeats;
    let dir = crate::out_dir(args.out_dir.as_deref(), quick).join(&dataset.name);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
    for ext in ["md", "json"] {
        report.write(&dir.join(format!("tuning-{}.{ext}", report.model)))?;
    }
    crate::emit(&report.to_markdown())?;
    Ok(())
}

struct TuneRun<'a> {
    dataset: &'a Dataset,
    opts: &'a EvalOptions,
    trials: &'a [serde_json::Map<String, serde_json::Value>],
    quiet: bool,
}

impl ModelVisitor for TuneRun<'_> {
    type Output = movierec_eval::TuningReport;
    fn visit<F>(&mut self, _: ModelKind, name: &str, config: F) -> anyhow::Result<Self::Output>
    where
        F: Fit + Serialize + DeserializeOwned + Clone,
    {
        let mut bar = Bar::new(name, self.quiet);
        let ds = self.dataset;
        let r = tune(
            name,
            &ds.name,
            &config,
            self.trials,
            &ds.ratings,
            ds.timestamps.as_deref(),
            self.opts,
            &mut bar,
        );
        bar.finish();
        Ok(r?)
    }
}
