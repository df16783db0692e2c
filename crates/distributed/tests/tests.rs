//! Same model on 1 process x 2 workers and 2 processes x 1 worker
//! (loopback), recovery, and the comparison with single-process mf-sgd.

use std::path::{Path, PathBuf};

use movierec_distributed::{train, Cluster, Job, Trained};
use movierec_mf::SgdConfig;

/// A synthetic ratings file: `users x items` with a low-rank signal.
pub fn synthetic(dir: &Path, users: u64, items: u64, per_user: u64, seed: u64) -> PathBuf {
    let path = dir.join("ratings.csv");
    let mut text = String::from("userId,movieId,rating,timestamp\n");
    let mix = movierec_distributed::input::mix;
    for u in 0..users {
        let mut seen = std::collections::HashSet::new();
        for j in 0..per_user {
            let i = mix(seed ^ (u * 1000 + j)) % items;
            if !seen.insert(i) {
                continue;
            }
            let signal = ((mix(u) % 5) as f64 - 2.0) * ((mix(i + 77) % 5) as f64 - 2.0) / 4.0;
            let noise = (mix(u * 31 + i) % 3) as f64 * 0.5 - 0.5;
            let r = (3.0 + signal + noise).clamp(0.5, 5.0);
            let r = (r * 2.0).round() / 2.0;
            text.push_str(&format!("{},{},{r},0\n", u * 3 + 1, i * 7 + 2));
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn config() -> SgdConfig {
    SgdConfig {
        factors: 16,
        epochs: 12,
        patience: 3,
        seed: Some(5),
        ..SgdConfig::default()
    }
}

fn job(ratings: &Path, cluster: Cluster) -> Job {
    Job {
        config: config(),
        seed: 1,
        ratings: ratings.to_path_buf(),
        validation_fraction: 0.1,
        checkpoints: None,
        resume: false,
        cluster,
        progress: None,
    }
}

/// `processes` processes of `threads` workers, each in its own thread of
/// this test (timely connects them over loopback TCP at `port`...).
pub fn run_cluster(base: &Job, processes: usize, threads: usize, port: u16) -> Trained {
    if processes == 1 {
        let mut j = base.clone();
        j.cluster = Cluster::local(threads);
        return train(&j).unwrap().unwrap();
    }
    let addresses: Vec<String> = (0..processes)
        .map(|p| format!("127.0.0.1:{}", port + p as u16))
        .collect();
    let handles: Vec<_> = (0..processes)
        .map(|process| {
            let mut j = base.clone();
            j.cluster = Cluster {
                threads,
                processes,
                process,
                addresses: addresses.clone(),
            };
            std::thread::spawn(move || train(&j).unwrap())
        })
        .collect();
    let mut out = None;
    for h in handles {
        if let Some(t) = h.join().unwrap() {
            out = Some(t);
        }
    }
    out.unwrap()
}

#[test]
fn threads_and_processes_give_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let file = synthetic(dir.path(), 300, 200, 40, 1);
    let base = job(&file, Cluster::local(2));
    let threads = run_cluster(&base, 1, 2, 0);
    let processes = run_cluster(&base, 2, 1, 23_410);
    assert_eq!(threads.users, processes.users);
    assert_eq!(threads.items, processes.items);
    assert_eq!(threads.train, processes.train);
    assert!(threads.model == processes.model, "factors differ");
    assert!(threads.model.epochs() >= 1);
    // The training ratings: every rating not carved out for validation
    // (by the config's seed), once.
    let all = movierec_distributed::input::read_part(&file, 0, 1).unwrap();
    let seed = config().seed.unwrap();
    let kept = all
        .iter()
        .filter(|&&(u, i, _)| !movierec_distributed::input::is_validation(seed, u, i, 0.1))
        .count();
    assert_eq!(threads.train.len(), kept);
}

/// Splits `file`'s lines into train and test files by a hash of the pair.
fn split(file: &Path, dir: &Path) -> (PathBuf, Vec<(u64, u64, f32)>) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut train = String::from("userId,movieId,rating\n");
    let mut test = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (u, i, r): (u64, u64, f32) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
        );
        if movierec_distributed::input::is_validation(999, u, i, 0.1) {
            test.push((u, i, r));
        } else {
            train.push_str(&format!("{u},{i},{r}\n"));
        }
    }
    let path = dir.join("train.csv");
    std::fs::write(&path, train).unwrap();
    (path, test)
}

/// Test RMSE of the distributed fit (2 workers) against single-process
/// mf-sgd on 2 threads, fitted on the same training ratings with the same
/// validation carve: equal within the 95% CI of mf's test RMSE (the
/// strata differ: hash strata here, count-balanced ones in mf).
#[test]
fn test_rmse_agrees_with_single_process_mf_sgd() {
    use movierec_core::{
        Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings, Recommender,
        RunContext, UserIdx,
    };
    use std::collections::HashMap;
    let dir = tempfile::tempdir().unwrap();
    let file = synthetic(dir.path(), 600, 400, 60, 2);
    let (train_file, test) = split(&file, dir.path());
    let base = job(&train_file, Cluster::local(2));
    let dist = run_cluster(&base, 1, 2, 0);
    // mf-sgd on the same ratings: same carve (the config's seed), own ids.
    let text = std::fs::read_to_string(&train_file).unwrap();
    let (mut users, mut items) = (HashMap::new(), HashMap::new());
    let (mut fit, mut val) = (Vec::new(), Vec::new());
    let cfg = config();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (u, i, r): (u64, u64, f32) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
        );
        if movierec_distributed::input::is_validation(cfg.seed.unwrap(), u, i, 0.1) {
            val.push((u, i, r));
        } else {
            let n = users.len() as u32;
            let du = *users.entry(u).or_insert(n);
            let n = items.len() as u32;
            let di = *items.entry(i).or_insert(n);
            fit.push(Rating::new(du, di, r));
        }
    }
    let scale = RatingScale::new(0.5, 5.0);
    let val: Vec<Rating> = val
        .iter()
        .filter_map(|(u, i, r)| Some(Rating::new(*users.get(u)?, *items.get(i)?, *r)))
        .collect();
    let (nu, ni) = (users.len(), items.len());
    let train = RatingMatrix::new(&Ratings::new(fit, nu, ni, scale)).unwrap();
    let val = Ratings::new(val, nu, ni, scale);
    let mf = cfg
        .fit(
            &train,
            Some(&val),
            &RunContext::new(2, 1),
            &mut NoopObserver,
        )
        .unwrap();
    let rows = |ids: &[u64]| -> HashMap<u64, u32> {
        ids.iter()
            .enumerate()
            .map(|(x, &id)| (id, x as u32))
            .collect()
    };
    let (dist_users, dist_items) = (rows(&dist.users), rows(&dist.items));
    let (mut d_sse, mut m_sq) = (0.0f64, Vec::new());
    for (u, i, r) in &test {
        let (Some(&mu), Some(&mi), Some(&du), Some(&di)) = (
            users.get(u),
            items.get(i),
            dist_users.get(u),
            dist_items.get(i),
        ) else {
            continue;
        };
        let m = mf
            .predict(UserIdx(mu), ItemIdx(mi))
            .unwrap()
            .clamp(0.5, 5.0);
        let d = dist
            .model
            .predict(UserIdx(du), ItemIdx(di))
            .unwrap()
            .clamp(0.5, 5.0);
        d_sse += f64::from(r - d).powi(2);
        m_sq.push(f64::from(r - m).powi(2));
    }
    let n = m_sq.len() as f64;
    assert!(n > 1000.0, "{n} test ratings");
    let mse = m_sq.iter().sum::<f64>() / n;
    let sd = (m_sq.iter().map(|x| (x - mse).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let (m_rmse, d_rmse) = (mse.sqrt(), (d_sse / n).sqrt());
    // Delta method: se(RMSE) = se(MSE) / (2 RMSE).
    let half = 1.96 * sd / n.sqrt() / (2.0 * m_rmse);
    eprintln!(
        "test RMSE: distributed {d_rmse:.4}, mf-sgd {m_rmse:.4} +- {half:.4} (95% CI), {n} ratings"
    );
    assert!(
        (d_rmse - m_rmse).abs() <= half,
        "distributed {d_rmse} vs mf-sgd {m_rmse} +- {half}"
    );
}
