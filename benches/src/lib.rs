//! Criterion benchmarks of movierec (see `bench_main.rs`).

pub mod estimates;
