//! Baseline models: a constant, the global mean, the bias baseline
//! (global mean plus regularised user and item biases) and, for top-N
//! lists, the most popular items. The bias baseline is
//! also the default [`Fallback`] for pairs a model cannot score.

use std::convert::Infallible;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::metrics::Accumulator;
use crate::{
    Control, EpochRecord, Error, Fit, ItemIdx, Observer, RatingMatrix, Ratings, Recommender,
    RunContext, ScoreKind, SetMetrics, UserIdx,
};

/// Predicts one value for every pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Constant {
    /// The prediction.
    pub value: f32,
    /// Size of the item index space.
    pub n_items: usize,
}

impl Recommender for Constant {
    fn n_items(&self) -> usize {
        self.n_items
    }
    fn score_into(&self, _user: UserIdx, out: &mut [f32]) {
        out.fill(self.value);
    }
    fn predict(&self, _user: UserIdx, _item: ItemIdx) -> Option<f32> {
        Some(self.value)
    }
    fn validate(&self) -> Result<(), Error> {
        if self.value.is_finite() {
            Ok(())
        } else {
            Err(Error::InvalidModel(format!(
                "the constant {} is not a finite number",
                self.value
            )))
        }
    }
}

/// A constant prediction; the report's default rating is 3.0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConstantConfig {
    /// The prediction. Default: 3.0 (the report's 5.3).
    pub value: f32,
}

impl Default for ConstantConfig {
    fn default() -> Self {
        Self { value: 3.0 }
    }
}

impl Fit for ConstantConfig {
    type Model = Constant;
    type Error = Infallible;
    /// Nothing is chosen on validation.
    fn chooses_on_validation(&self) -> bool {
        false
    }
    fn fit(
        &self,
        train: &RatingMatrix,
        _: Option<&Ratings>,
        _: &RunContext,
        _: &mut dyn Observer,
    ) -> Result<Constant, Infallible> {
        Ok(Constant {
            value: self.value,
            n_items: train.n_items(),
        })
    }
}

/// Predicts the mean training rating for every pair.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalMeanConfig {}

impl Fit for GlobalMeanConfig {
    type Model = Constant;
    type Error = Infallible;
    /// Nothing is chosen on validation.
    fn chooses_on_validation(&self) -> bool {
        false
    }
    fn fit(
        &self,
        train: &RatingMatrix,
        _: Option<&Ratings>,
        _: &RunContext,
        _: &mut dyn Observer,
    ) -> Result<Constant, Infallible> {
        Ok(Constant {
            value: train.global_mean(),
            n_items: train.n_items(),
        })
    }
}

/// Settings of the bias baseline `mu + b_u + b_i`, fitted by alternating
/// least squares as Surprise's `BaselineOnly` does (same defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BiasConfig {
    /// Regularisation of user biases. Default: 15.
    pub reg_user: f32,
    /// Regularisation of item biases. Default: 10.
    pub reg_item: f32,
    /// Alternating sweeps. Default: 10.
    pub epochs: usize,
}

impl Default for BiasConfig {
    fn default() -> Self {
        Self {
            reg_user: 15.0,
            reg_item: 10.0,
            epochs: 10,
        }
    }
}

impl BiasConfig {
    /// Checks the settings before a fit.
    ///
    /// # Errors
    /// [`Error::Config`] for a negative or non-finite regularisation.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, v) in [("reg_user", self.reg_user), ("reg_item", self.reg_item)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config(format!(
                    "bias {name} must be finite and >= 0, got {v}"
                )));
            }
        }
        Ok(())
    }
}

/// `mu + b_u + b_i`: the bias baseline. Users and items without training
/// ratings keep a zero bias, so the prediction is the global mean plus
/// whichever biases are known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BiasBaseline {
    /// Global mean of the training ratings.
    pub mu: f32,
    /// User biases.
    pub user_bias: Vec<f32>,
    /// Item biases.
    pub item_bias: Vec<f32>,
    /// The user-bias regularisation of the fit, for folding in a new user.
    pub reg_user: f32,
}

impl BiasBaseline {
    /// The baseline estimate for one pair (always defined).
    #[inline]
    pub fn estimate(&self, user: UserIdx, item: ItemIdx) -> f32 {
        self.mu + self.user_bias[user.get()] + self.item_bias[item.get()]
    }
}

impl Recommender for BiasBaseline {
    fn n_items(&self) -> usize {
        self.item_bias.len()
    }
    fn n_users(&self) -> Option<usize> {
        Some(self.user_bias.len())
    }
    fn score_into(&self, user: UserIdx, out: &mut [f32]) {
        let base = self.mu + self.user_bias[user.get()];
        for (o, b) in out.iter_mut().zip(&self.item_bias) {
            *o = base + b;
        }
    }
    fn predict(&self, user: UserIdx, item: ItemIdx) -> Option<f32> {
        Some(self.estimate(user, item))
    }
    /// The new user's bias as one sweep of the fit computes it.
    fn score_new_user(&self, rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), Error> {
        crate::check_rated(rated, self.item_bias.len())?;
        let dev: f64 = rated
            .iter()
            .map(|&(i, r)| f64::from(r - self.mu - self.item_bias[i.get()]))
            .sum();
        let bu = shrunk_mean(dev, rated.len(), self.reg_user);
        for (o, bi) in out.iter_mut().zip(&self.item_bias) {
            *o = self.mu + bu + bi;
        }
        Ok(())
    }
    fn validate(&self) -> Result<(), Error> {
        let finite = self.mu.is_finite()
            && self.reg_user.is_finite()
            && self
                .user_bias
                .iter()
                .chain(&self.item_bias)
                .all(|b| b.is_finite());
        if !finite {
            return Err(Error::InvalidModel("a bias is not a finite number".into()));
        }
        if self.reg_user < 0.0 {
            return Err(Error::InvalidModel(format!(
                "the user-bias regularisation {} is negative",
                self.reg_user
            )));
        }
        Ok(())
    }
}

impl Fit for BiasConfig {
    type Model = BiasBaseline;
    type Error = Error;
    /// Nothing is chosen on validation.
    fn chooses_on_validation(&self) -> bool {
        false
    }

    fn fit(
        &self,
        train: &RatingMatrix,
        validation: Option<&Ratings>,
        _: &RunContext,
        observer: &mut dyn Observer,
    ) -> Result<BiasBaseline, Error> {
        self.validate()?;
        let start = Instant::now();
        let mu = train.global_mean();
        let mut model = BiasBaseline {
            mu,
            user_bias: vec![0.0; train.n_users()],
            item_bias: vec![0.0; train.n_items()],
            reg_user: self.reg_user,
        };
        for epoch in 1..=self.epochs {
            for u in 0..train.n_users() {
                let (items, values) = train.user_ratings(UserIdx(u as u32));
                let dev: f64 = items
                    .iter()
                    .zip(values)
                    .map(|(&i, &r)| f64::from(r - mu - model.item_bias[i]))
                    .sum();
                model.user_bias[u] = shrunk_mean(dev, items.len(), self.reg_user);
            }
            for i in 0..train.n_items() {
                let (users, values) = train.item_ratings(ItemIdx(i as u32));
                let dev: f64 = users
                    .iter()
                    .zip(values)
                    .map(|(&u, &r)| f64::from(r - mu - model.user_bias[u]))
                    .sum();
                model.item_bias[i] = shrunk_mean(dev, users.len(), self.reg_item);
            }
            let record = EpochRecord {
                epoch,
                loss: None,
                train: Some(train_metrics(&model, train)),
                validation: validation.map(|v| {
                    SetMetrics::compute(
                        v.entries
                            .iter()
                            .map(|r| (model.estimate(r.user, r.item), r.value)),
                        train.scale(),
                    )
                }),
                seconds: start.elapsed().as_secs_f64(),
            };
            if observer.on_epoch(&record) == Control::Stop {
                break;
            }
        }
        Ok(model)
    }
}

/// `sum / (reg + n)`, and 0 where nothing was rated (also when `reg == 0`).
fn shrunk_mean(sum: f64, n: usize, reg: f32) -> f32 {
    if n == 0 {
        0.0
    } else {
        (sum / (f64::from(reg) + n as f64)) as f32
    }
}

fn train_metrics(model: &BiasBaseline, train: &RatingMatrix) -> SetMetrics {
    let mut acc = Accumulator::default();
    for u in 0..train.n_users() {
        let (items, values) = train.user_ratings(UserIdx(u as u32));
        for (&i, &r) in items.iter().zip(values) {
            acc.add(
                model.estimate(UserIdx(u as u32), ItemIdx(i as u32)),
                r,
                train.scale(),
            );
        }
    }
    acc.finish()
}

/// The most-popular baseline: every item scored by its number of training
/// ratings, the same ranking for every user. A baseline for top-N lists,
/// not for rating prediction.
///
/// A count is not a rating estimate, so [`predict`](Recommender::predict)
/// returns `None` for every pair: in the rating metrics the harness uses its
/// fallback for every test rating (its fallback count equals the number of
/// test ratings), and the RMSE columns are the fallback's, not this model's.
/// [`score_into`](Recommender::score_into) writes the counts (0 for items
/// without a training rating), which rank items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Popular {
    /// Training ratings per item, as scores.
    pub counts: Vec<f32>,
}

impl Recommender for Popular {
    fn n_items(&self) -> usize {
        self.counts.len()
    }
    fn score_into(&self, _user: UserIdx, out: &mut [f32]) {
        out.copy_from_slice(&self.counts);
    }
    /// Ranking only: a count is no rating estimate, so `predict` is `None`.
    fn score_kind(&self) -> ScoreKind {
        ScoreKind::Ranking
    }
    /// The same list for everyone.
    fn score_new_user(&self, _rated: &[(ItemIdx, f32)], out: &mut [f32]) -> Result<(), Error> {
        out.copy_from_slice(&self.counts);
        Ok(())
    }
    fn validate(&self) -> Result<(), Error> {
        match self
            .counts
            .iter()
            .position(|c| !(c.is_finite() && *c >= 0.0))
        {
            Some(i) => Err(Error::InvalidModel(format!(
                "popular: the count of item {i} is not a number >= 0"
            ))),
            None => Ok(()),
        }
    }
}

/// Settings of the most-popular baseline (there are none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopularConfig {}

impl Fit for PopularConfig {
    type Model = Popular;
    type Error = Infallible;
    /// Nothing is chosen on validation.
    fn chooses_on_validation(&self) -> bool {
        false
    }
    fn fit(
        &self,
        train: &RatingMatrix,
        _: Option<&Ratings>,
        _: &RunContext,
        _: &mut dyn Observer,
    ) -> Result<Popular, Infallible> {
        let counts = (0..train.n_items())
            .map(|i| train.item_count(ItemIdx(i as u32)) as f32)
            .collect();
        Ok(Popular { counts })
    }
}

/// What to predict for a pair whose user or item has no training rating, or
/// that a model cannot score (e.g. KNN without a neighbour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fallback {
    /// Global mean plus whichever of the user and item biases is known.
    #[default]
    Bias,
    /// The report's constant 3.0 (its 5.3).
    Report,
    /// The global mean of the training ratings.
    Mean,
}

/// A fitted fallback: always has an estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FallbackModel {
    /// The bias baseline.
    Bias(BiasBaseline),
    /// A constant (the report's 3.0 or the global mean).
    Constant(f32),
}

impl std::str::FromStr for Fallback {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bias" => Ok(Fallback::Bias),
            "report" => Ok(Fallback::Report),
            "mean" => Ok(Fallback::Mean),
            _ => Err(format!(
                "unknown fallback {s:?}: expected bias, report or mean"
            )),
        }
    }
}

impl Fallback {
    /// Fits the fallback on the training ratings.
    pub fn fit(self, train: &RatingMatrix) -> FallbackModel {
        match self {
            Fallback::Bias => {
                let fit = BiasConfig::default().fit(
                    train,
                    None,
                    &RunContext::default(),
                    &mut crate::NoopObserver,
                );
                FallbackModel::Bias(fit.expect("default bias settings are valid"))
            }
            Fallback::Report => FallbackModel::Constant(3.0),
            Fallback::Mean => FallbackModel::Constant(train.global_mean()),
        }
    }
}

impl FallbackModel {
    /// The fallback estimate for one pair. Indices beyond the training index
    /// space (ids first seen in a test file) have an unknown, zero bias.
    #[inline]
    pub fn estimate(&self, user: UserIdx, item: ItemIdx) -> f32 {
        match self {
            FallbackModel::Bias(b) => {
                let bu = b.user_bias.get(user.get()).copied().unwrap_or(0.0);
                let bi = b.item_bias.get(item.get()).copied().unwrap_or(0.0);
                b.mu + bu + bi
            }
            FallbackModel::Constant(c) => *c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoopObserver, Rating, RatingScale};
    use approx::assert_relative_eq;

    fn small() -> RatingMatrix {
        let r = Ratings::new(
            vec![
                Rating::new(0, 0, 5.0),
                Rating::new(0, 1, 4.0),
                Rating::new(1, 0, 3.0),
                Rating::new(1, 1, 2.0),
            ],
            3,
            3,
            RatingScale::default(),
        );
        RatingMatrix::new(&r).unwrap()
    }

    #[test]
    fn unregularised_biases_fit_an_additive_matrix_exactly() {
        let m = small();
        let cfg = BiasConfig {
            reg_user: 0.0,
            reg_item: 0.0,
            epochs: 50,
        };
        let model = cfg
            .fit(&m, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        for (u, i, r) in [(0, 0, 5.0), (0, 1, 4.0), (1, 0, 3.0), (1, 1, 2.0)] {
            assert_relative_eq!(model.estimate(UserIdx(u), ItemIdx(i)), r, epsilon = 1e-4);
        }
        // An unseen user and an unseen item keep a zero bias.
        assert_eq!(model.user_bias[2], 0.0);
        assert_relative_eq!(model.estimate(UserIdx(2), ItemIdx(2)), 3.5);
    }

    #[test]
    fn negative_regularisation_is_rejected() {
        let cfg = BiasConfig {
            reg_user: -1.0,
            ..Default::default()
        };
        assert!(matches!(cfg.validate(), Err(Error::Config(_))));
    }

    #[test]
    fn popular_scores_training_counts_and_predicts_nothing() {
        let r = Ratings::new(
            vec![
                Rating::new(0, 0, 5.0),
                Rating::new(0, 1, 4.0),
                Rating::new(1, 1, 2.0),
            ],
            2,
            3,
            RatingScale::default(),
        );
        let m = RatingMatrix::new(&r).unwrap();
        let model = PopularConfig {}
            .fit(&m, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        let mut out = vec![f32::NAN; 3];
        model.score_into(UserIdx(0), &mut out);
        assert_eq!(out, vec![1.0, 2.0, 0.0]);
        assert_eq!(model.predict(UserIdx(0), ItemIdx(1)), None);
        assert_eq!(
            model.recommend(UserIdx(1), 5, &m),
            vec![(ItemIdx(0), 1.0), (ItemIdx(2), 0.0)]
        );
    }

    /// A loaded bias, constant or popular model with a non-finite number
    /// or a negative regularisation is an error; a fold-in outside the
    /// items is an error, not a panic.
    #[test]
    fn validate_rejects_damaged_baselines() {
        let m = small();
        let good = BiasConfig::default()
            .fit(&m, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        good.validate().unwrap();
        for edit in [
            |b: &mut BiasBaseline| b.mu = f32::NAN,
            |b: &mut BiasBaseline| b.item_bias[1] = f32::INFINITY,
            |b: &mut BiasBaseline| b.user_bias[0] = f32::NEG_INFINITY,
            |b: &mut BiasBaseline| b.reg_user = -1.0,
            |b: &mut BiasBaseline| b.reg_user = f32::NAN,
        ] {
            let mut b = good.clone();
            edit(&mut b);
            assert!(matches!(b.validate(), Err(Error::InvalidModel(_))));
        }
        let mut out = vec![0.0; 3];
        assert!(good.score_new_user(&[(ItemIdx(7), 4.0)], &mut out).is_err());
        let c = Constant {
            value: f32::NAN,
            n_items: 3,
        };
        assert!(matches!(c.validate(), Err(Error::InvalidModel(_))));
        for counts in [vec![1.0, f32::NAN], vec![-1.0]] {
            assert!(Popular { counts }.validate().is_err());
        }
        Popular {
            counts: vec![0.0, 2.0],
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn fallbacks() {
        let m = small();
        assert_eq!(
            Fallback::Report.fit(&m).estimate(UserIdx(2), ItemIdx(2)),
            3.0
        );
        assert_eq!(Fallback::Mean.fit(&m).estimate(UserIdx(2), ItemIdx(2)), 3.5);
        let bias = Fallback::Bias.fit(&m);
        let b = |u, i| bias.estimate(UserIdx(u), ItemIdx(i));
        assert_eq!(b(9, 9), 3.5, "ids outside the index space have zero biases");
        assert_eq!(b(0, 9), b(0, 2));
        let c = GlobalMeanConfig {}
            .fit(&m, None, &RunContext::default(), &mut NoopObserver)
            .unwrap();
        assert_eq!(c.predict(UserIdx(0), ItemIdx(0)), Some(3.5));
    }
}
