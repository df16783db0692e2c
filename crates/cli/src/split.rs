//! `movierec split`: write one split of the protocol as a given train/test
//! pair of files, so that outside tools can be scored on the very same split.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use movierec_core::Rating;
use movierec_data::{make_split, Dataset, LoadOptions, Protocol, SplitConfig};
use movierec_eval::write_atomic;

/// Arguments of `movierec split`.
#[derive(Debug, Args)]
pub struct SplitArgs {
    /// Dataset folder.
    #[arg(long, env = "MOVIELENS_DIR", default_value = "data/ml-latest-small")]
    data: PathBuf,
    /// Protocol: holdout, kfold, user-holdout or temporal.
    #[arg(long, default_value = "holdout")]
    protocol: Protocol,
    /// Folds of kfold (the same as `evaluate --folds`).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Which repeat (or fold) of the protocol to write.
    #[arg(long, default_value_t = 0)]
    repeat: usize,
    /// Share of ratings held out as test.
    #[arg(long, default_value_t = 0.1)]
    test_fraction: f64,
    /// Seed of the split (the same as `evaluate --seed`).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder: train.csv (train + validation) and test.csv, header
    /// `user,item,rating`, raw ids.
    #[arg(long)]
    out: PathBuf,
}

/// Refuses a split setting changed from its default that `cfg.protocol`
/// does not use (`--folds 10` without kfold, `--repeats 3` with kfold or
/// temporal, `--test-fraction` with kfold), which the split would
/// otherwise ignore without a word.
///
/// # Errors
/// One line naming the flag and the protocols that use it.
pub fn check_used(cfg: &SplitConfig) -> anyhow::Result<()> {
    let d = SplitConfig::default();
    let p = cfg.protocol;
    let kfold = p == Protocol::Kfold;
    anyhow::ensure!(
        cfg.folds == d.folds || kfold,
        "--folds applies to --protocol kfold, not {p}"
    );
    anyhow::ensure!(
        cfg.repeats == d.repeats || matches!(p, Protocol::Holdout | Protocol::UserHoldout),
        "--repeats applies to holdout, user-holdout and report; {p} makes {}",
        if kfold {
            "one split per fold (--folds)"
        } else {
            "one split"
        }
    );
    anyhow::ensure!(
        cfg.test_fraction == d.test_fraction || !kfold,
        "--test-fraction does not apply to kfold: each fold is the test part once (--folds)"
    );
    Ok(())
}

/// Runs `movierec split`.
pub fn run(args: SplitArgs, quiet: bool) -> anyhow::Result<()> {
    let cfg = SplitConfig {
        protocol: args.protocol,
        test_fraction: args.test_fraction,
        folds: args.folds,
        seed: args.seed,
        ..SplitConfig::default()
    };
    check_used(&cfg)?;
    let ds = crate::load_data(&args.data, &LoadOptions::default(), quiet)?;
    let (train, test) = train_test(&ds, &cfg, args.repeat)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the folder", args.out.display()))?;
    for (name, positions) in [("train.csv", &train), ("test.csv", &test)] {
        let path = args.out.join(name);
        write_atomic(&path, &to_csv(&ds, positions)?)?;
        crate::emit(&format!(
            "{}: {} ratings\n",
            path.display(),
            positions.len()
        ))?;
    }
    Ok(())
}

/// Positions of repeat `repeat`'s training ratings (train + validation, in
/// file order) and test ratings under `cfg`'s protocol, test fraction, folds
/// and seed (its repeats and validation fraction are set here): what
/// `movierec split` writes, and the Python package's `split`.
pub fn train_test(
    ds: &Dataset,
    cfg: &SplitConfig,
    repeat: usize,
) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    let cfg = SplitConfig {
        validation_fraction: 0.0,
        repeats: repeat.saturating_add(1),
        ..cfg.clone()
    };
    let split = make_split(&ds.ratings, ds.timestamps.as_deref(), &cfg, repeat)?;
    let mut train = split.train;
    train.extend_from_slice(&split.validation);
    train.sort_unstable();
    Ok((train, split.test))
}

fn to_csv(ds: &Dataset, positions: &[usize]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["user", "item", "rating"])?;
    for &p in positions {
        let Rating { user, item, value } = ds.ratings.entries[p];
        w.write_record([
            ds.users.raw(user.0).to_string(),
            ds.items.raw(item.0).to_string(),
            value.to_string(),
        ])?;
    }
    Ok(w.into_inner()?)
}
