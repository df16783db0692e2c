//! The checks of a model read from outside (a file): every offset, index,
//! length and float that scoring, fold-in and similar items rely on, so
//! that a damaged or edited model is an error, never a panic.

use super::storage::Oriented;
use super::KnnModel;
use crate::config::Neighbourhood;
use crate::similarity::check_csr;

impl Oriented {
    /// The training ratings in both orientations, their means and the
    /// baseline, against their own row and column counts.
    fn check(&self) -> Result<(), String> {
        if self.row_ptr.is_empty() || self.col_ptr.is_empty() {
            return Err("the training ratings have no row offsets".into());
        }
        let (rows, cols) = (self.row_ptr.len() - 1, self.col_ptr.len() - 1);
        check_csr("training rows", &self.row_ptr, &self.row_cols, cols)?;
        check_csr("training columns", &self.col_ptr, &self.col_rows, rows)?;
        if self.row_values.len() != self.row_cols.len()
            || self.col_rows.len() != self.row_cols.len()
        {
            return Err("the training ratings' lengths disagree".into());
        }
        if !self.row_values.iter().all(|x| x.is_finite()) {
            return Err("a training rating is not a finite number".into());
        }
        if self.col_mean.len() != cols || !self.col_mean.iter().all(|x| x.is_finite()) {
            return Err("the item means do not match the items or are not finite".into());
        }
        let b = &self.baseline;
        if b.user_bias.len() != rows || b.item_bias.len() != cols {
            return Err(format!(
                "the baseline has {} x {} biases for {rows} x {cols} training ratings",
                b.user_bias.len(),
                b.item_bias.len()
            ));
        }
        movierec_core::Recommender::validate(b).map_err(|e| format!("baseline: {e}"))?;
        let s = self.scale;
        if !(s.min.is_finite() && s.max.is_finite() && s.min <= s.max) {
            return Err("the rating scale is not a finite range".into());
        }
        Ok(())
    }
}

impl KnnModel {
    /// See [`Recommender::validate`](movierec_core::Recommender::validate).
    pub(super) fn check(&self) -> Result<(), String> {
        self.config
            .validate()
            .map_err(|e| format!("settings: {e}"))?;
        self.data.check()?;
        let (rows, cols) = (self.data.row_ptr.len() - 1, self.data.n_cols());
        // Columns are the compared "items": items, or users when user-based.
        let items = if self.config.user_based { rows } else { cols };
        if self.n_items != items {
            return Err(format!(
                "{} items for training ratings of {items}",
                self.n_items
            ));
        }
        self.sims.check(cols)?;
        match self.config.neighbourhood {
            Neighbourhood::Report if self.cuts.len() != cols => {
                return Err(format!(
                    "{} neighbourhood cuts for {cols} columns",
                    self.cuts.len()
                ))
            }
            Neighbourhood::Rated if !self.cuts.is_empty() => {
                return Err("neighbourhood cuts in a rated-neighbourhood model".into())
            }
            _ => {}
        }
        if self.cuts.iter().flatten().any(|(s, _)| !s.is_finite()) {
            return Err("a neighbourhood cut is not a finite number".into());
        }
        if self.k_scores.iter().any(|s| s.k == 0) {
            return Err("a K of the validation grid is 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{KnnConfig, KnnModel, Neighbourhood};
    use movierec_core::{
        Fit, ItemIdx, NoopObserver, Rating, RatingMatrix, RatingScale, Ratings, Recommender,
        RunContext, UserIdx,
    };
    use serde_json::{json, Value};

    fn models() -> Vec<KnnModel> {
        let mut t = Vec::new();
        for u in 0..20u32 {
            for i in 0..15u32 {
                if (u * 7 + i * 5) % 3 != 0 {
                    t.push(Rating::new(u, i, ((u + i) % 10 + 1) as f32 / 2.0));
                }
            }
        }
        let train = RatingMatrix::new(&Ratings::new(t, 20, 15, RatingScale::default())).unwrap();
        let mut out = Vec::new();
        for user_based in [false, true] {
            for neighbourhood in [Neighbourhood::Rated, Neighbourhood::Report] {
                let cfg = KnnConfig {
                    user_based,
                    neighbourhood,
                    k: 3,
                    ..KnnConfig::default()
                };
                out.push(
                    cfg.fit(&train, None, &RunContext::default(), &mut NoopObserver)
                        .unwrap(),
                );
            }
        }
        out
    }

    /// The model after `edit` of its saved form (JSON), or the error.
    fn edited(m: &KnnModel, edit: impl Fn(&mut Value)) -> Result<KnnModel, String> {
        let mut v = serde_json::to_value(m).unwrap();
        edit(&mut v);
        let back: KnnModel = serde_json::from_value(v).map_err(|e| e.to_string())?;
        back.validate().map_err(|e| e.to_string())?;
        Ok(back)
    }

    #[test]
    fn fitted_models_pass() {
        for m in models() {
            m.validate().unwrap();
        }
    }

    /// Every damaged part is an error naming it, before any scoring could
    /// index with it (the panics of issue 16: a neighbour index or a row
    /// offset out of range).
    #[test]
    fn damaged_stores_are_errors() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "similarity",
                Box::new(|v| v["sims"]["items"][0] = json!(10_000)),
            ),
            (
                "similarity",
                Box::new(|v| v["sims"]["ptr"][1] = json!(2178)),
            ),
            ("similarity", Box::new(|v| v["sims"]["ptr"] = json!([]))),
            (
                "similarity",
                Box::new(|v| v["sims"]["sims"][0] = json!(1e300)),
            ),
            (
                "similarity",
                Box::new(|v| {
                    let a = v["sims"]["items"][0].clone();
                    v["sims"]["items"][1] = a;
                }),
            ),
            (
                "similarity",
                Box::new(|v| {
                    v["sims"]["sims"]
                        .as_array_mut()
                        .unwrap()
                        .pop()
                        .map(|_| ())
                        .unwrap()
                }),
            ),
            (
                "training rows",
                Box::new(|v| v["data"]["row_cols"][0] = json!(99)),
            ),
            (
                "training rows",
                Box::new(|v| v["data"]["row_ptr"][2] = json!(1_000_000)),
            ),
            (
                "training columns",
                Box::new(|v| v["data"]["col_rows"][0] = json!(4_000_000_000u32)),
            ),
            ("training", Box::new(|v| v["data"]["row_ptr"] = json!([]))),
            (
                "finite",
                Box::new(|v| v["data"]["row_values"][0] = json!(-1e300)),
            ),
            (
                "item means",
                Box::new(|v| v["data"]["col_mean"].as_array_mut().unwrap().truncate(2)),
            ),
            (
                "baseline",
                Box::new(|v| {
                    v["data"]["baseline"]["item_bias"]
                        .as_array_mut()
                        .unwrap()
                        .truncate(2)
                }),
            ),
            (
                "baseline",
                Box::new(|v| v["data"]["baseline"]["mu"] = json!(1e300)),
            ),
            ("items", Box::new(|v| v["n_items"] = json!(1_000))),
            ("settings", Box::new(|v| v["config"]["k"] = json!(0))),
            (
                "scale",
                Box::new(|v| v["data"]["scale"]["min"] = json!(9.0)),
            ),
        ];
        for m in models() {
            for (want, edit) in &edits {
                let err = match edited(&m, edit) {
                    Ok(_) => panic!("accepted an edit that breaks the {want}"),
                    Err(e) => e,
                };
                assert!(
                    err.contains(want) || err.contains("finite"),
                    "{want}: {err}"
                );
            }
            let cuts = |v: &mut Value| {
                let c = v["cuts"].as_array_mut().unwrap();
                if c.is_empty() {
                    c.push(Value::Null);
                } else {
                    c.pop();
                }
            };
            assert!(edited(&m, cuts).unwrap_err().contains("cuts"));
        }
    }

    /// A huge K is safe: scoring caps its buffers at the number of columns.
    #[test]
    fn a_huge_k_scores_without_overflow() {
        for m in models() {
            let m = edited(&m, |v| v["config"]["k"] = json!(usize::MAX)).unwrap();
            let mut out = vec![0.0; m.n_items()];
            for u in 0..m.n_users().unwrap() {
                m.score_into(UserIdx(u as u32), &mut out);
            }
            let _ = m.similar_items(ItemIdx(0), 5);
        }
    }
}
