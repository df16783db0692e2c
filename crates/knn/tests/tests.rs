//! Integration tests of movierec-knn.

// Fit and evaluate on real MovieLens data (skipped without MOVIELENS_DIR).
mod movielens;
