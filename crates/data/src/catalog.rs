//! The movie catalog: titles, years, genres, tags and links, keyed by raw
//! movie id. It covers every movie the dataset lists, rated or not; only
//! rated movies enter the index space of the ratings.

use std::collections::HashMap;
use std::path::Path;

use crate::fields::{decode, parse_u64, show, split_into, Lines};
use crate::ratings::{csv_reader, expect_header, next_record, open};
use crate::{DataError, Result};

/// One movie of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Movie {
    /// Raw MovieLens movie id.
    pub id: u64,
    /// The full MovieLens title, year included, e.g. `Toy Story (1995)`.
    pub title: String,
    /// Release year, from the title's trailing `(YYYY)`; `None` when absent.
    pub year: Option<i32>,
    /// Genres, e.g. `["Adventure", "Animation"]`; empty for "(no genres listed)".
    pub genres: Vec<String>,
}

impl Movie {
    /// A movie whose year is read from its title.
    pub fn new(id: u64, title: impl Into<String>, genres: Vec<String>) -> Self {
        let title = title.into();
        let year = year_from_title(&title);
        Self {
            id,
            title,
            year,
            genres,
        }
    }
}

/// External ids of a movie (links.csv).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    /// IMDb id as written, leading zeros kept (e.g. `0114709`).
    pub imdb: Option<String>,
    /// TMDb id.
    pub tmdb: Option<u64>,
}

/// Movies by raw id, in file order, with tags and links when the dataset
/// has them. Empty for a generic CSV.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    movies: Vec<Movie>,
    index: HashMap<u64, usize>,
    tags: HashMap<u64, Vec<String>>,
    links: HashMap<u64, Link>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a movie, replacing one with the same id.
    pub fn insert(&mut self, movie: Movie) {
        match self.index.get(&movie.id) {
            Some(&i) => self.movies[i] = movie,
            None => {
                self.index.insert(movie.id, self.movies.len());
                self.movies.push(movie);
            }
        }
    }

    /// The movie with raw id `id`.
    pub fn get(&self, id: u64) -> Option<&Movie> {
        self.index.get(&id).map(|&i| &self.movies[i])
    }

    /// Number of movies.
    pub fn len(&self) -> usize {
        self.movies.len()
    }

    /// True when the catalog holds no movie.
    pub fn is_empty(&self) -> bool {
        self.movies.is_empty()
    }

    /// Movies in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Movie> {
        self.movies.iter()
    }

    /// Distinct tags users gave the movie, in order of first appearance.
    pub fn tags(&self, id: u64) -> &[String] {
        self.tags.get(&id).map_or(&[], Vec::as_slice)
    }

    /// External ids of the movie, when links.csv has it.
    pub fn link(&self, id: u64) -> Option<&Link> {
        self.links.get(&id)
    }

    fn add_tag(&mut self, id: u64, tag: String) {
        let tags = self.tags.entry(id).or_default();
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }

    /// Inserts a movie read at `path:line`, refusing a repeated id.
    fn insert_new(
        &mut self,
        movie: Movie,
        path: &Path,
        line: u64,
        lines: &mut Vec<u64>,
    ) -> Result<()> {
        if let Some(&i) = self.index.get(&movie.id) {
            return Err(DataError::parse(
                path,
                line,
                format!(
                    "duplicate movie id {} (lines {} and {line})",
                    movie.id, lines[i]
                ),
            ));
        }
        lines.push(line);
        self.insert(movie);
        Ok(())
    }

    /// Reads an ml-latest folder's `movies.csv`, plus `tags.csv` and
    /// `links.csv` when present.
    pub(crate) fn read_ml_latest(dir: &Path) -> Result<Self> {
        let mut cat = Self::new();
        let path = dir.join("movies.csv");
        if path.exists() {
            cat.read_movies_csv(&path)?;
        }
        let tags = dir.join("tags.csv");
        if tags.exists() {
            cat.read_tags_csv(&tags)?;
        }
        let links = dir.join("links.csv");
        if links.exists() {
            cat.read_links_csv(&links)?;
        }
        Ok(cat)
    }

    fn read_movies_csv(&mut self, path: &Path) -> Result<()> {
        let mut rdr = csv_reader(path, b',', None)?;
        let mut rec = csv::ByteRecord::new();
        expect_header(&mut rdr, &mut rec, path, &["movieId", "title", "genres"])?;
        let mut lines = Vec::new();
        while let Some(line) = next_record(&mut rdr, &mut rec, path)? {
            if rec.len() != 3 {
                return Err(DataError::parse(
                    path,
                    line,
                    format!(
                        "expected 3 fields (movieId,title,genres), found {}",
                        rec.len()
                    ),
                ));
            }
            let id = movie_id(path, line, &rec[0])?;
            let genres = split_genres(&decode(&rec[2]));
            self.insert_new(
                Movie::new(id, decode(&rec[1]), genres),
                path,
                line,
                &mut lines,
            )?;
        }
        Ok(())
    }

    fn read_tags_csv(&mut self, path: &Path) -> Result<()> {
        let mut rdr = csv_reader(path, b',', None)?;
        let mut rec = csv::ByteRecord::new();
        expect_header(
            &mut rdr,
            &mut rec,
            path,
            &["userId", "movieId", "tag", "timestamp"],
        )?;
        while let Some(line) = next_record(&mut rdr, &mut rec, path)? {
            if rec.len() != 4 {
                return Err(DataError::parse(
                    path,
                    line,
                    format!(
                        "expected 4 fields (userId,movieId,tag,timestamp), found {}",
                        rec.len()
                    ),
                ));
            }
            let id = movie_id(path, line, &rec[1])?;
            self.add_tag(id, decode(rec[2].trim_ascii()));
        }
        Ok(())
    }

    fn read_links_csv(&mut self, path: &Path) -> Result<()> {
        let mut rdr = csv_reader(path, b',', None)?;
        let mut rec = csv::ByteRecord::new();
        expect_header(&mut rdr, &mut rec, path, &["movieId", "imdbId", "tmdbId"])?;
        while let Some(line) = next_record(&mut rdr, &mut rec, path)? {
            if rec.len() != 3 {
                return Err(DataError::parse(
                    path,
                    line,
                    format!(
                        "expected 3 fields (movieId,imdbId,tmdbId), found {}",
                        rec.len()
                    ),
                ));
            }
            let id = movie_id(path, line, &rec[0])?;
            let imdb = rec[1].trim_ascii();
            let tmdb = rec[2].trim_ascii();
            let tmdb = if tmdb.is_empty() {
                None
            } else {
                Some(parse_u64(tmdb).ok_or_else(|| {
                    DataError::parse(path, line, format!("malformed tmdbId `{}`", show(tmdb)))
                })?)
            };
            let imdb = (!imdb.is_empty()).then(|| decode(imdb));
            self.links.insert(id, Link { imdb, tmdb });
        }
        Ok(())
    }

    /// Reads ml-100k's `u.item` (Latin-1, `|`-separated: id, title, dates,
    /// URL, then 19 genre flags named by `u.genre` when present).
    pub(crate) fn read_ml100k(dir: &Path) -> Result<Self> {
        let mut cat = Self::new();
        let path = dir.join("u.item");
        if !path.exists() {
            return Ok(cat);
        }
        let mut names: Vec<String> = ML100K_GENRES.iter().map(|s| s.to_string()).collect();
        let genre_path = dir.join("u.genre");
        if genre_path.exists() {
            names = read_u_genre(&genre_path)?;
        }
        let mut lines = Lines::new(std::io::BufReader::new(open(&path)?));
        let mut seen = Vec::new();
        while let Some((line, text)) = lines.next_line(&path)? {
            let mut f: [&[u8]; 24] = [b""; 24];
            if text.trim_ascii().is_empty() {
                continue;
            }
            let n = split_into(text, b"|", &mut f);
            if n != 5 + names.len() || n > f.len() {
                return Err(DataError::parse(
                    &path,
                    line,
                    format!(
                        "expected {} `|`-separated fields, found {n}",
                        5 + names.len()
                    ),
                ));
            }
            let id = movie_id(&path, line, f[0])?;
            let mut genres = Vec::new();
            for (flag, name) in f[5..n].iter().zip(&names) {
                match flag.trim_ascii() {
                    b"0" => {}
                    // "unknown" is ml-100k's "(no genres listed)": no genre.
                    b"1" if name == "unknown" => {}
                    b"1" => genres.push(name.clone()),
                    other => {
                        return Err(DataError::parse(
                            &path,
                            line,
                            format!("malformed genre flag `{}`: expected 0 or 1", show(other)),
                        ))
                    }
                }
            }
            let title: String = f[1].iter().map(|&b| char::from(b)).collect(); // Latin-1
            let mut movie = Movie::new(id, title, genres);
            if movie.year.is_none() {
                // The release date, e.g. "01-Jan-1995", when the title has no year.
                movie.year = std::str::from_utf8(f[2])
                    .ok()
                    .and_then(|d| d.rsplit('-').next()?.parse().ok());
            }
            cat.insert_new(movie, &path, line, &mut seen)?;
        }
        Ok(cat)
    }

    /// Reads ml-1m/10m's `movies.dat` (`id::title::genres`) and, for ml-10m,
    /// `tags.dat` (`user::movie::tag::timestamp`).
    pub(crate) fn read_dat(dir: &Path) -> Result<Self> {
        let mut cat = Self::new();
        let path = dir.join("movies.dat");
        if path.exists() {
            let mut lines = Lines::new(std::io::BufReader::new(open(&path)?));
            let mut seen = Vec::new();
            while let Some((line, text)) = lines.next_line(&path)? {
                let mut f: [&[u8]; 3] = [b""; 3];
                if text.trim_ascii().is_empty() {
                    continue;
                }
                let n = split_into(text, b"::", &mut f);
                if n != 3 {
                    return Err(DataError::parse(
                        &path,
                        line,
                        format!("expected 3 `::`-separated fields (id, title, genres), found {n}"),
                    ));
                }
                let id = movie_id(&path, line, f[0])?;
                let movie = Movie::new(id, decode(f[1]), split_genres(&decode(f[2])));
                cat.insert_new(movie, &path, line, &mut seen)?;
            }
        }
        let tags = dir.join("tags.dat");
        if tags.exists() {
            let mut lines = Lines::new(std::io::BufReader::new(open(&tags)?));
            while let Some((line, text)) = lines.next_line(&tags)? {
                let mut f: [&[u8]; 4] = [b""; 4];
                if text.trim_ascii().is_empty() {
                    continue;
                }
                let n = split_into(text, b"::", &mut f);
                if n != 4 {
                    return Err(DataError::parse(
                        &tags,
                        line,
                        format!("expected 4 `::`-separated fields (user, movie, tag, timestamp), found {n}"),
                    ));
                }
                let id = movie_id(&tags, line, f[1])?;
                cat.add_tag(id, decode(f[2].trim_ascii()));
            }
        }
        Ok(cat)
    }
}

/// The genre flags of ml-100k's u.item, in order (its `u.genre`).
const ML100K_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

fn read_u_genre(path: &Path) -> Result<Vec<String>> {
    let mut lines = Lines::new(std::io::BufReader::new(open(path)?));
    let mut names = Vec::new();
    while let Some((line, text)) = lines.next_line(path)? {
        if text.trim_ascii().is_empty() {
            continue;
        }
        let (name, idx) = text
            .iter()
            .position(|&b| b == b'|')
            .map(|i| (&text[..i], &text[i + 1..]))
            .ok_or_else(|| DataError::parse(path, line, "expected `name|index`"))?;
        if parse_u64(idx) != Some(names.len() as u64) {
            return Err(DataError::parse(
                path,
                line,
                format!(
                    "genre index `{}` out of order: expected {}",
                    show(idx),
                    names.len()
                ),
            ));
        }
        names.push(decode(name));
    }
    if names.len() > 19 {
        return Err(DataError::parse(
            path,
            names.len() as u64,
            "more than 19 genres",
        ));
    }
    Ok(names)
}

fn movie_id(path: &Path, line: u64, field: &[u8]) -> Result<u64> {
    parse_u64(field).ok_or_else(|| {
        DataError::parse(
            path,
            line,
            format!(
                "malformed movie id `{}`: expected an unsigned integer",
                show(field)
            ),
        )
    })
}

fn split_genres(field: &str) -> Vec<String> {
    let field = field.trim();
    if field.is_empty() || field == "(no genres listed)" {
        return Vec::new();
    }
    field.split('|').map(|g| g.trim().to_owned()).collect()
}

/// The year of a MovieLens title: the first four digits of a trailing
/// parenthesised group, so `Heat (1995)`, `Babylon 5 (1994) ` and
/// `Berlin Alexanderplatz (1980-1981)` all work; `None` when there is none.
pub fn year_from_title(title: &str) -> Option<i32> {
    let t = title.trim_end().strip_suffix(')')?;
    let inner = &t[t.rfind('(')? + 1..];
    let b = inner.trim_start().as_bytes();
    let four = b.get(..4)?;
    if !four.iter().all(u8::is_ascii_digit) || b.get(4).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(four).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years() {
        assert_eq!(year_from_title("Toy Story (1995)"), Some(1995));
        assert_eq!(year_from_title("Babylon 5 (1994) "), Some(1994));
        assert_eq!(year_from_title("Stranger Things (2016–2019)"), Some(2016));
        assert_eq!(year_from_title("Berlin (1980-1981)"), Some(1980));
        assert_eq!(year_from_title("Ready Player One"), None);
        assert_eq!(year_from_title("The Others (a.k.a. Los otros)"), None);
        assert_eq!(year_from_title("Number (12345)"), None);
        assert_eq!(year_from_title("(199"), None);
        assert_eq!(year_from_title(")"), None);
    }

    #[test]
    fn movies_tags_links() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("movies.csv"),
            "movieId,title,genres\n1,\"Good, the Bad (1966)\",Action|Western\n2,Untitled,(no genres listed)\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("tags.csv"),
            "userId,movieId,tag,timestamp\n1,1,classic,5\n2,1,classic,6\n2,1,\"long, slow\",7\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("links.csv"),
            "movieId,imdbId,tmdbId\n1,0060196,429\n2,0000002,\n",
        )
        .unwrap();
        let c = Catalog::read_ml_latest(d.path()).unwrap();
        assert_eq!(c.len(), 2);
        let m = c.get(1).unwrap();
        assert_eq!(m.title, "Good, the Bad (1966)");
        assert_eq!(m.year, Some(1966));
        assert_eq!(m.genres, ["Action", "Western"]);
        assert!(c.get(2).unwrap().genres.is_empty());
        assert_eq!(c.tags(1), ["classic", "long, slow"]);
        assert!(c.tags(2).is_empty());
        assert_eq!(c.link(1).unwrap().imdb.as_deref(), Some("0060196"));
        assert_eq!(c.link(2).unwrap().tmdb, None);
        assert_eq!(c.iter().map(|m| m.id).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn ml100k_item_latin1_and_dat_movies() {
        let d = tempfile::tempdir().unwrap();
        let mut item =
            b"1|Caf\xe9 Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                .to_vec();
        item.extend_from_slice(
            b"2|No Year|01-Jan-1996||http://x|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n",
        );
        std::fs::write(d.path().join("u.item"), item).unwrap();
        let c = Catalog::read_ml100k(d.path()).unwrap();
        let m = c.get(1).unwrap();
        assert_eq!(m.title, "Café Story (1995)");
        assert_eq!(m.genres, ["Animation", "Children's", "Comedy"]);
        assert_eq!(c.get(2).unwrap().year, Some(1996));
        assert!(c.get(2).unwrap().genres.is_empty());

        std::fs::write(
            d.path().join("movies.dat"),
            "1::Heat (1995)::Action|Crime\n",
        )
        .unwrap();
        std::fs::write(d.path().join("tags.dat"), "7::1::heist::5\n").unwrap();
        let c = Catalog::read_dat(d.path()).unwrap();
        assert_eq!(c.get(1).unwrap().genres, ["Action", "Crime"]);
        assert_eq!(c.tags(1), ["heist"]);
    }
}
