//! `movierec movies`: find movies by title, with id, year, genres and
//! number of ratings, e.g. to write a `recommend --ratings` file.

use std::path::PathBuf;

use anyhow::ensure;
use clap::Args;
use movierec_data::{load, LoadOptions};
use serde::Serialize;

use crate::recommend::movie_cells;

/// Arguments of `movierec movies`.
#[derive(Debug, Args)]
pub struct MoviesArgs {
    /// Text to find in titles (case-insensitive).
    #[arg(long)]
    search: String,
    /// Dataset folder.
    #[arg(long, env = "MOVIELENS_DIR", default_value = "data/ml-latest-small")]
    data: PathBuf,
    /// At most this many movies, the most rated first.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct MovieRow {
    movie_id: u64,
    title: String,
    year: Option<i32>,
    genres: Vec<String>,
    ratings: usize,
}

/// Runs `movierec movies`.
pub fn run(args: MoviesArgs, _quiet: bool) -> anyhow::Result<()> {
    let ds = load(&args.data, &LoadOptions::default())?;
    ensure!(
        !ds.catalog.is_empty(),
        "{}: the dataset has no movie titles",
        args.data.display()
    );
    let mut counts = vec![0usize; ds.items.len()];
    for r in &ds.ratings.entries {
        counts[r.item.get()] += 1;
    }
    let needle = args.search.to_lowercase();
    let mut rows: Vec<MovieRow> = ds
        .catalog
        .iter()
        .filter(|m| m.title.to_lowercase().contains(&needle))
        .map(|m| MovieRow {
            movie_id: m.id,
            title: m.title.clone(),
            year: m.year,
            genres: m.genres.clone(),
            ratings: ds.items.get(m.id).map_or(0, |i| counts[i as usize]),
        })
        .collect();
    rows.sort_by(|a, b| b.ratings.cmp(&a.ratings).then(a.movie_id.cmp(&b.movie_id)));
    rows.truncate(args.limit);
    if args.json {
        return crate::emit_json(&rows);
    }
    ensure!(
        !rows.is_empty(),
        "no movie title contains {:?}",
        args.search
    );
    let mut t = String::from(
        "| movie_id | title | year | genres | ratings |\n| ---: | --- | ---: | --- | ---: |\n",
    );
    for r in &rows {
        t.push_str(&format!(
            "| {} | {} | {} |\n",
            r.movie_id,
            movie_cells(&r.title, r.year, &r.genres),
            r.ratings
        ));
    }
    Ok(crate::emit(&t)?)
}
