//! `movierec train --model mf-sgd --workers W [--processes N --process I
//! --hosts FILE]`: matrix factorisation by DSGD over timely dataflow
//! (`movierec-distributed`), with timely's meaning of the flags (`W`
//! worker threads in each of `N` processes, this one being `I`, the
//! processes' `host:port`s in `FILE`, one a line, in process order); and
//! `movierec launch --local N -- <train args>`, which starts `N` such
//! processes on this machine and restarts them all from the last complete
//! epoch when one dies.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::Args;
use movierec_core::{Fit, IdMap, Rating, RatingMatrix, RatingScale, Ratings};
use movierec_distributed::{Cluster, Job};
use movierec_mf::SgdConfig;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::evaluate::ProtocolArgs;
use crate::models::{with_model, ModelArgs, ModelKind, ModelVisitor};
use crate::store::{Contents, Meta};

/// The distributed flags of `movierec train`.
#[derive(Debug, Clone, Args)]
pub struct DistributedArgs {
    /// Train mf-sgd by DSGD over timely dataflow with W worker threads in
    /// this process (timely's -w). The model depends on the seed and the
    /// total worker count W x N only. Reads --data (a ratings.csv folder or
    /// a user,item,rating CSV), holds out --validation-fraction for early
    /// stopping (no refit).
    #[arg(long, value_name = "W")]
    pub workers: Option<usize>,
    /// Number of processes (timely's -n).
    #[arg(long, value_name = "N", default_value_t = 1, requires = "workers")]
    pub processes: usize,
    /// This process's index, 0..N (timely's -p); process 0 writes --out.
    #[arg(long, value_name = "I", default_value_t = 0, requires = "workers")]
    pub process: usize,
    /// The processes' host:port, one a line, in process order (timely's -h).
    #[arg(long, value_name = "FILE", requires = "workers")]
    pub hosts: Option<PathBuf>,
    /// Folder for each worker's end-of-epoch checkpoints (shared or local).
    #[arg(long, value_name = "DIR", requires = "workers")]
    pub checkpoints: Option<PathBuf>,
    /// Go on from the latest epoch every worker has a checkpoint of.
    #[arg(long, requires = "checkpoints")]
    pub resume: bool,
}

/// Arguments of `movierec launch`.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// Start N processes of the train command on this machine (loopback TCP).
    #[arg(long, value_name = "N")]
    local: usize,
    /// First TCP port; attempt a uses ports PORT + a N .. PORT + a N + N - 1.
    #[arg(long, default_value_t = 2101)]
    port: u16,
    /// Checkpoint folder given to every process (default: a new folder
    /// under the system's temporary folder, removed after success).
    #[arg(long, value_name = "DIR")]
    checkpoints: Option<PathBuf>,
    /// Restarts after a process dies before giving up.
    #[arg(long, default_value_t = 3)]
    max_restarts: usize,
    /// The train command and its arguments, after `--` (e.g. `train --model
    /// mf-sgd --workers 1 --out m.mrec`); launch adds --processes,
    /// --process, --hosts, --checkpoints and, on a restart, --resume.
    #[arg(last = true, required = true, value_name = "TRAIN ARGS")]
    args: Vec<String>,
}

/// The resolved `SgdConfig` of the model table's mf-sgd (preset, --config
/// file, flags), taken through its serde form.
struct AsSgd;

impl ModelVisitor for AsSgd {
    type Output = (SgdConfig, String);
    fn visit<F>(&mut self, _kind: ModelKind, name: &str, config: F) -> anyhow::Result<Self::Output>
    where
        F: Fit + Serialize + DeserializeOwned + Clone,
        F::Model: Serialize + DeserializeOwned,
    {
        let value = serde_json::to_value(&config)?;
        Ok((serde_json::from_value(value)?, name.to_string()))
    }
}

/// Reads a hosts file: one `host:port` a line (blank lines and `#`
/// comments skipped); the first `n` are the processes'.
fn hosts(path: &Path, n: usize) -> anyhow::Result<Vec<String>> {
    let text = crate::read_text(path, "the hosts file")?;
    let list: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    ensure!(
        list.len() >= n,
        "{}: {} processes need {n} host:port lines, found {}",
        path.display(),
        n,
        list.len()
    );
    Ok(list.into_iter().take(n).collect())
}

/// Runs the distributed branch of `movierec train`.
#[allow(clippy::too_many_arguments)]
pub fn train(
    kind: ModelKind,
    model_args: &ModelArgs,
    protocol: &ProtocolArgs,
    out: &Path,
    holdout: bool,
    d: &DistributedArgs,
    quiet: bool,
    threads: usize,
) -> anyhow::Result<()> {
    let start = Instant::now();
    ensure!(
        kind == ModelKind::MfSgd,
        "--workers trains mf-sgd only (got --model {})",
        kind.name()
    );
    ensure!(!holdout, "--holdout is not available with --workers");
    let workers = d.workers.unwrap_or(1);
    ensure!(
        (1..=1024).contains(&workers),
        "--workers {workers}: give 1 to 1024"
    );
    ensure!(
        d.processes >= 1 && d.process < d.processes,
        "--process {} is not below --processes {}",
        d.process,
        d.processes
    );
    let addresses = match (&d.hosts, d.processes) {
        (_, 1) => Vec::new(),
        (Some(path), n) => hosts(path, n)?,
        (None, n) => (0..n).map(|p| format!("localhost:{}", 2101 + p)).collect(),
    };
    let (config, name) = with_model(kind, model_args, &mut AsSgd)?;
    let opts = protocol.options(false, threads);
    let seed = opts.split.seed;
    let progress: Option<movierec_distributed::Progress> = (!quiet).then(|| {
        let p: movierec_distributed::Progress = Arc::new(|r: &movierec_core::EpochRecord| {
            let val = r
                .validation
                .map(|m| format!(", validation RMSE {:.4}", m.rmse))
                .unwrap_or_default();
            let train = r.train.map(|m| m.rmse).unwrap_or(f64::NAN);
            eprintln!(
                "epoch {}: training RMSE {train:.4}{val}, {:.1} s",
                r.epoch, r.seconds
            );
        });
        p
    });
    let job = Job {
        config: config.clone(),
        seed,
        ratings: protocol.data.clone(),
        validation_fraction: opts.split.validation_fraction,
        checkpoints: d.checkpoints.clone(),
        resume: d.resume,
        cluster: Cluster {
            threads: workers,
            processes: d.processes,
            process: d.process,
            addresses,
        },
        progress,
    };
    let Some(mut t) = movierec_distributed::train(&job)? else {
        return Ok(());
    };
    let scale = RatingScale::new(t.range.0.min(0.5), t.range.1.max(t.range.0));
    let (n_users, n_items) = (t.users.len(), t.items.len());
    // The gathered triples (sorted by user, then item) go before the
    // matrix is built: at 100M ratings each copy is over a gigabyte on
    // process 0. The matrix gives the saved rows and the fallback.
    let n_ratings = t.train.len();
    let entries = std::mem::take(&mut t.train)
        .into_iter()
        .map(|(u, i, r)| Rating::new(u, i, r))
        .collect();
    let matrix = RatingMatrix::new(&Ratings::new(entries, n_users, n_items, scale))?;
    let saved = crate::train::train_ratings(&matrix);
    let fallback = opts.fallback.fit(&matrix);
    drop(matrix);
    let dataset = protocol
        .data
        .file_name()
        .map_or_else(|| "ratings".into(), |n| n.to_string_lossy().into_owned());
    let contents = Contents {
        meta: Meta {
            name: name.clone(),
            config: serde_json::to_string(&config)?,
            dataset,
            holdout: false,
            seed,
            threads: workers * d.processes,
            scale,
        },
        users: IdMap::from_raw(t.users),
        items: IdMap::from_raw(t.items),
        train: saved,
        catalog: Vec::new(),
        fallback,
    };
    contents.save(out, ModelKind::MfSgd, &t.model)?;
    let bytes = std::fs::metadata(out).map_or(0, |m| m.len());
    let ran = t.epochs.len().max(1) as f64;
    let epoch_s = t.epochs.iter().map(|c| c.seconds).sum::<f64>() / ran;
    let epoch_bytes = t.epochs.iter().map(|c| c.bytes as f64).sum::<f64>() / ran;
    crate::emit(&format!(
        "{}: mf-sgd model ({name}) fitted by {} workers ({} x {}) on {} ratings of {n_users} users and {n_items} movies, {} epochs{}, {:.1} MB, {:.1} s; per epoch {epoch_s:.3} s, {epoch_bytes:.0} bytes between processes\n",
        out.display(),
        workers * d.processes,
        d.processes,
        workers,
        n_ratings,
        t.model.epochs(),
        if t.resumed_from > 0 {
            format!(" (resumed after epoch {})", t.resumed_from)
        } else {
            String::new()
        },
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    ))?;
    Ok(())
}

/// Runs `movierec launch`.
pub fn launch(args: LaunchArgs, quiet: bool) -> anyhow::Result<()> {
    let n = args.local;
    ensure!((1..=64).contains(&n), "--local {n}: give 1 to 64 processes");
    let exe = std::env::current_exe().context("finding the movierec binary")?;
    let (dir, temporary) = match &args.checkpoints {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("movierec-launch-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    let hosts_file = dir.join("hosts.txt");
    for attempt in 0..=args.max_restarts {
        let base = u32::from(args.port) + (attempt * n) as u32;
        ensure!(base + n as u32 <= 65_535, "no TCP ports left above --port");
        let lines: String = (0..n)
            .map(|p| format!("127.0.0.1:{}\n", base + p as u32))
            .collect();
        std::fs::write(&hosts_file, lines).with_context(|| format!("{}", hosts_file.display()))?;
        let mut children: Vec<Child> = Vec::with_capacity(n);
        let mut pids = String::new();
        for p in 0..n {
            let mut cmd = Command::new(&exe);
            cmd.args(&args.args)
                .arg("--processes")
                .arg(n.to_string())
                .arg("--process")
                .arg(p.to_string())
                .arg("--hosts")
                .arg(&hosts_file)
                .arg("--checkpoints")
                .arg(&dir);
            if attempt > 0 {
                cmd.arg("--resume");
            }
            let has_quiet = args.args.iter().any(|a| a == "--quiet" || a == "-q");
            if (p > 0 || quiet) && !has_quiet {
                cmd.arg("--quiet");
            }
            let child = cmd.spawn().context("starting a train process")?;
            pids.push_str(&format!("{attempt} {p} {}\n", child.id()));
            children.push(child);
        }
        std::fs::write(dir.join("launch.pids"), &pids)?;
        match watch(&mut children)? {
            None => {
                if temporary {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                return Ok(());
            }
            Some((p, status)) if matches!(status.code(), Some(1 | 2)) => {
                bail!("launch: process {p} failed ({status}); not restarting an error");
            }
            Some((p, status)) if attempt < args.max_restarts => {
                eprintln!(
                    "launch: process {p} ended ({status}); stopping the others and restarting from the last complete epoch (restart {} of {})",
                    attempt + 1,
                    args.max_restarts
                );
            }
            Some(_) => {}
        }
    }
    bail!(
        "launch: gave up after {} restarts (checkpoints kept in {})",
        args.max_restarts,
        dir.display()
    )
}

/// Waits for every child; at the first that fails, kills and reaps the
/// others and returns which failed and how.
fn watch(children: &mut [Child]) -> anyhow::Result<Option<(usize, std::process::ExitStatus)>> {
    let mut done = vec![false; children.len()];
    loop {
        for (p, child) in children.iter_mut().enumerate() {
            if done[p] {
                continue;
            }
            if let Some(status) = child.try_wait()? {
                done[p] = true;
                if !status.success() {
                    for (q, other) in children.iter_mut().enumerate() {
                        if !done[q] {
                            let _ = other.kill();
                            let _ = other.wait();
                        }
                    }
                    return Ok(Some((p, status)));
                }
            }
        }
        if done.iter().all(|&d| d) {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
