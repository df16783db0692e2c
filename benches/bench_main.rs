//! The one criterion binary of movierec: a module per area.

mod autoencoder;
mod data;
mod gap;
mod knn;
mod mf;
mod recommend;
mod shape;
mod topn;

criterion::criterion_main!(
    autoencoder::benches,
    data::benches,
    gap::benches,
    knn::benches,
    knn::large,
    mf::benches,
    recommend::benches,
    topn::benches
);
