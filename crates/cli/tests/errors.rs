use crate::util::{movierec, stderr};

const HEADER: &str = "userId,movieId,rating,timestamp\n";
const MOVIES: &str = "movieId,title,genres\n1,A (2000),Drama\n2,B (2001),Drama\n";

/// Each bad ratings.csv gives exit code 1 and one line naming the file, the
/// line (where there is one) and the problem.
#[test]
fn bad_ratings_files() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "malformed row",
            "1,2,4.0,100\n1,x,3.0,101\n",
            "ratings.csv:3",
        ),
        ("missing column", "1,2,4.0,100\n1,2\n", "ratings.csv:3"),
        ("rating not finite", "1,2,NaN,100\n", "ratings.csv:2"),
        ("rating outside the scale", "1,2,7.5,100\n", "ratings.csv:2"),
        (
            "duplicate pair",
            "1,2,4.0,100\n3,1,2.0,5\n1,2,3.0,101\n",
            "ratings.csv:4",
        ),
    ];
    for (what, body, place) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ratings.csv"), format!("{HEADER}{body}")).unwrap();
        std::fs::write(dir.path().join("movies.csv"), MOVIES).unwrap();
        let out = movierec(&[
            "evaluate",
            "--quiet",
            "--data",
            dir.path().to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: one line: {err}");
        assert!(err.contains(place), "{what}: names {place}: {err}");
    }
}

#[test]
fn duplicate_names_both_lines_and_latest_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let body = "1,2,4.0,100\n3,1,2.0,5\n1,2,3.0,101\n";
    std::fs::write(dir.path().join("ratings.csv"), format!("{HEADER}{body}")).unwrap();
    std::fs::write(dir.path().join("movies.csv"), MOVIES).unwrap();
    let d = dir.path().to_str().unwrap();
    let err = stderr(&movierec(&["evaluate", "--quiet", "--data", d]));
    assert!(
        err.contains('2') && err.contains('4') && err.contains("duplicate"),
        "{err}"
    );
    let ok = movierec(&[
        "evaluate",
        "--quiet",
        "--data",
        d,
        "--on-duplicate",
        "latest",
        "--repeats",
        "1",
        "--test-fraction",
        "0.4",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
}

#[test]
fn empty_missing_and_misheaded_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    std::fs::write(dir.path().join("movies.csv"), MOVIES).unwrap();
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("empty file", Some(""), "ratings.csv"),
        ("header only", Some(HEADER), "ratings.csv"),
        (
            "wrong header",
            Some("user,movie,stars,time\n1,2,4.0,100\n"),
            "ratings.csv:1",
        ),
        ("missing file", None, "ratings.csv"),
    ];
    for (what, body, place) in cases {
        let path = dir.path().join("ratings.csv");
        match body {
            Some(b) => std::fs::write(&path, b).unwrap(),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
        let out = movierec(&["evaluate", "--quiet", "--data", &d]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
        assert!(err.contains(place), "{what}: {err}");
    }
}

#[test]
fn missing_dataset_folder_and_bad_given_files() {
    let out = movierec(&["evaluate", "--quiet", "--data", "/no/such/folder"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/folder"), "{}", stderr(&out));

    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.csv");
    let test = dir.path().join("test.csv");
    std::fs::write(&train, "user,item,rating\n1,2,4.0\n1,3,abc\n").unwrap();
    std::fs::write(&test, "user,item,rating\n1,2,4.0\n").unwrap();
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("train.csv:3"), "{}", stderr(&out));
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        movierec(&["evaluate", "--no-such-flag"]).status.code(),
        Some(2)
    );
    assert_eq!(
        movierec(&["evaluate", "--protocol", "sideways"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        movierec(&["evaluate", "--train", "x.csv"]).status.code(),
        Some(2)
    );
}

/// A flag the command would otherwise drop without a word is refused, in one
/// line with exit code 1, before any data is read.
#[test]
fn flags_that_would_be_dropped_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["train", "--model", "mf-sgd", "--k", "5", "--out", "m.mrec"],
            "--k does not apply to mf-sgd, which takes --factors, --epochs, --lr, --reg, --biases",
        ),
        (
            &["evaluate", "--model", "bias,knn", "--factors", "8"],
            "--factors does not apply to bias, knn",
        ),
        (
            &["tune", "--model", "ease", "--epochs", "3"],
            "--epochs does not apply to ease, which takes --lambda",
        ),
        (
            &["evaluate", "--folds", "10"],
            "--folds applies to --protocol kfold, not holdout",
        ),
        (
            &["evaluate", "--protocol", "kfold", "--repeats", "3"],
            "--repeats applies to holdout, user-holdout and report; kfold makes one split per fold (--folds)",
        ),
        (
            &["tune", "--model", "bias", "--protocol", "temporal", "--repeats", "2"],
            "--repeats applies to holdout, user-holdout and report; temporal makes one split",
        ),
        (
            &["evaluate", "--protocol", "kfold", "--test-fraction", "0.2"],
            "--test-fraction does not apply to kfold",
        ),
        (
            &["train", "--model", "bias", "--knn-cap", "50", "--out", "m.mrec"],
            "--knn-cap applies to --model knn",
        ),
        (
            &["train", "--protocol", "temporal", "--out", "m.mrec"],
            "--protocol, --folds and --test-fraction choose the test part --holdout keeps out",
        ),
        (
            &["train", "--protocol", "report", "--holdout", "--out", "m.mrec"],
            "--protocol report is an evaluate option",
        ),
        (
            &["train", "--repeats", "2", "--out", "m.mrec"],
            "train fits once: --repeats is evaluate's",
        ),
        (
            &["evaluate", "--protocol", "report", "--ranking"],
            "--protocol report measures rating estimates the report's way: drop --ranking",
        ),
    ];
    for (args, want) in cases {
        let mut argv = args.to_vec();
        argv.extend(["--quiet", "--data", "/no/such/folder"]);
        let out = movierec(&argv);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
