//! `movierec predict`: score a file of `user,item` pairs with a saved model
//! (as LIBMF's `mf-predict` does), in the file's order; ids the model does
//! not know, and pairs it cannot score, get the model's fallback.

use std::path::PathBuf;

use anyhow::{ensure, Context};
use clap::Args;
use movierec_core::{ItemIdx, UserIdx};
use movierec_eval::write_atomic;
use rayon::prelude::*;

use crate::store::Saved;

/// Arguments of `movierec predict`.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A model saved by `movierec train`.
    #[arg(long, value_name = "FILE.mrec")]
    model: PathBuf,
    /// Pairs to score: CSV with a header holding `user` and `item` (raw
    /// ids); other columns are ignored.
    #[arg(long, value_name = "FILE.csv")]
    pairs: PathBuf,
    /// Where to write `user,item,prediction` (clamped to the scale), written
    /// to a temporary file, then renamed.
    #[arg(long, value_name = "FILE.csv")]
    out: PathBuf,
}

/// Runs `movierec predict`.
pub fn run(args: PredictArgs, quiet: bool) -> anyhow::Result<()> {
    let saved = Saved::load(&args.model)?;
    let show = args.pairs.display();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(&args.pairs)
        .with_context(|| format!("{show}: cannot read"))?;
    let header = rdr
        .headers()
        .with_context(|| format!("{show}:1: bad header"))?
        .clone();
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(cu), Some(ci)) = (col("user"), col("item")) else {
        anyhow::bail!(
            "{show}:1: the header must name `user` and `item` columns, got `{}`",
            header.iter().collect::<Vec<_>>().join(",")
        );
    };
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("{show}: bad CSV"))?;
        let line = rec.position().map_or(0, |p| p.line());
        let field = |c: usize, what: &str| -> anyhow::Result<u64> {
            let f = rec.get(c).unwrap_or("");
            f.parse()
                .with_context(|| format!("{show}:{line}: {what} id {f:?} is not an integer"))
        };
        pairs.push((field(cu, "user")?, field(ci, "item")?));
    }
    ensure!(!pairs.is_empty(), "{show}: no pair to score");
    let scored: Vec<(f32, bool)> = pairs
        .par_iter()
        .map(|&(u, i)| {
            let (u, i) = (
                saved.users.get(u).map(UserIdx),
                saved.items.get(i).map(ItemIdx),
            );
            (saved.estimate(u, i), u.is_some() && i.is_some())
        })
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["user", "item", "prediction"])?;
    for (&(u, i), &(p, _)) in pairs.iter().zip(&scored) {
        w.write_record([u.to_string(), i.to_string(), p.to_string()])?;
    }
    write_atomic(&args.out, &w.into_inner().context("writing predictions")?)?;
    let unknown = scored.iter().filter(|s| !s.1).count();
    if !quiet {
        eprintln!(
            "{}: {} predictions ({unknown} with an unknown user or movie, from the fallback)",
            args.out.display(),
            pairs.len()
        );
    }
    Ok(())
}
