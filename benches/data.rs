//! Parse throughput of the MovieLens reader (`movierec-data`): MB/s in
//! `data/parse`, rows/s in `data/parse_rows`, on ml-latest-small (from
//! `MOVIELENS_DIR`) and on a 10-million-row synthetic file.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use movierec_data::{load, write_synthetic, LoadOptions, SynthConfig};

/// A folder holding only `ratings.csv`, so that `load` times the ratings
/// parse alone (no catalog), with its size in bytes and rows.
struct Input {
    name: &'static str,
    dir: PathBuf,
    bytes: u64,
    rows: u64,
    _tmp: tempfile::TempDir,
}

fn inputs() -> Vec<Input> {
    let mut out = Vec::new();
    match std::env::var_os("MOVIELENS_DIR") {
        Some(d) => {
            let tmp = tempfile::tempdir().expect("temp dir");
            let src = Path::new(&d).join("ratings.csv");
            std::fs::copy(&src, tmp.path().join("ratings.csv")).expect("copy ratings.csv");
            let rows = load(tmp.path(), &LoadOptions::default()).expect("ml-latest-small loads");
            out.push(Input {
                name: "ml-latest-small",
                dir: tmp.path().to_path_buf(),
                bytes: std::fs::metadata(&src).expect("ratings.csv").len(),
                rows: rows.ratings.len() as u64,
                _tmp: tmp,
            });
        }
        None => eprintln!("MOVIELENS_DIR is not set: skipping the ml-latest-small parse bench"),
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let cfg = SynthConfig {
        users: 100_000,
        items: 20_000,
        ratings: 10_000_000,
        seed: 42,
        rank: 8,
        noise: 0.5,
    };
    let s = write_synthetic(&cfg, tmp.path()).expect("synthetic data");
    std::fs::remove_file(tmp.path().join("movies.csv")).expect("movies.csv");
    out.push(Input {
        name: "synthetic-10m",
        dir: tmp.path().to_path_buf(),
        bytes: s.bytes,
        rows: s.ratings,
        _tmp: tmp,
    });
    out
}

/// Registers both throughput groups over the same inputs.
pub fn parse(c: &mut Criterion) {
    let inputs = inputs();
    for (group, by_rows) in [("data/parse", false), ("data/parse_rows", true)] {
        let mut g = c.benchmark_group(group);
        g.sample_size(10).sampling_mode(SamplingMode::Flat);
        for input in &inputs {
            g.throughput(if by_rows {
                Throughput::Elements(input.rows)
            } else {
                Throughput::Bytes(input.bytes)
            });
            g.measurement_time(Duration::from_secs(if input.rows > 1_000_000 {
                20
            } else {
                5
            }));
            g.bench_with_input(
                BenchmarkId::new("ratings.csv", input.name),
                &input.dir,
                |b, dir| b.iter(|| black_box(load(dir, &LoadOptions::default()).expect("loads"))),
            );
        }
        g.finish();
    }
}

criterion::criterion_group!(benches, parse);
