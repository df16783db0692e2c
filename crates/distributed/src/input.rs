//! Each worker's share of the ratings file (a byte range cut at line
//! starts), the hashes that place users and items in strata without any
//! id table, and the seeded validation carve.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use crate::Error;

/// A raw rating: user id, movie id, value.
pub type RawRating = (u64, u64, f32);

/// SplitMix64's finaliser: a bijection of `u64` with good avalanche.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The user stratum (and owning worker) of raw user id `user` among `workers`.
pub fn user_stratum(user: u64, workers: usize) -> usize {
    (mix(user ^ 0x5553_4552) % workers as u64) as usize
}

/// The item stratum (and home worker) of raw movie id `item` among `workers`.
pub fn item_stratum(item: u64, workers: usize) -> usize {
    (mix(item ^ 0x4954_454D) % workers as u64) as usize
}

/// Whether the rating `(user, item)` goes to the validation set: a seeded
/// hash of the pair below `fraction`, so that every process decides alone
/// and the same way.
pub fn is_validation(seed: u64, user: u64, item: u64, fraction: f64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let h = mix(mix(seed ^ 0x0056_414C) ^ mix(user).rotate_left(17) ^ item);
    ((h >> 11) as f64 / (1u64 << 53) as f64) < fraction
}

/// The ratings file inside a dataset path: the path itself, or
/// `ratings.csv` in a folder.
pub fn ratings_file(path: &Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join("ratings.csv")
    } else {
        path.to_path_buf()
    }
}

/// The ratings whose lines start in part `part` of `parts` equal byte
/// ranges of the CSV file `path` (`user,item,rating[,...]`, an optional
/// header line). Each line belongs to the range holding its first byte, so
/// the parts cover the file once whatever the cut points.
pub fn read_part(path: &Path, part: usize, parts: usize) -> Result<Vec<RawRating>, Error> {
    let shown = path.display();
    let io = |e: std::io::Error| Error(format!("{shown}: {e}"));
    let mut file = File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    let lo = (u128::from(size) * part as u128 / parts as u128) as u64;
    let hi = (u128::from(size) * (part as u128 + 1) / parts as u128) as u64;
    let mut pos = lo;
    let mut line = Vec::new();
    if lo > 0 {
        // The line holding byte lo - 1 belongs to the previous part.
        file.seek(SeekFrom::Start(lo - 1)).map_err(io)?;
        let mut reader = BufReader::with_capacity(1 << 16, &mut file);
        pos = lo - 1 + reader.read_until(b'\n', &mut line).map_err(io)? as u64;
    } else {
        file.seek(SeekFrom::Start(0)).map_err(io)?;
    }
    file.seek(SeekFrom::Start(pos)).map_err(io)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut out = Vec::new();
    while pos < hi {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).map_err(io)?;
        if n == 0 {
            break;
        }
        let start = pos;
        pos += n as u64;
        if line.len() > 1 << 20 {
            return Err(Error(format!("{shown}: byte {start}: a line over 1 MiB")));
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| Error(format!("{shown}: byte {start}: not UTF-8 text")))?
            .trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            continue;
        }
        let mut fields = text.split(',');
        let (u, i, r) = (fields.next(), fields.next(), fields.next());
        let parsed = match (u, i, r) {
            (Some(u), Some(i), Some(r)) => u
                .trim()
                .parse::<u64>()
                .ok()
                .zip(i.trim().parse::<u64>().ok())
                .zip(r.trim().parse::<f32>().ok().filter(|r| r.is_finite())),
            _ => None,
        };
        match parsed {
            Some(((u, i), r)) => out.push((u, i, r)),
            None if start == 0 => {} // the header
            None => {
                return Err(Error(format!(
                    "{shown}: byte {start}: expected user,item,rating, found {}",
                    movierec_core::text::shown(text, 80)
                )))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_every_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut text = String::from("userId,movieId,rating,timestamp\n");
        for x in 0..500u64 {
            text.push_str(&format!(
                "{},{},{}.5,{}\n",
                x % 37,
                x * 7 % 101,
                x % 5,
                x * 1000
            ));
        }
        std::fs::write(&path, &text).unwrap();
        let all = read_part(&path, 0, 1).unwrap();
        assert_eq!(all.len(), 500);
        for parts in [2, 3, 7, 64, 2000] {
            let mut got: Vec<RawRating> = Vec::new();
            for p in 0..parts {
                got.extend(read_part(&path, p, parts).unwrap());
            }
            assert_eq!(got, all, "{parts} parts");
        }
    }
}
