use crate::util::{data_dir, movierec, stderr, stdout};

/// The targets: bias baseline mean test RMSE <= 0.880 over 5 repeats,
/// and <= 0.875 on a given 90/10 train/test pair.
#[test]
fn bias_baseline_reaches_its_targets_on_ml_latest_small() {
    let Some(dir) = data_dir("the real-data test") else {
        return;
    };
    let d = dir.to_str().unwrap();
    let out = movierec(&[
        "evaluate", "--quiet", "--data", d, "--model", "bias", "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let m = &v["models"][0];
    assert_eq!(m["repeats"].as_array().unwrap().len(), 5);
    let rmse = m["mean"]["rmse"].as_f64().unwrap();
    assert!(rmse <= 0.880, "bias RMSE {rmse}");

    let tmp = tempfile::tempdir().unwrap();
    let pair = tmp.path();
    let out = movierec(&["split", "--data", d, "--out", pair.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let train = pair.join("train.csv");
    let test = pair.join("test.csv");
    let out = movierec(&[
        "evaluate",
        "--quiet",
        "--json",
        "--train",
        train.to_str().unwrap(),
        "--test",
        test.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rmse = v["models"][0]["mean"]["rmse"].as_f64().unwrap();
    assert!(rmse <= 0.875, "bias RMSE on the given pair {rmse}");
}
