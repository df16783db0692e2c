//! `evaluate --ranking`: top-N metrics beside the rating metrics, in every
//! output format and through `movierec table`.

use crate::util::{movierec, stderr, stdout};

/// Writes a synthetic MovieLens folder and returns its path.
fn synth(dir: &std::path::Path) -> String {
    let out_dir = dir.join("synth");
    crate::util::synth(&out_dir, 120, 150, 6000, 5);
    out_dir.to_str().unwrap().to_string()
}

#[test]
fn evaluate_ranking_at_10_on_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = synth(dir.path());
    let (json, md, csv) = (
        dir.path().join("r.json"),
        dir.path().join("r.md"),
        dir.path().join("r.csv"),
    );
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--data",
        &d,
        "--model",
        "popular,bias,knn,mf-sgd",
        "--epochs",
        "5",
        "--repeats",
        "2",
        "--ranking",
        "--at",
        "10",
        "--out",
        json.to_str().unwrap(),
        "--out",
        md.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("| P@10 | R@10 | NDCG@10 | MAP@10 | hit rate@10 | coverage@10 |"),
        "{table}"
    );
    assert!(table.contains("relevant = test rating >= 4"), "{table}");
    assert!(std::fs::read_to_string(&md).unwrap().contains("NDCG@10"));

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let models = v["models"].as_array().unwrap();
    assert_eq!(models.len(), 4);
    for m in models {
        let r = &m["mean"]["ranking"];
        assert_eq!(r["k"], 10, "{}", m["model"]);
        for key in ["precision", "recall", "ndcg", "hit_rate", "coverage"] {
            let x = r[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{} {key} = {x}", m["model"]);
            assert!(
                m["ci95"]["ranking"][key].as_f64().is_some(),
                "two repeats give an interval"
            );
        }
        let rep = &m["repeats"][0]["ranking"];
        assert!(rep["users"].as_u64().unwrap() > 0);
        assert!(rep["no_relevant"].as_u64().is_some());
    }
    // Popular has no rating estimate: every test rating is a fallback.
    assert_eq!(models[0]["model"], "popular");
    assert_eq!(
        models[0]["repeats"][0]["fallbacks"],
        models[0]["repeats"][0]["n_test"]
    );
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv
        .lines()
        .nth(1)
        .unwrap()
        .ends_with(",k,precision,recall,ndcg,hit_rate,coverage,ranked_users,map,recall_capped"));

    // `movierec table` passes the columns through.
    let out = movierec(&["table", "--from", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("NDCG@10"), "{}", stdout(&out));
}

#[test]
fn without_ranking_the_output_has_no_ranking_columns() {
    let dir = tempfile::tempdir().unwrap();
    let d = synth(dir.path());
    let bias = |extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--quiet",
            "--data",
            &d,
            "--model",
            "bias",
            "--repeats",
            "1",
        ];
        args.extend_from_slice(extra);
        movierec(&args)
    };
    let out = bias(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stdout(&out).contains("NDCG"), "{}", stdout(&out));
    let out = bias(&["--json"]);
    assert!(!stdout(&out).contains("ranking"));
    // --at without --ranking is a usage error.
    let out = movierec(&["evaluate", "--quiet", "--data", &d, "--at", "5"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// The top-N models run through evaluate, train and recommend: `--at 10,20`
/// scores both lengths from one fit, `table --at 20` shows the second, and
/// a ranking model beats popular on data with item structure.
#[test]
fn top_n_models_rank_at_several_lengths_and_recommend_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let d = synth(dir.path());
    let json = dir.path().join("r.json");
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--data",
        &d,
        "--model",
        "popular,ease,ials",
        "--epochs",
        "3",
        "--repeats",
        "2",
        "--ranking",
        "--at",
        "10,20",
        "--json",
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    for m in v["models"].as_array().unwrap() {
        assert_eq!(m["mean"]["ranking"]["k"], 10);
        let at: Vec<u64> = m["repeats"][0]["ranking_at"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["k"].as_u64().unwrap())
            .collect();
        assert_eq!(at, [10, 20]);
        // Ranking-only models estimate no rating: every test rating is a fallback.
        if m["model"] != "bias" {
            assert_eq!(m["repeats"][0]["fallbacks"], m["repeats"][0]["n_test"]);
        }
    }
    let out = movierec(&["table", "--from", json.to_str().unwrap(), "--at", "20"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("NDCG@20"), "{}", stdout(&out));
    let out = movierec(&["table", "--from", json.to_str().unwrap(), "--at", "5"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let model = dir.path().join("m.mrec");
    let out = movierec(&[
        "train",
        "--quiet",
        "--data",
        &d,
        "--out",
        model.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("ease model"), "{}", stdout(&out));
    let out = movierec(&[
        "recommend",
        "--model",
        model.to_str().unwrap(),
        "--user",
        "1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r["reasons"].is_array()));
    assert!(!rows[0]["reasons"].as_array().unwrap().is_empty());
}
