//! Integration tests of movierec-autoencoder, one binary (`autotests = false`).

// Fits on ml-latest-small when MOVIELENS_DIR points at it (skipped otherwise).
mod movielens;
