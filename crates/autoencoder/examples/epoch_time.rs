//! Milliseconds per training epoch on a dataset folder:
//! `cargo run --release -p movierec-autoencoder --example epoch_time -- DIR '{"hidden": [100]}' [EPOCHS]`.

use std::time::Instant;

use movierec_autoencoder::{AutoencoderConfig, Trainer};
use movierec_core::RatingMatrix;

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("dataset folder");
    let json = args.next().unwrap_or_else(|| "{}".into());
    let epochs: usize = args.next().map_or(50, |e| e.parse().unwrap());
    let ds = movierec_data::load(dir.as_ref(), &Default::default()).unwrap();
    let train = RatingMatrix::new(&ds.ratings).unwrap();
    let mut full = serde_json::to_value(AutoencoderConfig::report()).unwrap();
    for (k, x) in serde_json::from_str::<serde_json::Value>(&json)
        .unwrap()
        .as_object()
        .unwrap()
    {
        full[k] = x.clone();
    }
    let cfg: AutoencoderConfig = serde_json::from_value(full).unwrap();
    let mut trainer = Trainer::new(&cfg, &train, 42).unwrap();
    trainer.run_epoch();
    let t = Instant::now();
    for _ in 0..epochs {
        trainer.run_epoch();
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / epochs as f64;
    println!("{ms:.2} ms/epoch over {} ratings: {json}", train.nnz());
}
