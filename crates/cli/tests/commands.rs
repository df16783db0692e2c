use crate::util::{movierec, stderr, stdout, tiny_dataset};

#[test]
fn evaluate_prints_json_with_repeats_means_and_intervals() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 60);
    let d = dir.path().to_str().unwrap();
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--data",
        d,
        "--model",
        "constant,bias",
        "--repeats",
        "3",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["protocol"], "holdout");
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for m in models {
        assert_eq!(m["repeats"].as_array().unwrap().len(), 3);
        assert!(m["ci95"]["rmse"].as_f64().unwrap() >= 0.0);
    }
    let rmse = |i: usize| models[i]["mean"]["rmse"].as_f64().unwrap();
    assert!(
        rmse(1) < rmse(0),
        "bias beats the constant on additive data"
    );
}

#[test]
fn out_files_by_extension_and_same_seed_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 50);
    let d = dir.path().to_str().unwrap();
    let (md, csv, json) = (
        dir.path().join("r.md"),
        dir.path().join("r.csv"),
        dir.path().join("r.json"),
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--quiet",
            "--data",
            d,
            "--repeats",
            "2",
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = movierec(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        v["models"][0]["repeats"][1]["rmse"].as_f64().unwrap()
    };
    let a = run(&[
        "--out",
        md.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(a, run(&[]), "same seed, same result");
    assert_ne!(a, run(&["--seed", "7"]), "another seed, another split");
    assert!(std::fs::read_to_string(&md).unwrap().contains("| bias |"));
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv.starts_with("# movierec"), "provenance first");
    assert!(csv
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("dataset,protocol,model,repeat,rmse"));
    let _: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
}

#[test]
fn other_protocols_run() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 50);
    let d = dir.path().to_str().unwrap();
    for (protocol, flags, repeats) in [
        ("kfold", ["--folds", "4"], 4),
        ("user-holdout", ["--repeats", "2"], 2),
        ("temporal", ["--test-fraction", "0.2"], 1),
    ] {
        let mut argv = vec!["evaluate", "--quiet", "--data", d, "--protocol", protocol];
        argv.extend(flags);
        argv.push("--json");
        let out = movierec(&argv);
        assert_eq!(out.status.code(), Some(0), "{protocol}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(
            v["models"][0]["repeats"].as_array().unwrap().len(),
            repeats,
            "{protocol}"
        );
    }
}

#[test]
fn given_pair_writes_one_prediction_per_test_row_in_order() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 50);
    let d = dir.path().to_str().unwrap();
    let pair = dir.path().join("pair");
    let out = movierec(&["split", "--data", d, "--out", pair.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (train, test, preds) = (
        pair.join("train.csv"),
        pair.join("test.csv"),
        pair.join("p.csv"),
    );
    // A test row with a user and a movie the train file never saw gets the fallback.
    let mut test_text = std::fs::read_to_string(&test).unwrap();
    test_text.push_str("999,999,3.5\n");
    std::fs::write(&test, &test_text).unwrap();
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--json",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
        "--predictions",
        preds.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v["models"][0]["repeats"][0]["fallbacks"].as_u64().unwrap() >= 1);
    let written = std::fs::read_to_string(&preds).unwrap();
    let mut lines = written.lines();
    assert_eq!(lines.next(), Some("user,item,rating,prediction"));
    let test_rows: Vec<&str> = test_text.lines().skip(1).collect();
    let pred_rows: Vec<&str> = lines.collect();
    assert_eq!(pred_rows.len(), test_rows.len());
    for (p, t) in pred_rows.iter().zip(&test_rows) {
        assert!(p.starts_with(&format!("{t},")), "{p} follows {t}");
        let x: f32 = p.rsplit(',').next().unwrap().parse().unwrap();
        assert!((0.5..=5.0).contains(&x));
    }
}

#[test]
fn synth_then_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("synth");
    let o = out_dir.to_str().unwrap();
    let out = movierec(&[
        "synth",
        "--users",
        "80",
        "--items",
        "60",
        "--ratings",
        "2000",
        "--seed",
        "3",
        "--out",
        o,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--data",
        o,
        "--repeats",
        "1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["models"][0]["repeats"][0]["n_test"], 200);
}

#[test]
fn nested_tuning_records_each_repeats_choice() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 50);
    let d = dir.path().to_str().unwrap();
    let grid = dir.path().join("grid.toml");
    std::fs::write(&grid, "[bias]\nreg_user = [0.0, 500.0]\n").unwrap();
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--data",
        d,
        "--model",
        "bias",
        "--tune",
        "--grid",
        grid.to_str().unwrap(),
        "--repeats",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["models"][0]["model"], "bias-tuned");
    for r in v["models"][0]["repeats"].as_array().unwrap() {
        assert_eq!(
            r["chosen"]["reg_user"], 0.0,
            "weak regularisation fits additive data best"
        );
    }
}

#[test]
fn a_header_only_given_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (dir.path().join("train.csv"), dir.path().join("test.csv"));
    std::fs::write(&train, "user,item,rating\n1,2,4.0\n2,2,3.0\n").unwrap();
    std::fs::write(&test, "user,item,rating\n").unwrap();
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("test.csv"), "{}", stderr(&out));
}

/// `--seed` reaches the models' own random choices on a given train/test
/// pair (fixed split, no validation carve, so only the model seeds differ); the same seed
/// and thread count give the same predictions; the thread count is recorded.
#[test]
fn model_seeds_follow_seed_and_runs_record_threads() {
    let dir = tempfile::tempdir().unwrap();
    tiny_dataset(dir.path(), 60);
    let d = dir.path().to_str().unwrap();
    let pair = dir.path().join("pair");
    let p = pair.to_str().unwrap();
    let out = movierec(&["split", "--quiet", "--data", d, "--out", p]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (train, test) = (pair.join("train.csv"), pair.join("test.csv"));
    for model in ["mf-sgd", "autoencoder"] {
        let run = |seed: &str, threads: &str| {
            let preds = dir.path().join(format!("{model}-{seed}-{threads}.csv"));
            let out = movierec(&[
                "evaluate",
                "--quiet",
                "--threads",
                threads,
                "--seed",
                seed,
                "--model",
                model,
                "--epochs",
                "5",
                "--validation-fraction",
                "0",
                "--train",
                train.to_str().unwrap(),
                "--test",
                test.to_str().unwrap(),
                "--predictions",
                preds.to_str().unwrap(),
                "--json",
            ]);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
            let ctx = v["models"][0]["context"].clone();
            assert_eq!(ctx["threads"].as_u64().unwrap().to_string(), threads);
            assert_eq!(ctx["seed"].as_u64().unwrap().to_string(), seed);
            std::fs::read_to_string(preds).unwrap()
        };
        let (a, b) = (run("1", "1"), run("2", "1"));
        assert_ne!(
            a, b,
            "{model}: --seed 1 and --seed 2 give the same predictions"
        );
        assert_eq!(a, run("1", "1"), "{model}: the same seed differs");
        assert_eq!(run("1", "2"), run("1", "2"), "{model}: 2 threads differ");
    }
}
