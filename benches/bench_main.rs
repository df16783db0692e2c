//! The one criterion binary of movierec: a module per area.

mod autoencoder;
mod data;
mod knn;
mod mf;
mod shape;

criterion::criterion_main!(
    autoencoder::benches,
    data::benches,
    knn::benches,
    mf::benches
);
