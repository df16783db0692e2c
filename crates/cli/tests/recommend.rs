//! `train`, `recommend` (by user and by a new user's ratings), `similar`,
//! `predict` and `movies` on small data built here, and on ml-latest-small
//! when `MOVIELENS_DIR` is set.

use std::collections::HashSet;
use std::path::Path;

use crate::util::{data_dir, movierec, stderr, stdout, tiny_dataset};

/// Small-model flags for each kind, so that the tests stay fast.
fn kind_flags(kind: &str) -> Vec<&'static str> {
    match kind {
        "knn" => vec!["--model", "knn", "--k", "10"],
        "mf-sgd" => vec!["--model", "mf-sgd", "--factors", "4", "--epochs", "5"],
        "autoencoder" => vec!["--model", "autoencoder", "--hidden", "8", "--epochs", "3"],
        "autoencoder-user" => vec![
            "--model",
            "autoencoder",
            "--hidden",
            "8",
            "--epochs",
            "3",
            "--user-based",
        ],
        _ => vec!["--model", "bias"],
    }
}

/// A tiny dataset whose movies alternate between two genre sets.
fn dataset(dir: &Path) {
    tiny_dataset(dir, 60);
    let mut movies = String::from("movieId,title,genres\n");
    for m in 1..=41u32 {
        let genres = if m.is_multiple_of(2) {
            "Drama"
        } else {
            "Comedy|Romance"
        };
        movies.push_str(&format!("{m},\"Movie {m}, The ({})\",{genres}\n", 1950 + m));
    }
    std::fs::write(dir.join("movies.csv"), movies).unwrap();
}

fn train(data: &Path, kind: &str, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "train",
        "--quiet",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(kind_flags(kind));
    args.extend_from_slice(extra);
    let o = movierec(&args);
    assert_eq!(o.status.code(), Some(0), "{kind}: {}", stderr(&o));
    assert!(stdout(&o).contains("fitted on"), "{}", stdout(&o));
}

/// Runs `movierec recommend --model <model>` with `args`.
fn recommend(model: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["recommend", "--model", model];
    all.extend_from_slice(args);
    movierec(&all)
}

fn json(o: &std::process::Output) -> Vec<serde_json::Value> {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    serde_json::from_str::<serde_json::Value>(&stdout(o))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Movies user `u` rated in `tiny_dataset`.
fn rated_by(u: u32) -> HashSet<u64> {
    (1..=40u32)
        .filter(|m| !(u * 7 + m * 3).is_multiple_of(5))
        .map(u64::from)
        .collect()
}

/// Rows are best first, ties by movie id, scores on the scale, none rated.
fn check_rows(rows: &[serde_json::Value], rated: &HashSet<u64>, n: usize) {
    assert_eq!(rows.len(), n, "{rows:?}");
    let mut prev: Option<(f64, u64)> = None;
    for r in rows {
        let id = r["movie_id"].as_u64().unwrap();
        let score = r["score"].as_f64().unwrap();
        assert!(!rated.contains(&id), "movie {id} was rated");
        assert!((0.5..=5.0).contains(&score), "{score}");
        assert!(r["title"].as_str().unwrap().starts_with("Movie "), "{r}");
        assert!(r["year"].as_i64().is_some());
        assert!(!r["genres"].as_array().unwrap().is_empty());
        assert_ne!(id, 41, "movie 41 has no rating");
        if let Some((ps, pid)) = prev {
            assert!(ps > score || (ps == score && pid < id), "order: {rows:?}");
        }
        prev = Some((score, id));
    }
}

#[test]
fn every_kind_trains_saves_and_recommends_unseen_movies() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    for kind in ["bias", "knn", "mf-sgd", "autoencoder", "autoencoder-user"] {
        let file = dir.path().join(format!("{kind}.mrec"));
        train(dir.path(), kind, &file, &[]);
        let f = file.to_str().unwrap();
        // User 3 rated 32 of the 40 movies: 8 are left.
        let rows = json(&recommend(f, &["--user", "3", "--top", "5", "--json"]));
        check_rows(&rows, &rated_by(3), 5);
        let all = json(&recommend(f, &["--user", "3", "--top", "50", "--json"]));
        assert!(all.len() <= 8 && all.len() >= 5, "{kind}: {}", all.len());
        // The table names the columns.
        let o = recommend(f, &["--user", "3"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).contains("| movie_id | title | year | genres | score |"));
        // Filters: no Drama, and a --min-ratings no movie reaches.
        let rows = json(&recommend(
            f,
            &["--user", "3", "--exclude-genre", "drama", "--json"],
        ));
        assert!(!rows.is_empty());
        assert!(rows
            .iter()
            .all(|r| r["movie_id"].as_u64().unwrap() % 2 == 1));
        let o = recommend(f, &["--user", "3", "--min-ratings", "1000"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("no movie left"), "{}", stderr(&o));
        // An unknown user: how many users the model knows.
        let o = recommend(f, &["--user", "999"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains("knows 60 users"), "{}", stderr(&o));
    }
}

#[test]
fn a_new_users_ratings_fold_in_by_id_and_title() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let ratings = dir.path().join("me.csv");
    std::fs::write(
        &ratings,
        "movie,rating\nMovie 2, The (1952),5\n3,1.5\nmovie 30,4\nMOVIE 7, THE (1957),4.5\n",
    )
    .unwrap();
    let r = ratings.to_str().unwrap();
    let rated: HashSet<u64> = [2, 3, 30, 7].into_iter().collect();
    for kind in ["bias", "knn", "mf-sgd", "autoencoder-user"] {
        let file = dir.path().join(format!("{kind}.mrec"));
        train(dir.path(), kind, &file, &[]);
        let rows = json(&recommend(
            file.to_str().unwrap(),
            &["--ratings", r, "--json"],
        ));
        check_rows(&rows, &rated, 10);
    }
    // The item-based autoencoder says why it cannot.
    let file = dir.path().join("ae.mrec");
    train(dir.path(), "autoencoder", &file, &[]);
    let o = recommend(file.to_str().unwrap(), &["--ratings", r]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot fold in"), "{}", stderr(&o));
}

#[test]
fn bad_ratings_files_name_the_file_line_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let file = dir.path().join("bias.mrec");
    train(dir.path(), "bias", &file, &[]);
    let f = file.to_str().unwrap();
    let cases = [
        ("movie,rating\nmovie 1,4\n", ":2", "matches 11 movies"),
        (
            "movie,rating\nNo Such Film,4\n",
            ":2",
            "no movie title matches",
        ),
        ("movie,rating\n2,9\n", ":2", "not a number in 0.5..5"),
        (
            "movie,rating\n2,4\n3,4\n2,3\n",
            ":4",
            "rated twice (first on line 2)",
        ),
        ("film,stars\n2,4\n", ":1", "header must be `movie,rating`"),
    ];
    for (text, line, what) in cases {
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, text).unwrap();
        let o = recommend(f, &["--ratings", path.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        let e = stderr(&o);
        assert!(
            e.contains(&format!("bad.csv{line}")) && e.contains(what),
            "{text}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn damaged_model_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let file = dir.path().join("mf.mrec");
    train(dir.path(), "mf-sgd", &file, &[]);
    let bytes = std::fs::read(&file).unwrap();
    let bad = dir.path().join("bad.mrec");
    let b = bad.to_str().unwrap();
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    for (content, what) in [
        (bytes[..bytes.len() / 2].to_vec(), "truncated"),
        (flipped, "checksum"),
        (b"userId,movieId\n".to_vec(), "not a movierec model file"),
    ] {
        std::fs::write(&bad, content).unwrap();
        let o = recommend(b, &["--user", "1"]);
        assert_eq!(o.status.code(), Some(1));
        let e = stderr(&o);
        assert!(e.contains("bad.mrec") && e.contains(what), "{e}");
    }
    let o = recommend("/nonexistent/m.mrec", &["--user", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/m.mrec: cannot read"));
}

#[test]
fn similar_movies_by_each_kind() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    for kind in ["knn", "mf-sgd", "autoencoder"] {
        let file = dir.path().join(format!("{kind}.mrec"));
        train(dir.path(), kind, &file, &[]);
        let o = movierec(&[
            "similar",
            "--model",
            file.to_str().unwrap(),
            "--movie",
            "Movie 4, The (1954)",
            "--top",
            "5",
            "--json",
        ]);
        let rows = json(&o);
        assert_eq!(rows.len(), 5, "{kind}");
        let mut prev = f64::INFINITY;
        for r in &rows {
            assert_ne!(r["movie_id"], 4);
            let s = r["similarity"].as_f64().unwrap();
            assert!(
                s <= prev && (-1.0..=1.0 + 1e-6).contains(&s),
                "{kind}: {rows:?}"
            );
            prev = s;
            assert!(r["support"].as_u64().unwrap() > 0);
        }
    }
    let file = dir.path().join("bias.mrec");
    train(dir.path(), "bias", &file, &[]);
    let o = movierec(&["similar", "--model", file.to_str().unwrap(), "--movie", "4"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no movie vectors"), "{}", stderr(&o));
}

#[test]
fn predict_scores_pairs_in_order_with_fallback_for_unknown_ids() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let file = dir.path().join("mf.mrec");
    train(dir.path(), "mf-sgd", &file, &["--holdout"]);
    let pairs = dir.path().join("pairs.csv");
    std::fs::write(&pairs, "user,item,rating\n1,2,4\n999,2,3\n1,41,3\n5,5,2\n").unwrap();
    let out = dir.path().join("out/pred.csv");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o = movierec(&[
        "predict",
        "--model",
        file.to_str().unwrap(),
        "--pairs",
        pairs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 with an unknown user or movie"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "user,item,prediction");
    assert_eq!(lines.len(), 5);
    for (l, pair) in lines[1..].iter().zip(["1,2,", "999,2,", "1,41,", "5,5,"]) {
        assert!(l.starts_with(pair), "{l}");
        let p: f32 = l.rsplit(',').next().unwrap().parse().unwrap();
        assert!((0.5..=5.0).contains(&p));
    }
    // A bad line names the file and line.
    std::fs::write(&pairs, "user,item\n1,2\nx,3\n").unwrap();
    let o = movierec(&[
        "predict",
        "--model",
        file.to_str().unwrap(),
        "--pairs",
        pairs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("pairs.csv:3: user id \"x\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn movies_search_lists_ids_years_genres_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let d = dir.path().to_str().unwrap();
    let rows = json(&movierec(&[
        "movies", "--data", d, "--search", "MOVIE 4", "--json",
    ]));
    let ids: Vec<u64> = rows
        .iter()
        .map(|r| r["movie_id"].as_u64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![4, 40, 41]);
    let m41 = rows.iter().find(|r| r["movie_id"] == 41).unwrap();
    assert_eq!(m41["ratings"], 0);
    assert_eq!(m41["year"], 1991);
    let o = movierec(&["movies", "--data", d, "--search", "zzz"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn holdout_keeps_the_test_split_out() {
    let dir = tempfile::tempdir().unwrap();
    dataset(dir.path());
    let file = dir.path().join("b.mrec");
    let o = movierec(&[
        "train",
        "--quiet",
        "--data",
        dir.path().to_str().unwrap(),
        "--model",
        "bias",
        "--holdout",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // 60 users x 32 ratings; 10% held out.
    assert!(
        stdout(&o).contains("fitted on 1728 ratings"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("held out"));
}

/// The "done when": on ml-latest-small every kind recommends 10
/// unseen movies with titles for user 1, and five titles fold in for MF,
/// KNN and the user-based autoencoder.
#[test]
fn ml_latest_small_recommends_for_user_1_and_for_five_titles() {
    let Some(data) = data_dir("the real-data recommend test") else {
        return;
    };
    let text = std::fs::read_to_string(data.join("ratings.csv")).unwrap();
    let seen: HashSet<u64> = text
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("1,"))
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(seen.len() > 200);
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine.csv");
    std::fs::write(
        &mine,
        "movie,rating\nToy Story (1995),5\n\"Matrix, The (1999)\",4.5\nStar Wars: Episode IV - A New Hope (1977),5\nPulp Fiction (1994),2\nForrest Gump (1994),3.5\n",
    )
    .unwrap();
    let five: HashSet<u64> = [1, 2571, 260, 296, 356].into_iter().collect();
    let mf = ["--model", "mf-sgd", "--factors", "16", "--epochs", "10"];
    let ae_user = [
        "--model",
        "autoencoder",
        "--user-based",
        "--hidden",
        "32",
        "--epochs",
        "5",
    ];
    let ae_item = ["--model", "autoencoder", "--hidden", "32", "--epochs", "5"];
    let knn = ["--model", "knn"];
    let bias = ["--model", "bias"];
    let kinds: [(&str, &[&str], bool); 5] = [
        ("bias", &bias, false),
        ("knn", &knn, true),
        ("mf", &mf, true),
        ("ae-user", &ae_user, true),
        ("ae-item", &ae_item, false),
    ];
    for (name, flags, folds) in kinds {
        let file = dir.path().join(format!("{name}.mrec"));
        let mut args = vec![
            "train",
            "--quiet",
            "--data",
            data.to_str().unwrap(),
            "--out",
            file.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let o = movierec(&args);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let f = file.to_str().unwrap();
        let rows = json(&recommend(f, &["--user", "1", "--json"]));
        assert_eq!(rows.len(), 10, "{name}");
        for r in &rows {
            assert!(
                !seen.contains(&r["movie_id"].as_u64().unwrap()),
                "{name}: {r}"
            );
            assert!(!r["title"].as_str().unwrap().is_empty());
        }
        if folds {
            let rows = json(&recommend(
                f,
                &["--ratings", mine.to_str().unwrap(), "--json"],
            ));
            assert_eq!(rows.len(), 10, "{name}");
            for r in &rows {
                assert!(
                    !five.contains(&r["movie_id"].as_u64().unwrap()),
                    "{name}: {r}"
                );
                assert!(!r["title"].as_str().unwrap().is_empty());
            }
        }
    }
}
