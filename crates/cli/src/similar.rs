//! `movierec similar`: the movies nearest to one movie in a saved model:
//! KNN's own similarities, or the cosine of MF item factors or autoencoder
//! item codes; each with its co-rating support (users who rated both).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use movierec_core::ItemIdx;
use serde::Serialize;

use crate::recommend::{catalog_index, movie_cells, resolve_movie};
use crate::store::Saved;

/// Arguments of `movierec similar`.
#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// A model saved by `movierec train` (knn, mf-sgd, mf-dense or autoencoder).
    #[arg(long, value_name = "FILE.mrec")]
    model: PathBuf,
    /// The movie: an id, an exact title with its year, or a unique part of a title.
    #[arg(long)]
    movie: String,
    /// How many movies.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// One similar movie, as `--json` prints it.
#[derive(Debug, Serialize)]
struct SimilarRow {
    movie_id: u64,
    title: String,
    year: Option<i32>,
    genres: Vec<String>,
    similarity: f32,
    support: u32,
}

/// Runs `movierec similar`.
pub fn run(args: SimilarArgs, _quiet: bool) -> anyhow::Result<()> {
    let saved = Saved::load(&args.model)?;
    let id = resolve_movie(&args.movie, &saved).context("--movie")?;
    let Some(item) = saved.items.get(id).map(ItemIdx) else {
        bail!("movie {id} has no training rating in the model: nothing to compare it with");
    };
    let found = saved.model.similar_items(item, args.top)?;
    let support = co_raters(&saved, item);
    let catalog = catalog_index(&saved.catalog);
    let rows: Vec<SimilarRow> = found
        .iter()
        .map(|&(i, s)| {
            let id = saved.items.raw(i.0);
            let m = catalog.get(&id);
            SimilarRow {
                movie_id: id,
                title: m.map_or_else(String::new, |m| m.title.clone()),
                year: m.and_then(|m| m.year),
                genres: m.map_or_else(Vec::new, |m| m.genres.clone()),
                similarity: s,
                support: support[i.get()],
            }
        })
        .collect();
    if args.json {
        return crate::emit_json(&rows);
    }
    let title = catalog.get(&id).map_or(String::new(), |m| m.title.clone());
    let mut t = format!(
        "Movies most similar to {title} ({id}), {} model:\n\n| # | movie_id | title | year | genres | similarity | support |\n| ---: | ---: | --- | ---: | --- | ---: | ---: |\n",
        saved.meta.name
    );
    for (k, r) in rows.iter().enumerate() {
        t.push_str(&format!(
            "| {} | {} | {} | {:.4} | {} |\n",
            k + 1,
            r.movie_id,
            movie_cells(&r.title, r.year, &r.genres),
            r.similarity,
            r.support
        ));
    }
    Ok(crate::emit(&t)?)
}

/// For every item, the number of users who rated both it and `item`.
fn co_raters(saved: &Saved, item: ItemIdx) -> Vec<u32> {
    let mut counts = vec![0u32; saved.items.len()];
    for u in 0..saved.users.len() {
        let (items, _) = saved.train.row(movierec_core::UserIdx(u as u32));
        if items.binary_search(&item.0).is_ok() {
            for &i in items {
                counts[i as usize] += 1;
            }
        }
    }
    counts
}
