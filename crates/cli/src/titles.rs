//! Finding a movie by what a person types: an id, the catalogue's exact
//! title, or a spelling of it. MovieLens writes `Terminator, The (1984)` and
//! `WALL·E (2008)`; people type `The Terminator (1984)` and `WALL-E`. Both
//! sides are reduced to one key (ASCII, lower case, leading article restored,
//! punctuation dropped) before they are compared.

use anyhow::bail;
use movierec_core::text::shown;

use crate::store::CatalogMovie;

/// Articles MovieLens moves to the end of a title (`Matrix, The`).
const ARTICLES: [&str; 16] = [
    "the", "a", "an", "les", "la", "le", "l'", "il", "el", "das", "der", "die", "los", "las", "lo",
    "i",
];

/// The comparison key of a title: transliterated to ASCII, lower case, a
/// trailing `, The` put back in front, everything but letters and digits a
/// single space. `Terminator, The (1984)` and `the terminator (1984)` give
/// the same key, and so do `WALL·E (2008)` and `WALL-E (2008)`.
pub fn title_key(title: &str) -> String {
    let ascii = deunicode::deunicode(title).to_lowercase();
    let (base, year) = match ascii.trim_end().rsplit_once(" (") {
        Some((b, y)) if y.len() == 5 && y[..4].bytes().all(|c| c.is_ascii_digit()) => {
            (b.to_string(), format!(" {}", &y[..4]))
        }
        _ => (ascii.trim_end().to_string(), String::new()),
    };
    let base = match base.rsplit_once(", ") {
        Some((rest, article)) if ARTICLES.contains(&article.trim()) => {
            format!("{} {rest}", article.trim())
        }
        _ => base,
    };
    let mut key = String::with_capacity(base.len() + year.len());
    for c in (base + &year).chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with(' ') {
            key.push(' ');
        }
    }
    key.trim_end().to_string()
}

/// The movie that `text` names in `catalog`, tried in order: a raw id that
/// `known` accepts, the exact title, the title ignoring case, the same
/// [`title_key`], then (for text that is not a number) the one title whose
/// key contains the text's key.
/// Two movies sharing a title (`Emma (1996)`) are an error that lists them
/// with their ids, never a silent pick.
pub fn find_movie(
    text: &str,
    catalog: &[CatalogMovie],
    known: impl Fn(u64) -> bool,
) -> anyhow::Result<u64> {
    let text = text.trim();
    if text.is_empty() {
        bail!("empty movie name");
    }
    if let Ok(id) = text.parse::<u64>() {
        if known(id) {
            return Ok(id);
        }
    }
    let numeric = text.parse::<u64>().is_ok();
    let lower = text.to_lowercase();
    let key = title_key(text);
    let tiers: [&dyn Fn(&CatalogMovie) -> bool; 4] = [
        &|m| m.title == text,
        &|m| m.title.to_lowercase() == lower,
        &|m| !key.is_empty() && title_key(&m.title) == key,
        // A number is an id, not a part of a title (`99` is in every 1990s year).
        &|m| !numeric && !key.is_empty() && title_key(&m.title).contains(&key),
    ];
    for matches in tiers {
        let found: Vec<&CatalogMovie> = catalog.iter().filter(|m| matches(m)).collect();
        match found.as_slice() {
            [] => continue,
            [m] => return Ok(m.id),
            many => bail!("{}", ambiguous(text, many)),
        }
    }
    if numeric {
        bail!("no movie has id {text}");
    }
    bail!(
        "no movie title matches \"{}\" (try `movierec movies --search`)",
        shown(text, 60)
    )
}

/// The message for a name that fits several movies: the first ten with ids.
fn ambiguous(text: &str, many: &[&CatalogMovie]) -> String {
    let list: Vec<String> = many
        .iter()
        .take(10)
        .map(|m| format!("{} (id {})", shown(&m.title, 60), m.id))
        .collect();
    let more = if many.len() > 10 {
        format!(" and {} more", many.len() - 10)
    } else {
        String::new()
    };
    format!(
        "\"{}\" matches {} movies: {}{more}; give the id",
        shown(text, 60),
        many.len(),
        list.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn movie(id: u64, title: &str) -> CatalogMovie {
        CatalogMovie {
            id,
            title: title.into(),
            year: None,
            genres: Vec::new(),
        }
    }

    #[test]
    fn keys_agree_across_spellings() {
        assert_eq!(title_key("Terminator, The (1984)"), "the terminator 1984");
        assert_eq!(title_key("The Terminator (1984)"), "the terminator 1984");
        assert_eq!(title_key("WALL·E (2008)"), title_key("WALL-E (2008)"));
        assert_eq!(
            title_key("Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
            "amelie fabuleux destin d amelie poulain le 2001"
        );
        assert_eq!(title_key("  "), "");
    }

    #[test]
    fn finds_by_spelling_and_refuses_to_guess() {
        let catalog = [
            movie(1, "Terminator, The (1984)"),
            movie(2, "WALL·E (2008)"),
            movie(3, "Emma (1996)"),
            movie(4, "Emma (1996)"),
            movie(5, "Terminator 2: Judgment Day (1991)"),
        ];
        let find = |t: &str| find_movie(t, &catalog, |id| id <= 5);
        assert_eq!(find("The Terminator (1984)").unwrap(), 1);
        assert_eq!(find("WALL-E (2008)").unwrap(), 2);
        assert_eq!(find("wall-e").unwrap(), 2);
        assert_eq!(find("5").unwrap(), 5);
        let e = find("Emma (1996)").unwrap_err().to_string();
        assert!(
            e.contains("matches 2 movies") && e.contains("id 3") && e.contains("id 4"),
            "{e}"
        );
        let e = find("terminator").unwrap_err().to_string();
        assert!(e.contains("matches 2 movies"), "{e}");
        let e = find("\u{1b}[2Jzzz").unwrap_err().to_string();
        assert!(!e.chars().any(char::is_control), "{e}");
        assert!(find("99")
            .unwrap_err()
            .to_string()
            .contains("no movie has id 99"));
    }
}
