use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built binary with `args`.
pub fn movierec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_movierec"))
        .args(args)
        .env_remove("MOVIELENS_DIR")
        .output()
        .expect("the binary runs")
}

/// Writes a small ml-latest folder: `users` x 40 movies with a user + item pattern.
pub fn tiny_dataset(dir: &Path, users: u32) {
    let mut ratings = String::from("userId,movieId,rating,timestamp\n");
    for u in 1..=users {
        for m in 1..=40u32 {
            if (u * 7 + m * 3) % 5 != 0 {
                let r = (1.0 + f64::from(u % 4) * 0.5 + f64::from(m % 5) * 0.5).min(5.0);
                ratings.push_str(&format!("{u},{m},{r:.1},{}\n", 1_000_000 + u * 100 + m));
            }
        }
    }
    std::fs::write(dir.join("ratings.csv"), ratings).unwrap();
    let mut movies = String::from("movieId,title,genres\n");
    for m in 1..=41u32 {
        movies.push_str(&format!(
            "{m},\"Movie {m}, The ({})\",Drama|Comedy\n",
            1950 + m
        ));
    }
    std::fs::write(dir.join("movies.csv"), movies).unwrap();
}

/// Writes a synthetic MovieLens folder at `out` with `movierec synth`.
pub fn synth(out: &Path, users: u32, items: u32, ratings: u32, seed: u64) {
    let o = movierec(&[
        "synth",
        "--quiet",
        "--users",
        &users.to_string(),
        "--items",
        &items.to_string(),
        "--ratings",
        &ratings.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// The ml-latest-small folder `MOVIELENS_DIR` names; `None`, saying that
/// `what` is skipped, when it is unset.
pub fn data_dir(what: &str) -> Option<PathBuf> {
    movierec_data::dataset_for_tests(env!("CARGO_MANIFEST_DIR"), what)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
