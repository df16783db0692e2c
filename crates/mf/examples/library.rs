//! movierec as a library: from a MovieLens folder to a prediction for raw
//! ids and a top-5 list. The README's "Use as a library" section is this file.
//!
//! ```sh
//! cargo run --release -p movierec-mf --example library -- data/ml-latest-small
//! ```

use movierec_core::{Fit, ItemIdx, NoopObserver, RatingMatrix, Recommender, RunContext, UserIdx};
use movierec_data::{load, LoadOptions};
use movierec_mf::SgdConfig;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "data/ml-latest-small".into());
    let data = load(dir.as_ref(), &LoadOptions::default())?;
    let train = RatingMatrix::new(&data.ratings)?;
    // Two threads, seed 42: the same context gives the same model, bit for bit.
    let ctx = RunContext::new(2, 42);
    let model = SgdConfig::default().fit(&train, None, &ctx, &mut NoopObserver)?;
    // Raw MovieLens ids in, dense indices inside.
    let user = UserIdx(data.users.get(1).ok_or("no user 1")?);
    let movie = ItemIdx(data.items.get(318).ok_or("no movie 318")?);
    println!("user 1, movie 318: {:?}", model.predict(user, movie));
    // The five best movies user 1 has not rated, as raw ids.
    let top: Vec<u64> = model
        .recommend(user, 5, &train)
        .into_iter()
        .map(|(i, _)| data.items.raw(i.0))
        .collect();
    println!("user 1's top 5 unseen movie ids: {top:?}");
    Ok(())
}
