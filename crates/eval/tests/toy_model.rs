//! A model written outside every crate of the workspace, a per-item median,
//! runs through the protocol, tuning's refit and ranking with no edit of
//! movierec-eval: what "one place per model" asks of the harness.

use std::convert::Infallible;

use movierec_core::{
    Error, Fit, ItemIdx, Observer, Rating, RatingMatrix, RatingScale, Ratings, Recommender,
    RunContext, UserIdx,
};
use movierec_eval::{evaluate, EvalOptions, NoMonitor, RankingOptions};
use serde::{Deserialize, Serialize};

/// Settings of the toy model: none but a floor on the ratings an item needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct MedianConfig {
    min_ratings: usize,
}

/// Every item's median training rating, the same for every user.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Median {
    medians: Vec<f32>,
}

impl Recommender for Median {
    fn n_items(&self) -> usize {
        self.medians.len()
    }
    fn score_into(&self, _user: UserIdx, out: &mut [f32]) {
        out.copy_from_slice(&self.medians);
    }
    fn score_new_user(&self, _rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), Error> {
        out.copy_from_slice(&self.medians);
        Ok(())
    }
}

impl Fit for MedianConfig {
    type Model = Median;
    type Error = Infallible;
    fn fit(
        &self,
        train: &RatingMatrix,
        _validation: Option<&Ratings>,
        _ctx: &RunContext,
        _observer: &mut dyn Observer,
    ) -> Result<Median, Infallible> {
        let medians = (0..train.n_items())
            .map(|i| {
                let mut v = train.item_ratings(ItemIdx(i as u32)).1.to_vec();
                if v.len() < self.min_ratings.max(1) {
                    return f32::NAN;
                }
                v.sort_by(f32::total_cmp);
                v[v.len() / 2]
            })
            .collect();
        Ok(Median { medians })
    }
}

#[test]
fn a_model_from_outside_runs_through_the_protocol() {
    let mut entries = Vec::new();
    for u in 0..50u32 {
        for i in 0..20u32 {
            if (u + 3 * i) % 3 != 0 {
                entries.push(Rating::new(u, i, 1.0 + ((i % 5) as f32)));
            }
        }
    }
    let ratings = Ratings::new(entries, 50, 20, RatingScale::new(0.5, 5.0));
    let opts = EvalOptions {
        ranking: Some(RankingOptions::default()),
        ..EvalOptions::default()
    };
    let report = evaluate(
        "median",
        &MedianConfig::default(),
        &ratings,
        None,
        &opts,
        &mut NoMonitor,
    )
    .unwrap();
    assert_eq!(report.repeats.len(), opts.split.repeats);
    // Each item's ratings are constant, so the median is exact.
    assert!(report.mean.rmse < 1e-6, "{}", report.mean.rmse);
    assert_eq!(report.context, opts.context());
    assert!(report.repeats[0].ranking.is_some());
}
