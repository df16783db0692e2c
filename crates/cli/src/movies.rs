//! `movierec movies`: find movies by title, with id, year, genres and
//! number of ratings, e.g. to write a `recommend --ratings` file.

use std::path::PathBuf;

use anyhow::ensure;
use clap::Args;
use movierec_data::LoadOptions;
use serde::Serialize;

use movierec_core::text::shown;

use crate::recommend::movie_cells;
use crate::store::{CatalogMovie, Saved};
use crate::titles::title_key;

/// Arguments of `movierec movies`.
#[derive(Debug, Args)]
pub struct MoviesArgs {
    /// Text to find in titles: case, accents, punctuation and a leading
    /// "The" do not matter (`the terminator` finds `Terminator, The (1984)`).
    #[arg(long)]
    search: String,
    /// Dataset folder.
    #[arg(long, env = "MOVIELENS_DIR", default_value = "data/ml-latest-small")]
    data: PathBuf,
    /// Search the titles saved in this model file instead of a dataset
    /// folder (rating counts are the model's training ratings).
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    model: Option<PathBuf>,
    /// At most this many movies, the most rated first.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
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
pub fn run(args: MoviesArgs, quiet: bool) -> anyhow::Result<()> {
    let (source, movies) = match &args.model {
        Some(path) => {
            let saved = Saved::load(path)?;
            let counts = saved.train.item_counts(saved.items.len());
            let movies: Vec<(CatalogMovie, usize)> = saved
                .catalog
                .iter()
                .map(|m| {
                    let n = saved.items.get(m.id).map_or(0, |i| counts[i as usize]);
                    (m.clone(), n as usize)
                })
                .collect();
            (path, movies)
        }
        None => {
            let ds = crate::load_data(&args.data, &LoadOptions::default(), quiet)?;
            let mut counts = vec![0usize; ds.items.len()];
            for r in &ds.ratings.entries {
                counts[r.item.get()] += 1;
            }
            let movies = CatalogMovie::all_of(&ds.catalog)
                .into_iter()
                .map(|m| {
                    let n = ds.items.get(m.id).map_or(0, |i| counts[i as usize]);
                    (m, n)
                })
                .collect();
            (&args.data, movies)
        }
    };
    ensure!(
        !movies.is_empty(),
        "{}: no movie titles to search",
        source.display()
    );
    let needle = title_key(&args.search);
    ensure!(
        !needle.is_empty(),
        "--search needs a letter or digit, got \"{}\"",
        shown(&args.search, 40)
    );
    let mut rows: Vec<MovieRow> = movies
        .into_iter()
        .filter(|(m, _)| title_key(&m.title).contains(&needle))
        .map(|(m, ratings)| MovieRow {
            movie_id: m.id,
            title: m.title,
            year: m.year,
            genres: m.genres,
            ratings,
        })
        .collect();
    rows.sort_by(|a, b| b.ratings.cmp(&a.ratings).then(a.movie_id.cmp(&b.movie_id)));
    rows.truncate(args.limit as usize);
    if args.json {
        return crate::emit_json(&rows);
    }
    ensure!(
        !rows.is_empty(),
        "no movie title matches \"{}\"",
        shown(&args.search, 60)
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
