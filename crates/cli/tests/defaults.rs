//! The tuned models' defaults are the winners that `movierec tune` recorded
//! in results/ml-latest-small/tuning-<model>.json (scripts/tune.sh), never
//! settings typed in from memory.

use std::path::PathBuf;

use movierec_autoencoder::AutoencoderConfig;
use movierec_knn::KnnConfig;
use movierec_mf::SgdConfig;
use serde::Serialize;

fn recorded_winner(model: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../results/ml-latest-small")
        .join(format!("tuning-{model}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    settings(report["winner"].clone())
}

/// The settings of a config, without the seed and thread count: those are the
/// run context's (`--seed`, `--threads`) unless a config pins a seed, and
/// files recorded before they moved there still carry them.
fn settings(mut config: serde_json::Value) -> serde_json::Value {
    if let Some(m) = config.as_object_mut() {
        m.remove("seed");
        m.remove("threads");
    }
    config
}

/// Settings added after the tuning files were recorded, with the value that
/// keeps the behaviour the tuning measured; a recorded winner without the key
/// is compared as if it held that value.
const ADDED_SINCE_TUNING: &[(&str, &str)] = &[("update", "dense")];

fn assert_default_is_winner<C: Serialize + Default>(model: &str) {
    let mut default = settings(serde_json::to_value(C::default()).unwrap());
    let winner = recorded_winner(model);
    if let Some(m) = default.as_object_mut() {
        for (key, old) in ADDED_SINCE_TUNING {
            if winner.get(key).is_none() && m.get(*key) == Some(&serde_json::json!(old)) {
                m.remove(*key);
            }
        }
    }
    assert_eq!(
        default, winner,
        "{model}: Default differs from the tuning winner"
    );
}

#[test]
fn knn_default_is_the_tuning_winner() {
    assert_default_is_winner::<KnnConfig>("knn");
}

#[test]
fn mf_sgd_default_is_the_tuning_winner() {
    assert_default_is_winner::<SgdConfig>("mf-sgd");
}

#[test]
fn mf_sgd_report_preset_is_the_tuning_winner() {
    assert_eq!(
        settings(serde_json::to_value(SgdConfig::report()).unwrap()),
        recorded_winner("mf-sgd-report"),
        "mf-sgd: the report preset differs from the tuning winner"
    );
}

#[test]
fn autoencoder_default_is_the_tuning_winner() {
    assert_default_is_winner::<AutoencoderConfig>("autoencoder");
}
