//! Integration tests of movierec-data (one binary, a module per area).

// The hand-made fixture in tests/data/tiny (no real MovieLens rows).
mod fixture;
// Real MovieLens releases under MOVIELENS_DIR (skipped when unset).
mod movielens;
// Synthetic data: write, read back, determinism.
mod synth;
