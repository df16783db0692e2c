//! Criterion benchmarks of movierec (see `bench_main.rs`).
