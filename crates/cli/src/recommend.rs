//! `movierec recommend`: the top-N movies for a user of a saved model, or
//! for a new user from their own ratings (fold-in, no retraining).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use clap::Args;
use movierec_core::text::shown;
use movierec_core::{ItemIdx, ScoreKind};
use movierec_data::{load, LoadOptions};
use serde::Serialize;

use crate::store::{CatalogMovie, Saved};

/// Arguments of `movierec recommend`.
#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// A model saved by `movierec train`.
    #[arg(long, value_name = "FILE.mrec")]
    model: PathBuf,
    /// The user (raw MovieLens id) to recommend for.
    #[arg(long, required_unless_present = "ratings", conflicts_with = "ratings")]
    user: Option<u64>,
    /// A new user's ratings (CSV with header `movie,rating`; movie is an id
    /// or a title), folded into the model without retraining.
    #[arg(long, value_name = "FILE.csv")]
    ratings: Option<PathBuf>,
    /// How many movies.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Titles and genres from this dataset folder instead of the catalogue
    /// saved with the model.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Leave out movies of this genre (repeatable; case-insensitive).
    #[arg(long, value_name = "GENRE")]
    exclude_genre: Vec<String>,
    /// Only movies with at least N training ratings (at least 1 always).
    #[arg(long, value_name = "N", default_value_t = 1)]
    min_ratings: u32,
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
}

/// One recommended (or similar) movie, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Raw movie id.
    pub movie_id: u64,
    /// Title with year ("" when the catalogue lacks the movie).
    pub title: String,
    /// Release year.
    pub year: Option<i32>,
    /// Genres.
    pub genres: Vec<String>,
    /// Predicted rating, clamped to the scale (a ranking model's own score).
    pub score: f32,
    /// Why: the user's rated movies that contributed most to the score,
    /// largest first (empty where the model cannot attribute its scores).
    pub reasons: Vec<Reason>,
}

/// One of the user's rated movies behind a recommendation.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    /// Raw movie id.
    pub movie_id: u64,
    /// Title with year.
    pub title: String,
    /// Its contribution to the recommended movie's score, in the model's units.
    pub weight: f32,
}

/// How many rated movies a recommendation names as its reasons.
const REASONS: usize = 3;

/// Runs `movierec recommend`.
pub fn run(args: RecommendArgs, quiet: bool) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    let mut saved = Saved::load(&args.model)?;
    let loaded = start.elapsed();
    if let Some(dir) = &args.data {
        saved.catalog = catalog_of(dir)?;
    }
    let n = saved.items.len();
    let mut scores = vec![f32::NAN; n];
    let mut seen = vec![false; n];
    let rated: Vec<(ItemIdx, f32)> = match (&args.user, &args.ratings) {
        (Some(raw), _) => {
            let u = saved.user(*raw)?;
            saved.model.score_into(u, &mut scores);
            let (items, values) = saved.train.row(u);
            for &i in items {
                seen[i as usize] = true;
            }
            items
                .iter()
                .zip(values)
                .map(|(&i, &r)| (ItemIdx(i), r))
                .collect()
        }
        (None, Some(path)) => {
            let rated = read_ratings(path, &saved, quiet)?;
            saved
                .model
                .score_new_user(&rated, &mut scores)
                .with_context(|| format!("{}", path.display()))?;
            for &(i, _) in &rated {
                seen[i.get()] = true;
            }
            rated
        }
        (None, None) => bail!("give --user ID or --ratings FILE"),
    };
    let exclude = genres_to_exclude(&args.exclude_genre, &saved.catalog)?;
    let catalog = catalog_index(&saved.catalog);
    let cands = ranked(&saved, &scores, &seen, args.min_ratings, args.top, |id| {
        exclude.is_empty()
            || catalog
                .get(&id)
                .is_none_or(|m| !m.genres.iter().any(|g| exclude.contains(&g.to_lowercase())))
    });
    let rows: Vec<Row> = cands
        .iter()
        .map(|&(shown, id, i)| {
            let mut r = row(&catalog, id, shown);
            r.reasons = saved
                .model
                .reasons(&rated, ItemIdx(i as u32), REASONS)
                .into_iter()
                .map(|(j, weight)| {
                    let movie_id = saved.items.raw(j.0);
                    Reason {
                        movie_id,
                        title: catalog
                            .get(&movie_id)
                            .map_or_else(String::new, |m| m.title.clone()),
                        weight,
                    }
                })
                .collect();
            r
        })
        .collect();
    ensure!(
        !rows.is_empty() || args.top == 0,
        "no movie left to recommend (all rated, filtered out, or without a score)"
    );
    let listed = start.elapsed() - loaded;
    print_rows(&rows, "score", args.json)?;
    if !quiet {
        eprintln!(
            "note: model loaded in {:.3} s; {} movies scored, ranked and explained in {:.1} ms",
            loaded.as_secs_f64(),
            rows.len(),
            listed.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// The `--exclude-genre` values in lower case, each checked against the
/// catalogue's genres: a misspelt genre (`horor`) would exclude nothing.
fn genres_to_exclude(given: &[String], catalog: &[CatalogMovie]) -> anyhow::Result<Vec<String>> {
    if given.is_empty() {
        return Ok(Vec::new());
    }
    let mut known: Vec<String> = catalog
        .iter()
        .flat_map(|m| m.genres.iter().map(|g| g.to_lowercase()))
        .collect();
    known.sort_unstable();
    known.dedup();
    given
        .iter()
        .map(|g| {
            let lower = g.trim().to_lowercase();
            ensure!(
                known.contains(&lower),
                "--exclude-genre: no genre \"{}\" in the catalogue; its genres: {}",
                shown(g, 40),
                known.join(", ")
            );
            Ok(lower)
        })
        .collect()
}

/// The `top` movies of `scores` for a user, best first, as `(shown score,
/// movie id, item)`: movies not `seen`, with at least `min` training
/// ratings (and one at least), a finite score and `keep(movie id)`; ranked
/// by the raw score ([`best_first`]), shown clamped to the rating scale
/// unless the model only ranks.
pub fn ranked(
    saved: &Saved,
    scores: &[f32],
    seen: &[bool],
    min: u32,
    top: usize,
    keep: impl Fn(u64) -> bool,
) -> Vec<(f32, u64, usize)> {
    let counts = saved.train.item_counts(scores.len());
    let min = min.max(1);
    let mut cands: Vec<(f32, u64, usize)> = (0..scores.len())
        .filter(|&i| !seen[i] && counts[i] >= min && scores[i].is_finite())
        .map(|i| (scores[i], saved.items.raw(i as u32), i))
        .filter(|&(_, id, _)| keep(id))
        .collect();
    best_first(&mut cands, top);
    if saved.model.score_kind() != ScoreKind::Ranking {
        for c in &mut cands {
            c.0 = saved.meta.scale.clamp(c.0);
        }
    }
    cands
}

/// Keeps the `top` best of `(raw estimate, movie id, item)` candidates,
/// best raw estimate first, ties by movie id (a partial sort, then the head
/// sorted). Ranking by the clamped rating instead would tie every estimate
/// above the top of the scale and list those by id.
pub fn best_first(cands: &mut Vec<(f32, u64, usize)>, top: usize) {
    let order =
        |a: &(f32, u64, usize), b: &(f32, u64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    if top < cands.len() {
        if top == 0 {
            cands.clear();
        } else {
            cands.select_nth_unstable_by(top - 1, order);
            cands.truncate(top);
        }
    }
    cands.sort_unstable_by(order);
}

/// Reads a new user's `movie,rating` file into dense (item, rating) pairs.
/// The rating is the last field, so a title with commas may go unquoted.
fn read_ratings(path: &Path, saved: &Saved, quiet: bool) -> anyhow::Result<Vec<(ItemIdx, f32)>> {
    let show = path.display();
    let text = crate::read_text(path, "the ratings file")?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .with_context(|| format!("{show}:1: bad header"))?
        .clone();
    ensure!(
        header.len() == 2
            && header[0].trim().eq_ignore_ascii_case("movie")
            && header[1].trim().eq_ignore_ascii_case("rating"),
        "{show}:1: the header must be `movie,rating`, got `{}`",
        shown(&header.iter().collect::<Vec<_>>().join(","), 80)
    );
    let scale = saved.meta.scale;
    let mut out: Vec<(ItemIdx, f32)> = Vec::new();
    let mut lines: HashMap<u64, u64> = HashMap::new();
    let mut unknown = Vec::new();
    // Which movie each line named, shown once the whole file has read well
    // (a bad file gets its one error line alone).
    let mut matched = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("{show}: bad CSV"))?;
        let line = rec.position().map_or(0, |p| p.line());
        ensure!(
            rec.len() >= 2,
            "{show}:{line}: expected 2 fields (movie,rating), got {}",
            rec.len()
        );
        // The rating is the last field; an unquoted title may hold commas.
        let last = rec.len() - 1;
        let movie = rec.iter().take(last).collect::<Vec<_>>().join(",");
        let id = resolve_movie(&movie, saved).with_context(|| format!("{show}:{line}"))?;
        let title = saved.movie(id).map_or("", |m| m.title.as_str());
        matched.push(format!(
            "{show}:{line}: \"{}\" is {} (id {id})",
            shown(movie.trim(), 60),
            shown(title, 80)
        ));
        let rating = rec[last].trim();
        let r: f32 = rating
            .parse()
            .ok()
            .filter(|r| scale.contains(*r))
            .with_context(|| {
                format!(
                    "{show}:{line}: rating \"{}\" is not a number in {}..{}",
                    shown(rating, 40),
                    scale.min,
                    scale.max
                )
            })?;
        if let Some(first) = lines.insert(id, line) {
            bail!("{show}:{line}: movie {id} is rated twice (first on line {first})");
        }
        match saved.items.get(id) {
            Some(i) => out.push((ItemIdx(i), r)),
            None => unknown.push(id),
        }
    }
    ensure!(
        !out.is_empty(),
        "{show}: no rated movie the model knows (it knows the {} movies with training ratings)",
        saved.items.len()
    );
    if !quiet {
        for m in &matched {
            eprintln!("{m}");
        }
    }
    if !unknown.is_empty() {
        eprintln!(
            "note: {show}: {} movie(s) without training ratings add nothing: {:?}",
            unknown.len(),
            unknown
        );
    }
    Ok(out)
}

/// A movie named by id or title in a saved model's catalogue (see
/// [`crate::titles::find_movie`]).
pub fn resolve_movie(text: &str, saved: &Saved) -> anyhow::Result<u64> {
    crate::titles::find_movie(text, &saved.catalog, |id| {
        saved.movie(id).is_some() || saved.items.get(id).is_some()
    })
}

/// The catalogue of a dataset folder.
pub fn catalog_of(dir: &Path) -> anyhow::Result<Vec<CatalogMovie>> {
    let ds = load(dir, &LoadOptions::default())?;
    Ok(CatalogMovie::all_of(&ds.catalog))
}

/// The catalogue by movie id.
pub fn catalog_index(catalog: &[CatalogMovie]) -> HashMap<u64, &CatalogMovie> {
    catalog.iter().map(|m| (m.id, m)).collect()
}

/// A row for movie `id`.
pub fn row(catalog: &HashMap<u64, &CatalogMovie>, id: u64, score: f32) -> Row {
    let m = catalog.get(&id);
    Row {
        movie_id: id,
        title: m.map_or_else(String::new, |m| m.title.clone()),
        year: m.and_then(|m| m.year),
        genres: m.map_or_else(Vec::new, |m| m.genres.clone()),
        score,
        reasons: Vec::new(),
    }
}

/// The title, year and genres cells of a markdown movie row (`|` in a
/// title escaped, no year empty).
pub fn movie_cells(title: &str, year: Option<i32>, genres: &[String]) -> String {
    format!(
        "{} | {} | {}",
        title.replace('|', "\\|"),
        year.map_or_else(String::new, |y| y.to_string()),
        genres.join(", ")
    )
}

/// Prints rows as a markdown table (the score column named `what`), or JSON.
pub fn print_rows(rows: &[Row], what: &str, json: bool) -> anyhow::Result<()> {
    if json {
        return crate::emit_json(&rows);
    }
    let why = rows.iter().any(|r| !r.reasons.is_empty());
    let mut t = format!("| # | movie_id | title | year | genres | {what} |");
    t.push_str(if why { " because you rated |\n" } else { "\n" });
    t.push_str("| ---: | ---: | --- | ---: | --- | ---: |");
    t.push_str(if why { " --- |\n" } else { "\n" });
    for (k, r) in rows.iter().enumerate() {
        t.push_str(&format!(
            "| {} | {} | {} | {:.3} |",
            k + 1,
            r.movie_id,
            movie_cells(&r.title, r.year, &r.genres),
            r.score
        ));
        if why {
            let names: Vec<String> = r
                .reasons
                .iter()
                .map(|x| x.title.replace('|', "\\|"))
                .collect();
            t.push_str(&format!(" {} |", names.join("; ")));
        }
        t.push('\n');
    }
    Ok(crate::emit(&t)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_raw_estimate_above_the_scale_then_by_id() {
        let mut cands = vec![
            (5.2, 10, 0),
            (6.1, 30, 1),
            (4.0, 5, 2),
            (5.2, 7, 3),
            (5.0, 1, 4),
        ];
        best_first(&mut cands, 4);
        let ids: Vec<u64> = cands.iter().map(|c| c.1).collect();
        assert_eq!(ids, [30, 7, 10, 1]);
        best_first(&mut cands, 0);
        assert!(cands.is_empty());
    }
}
