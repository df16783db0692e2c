//! Per-worker checkpoints written at the end of every epoch: a checksummed
//! postcard file, written to a temporary name, synced and renamed, so that
//! a file under its final name is always whole. Each worker keeps its last
//! two epochs; a restart resumes from the latest epoch every worker has.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

const MAGIC: &[u8; 8] = b"MRCKPT01";
const HEADER: usize = 8 + 8 + 4;

/// An item factor block in flight or at rest: its stratum, its rows
/// (padded width) and biases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemBlock {
    /// The item stratum.
    pub stratum: u32,
    /// Rows of the padded width, in the stratum's row order.
    pub q: Vec<f32>,
    /// One bias per row (empty without biases).
    pub b: Vec<f32>,
}

/// A worker's parameters at the end of an epoch: its user stratum and the
/// item block it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The epoch they are the end of.
    pub epoch: u32,
    /// User rows (padded width).
    pub p: Vec<f32>,
    /// User biases.
    pub bu: Vec<f32>,
    /// The item block held.
    pub held: ItemBlock,
}

/// Everything a worker needs to go on after `state.epoch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Hash of the job (config, seed, workers, data file size): a
    /// checkpoint of another job is never resumed.
    pub fingerprint: u64,
    /// This worker's index.
    pub worker: u32,
    /// The current parameters.
    pub state: Snapshot,
    /// Each block's chunk order (they are reshuffled in place every epoch).
    pub orders: Vec<Vec<u32>>,
    /// The validation RMSE of every epoch so far (replayed into early stopping).
    pub scores: Vec<f64>,
    /// The best epoch's parameters, when early stopping keeps them.
    pub best: Option<Snapshot>,
}

/// The file of `worker`'s checkpoint of `epoch`.
pub fn path(dir: &Path, worker: usize, epoch: u32) -> PathBuf {
    dir.join(format!("worker-{worker:04}-epoch-{epoch:06}.ckpt"))
}

/// Writes `c` atomically, then removes this worker's checkpoints older than
/// the previous epoch.
pub fn write(dir: &Path, c: &Checkpoint) -> Result<u64, Error> {
    let worker = c.worker as usize;
    let epoch = c.state.epoch;
    let target = path(dir, worker, epoch);
    let io = |e: std::io::Error| Error(format!("{}: {e}", target.display()));
    std::fs::create_dir_all(dir).map_err(io)?;
    let payload =
        postcard::to_stdvec(c).map_err(|e| Error(format!("encoding a checkpoint: {e}")))?;
    let mut bytes = Vec::with_capacity(HEADER + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    bytes.extend_from_slice(&payload);
    let tmp = target.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, &target).map_err(io)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    for old in epochs(dir, worker) {
        if old + 1 < epoch {
            let _ = std::fs::remove_file(path(dir, worker, old));
        }
    }
    Ok(bytes.len() as u64)
}

/// Reads and checks a checkpoint file; `None` if it is missing, torn or
/// of another job.
pub fn read(dir: &Path, worker: usize, epoch: u32, fingerprint: u64) -> Option<Checkpoint> {
    let bytes = std::fs::read(path(dir, worker, epoch)).ok()?;
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return None;
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes[16..20].try_into().ok()?);
    let payload = &bytes[HEADER..];
    if payload.len() != len || crc32fast::hash(payload) != crc {
        return None;
    }
    let c: Checkpoint = postcard::from_bytes(payload).ok()?;
    (c.fingerprint == fingerprint && c.worker as usize == worker && c.state.epoch == epoch)
        .then_some(c)
}

/// The epochs of `worker`'s checkpoint files in `dir` (unchecked), ascending.
pub fn epochs(dir: &Path, worker: usize) -> Vec<u32> {
    let prefix = format!("worker-{worker:04}-epoch-");
    let mut out: Vec<u32> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix(&prefix)?
                .strip_suffix(".ckpt")?
                .parse()
                .ok()
        })
        .collect();
    out.sort_unstable();
    out
}

/// The epochs of `worker` whose checkpoints read back whole.
pub fn valid_epochs(dir: &Path, worker: usize, fingerprint: u64) -> Vec<u32> {
    epochs(dir, worker)
        .into_iter()
        .filter(|&e| read(dir, worker, e, fingerprint).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_read_back_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let block = ItemBlock {
            stratum: 1,
            q: vec![0.5; 32],
            b: vec![0.25; 2],
        };
        let c = |epoch| Checkpoint {
            fingerprint: 7,
            worker: 1,
            state: Snapshot {
                epoch,
                p: vec![1.0; 16],
                bu: vec![0.0; 1],
                held: block.clone(),
            },
            orders: vec![vec![0, 1], vec![0]],
            scores: vec![0.9; epoch as usize],
            best: None,
        };
        for e in 1..=4 {
            write(dir.path(), &c(e)).unwrap();
        }
        // The last two epochs are kept.
        assert_eq!(epochs(dir.path(), 1), vec![3, 4]);
        assert_eq!(read(dir.path(), 1, 4, 7), Some(c(4)));
        // Another job's fingerprint, or one flipped byte: not resumed.
        assert_eq!(read(dir.path(), 1, 4, 8), None);
        let p = path(dir.path(), 1, 4);
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&p, bytes).unwrap();
        assert_eq!(valid_epochs(dir.path(), 1, 7), vec![3]);
    }
}
