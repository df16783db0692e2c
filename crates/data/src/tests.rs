//! Tests of `load` across formats: the bad-input table, format detection
//! and a write/read round trip.

use std::path::Path;

use movierec_core::{IdMap, Rating, RatingScale};
use proptest::prelude::*;

use super::*;

const H: &str = "userId,movieId,rating,timestamp\n";

fn write_files(dir: &Path, files: &[(&str, &[u8])]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

fn generic(cols: &str, delimiter: u8, has_header: bool, scale: RatingScale) -> Option<GenericCsv> {
    Some(GenericCsv {
        columns: cols.parse().unwrap(),
        delimiter,
        has_header,
        scale,
    })
}

/// One row of the bad-input table: what, files, path to load inside the
/// folder (the folder itself when `None`), generic settings, expected text.
type Case = (
    &'static str,
    Vec<(&'static str, Vec<u8>)>,
    Option<&'static str>,
    Option<GenericCsv>,
    &'static str,
);

/// One test, one table: files in a fresh folder -> the error `load` must give.
#[test]
fn bad_input_table() {
    let ml = RatingScale::new(0.5, 5.0);
    let five = RatingScale::new(1.0, 5.0);
    let r = |body: &str| format!("{H}{body}").into_bytes();
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // (what, files, path to load inside the folder, generic settings, expected text)
        ("missing folder", vec![], Some("nope"), None, "nope: No such file"),
        ("no ratings file", vec![("movies.csv", b"movieId,title,genres\n".to_vec())], None, None, "no MovieLens ratings here"),
        ("empty file", vec![("ratings.csv", vec![])], None, None, "ratings.csv:1: empty file (expected header `userId,movieId,rating,timestamp`)"),
        ("header only", vec![("ratings.csv", r(""))], None, None, "ratings.csv:2: no ratings"),
        ("wrong header", vec![("ratings.csv", b"user,movie,rating,timestamp\n1,1,4,1\n".to_vec())], None, None, "ratings.csv:1: header does not match: expected `userId,movieId,rating,timestamp`, found `user,movie,rating,timestamp`"),
        ("missing column", vec![("ratings.csv", r("1,1,4.0,5\n1,2,3.0\n"))], None, None, "ratings.csv:3: expected 4 fields (userId,movieId,rating,timestamp), found 3"),
        ("extra column", vec![("ratings.csv", r("1,1,4.0,5,9\n"))], None, None, "ratings.csv:2: expected 4 fields (userId,movieId,rating,timestamp), found 5"),
        ("malformed user", vec![("ratings.csv", r("a,1,4.0,5\n"))], None, None, "ratings.csv:2: malformed userId `a`"),
        ("negative movie", vec![("ratings.csv", r("1,-3,4.0,5\n"))], None, None, "ratings.csv:2: malformed movieId `-3`"),
        ("malformed rating", vec![("ratings.csv", r("1,1,4.x,5\n"))], None, None, "ratings.csv:2: malformed rating `4.x`"),
        ("empty rating", vec![("ratings.csv", r("1,1,,5\n"))], None, None, "ratings.csv:2: malformed rating ``"),
        ("NaN rating", vec![("ratings.csv", r("1,1,4,5\n1,2,NaN,5\n"))], None, None, "ratings.csv:3: rating NaN is not finite"),
        ("infinite rating", vec![("ratings.csv", r("1,1,inf,5\n"))], None, None, "ratings.csv:2: rating inf is not finite"),
        ("rating too high", vec![("ratings.csv", r("1,1,5.5,5\n"))], None, None, "ratings.csv:2: rating 5.5 is outside the scale 0.5..5"),
        ("rating zero", vec![("ratings.csv", r("1,1,0,5\n"))], None, None, "ratings.csv:2: rating 0 is outside the scale 0.5..5"),
        ("malformed timestamp", vec![("ratings.csv", r("1,1,4,yesterday\n"))], None, None, "ratings.csv:2: malformed timestamp `yesterday`"),
        ("line after a blank line", vec![("ratings.csv", r("1,1,4.0,5\n\n1,2,x,6\n"))], None, None, "ratings.csv:4: malformed rating `x`"),
        ("duplicate pair", vec![("ratings.csv", r("1,2,4.0,5\n1,3,4.0,5\n1,2,3.0,6\n"))], None, None, "ratings.csv:4: duplicate rating for user 1, movie 2 (lines 2 and 4"),
        ("duplicate after a blank line", vec![("ratings.csv", r("1,2,4.0,5\n\n1,2,3.0,6\n"))], None, None, "ratings.csv:4: duplicate rating for user 1, movie 2 (lines 2 and 4"),
        ("movies header", vec![("ratings.csv", r("1,1,4,5\n")), ("movies.csv", b"id,title,genres\n".to_vec())], None, None, "movies.csv:1: header does not match: expected `movieId,title,genres`"),
        ("movies bad id", vec![("ratings.csv", r("1,1,4,5\n")), ("movies.csv", b"movieId,title,genres\nx,A (1990),Drama\n".to_vec())], None, None, "movies.csv:2: malformed movie id `x`"),
        ("movies duplicate id", vec![("ratings.csv", r("1,1,4,5\n")), ("movies.csv", b"movieId,title,genres\n1,A,Drama\n1,B,Drama\n".to_vec())], None, None, "movies.csv:3: duplicate movie id 1 (lines 2 and 3)"),
        ("movies missing column", vec![("ratings.csv", r("1,1,4,5\n")), ("movies.csv", b"movieId,title,genres\n1,A\n".to_vec())], None, None, "movies.csv:2: expected 3 fields"),
        ("links bad tmdb", vec![("ratings.csv", r("1,1,4,5\n")), ("links.csv", b"movieId,imdbId,tmdbId\n1,0001,x\n".to_vec())], None, None, "links.csv:2: malformed tmdbId `x`"),
        ("tags missing column", vec![("ratings.csv", r("1,1,4,5\n")), ("tags.csv", b"userId,movieId,tag,timestamp\n1,1,fun\n".to_vec())], None, None, "tags.csv:2: expected 4 fields"),
        ("u.data empty", vec![("u.data", vec![])], None, None, "u.data:1: empty file"),
        ("u.data missing field", vec![("u.data", b"1\t2\t3\t4\n1\t2\t3\n".to_vec())], None, None, "u.data:2: expected 4 tab-separated fields (user, movie, rating, timestamp), found 3"),
        ("u.data malformed", vec![("u.data", b"1\tx\t3\t4\n".to_vec())], None, None, "u.data:1: malformed movie id `x`"),
        ("u.data off scale", vec![("u.data", b"1\t2\t0.5\t4\n".to_vec())], None, None, "u.data:1: rating 0.5 is outside the scale 1..5"),
        ("u.data duplicate", vec![("u.data", b"1\t2\t3\t4\n2\t2\t3\t4\n1\t2\t5\t4\n".to_vec())], None, None, "u.data:3: duplicate rating for user 1, movie 2 (lines 1 and 3"),
        ("u.item bad flag", vec![("u.data", b"1\t2\t3\t4\n".to_vec()), ("u.item", b"2|T (1990)|d||u|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|2\n".to_vec())], None, None, "u.item:1: malformed genre flag `2`"),
        ("ratings.dat malformed", vec![("ratings.dat", b"1::2::3::4\n1::3::x::4\n".to_vec())], None, None, "ratings.dat:2: malformed rating `x`"),
        ("ratings.dat missing field", vec![("ratings.dat", b"1::2::3\n".to_vec())], None, None, "ratings.dat:1: expected 4 `::`-separated fields"),
        ("movies.dat malformed", vec![("ratings.dat", b"1::2::3::4\n".to_vec()), ("movies.dat", b"2::Title (1990)\n".to_vec())], None, None, "movies.dat:1: expected 3 `::`-separated fields"),
        ("generic missing file", vec![], Some("g.csv"), generic("0,1,2", b',', false, ml), "g.csv: No such file"),
        ("generic empty", vec![("g.csv", vec![])], Some("g.csv"), generic("u,i,r", b',', true, ml), "g.csv:1: empty file"),
        ("generic malformed", vec![("g.csv", b"u;i;r\n1;2;x\n".to_vec())], Some("g.csv"), generic("u,i,r", b';', true, ml), "g.csv:2: malformed rating `x`"),
        ("generic missing column name", vec![("g.csv", b"u,i,r\n1,2,3\n".to_vec())], Some("g.csv"), generic("u,i,stars", b',', true, ml), "g.csv:1: no column `stars` in header `u,i,r`"),
        ("generic short row", vec![("g.csv", b"1,2,3\n1,2\n".to_vec())], Some("g.csv"), generic("0,1,2", b',', false, ml), "g.csv:2: expected at least 3 fields, found 2"),
        ("generic off scale", vec![("g.csv", b"1\t2\t0.5\n".to_vec())], Some("g.csv"), generic("0,1,2", b'\t', false, five), "g.csv:1: rating 0.5 is outside the scale 1..5"),
        ("generic duplicate", vec![("g.csv", b"1,2,3\n1,2,4\n".to_vec())], Some("g.csv"), generic("0,1,2", b',', false, ml), "g.csv:2: duplicate rating for user 1, movie 2 (lines 1 and 2"),
    ];
    for (what, files, target, g, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<(&str, &[u8])> = files.iter().map(|(n, t)| (*n, t.as_slice())).collect();
        write_files(dir.path(), &files);
        let path = target.map_or(dir.path().to_path_buf(), |t| dir.path().join(t));
        let opts = LoadOptions {
            generic: g,
            ..LoadOptions::default()
        };
        match load(&path, &opts) {
            Ok(_) => panic!("{what}: loaded, expected an error with `{expected}`"),
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(expected),
                    "{what}: got `{msg}`, expected `{expected}`"
                );
                assert!(!msg.contains('\n'), "{what}: error spans lines: {msg}");
            }
        }
    }
}

#[test]
fn read_progress_counts_every_byte_of_the_ratings_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(H);
    for u in 0..2000 {
        text.push_str(&format!("{u},{},4.0,100\n", u % 7));
    }
    write_files(dir.path(), &[("ratings.csv", text.as_bytes())]);
    for path in [dir.path().to_path_buf(), dir.path().join("ratings.csv")] {
        let opts = LoadOptions::default();
        assert_eq!((opts.progress.read(), opts.progress.total()), (0, 0));
        load(&path, &opts).unwrap();
        let n = text.len() as u64;
        assert_eq!((opts.progress.read(), opts.progress.total()), (n, n));
    }
    // A generic CSV counts too.
    let g = generic(
        "userId,movieId,rating",
        b',',
        true,
        RatingScale::new(0.5, 5.0),
    );
    let opts = LoadOptions {
        generic: g,
        ..LoadOptions::default()
    };
    load(&dir.path().join("ratings.csv"), &opts).unwrap();
    assert_eq!(opts.progress.read(), text.len() as u64);
}

#[test]
fn ml_latest_with_crlf_and_latest_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let text = "userId,movieId,rating,timestamp\r\n7,10,4.0,100\r\n7,20,3.5,90\r\n7,10,2.0,50\r\n";
    write_files(dir.path(), &[("ratings.csv", text.as_bytes())]);
    let opts = LoadOptions {
        on_duplicate: OnDuplicate::Latest,
        ..LoadOptions::default()
    };
    let ds = load(dir.path(), &opts).unwrap();
    assert_eq!(ds.format, Format::MovieLensCsv);
    assert_eq!(
        ds.ratings.entries,
        [Rating::new(0, 0, 4.0), Rating::new(0, 1, 3.5)]
    );
    assert_eq!(ds.timestamps.as_deref(), Some(&[100, 90][..]));
    assert!(ds.catalog.is_empty());
    // A path to the ratings file loads its folder.
    let ds2 = load(&dir.path().join("ratings.csv"), &opts).unwrap();
    assert_eq!(ds2.ratings, ds.ratings);
    assert_eq!(
        "latest".parse::<OnDuplicate>().unwrap(),
        OnDuplicate::Latest
    );
    assert!("newest".parse::<OnDuplicate>().is_err());
}

#[test]
fn ml100k_and_dat_formats() {
    let dir = tempfile::tempdir().unwrap();
    write_files(
        dir.path(),
        &[(
            "u.data",
            b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t1\n",
        )],
    );
    let ds = load(dir.path(), &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::MovieLens100k);
    assert_eq!(
        (ds.users.len(), ds.items.len(), ds.ratings.len()),
        (2, 2, 3)
    );
    assert_eq!(ds.ratings.scale, RatingScale::new(1.0, 5.0));
    assert_eq!(ds.users.raw_ids(), [196, 186]);

    let ml1m = tempfile::tempdir().unwrap();
    write_files(
        ml1m.path(),
        &[(
            "ratings.dat",
            b"1::1193::5::978300760\n1::661::3::978302109\n",
        )],
    );
    let ds = load(ml1m.path(), &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::MovieLensDat);
    assert_eq!(ds.ratings.scale, RatingScale::new(1.0, 5.0));
    let ml10m = tempfile::tempdir().unwrap();
    write_files(
        ml10m.path(),
        &[(
            "ratings.dat",
            b"1::122::5::838985046\n1::185::4.5::838983525\n",
        )],
    );
    let ds = load(ml10m.path(), &LoadOptions::default()).unwrap();
    assert_eq!(ds.ratings.scale, RatingScale::new(0.5, 5.0));
}

#[test]
fn generic_csv_by_name_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("my-ratings.tsv");
    std::fs::write(&p, "ts\tstars\titem\tuser\n9\t4\t100\t1\n8\t2\t200\t1\n").unwrap();
    let opts = LoadOptions {
        generic: generic(
            "user,item,stars,ts",
            b'\t',
            true,
            RatingScale::new(1.0, 5.0),
        ),
        ..LoadOptions::default()
    };
    let ds = load(&p, &opts).unwrap();
    assert_eq!(
        (ds.name.as_str(), ds.format),
        ("my-ratings", Format::Generic)
    );
    assert_eq!(ds.items.raw_ids(), [100, 200]);
    assert_eq!(ds.timestamps.as_deref(), Some(&[9, 8][..]));
    let opts = LoadOptions {
        generic: generic("3,2,1", b'\t', true, RatingScale::new(1.0, 5.0)),
        ..opts
    };
    let ds2 = load(&p, &opts).unwrap();
    assert_eq!(ds2.ratings, ds.ratings);
    assert_eq!(ds2.timestamps, None);
    let e = load(&p, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("not a MovieLens ratings file"), "{e}");
}

/// Distinct (user, movie) pairs with a half-star rating and a timestamp.
fn rows() -> impl Strategy<Value = Vec<(u64, u64, u8, i64)>> {
    proptest::collection::vec((1u64..60, 1u64..400, 1u8..=10, 0i64..2_000_000_000), 1..300)
        .prop_map(|mut v| {
            let mut seen = std::collections::HashSet::new();
            v.retain(|r| seen.insert((r.0, r.1)));
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Ratings written in ml-latest format read back as the same ratings,
    /// timestamps and id maps.
    #[test]
    fn csv_round_trip(rows in rows()) {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from(H);
        let (mut users, mut items) = (IdMap::new(), IdMap::new());
        let mut want = Vec::new();
        for &(u, i, half, t) in &rows {
            let value = f32::from(half) / 2.0;
            text.push_str(&format!("{u},{i},{value:.1},{t}\n"));
            want.push(Rating::new(users.insert(u), items.insert(i), value));
        }
        std::fs::write(dir.path().join("ratings.csv"), text).unwrap();
        let ds = load(dir.path(), &LoadOptions::default()).unwrap();
        prop_assert_eq!(&ds.ratings.entries, &want);
        prop_assert_eq!((ds.ratings.n_users, ds.ratings.n_items), (users.len(), items.len()));
        prop_assert_eq!(&ds.users, &users);
        prop_assert_eq!(&ds.items, &items);
        let ts: Vec<i64> = rows.iter().map(|r| r.3).collect();
        prop_assert_eq!(ds.timestamps, Some(ts));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Columns (a data frame's) read as the same rows in a ratings.csv
    /// file: the same ratings, timestamps and id maps, duplicates resolved
    /// alike (the kept rating where its row is), or the same refusal with
    /// the row in place of the line.
    #[test]
    fn columns_read_as_the_same_file(
        mut rows in rows(),
        dups in proptest::collection::vec((0usize..300, 1u8..=10, 0i64..2_000_000_000), 0..8),
    ) {
        for (at, half, t) in dups {
            let (u, i, _, _) = rows[at % rows.len()];
            rows.push((u, i, half, t));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from(H);
        for &(u, i, half, t) in &rows {
            text.push_str(&format!("{u},{i},{:.1},{t}\n", f32::from(half) / 2.0));
        }
        std::fs::write(dir.path().join("ratings.csv"), text).unwrap();
        let users: Vec<u64> = rows.iter().map(|r| r.0).collect();
        let items: Vec<u64> = rows.iter().map(|r| r.1).collect();
        let values: Vec<f32> = rows.iter().map(|r| f32::from(r.2) / 2.0).collect();
        let times: Vec<i64> = rows.iter().map(|r| r.3).collect();
        let scale = RatingScale::new(0.5, 5.0);
        for on_duplicate in [OnDuplicate::Error, OnDuplicate::Latest] {
            let opts = LoadOptions { on_duplicate, ..LoadOptions::default() };
            let file = load(dir.path(), &opts);
            let cols = Dataset::from_columns(
                "frame", &users, &items, &values, Some(&times), scale, on_duplicate,
            );
            match (file, cols) {
                (Ok(f), Ok(c)) => {
                    prop_assert_eq!(&c.ratings, &f.ratings);
                    prop_assert_eq!(&c.timestamps, &f.timestamps);
                    prop_assert_eq!(&c.users, &f.users);
                    prop_assert_eq!(&c.items, &f.items);
                }
                (
                    Err(DataError::Duplicate { line, first_line, .. }),
                    Err(DataError::Duplicate { line: row, first_line: first_row, .. }),
                ) => prop_assert_eq!((line, first_line), (row + 2, first_row + 2)),
                (f, c) => prop_assert!(false, "file {:?} but columns {:?}", f, c),
            }
        }
    }
}

#[test]
fn columns_of_different_lengths_or_none_are_refused() {
    let s = RatingScale::new(0.5, 5.0);
    let e = Dataset::from_columns(
        "df",
        &[1, 2],
        &[1],
        &[4.0, 3.0],
        None,
        s,
        OnDuplicate::Error,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid config: df: the columns differ in length: 2 users, 1 movies, 2 ratings"
    );
    let e = Dataset::from_columns("df", &[], &[], &[], None, s, OnDuplicate::Error).unwrap_err();
    assert_eq!(e.to_string(), "invalid config: df: no ratings");
    let e =
        Dataset::from_columns("df", &[1], &[1], &[9.0], None, s, OnDuplicate::Error).unwrap_err();
    assert_eq!(e.to_string(), "df:0: rating 9 is outside the scale 0.5..5");
}
