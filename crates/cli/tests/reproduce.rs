use std::path::Path;

use crate::util::{movierec, stderr, stdout, synth, tiny_dataset};

/// The committed figures file (tests run from the crate folder).
fn figures() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../results/report-figures.toml")
        .display()
        .to_string()
}

/// `text` without the fields allowed to change between runs: the
/// provenance line, and the timing and memory columns of a table CSV.
fn stable_csv(text: &str) -> String {
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let joined = body.join("\n");
    let mut r = csv::Reader::from_reader(joined.as_bytes());
    let head = r.headers().unwrap().clone();
    let keep: Vec<usize> = (0..head.len())
        .filter(|&i| !head[i].starts_with("fit_seconds") && !head[i].starts_with("peak_mib"))
        .collect();
    let mut out = String::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let row: Vec<&str> = keep.iter().map(|&i| &rec[i]).collect();
        out.push_str(&row.join("|"));
        out.push('\n');
    }
    out
}

#[test]
fn reproduce_quick_writes_every_file_and_a_second_run_changes_only_timing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tiny-lens");
    std::fs::create_dir(&data).unwrap();
    tiny_dataset(&data, 60);
    let out_dir = dir.path().join("results");
    let figures = figures();
    let run = || {
        let out = movierec(&[
            "reproduce",
            "--quiet",
            "--quick",
            "--data",
            data.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
            "--figures",
            &figures,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    run();
    let res = out_dir.join("tiny-lens");
    for f in [
        "table1-accuracy.md",
        "table1-accuracy.csv",
        "table1-accuracy.json",
        "table2-mse.md",
        "table2-mse.csv",
        "table2-mse.json",
        "report-protocol.md",
        "report-protocol.json",
        "reproduce.md",
        "reproduce.json",
        "curves-autoencoder.svg",
        "curves-mf-sgd.svg",
        "curves-mf-dense.svg",
        "time-to-accuracy.svg",
        "time-to-accuracy.md",
    ] {
        assert!(res.join(f).is_file(), "{f} missing");
    }
    let read = |f: &str| std::fs::read_to_string(res.join(f)).unwrap();
    let t1 = read("table1-accuracy.md");
    let ae = t1
        .lines()
        .find(|l| l.starts_with("| autoencoder-report |"))
        .expect("the report's autoencoder row");
    assert!(
        ae.contains("| 0.7733 |"),
        "the report's figure beside ours: {ae}"
    );
    let bias = t1.lines().find(|l| l.starts_with("| bias |")).unwrap();
    assert!(
        bias.contains("| — |"),
        "no report figure for the baseline: {bias}"
    );
    assert!(
        t1.contains("budget of 30 steps"),
        "the dense-GD budget is stated"
    );
    let t2 = read("table2-mse.md");
    assert!(
        t2.contains("| knn-report |") && t2.contains("8.6580"),
        "{t2}"
    );
    let proto = read("report-protocol.md");
    assert!(proto.contains("The report's 77%"), "{proto}");

    let before = [
        stable_csv(&read("table1-accuracy.csv")),
        stable_csv(&read("table2-mse.csv")),
        read("report-protocol.json"),
        read("curves-autoencoder.svg"),
    ];
    run();
    let after = [
        stable_csv(&read("table1-accuracy.csv")),
        stable_csv(&read("table2-mse.csv")),
        read("report-protocol.json"),
        read("curves-autoencoder.svg"),
    ];
    assert_eq!(
        before, after,
        "a second run changes only timing, memory and provenance"
    );
}

#[test]
fn protocol_report_scores_the_autoencoder_higher_than_held_out() {
    // Noisy synthetic ratings: the additive fixture is predicted perfectly
    // either way.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synth");
    let d = data.to_str().unwrap();
    synth(&data, 150, 100, 6000, 7);
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--data",
        d,
        "--model",
        "autoencoder",
        "--preset",
        "report",
        "--protocol",
        "report",
        "--repeats",
        "2",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let m = &v["models"][0];
    assert_eq!(m["fed_input"], true);
    let acc = |set: &str| m["summary"][set]["accuracy"]["mean"].as_f64().unwrap();
    assert!(
        acc("test_report") > acc("test_held_out"),
        "the report's way {} vs held out {}",
        acc("test_report"),
        acc("test_held_out")
    );

    let md = movierec(&[
        "evaluate",
        "--quiet",
        "--data",
        d,
        "--model",
        "bias",
        "--protocol",
        "report",
        "--repeats",
        "1",
    ]);
    assert_eq!(md.status.code(), Some(0), "{}", stderr(&md));
    assert!(
        stdout(&md).contains("Measured the report's way"),
        "{}",
        stdout(&md)
    );
    let tune = movierec(&["tune", "--quiet", "--model", "bias", "--protocol", "report"]);
    assert_eq!(tune.status.code(), Some(1), "{}", stderr(&tune));
}
