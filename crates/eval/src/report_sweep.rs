//! The readings of the report's autoencoder code that its listing leaves
//! open (its 6.1.3 and 6.1.4), and the sweep table that measures each one
//! the report's way and held out.
//!
//! The report's code scores `(train + noise + validate (+ test))[:, :DATA_SIZE].T`:
//! the first `DATA_SIZE` movie columns only, with fixed "noise ratings"
//! added to the training matrix, to the input and to the mask of scored
//! entries. Neither `DATA_SIZE` nor the noise is given. This module holds
//! - [`first_by_id`] and [`restrict`]: the `[:, :DATA_SIZE]` column
//!   restriction (movies by raw id order, as the columns of a matrix built
//!   from the id-sorted `movies.csv`);
//! - [`Noise`]: the plausible readings of `noise_train_ratings` as a fixed
//!   change of the training ratings;
//! - [`SweepData`] and [`score_point`]: one model scored at one epoch the
//!   report's way (training, validation and test accuracy exactly as its
//!   `evaluate` computes them: fed the matrix, every rated entry of the
//!   input compared with the rounded output) and held out;
//! - [`SweepReport`]: the table, the bound that ties the report's
//!   validation and test figures, and the closest configuration.
//!
//! Which model is fitted, and how, is the caller's (the CLI names models;
//! this crate never does).

use std::fmt::Write as _;

use movierec_core::{
    FallbackModel, Rating, RatingMatrix, RatingScale, Ratings, Recommender, SetMetrics,
};
use rand::Rng as _;
use serde::Serialize;

use crate::{predict_all, Result};

/// The `DATA_SIZE` columns: `true` for the items whose raw ids are among the
/// `n` lowest (all items when `n` is `None` or at least their count).
/// `raw_ids[i]` is item `i`'s raw id.
pub fn first_by_id(raw_ids: &[u64], n: Option<usize>) -> Vec<bool> {
    let n = n.unwrap_or(raw_ids.len()).min(raw_ids.len());
    let mut order: Vec<usize> = (0..raw_ids.len()).collect();
    order.sort_unstable_by_key(|&i| raw_ids[i]);
    let mut keep = vec![false; raw_ids.len()];
    for &i in &order[..n] {
        keep[i] = true;
    }
    keep
}

/// The ratings whose item is kept (`keep[item]`; items beyond `keep` are
/// dropped), over the same index space.
pub fn restrict(ratings: &Ratings, keep: &[bool]) -> Ratings {
    let entries = ratings
        .entries
        .iter()
        .filter(|r| keep.get(r.item.get()).copied().unwrap_or(false))
        .copied()
        .collect();
    Ratings::new(entries, ratings.n_users, ratings.n_items, ratings.scale)
}

/// A reading of the report's `noise_train_ratings`: a fixed matrix added to
/// the training ratings, whose sum is the network's input, its target and
/// (through `X + Xn > 0`) the mask of the entries its loss and its
/// accuracies score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Noise {
    /// No noise: the matrix is the training ratings.
    None,
    /// Dropout-style zeroing: each training rating is removed (the noise is
    /// its negative) with probability `share`; a removed rating is neither
    /// input, target nor scored.
    Zero {
        /// Probability of removing each training rating.
        share: f64,
    },
    /// Random extra ratings: `share * |train|` ratings, each a uniform
    /// half-star of the scale, at uniform random cells that hold no rating
    /// of the whole dataset (so `train + noise + validate + test` never
    /// adds two ratings in one cell). They are input, target and scored.
    Extra {
        /// Extra ratings per training rating.
        share: f64,
    },
    /// Gaussian jitter on observed ratings: each training rating plus
    /// `N(0, sd^2)`, rounded to the half-star grid and clamped to the scale
    /// (an unrounded jitter could never equal a half-star output, which
    /// would put the report's accuracies near 0).
    Jitter {
        /// Standard deviation, in stars.
        sd: f64,
    },
}

impl Noise {
    /// Short label for tables.
    pub fn label(&self) -> String {
        match self {
            Noise::None => "none".into(),
            Noise::Zero { share } => format!("zero {:.0}%", share * 100.0),
            Noise::Extra { share } => format!("extra {:.0}%", share * 100.0),
            Noise::Jitter { sd } => format!("jitter sd {sd}"),
        }
    }

    /// `train + noise`: the training matrix the report's code trains on and
    /// scores. `occupied` is every rating of the dataset (where
    /// [`Noise::Extra`] may not put a rating). Deterministic in `seed`.
    pub fn apply(&self, train: &Ratings, occupied: &Ratings, seed: u64) -> Ratings {
        let mut rng = movierec_core::rng_for(seed, 0x6e6f_6973);
        let scale = train.scale;
        let entries: Vec<Rating> = match *self {
            Noise::None => train.entries.clone(),
            Noise::Zero { share } => train
                .entries
                .iter()
                .filter(|_| rng.random::<f64>() >= share)
                .copied()
                .collect(),
            Noise::Jitter { sd } => train
                .entries
                .iter()
                .map(|r| {
                    let x = f64::from(r.value) + sd * gaussian(&mut rng);
                    let v = scale.clamp(movierec_core::metrics::half_star(x as f32));
                    Rating { value: v, ..*r }
                })
                .collect(),
            Noise::Extra { share } => {
                let want = (share * train.len() as f64).round() as usize;
                let cells = occupied.n_users as u64 * occupied.n_items as u64;
                let taken: std::collections::HashSet<u64> = occupied
                    .entries
                    .iter()
                    .map(|r| r.user.0 as u64 * occupied.n_items as u64 + r.item.0 as u64)
                    .collect();
                let free = cells.saturating_sub(taken.len() as u64);
                let want = want.min(free as usize);
                let mut added = std::collections::HashSet::with_capacity(want);
                let mut out = train.entries.clone();
                let grid = half_stars(scale);
                while added.len() < want {
                    let c = rng.random_range(0..cells);
                    if taken.contains(&c) || !added.insert(c) {
                        continue;
                    }
                    let u = (c / occupied.n_items as u64) as u32;
                    let i = (c % occupied.n_items as u64) as u32;
                    let v = grid[rng.random_range(0..grid.len())];
                    out.push(Rating::new(u, i, v));
                }
                out
            }
        };
        Ratings::new(entries, train.n_users, train.n_items, scale)
    }
}

/// The half-star values of `scale` (0.5 to 5 on MovieLens; whole stars are
/// multiples of 0.5 too).
fn half_stars(scale: RatingScale) -> Vec<f32> {
    let lo = (scale.min * 2.0).ceil() as i32;
    let hi = (scale.max * 2.0).floor() as i32;
    (lo.max(1)..=hi).map(|k| k as f32 / 2.0).collect()
}

/// A standard normal draw (Box-Muller).
fn gaussian(rng: &mut movierec_core::Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// One cell's inputs: the report's three input matrices and the entries
/// each scores, restricted to the `DATA_SIZE` columns, and the held-out
/// sets on the same columns.
#[derive(Debug, Clone)]
pub struct SweepData {
    /// `train + noise` (all columns; a model's output for an item depends
    /// on that item's vector alone, so restricting the scored entries is
    /// restricting the matrix).
    pub input_train: RatingMatrix,
    /// `train + noise + validate`.
    pub input_validation: RatingMatrix,
    /// `train + noise + validate + test`.
    pub input_test: RatingMatrix,
    /// Entries of `train + noise` in the kept columns.
    pub scored_train: Vec<Rating>,
    /// Entries of `train + noise + validate` in the kept columns.
    pub scored_validation: Vec<Rating>,
    /// Entries of `train + noise + validate + test` in the kept columns,
    /// the test ones last.
    pub scored_test: Vec<Rating>,
    /// How many of `scored_test`'s entries, at its end, are test ratings.
    pub n_test_entries: usize,
    /// Validation ratings in the kept columns (held out).
    pub validation: Vec<Rating>,
    /// Test ratings in the kept columns (held out).
    pub test: Vec<Rating>,
}

impl SweepData {
    /// The matrices and entry lists of one cell: `noisy` is `train + noise`,
    /// `keep` the `DATA_SIZE` columns.
    ///
    /// # Errors
    /// When a rating matrix cannot be built (two ratings in one cell).
    pub fn new(
        noisy: &Ratings,
        validation: &Ratings,
        test: &Ratings,
        keep: &[bool],
    ) -> Result<Self> {
        let tv = noisy.concat(validation);
        let all = tv.concat(test);
        let scored_test = restrict(&all, keep).entries;
        let test_kept = restrict(test, keep).entries;
        Ok(Self {
            input_train: RatingMatrix::new(noisy)?,
            input_validation: RatingMatrix::new(&tv)?,
            input_test: RatingMatrix::new(&all)?,
            scored_train: restrict(noisy, keep).entries,
            scored_validation: restrict(&tv, keep).entries,
            n_test_entries: test_kept.len(),
            scored_test,
            validation: restrict(validation, keep).entries,
            test: test_kept,
        })
    }

    /// Share of the report's test figure's entries that its validation
    /// figure also scores (`|train + noise + validate| / |... + test|` in
    /// the kept columns).
    pub fn validation_share(&self) -> f64 {
        self.scored_validation.len() as f64 / self.scored_test.len().max(1) as f64
    }
}

/// One model at one epoch, measured the report's way and held out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Epochs trained.
    pub epoch: usize,
    /// The report's training accuracy: fed `train + noise`, every entry of
    /// it (in the kept columns) scored.
    pub train_report: SetMetrics,
    /// The report's validation accuracy: fed `train + noise + validate`,
    /// every entry scored.
    pub validation_report: SetMetrics,
    /// The report's test accuracy: fed `train + noise + validate + test`,
    /// every entry scored.
    pub test_report: SetMetrics,
    /// Of [`test_report`](Self::test_report), the test ratings alone.
    pub test_report_test_entries: SetMetrics,
    /// The validation ratings, not in the input.
    pub validation_held_out: SetMetrics,
    /// The test ratings, not in the input.
    pub test_held_out: SetMetrics,
}

/// Scores `model` (fitted on `fitted`, the matrix it was trained on) at
/// `epoch` on `data`: fed each of the report's inputs through
/// [`Recommender::with_input`] (a model without it is scored as fitted),
/// pairs it cannot score from `fallback`.
pub fn score_point(
    model: &dyn Recommender,
    fitted: &RatingMatrix,
    fallback: &FallbackModel,
    data: &SweepData,
    epoch: usize,
) -> SweepPoint {
    let scale = fitted.scale();
    let metrics = |p: &[f32], e: &[Rating]| {
        SetMetrics::compute(p.iter().zip(e).map(|(&p, r)| (p, r.value)), scale)
    };
    let fed = |input: &RatingMatrix, entries: &[Rating]| -> Vec<f32> {
        match model.with_input(input) {
            Some(m) => predict_all(m.as_ref(), input, fallback, entries).0,
            None => predict_all(model, fitted, fallback, entries).0,
        }
    };
    let p_train = fed(&data.input_train, &data.scored_train);
    let p_val = fed(&data.input_validation, &data.scored_validation);
    let p_test = fed(&data.input_test, &data.scored_test);
    let k = data.scored_test.len() - data.n_test_entries;
    let held = |e: &[Rating]| metrics(&predict_all(model, fitted, fallback, e).0, e);
    SweepPoint {
        epoch,
        train_report: metrics(&p_train, &data.scored_train),
        validation_report: metrics(&p_val, &data.scored_validation),
        test_report: metrics(&p_test, &data.scored_test),
        test_report_test_entries: metrics(&p_test[k..], &data.scored_test[k..]),
        validation_held_out: held(&data.validation),
        test_held_out: held(&data.test),
    }
}

/// One swept configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepCell {
    /// Which factor the row varies (`base`, `DATA_SIZE scored`, ...).
    pub group: String,
    /// The row's setting, in words.
    pub label: String,
    /// `DATA_SIZE` (`None`: every column).
    pub data_size: Option<usize>,
    /// Whether the training batches used the `DATA_SIZE` columns only.
    pub train_on_subset: bool,
    /// The noise reading.
    pub noise: Noise,
    /// The model's settings as serialised.
    pub config: serde_json::Value,
    /// Share of the report's test figure's entries that its validation
    /// figure also scores ([`SweepData::validation_share`]).
    pub validation_share: f64,
    /// Seconds of training and scoring.
    pub seconds: f64,
    /// The measured epochs, in order.
    pub curve: Vec<SweepPoint>,
}

impl SweepCell {
    /// The last measured epoch (end of training).
    pub fn last(&self) -> Option<&SweepPoint> {
        self.curve.last()
    }

    /// The measured epoch with the lowest held-out validation RMSE: where
    /// early stopping would have stopped (first on ties).
    pub fn early_stopped(&self) -> Option<&SweepPoint> {
        self.curve.iter().min_by(|a, b| {
            a.validation_held_out
                .rmse
                .total_cmp(&b.validation_held_out.rmse)
        })
    }

    /// The measured epoch with the highest report-way training accuracy
    /// (first on ties): where training accuracy stops rising.
    pub fn peak_training(&self) -> Option<&SweepPoint> {
        self.curve
            .iter()
            .fold(None, |best: Option<&SweepPoint>, p| match best {
                Some(b) if b.train_report.accuracy >= p.train_report.accuracy => Some(b),
                _ => Some(p),
            })
    }

    /// The point at `epoch`, if measured.
    pub fn at(&self, epoch: usize) -> Option<&SweepPoint> {
        self.curve.iter().find(|p| p.epoch == epoch)
    }
}

/// The report's three figures (Table 1: training, validation, test accuracy).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Target {
    /// Training accuracy (0.7096).
    pub train: f64,
    /// Validation accuracy (0.5869).
    pub validation: f64,
    /// Test accuracy (0.7733).
    pub test: f64,
}

impl Target {
    /// The largest absolute gap between `p`'s report-way figures and these.
    pub fn distance(&self, p: &SweepPoint) -> f64 {
        (p.train_report.accuracy - self.train)
            .abs()
            .max((p.validation_report.accuracy - self.validation).abs())
            .max((p.test_report.accuracy - self.test).abs())
    }
}

/// A row of the table: a cell at one epoch.
#[derive(Debug, Clone, Copy)]
pub struct SweepRow<'a> {
    /// The cell.
    pub cell: &'a SweepCell,
    /// Its point.
    pub point: &'a SweepPoint,
    /// What the epoch is (`end`, `early stop`, a checkpoint).
    pub when: &'static str,
}

/// The sweep of one dataset's split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepReport {
    /// Dataset name.
    pub dataset: String,
    /// Split seed.
    pub seed: u64,
    /// Which repeat of the 90/10 split.
    pub repeat: usize,
    /// Which command, commit and machine produced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// The report's figures.
    pub target: Target,
    /// Every cell.
    pub cells: Vec<SweepCell>,
}

impl SweepReport {
    /// Every cell at its end, and the `base` group's cells also at their
    /// early-stopping epoch and at `checkpoints` (the training-length
    /// reading, from the same runs).
    pub fn rows(&self, checkpoints: &[usize]) -> Vec<SweepRow<'_>> {
        let mut rows = Vec::new();
        for cell in &self.cells {
            if cell.group == "training length" {
                if let Some(p) = cell.early_stopped() {
                    rows.push(SweepRow {
                        cell,
                        point: p,
                        when: "early stop",
                    });
                }
                for &e in checkpoints {
                    if let Some(p) = cell
                        .at(e)
                        .filter(|p| Some(p.epoch) != cell.last().map(|l| l.epoch))
                    {
                        rows.push(SweepRow {
                            cell,
                            point: p,
                            when: "checkpoint",
                        });
                    }
                }
            }
            if let Some(p) = cell.last() {
                rows.push(SweepRow {
                    cell,
                    point: p,
                    when: "end",
                });
            }
        }
        // The epoch of any run closest to the report's figures.
        let closest = self
            .cells
            .iter()
            .flat_map(|c| c.curve.iter().map(move |p| (c, p)))
            .min_by(|a, b| {
                self.target
                    .distance(a.1)
                    .total_cmp(&self.target.distance(b.1))
            });
        if let Some((cell, point)) = closest {
            if !rows
                .iter()
                .any(|r| std::ptr::eq(r.cell, cell) && r.point.epoch == point.epoch)
            {
                rows.push(SweepRow {
                    cell,
                    point,
                    when: "closest epoch",
                });
            }
        }
        rows
    }

    /// The row closest to the report's three figures ([`Target::distance`]).
    pub fn closest<'a>(&self, rows: &[SweepRow<'a>]) -> Option<SweepRow<'a>> {
        rows.iter().copied().min_by(|a, b| {
            self.target
                .distance(a.point)
                .total_cmp(&self.target.distance(b.point))
        })
    }

    /// The row with the highest report-way test accuracy.
    pub fn highest_test<'a>(&self, rows: &[SweepRow<'a>]) -> Option<SweepRow<'a>> {
        rows.iter().copied().max_by(|a, b| {
            a.point
                .test_report
                .accuracy
                .total_cmp(&b.point.test_report.accuracy)
        })
    }

    /// The markdown table of `rows`.
    pub fn table(&self, rows: &[SweepRow<'_>]) -> String {
        let mut s = String::from(
            "| factor | setting | epoch | training, report's way | validation, report's way | \
             test, report's way | its test entries | validation (held out) | test (held out) | \
             report's way − held out (test) | distance to the report | training peak (epoch) |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        );
        let _ = writeln!(
            s,
            "| **the report (Table 1)** | | | **{:.4}** | **{:.4}** | **{:.4}** | | | | | | |",
            self.target.train, self.target.validation, self.target.test
        );
        for r in rows {
            let p = r.point;
            let when = match r.when {
                "end" => format!("{}", p.epoch),
                w => format!("{} ({w})", p.epoch),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {when} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:+.4} | {:.3} | {} |",
                r.cell.group,
                r.cell.label,
                p.train_report.accuracy,
                p.validation_report.accuracy,
                p.test_report.accuracy,
                p.test_report_test_entries.accuracy,
                p.validation_held_out.accuracy,
                p.test_held_out.accuracy,
                p.test_report.accuracy - p.test_held_out.accuracy,
                self.target.distance(p),
                r.cell.peak_training().map_or(String::new(), |q| format!(
                    "{:.4} ({})",
                    q.train_report.accuracy, q.epoch
                )),
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use movierec_core::{ItemIdx, UserIdx};

    fn ratings(entries: Vec<Rating>, n_users: usize, n_items: usize) -> Ratings {
        Ratings::new(entries, n_users, n_items, RatingScale::new(0.5, 5.0))
    }

    fn grid(n_users: u32, n_items: u32) -> Ratings {
        let mut e = Vec::new();
        for u in 0..n_users {
            for i in 0..n_items {
                if (u + i) % 3 != 0 {
                    e.push(Rating::new(
                        u,
                        i,
                        0.5 * f32::from(((u * 7 + i) % 10 + 1) as u8),
                    ));
                }
            }
        }
        ratings(e, n_users as usize, n_items as usize)
    }

    #[test]
    fn data_size_keeps_the_lowest_raw_ids_whatever_the_index_order() {
        // Index order is first appearance; raw ids decide.
        let raw = [50, 3, 1000, 7, 2];
        assert_eq!(
            first_by_id(&raw, Some(3)),
            vec![false, true, false, true, true]
        );
        assert_eq!(first_by_id(&raw, None), vec![true; 5]);
        assert_eq!(first_by_id(&raw, Some(99)), vec![true; 5]);
        assert_eq!(first_by_id(&raw, Some(0)), vec![false; 5]);
        let r = grid(4, 5);
        let kept = restrict(&r, &first_by_id(&raw, Some(2)));
        assert!(!kept.is_empty());
        assert!(kept
            .entries
            .iter()
            .all(|e| e.item == ItemIdx(1) || e.item == ItemIdx(4)));
        let expected = r
            .entries
            .iter()
            .filter(|e| e.item == ItemIdx(1) || e.item == ItemIdx(4))
            .count();
        assert_eq!(kept.len(), expected);
        assert_eq!((kept.n_users, kept.n_items), (4, 5));
    }

    #[test]
    fn zeroing_removes_about_its_share_and_changes_nothing_else() {
        let r = grid(60, 50);
        let z = Noise::Zero { share: 0.3 }.apply(&r, &r, 7);
        let kept = z.len() as f64 / r.len() as f64;
        assert!((kept - 0.7).abs() < 0.05, "{kept}");
        let all: std::collections::HashSet<_> = r
            .entries
            .iter()
            .map(|e| (e.user, e.item, e.value.to_bits()))
            .collect();
        assert!(z
            .entries
            .iter()
            .all(|e| all.contains(&(e.user, e.item, e.value.to_bits()))));
        assert_eq!(Noise::None.apply(&r, &r, 7), r);
        assert_eq!(Noise::Zero { share: 0.3 }.apply(&r, &r, 7), z, "seeded");
    }

    #[test]
    fn extra_ratings_are_half_stars_on_free_cells_only() {
        let r = grid(30, 20);
        let n = r.len();
        let x = Noise::Extra { share: 0.25 }.apply(&r, &r, 3);
        assert_eq!(&x.entries[..n], &r.entries[..]);
        let extra = &x.entries[n..];
        assert_eq!(extra.len(), (0.25 * n as f64).round() as usize);
        let taken: std::collections::HashSet<_> =
            r.entries.iter().map(|e| (e.user, e.item)).collect();
        let mut seen = std::collections::HashSet::new();
        for e in extra {
            assert!(!taken.contains(&(e.user, e.item)), "on a rated cell");
            assert!(seen.insert((e.user, e.item)), "twice on one cell");
            assert!((0.5..=5.0).contains(&e.value));
            assert_eq!((e.value * 2.0).fract(), 0.0);
        }
        // A matrix can be built from train + noise + the rest.
        RatingMatrix::new(&x).unwrap();
        // More than the free cells: capped, and it terminates.
        let full = Noise::Extra { share: 10.0 }.apply(&r, &r, 3);
        assert_eq!(full.len(), 30 * 20);
    }

    #[test]
    fn jitter_moves_ratings_on_the_half_star_grid_within_the_scale() {
        let r = grid(40, 40);
        let j = Noise::Jitter { sd: 0.5 }.apply(&r, &r, 11);
        assert_eq!(j.len(), r.len());
        let mut moved = 0;
        let mut sum = 0.0f64;
        for (a, b) in r.entries.iter().zip(&j.entries) {
            assert_eq!((a.user, a.item), (b.user, b.item));
            assert!((0.5..=5.0).contains(&b.value));
            assert_eq!((b.value * 2.0).fract(), 0.0);
            moved += usize::from(a.value != b.value);
            sum += f64::from(b.value - a.value);
        }
        let share = moved as f64 / r.len() as f64;
        // P(|N(0, 0.5)| rounds away from 0 on a 0.5 grid) = P(|z| > 0.5) ~ 0.62,
        // a little less where the scale clamps.
        assert!((0.45..0.7).contains(&share), "{share}");
        assert!((sum / r.len() as f64).abs() < 0.1);
        assert_eq!(Noise::Jitter { sd: 0.0 }.apply(&r, &r, 11), r);
    }

    /// Predicts the input's own rating where it has one.
    struct Echo(RatingMatrix);
    impl Recommender for Echo {
        fn n_items(&self) -> usize {
            self.0.n_items()
        }
        fn score_into(&self, user: UserIdx, out: &mut [f32]) {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.0.get(user, ItemIdx(i as u32)).unwrap_or(3.0);
            }
        }
        fn predict(&self, user: UserIdx, item: ItemIdx) -> Option<f32> {
            Some(self.0.get(user, item).unwrap_or(3.0))
        }
        fn with_input(&self, input: &RatingMatrix) -> Option<Box<dyn Recommender>> {
            Some(Box::new(Echo(input.clone())))
        }
    }

    #[test]
    fn points_score_the_kept_columns_the_report_way_and_held_out() {
        let r = grid(20, 10);
        let n = r.len();
        let positions: Vec<usize> = (0..n).collect();
        let train = r.select(&positions[..n * 8 / 10]);
        let val = r.select(&positions[n * 8 / 10..n * 9 / 10]);
        let test = r.select(&positions[n * 9 / 10..]);
        let keep: Vec<bool> = (0..10).map(|i| i < 4).collect();
        let noisy = Noise::Extra { share: 0.1 }.apply(&train, &r, 1);
        let data = SweepData::new(&noisy, &val, &test, &keep).unwrap();
        assert!(data
            .scored_test
            .iter()
            .chain(&data.validation)
            .all(|e| e.item.get() < 4));
        assert_eq!(
            data.scored_test.len(),
            data.scored_validation.len() + data.n_test_entries
        );
        let fitted = RatingMatrix::new(&noisy).unwrap();
        let fallback = movierec_core::Fallback::Report.fit(&fitted);
        let p = score_point(&Echo(fitted.clone()), &fitted, &fallback, &data, 3);
        assert_eq!(p.epoch, 3);
        // Fed its input, the echo reproduces every scored entry, noise included.
        assert_eq!(p.train_report.accuracy, 1.0);
        assert_eq!(p.validation_report.accuracy, 1.0);
        assert_eq!(p.test_report.accuracy, 1.0);
        assert_eq!(p.test_report_test_entries.n, data.n_test_entries);
        // Held out, it says 3.0.
        let threes = data.test.iter().filter(|e| e.value == 3.0).count();
        assert_eq!(
            p.test_held_out.accuracy,
            threes as f64 / data.test.len() as f64
        );
    }
}
