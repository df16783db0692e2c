//! Issue 18: `train --workers` over timely and `launch --local`: the same
//! model file from 1 process x 2 workers and 2 processes x 1 worker, and a
//! 2-process run whose process 1 is killed (`kill -9`) mid-training
//! recovers to the uninterrupted model, bit for bit.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::{movierec, stderr, synth};

/// `movierec ARGS`, checked to succeed.
fn ok(args: &[String]) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = movierec(&args);
    assert!(o.status.success(), "{:?}: {}", args, stderr(&o));
}

fn train_args(data: &Path, out: &Path, workers: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "train",
        "--model",
        "mf-sgd",
        "--factors",
        "16",
        "--epochs",
        "8",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(["--workers".into(), workers.into(), "--quiet".into()]);
    a.extend(["--data".into(), data.display().to_string()]);
    a.extend(["--out".into(), out.display().to_string()]);
    a
}

fn launch(port: u16, checkpoints: &Path, train: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_movierec"));
    c.args([
        "launch",
        "--local",
        "2",
        "--port",
        &port.to_string(),
        "--checkpoints",
    ])
    .arg(checkpoints)
    .arg("--")
    .args(train);
    c
}

#[test]
fn threads_or_processes_and_a_killed_process_give_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    synth(&data, 400, 300, 30_000, 3);
    // 1 process x 2 workers.
    let threads = tmp.path().join("threads.mrec");
    ok(&train_args(&data, &threads, "2"));
    // 2 processes x 1 worker, uninterrupted.
    let whole = tmp.path().join("whole.mrec");
    let status = launch(
        24_610,
        &tmp.path().join("c1"),
        &train_args(&data, &whole, "1"),
    )
    .status()
    .unwrap();
    assert!(status.success());
    let a = std::fs::read(&threads).unwrap();
    assert!(
        a == std::fs::read(&whole).unwrap(),
        "1 x 2 and 2 x 1 differ"
    );

    // The same, with process 1 killed after its epoch-3 checkpoint.
    let c2 = tmp.path().join("c2");
    let killed = tmp.path().join("killed.mrec");
    let mut child = launch(24_650, &c2, &train_args(&data, &killed, "1"))
        .env("MOVIEREC_DISTRIBUTED_EPOCH_PAUSE_MS", "150")
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mark = c2.join("worker-0001-epoch-000003.ckpt");
    while !mark.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no epoch-3 checkpoint"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let pids = std::fs::read_to_string(c2.join("launch.pids")).unwrap();
    let pid = pids
        .lines()
        .find_map(|l| l.strip_prefix("0 1 "))
        .expect("process 1's pid")
        .to_string();
    assert!(Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap()
        .success());
    assert!(child.wait().unwrap().success(), "launch did not recover");
    let pids = std::fs::read_to_string(c2.join("launch.pids")).unwrap();
    assert!(pids.starts_with("1 "), "no restart recorded: {pids}");
    assert!(
        a == std::fs::read(&killed).unwrap(),
        "the recovered model differs"
    );

    // The file serves predict like any other.
    let pairs = tmp.path().join("pairs.csv");
    std::fs::write(&pairs, "user,item\n1,1\n2,3\n").unwrap();
    let path = |p: &Path| p.display().to_string();
    ok(&[
        "predict".into(),
        "--model".into(),
        path(&killed),
        "--pairs".into(),
        path(&pairs),
        "--out".into(),
        path(&tmp.path().join("p.csv")),
    ]);
}
