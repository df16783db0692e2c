//! Integration tests of movierec-mf.

// Fits on the real ml-latest-small when MOVIELENS_DIR points at it.
mod real_data;
