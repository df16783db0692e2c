//! `movierec train`: fit one model on a dataset and save it, with the id
//! maps, the training ratings and the catalogue, for `recommend`,
//! `similar` and `predict`.
//!
//! The fit follows `evaluate`: the model makes its own choices (K, epochs)
//! on a validation part carved from the training ratings, then is refitted
//! on all of them with those choices ([`fit_as_train`]).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use movierec_core::{Fit, Observer, RatingMatrix, Ratings, RunContext, UserIdx};
use movierec_data::{carve_validation, make_split, SplitConfig};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::evaluate::ProtocolArgs;
use crate::models::{with_model, ModelArgs, ModelKind, ModelVisitor};
use crate::progress::{Bar, FitProgress};
use crate::store::{Contents, TrainRatings};

/// Arguments of `movierec train`. The protocol flags serve `--holdout`
/// (its split 0); `--repeats` is evaluate's and hidden here.
#[derive(Debug, Args)]
#[command(mut_arg("repeats", |a| a.hide(true)))]
pub struct TrainArgs {
    /// The model to fit; by default the best top-N model (EASE).
    #[arg(long, value_enum, default_value = "ease")]
    model: ModelKind,
    #[command(flatten)]
    distributed: crate::launch::DistributedArgs,
    #[command(flatten)]
    model_args: ModelArgs,
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Keep the protocol's test set (split 0 of --seed, as `evaluate` and
    /// `split` draw it) out of the fit, so the saved model can be scored on it.
    #[arg(long)]
    holdout: bool,
    /// Where to save the model (written to a temporary file, then renamed).
    #[arg(long, value_name = "FILE.mrec")]
    out: PathBuf,
    /// KNN without --max-neighbours: keep each movie's N most similar
    /// movies, so that the file loads fast (N = 200: 13 MB, about 50 ms on
    /// ml-latest-small, against 81 MB and 300 ms exact, for +0.006 RMSE);
    /// 0 keeps the exact store.
    #[arg(long, value_name = "N", default_value_t = movierec_knn::LARGE_NEIGHBOURS)]
    knn_cap: usize,
    /// One fit instead of two: the model is fitted once on the training
    /// part, the validation part (--validation-fraction of the ratings)
    /// serving only its own choices (early stopping, K) and left out of the
    /// fit; with --validation-fraction 0 the one fit is on every rating,
    /// with nothing chosen on validation. Without it, the choices are
    /// refitted on all ratings (two fits; one when the settings choose
    /// nothing on validation, e.g. KNN with a fixed K).
    #[arg(long)]
    no_refit: bool,
}

/// Refuses what `train` would ignore: a split setting without `--holdout`
/// (only the held-out test part uses them), `--repeats` (one fit), and
/// `--knn-cap` for another model than KNN.
fn check_train_flags(args: &TrainArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        !args.protocol.is_report(),
        "--protocol report is an evaluate option"
    );
    let split = args.protocol.options(true, 1).split;
    let d = SplitConfig::default();
    anyhow::ensure!(
        split.repeats == d.repeats,
        "train fits once: --repeats is evaluate's"
    );
    crate::split::check_used(&split)?;
    anyhow::ensure!(
        args.holdout
            || (split.protocol == d.protocol
                && split.folds == d.folds
                && split.test_fraction == d.test_fraction),
        "--protocol, --folds and --test-fraction choose the test part --holdout keeps out; \
         without --holdout train fits on every rating"
    );
    anyhow::ensure!(
        args.knn_cap == movierec_knn::LARGE_NEIGHBOURS || args.model == ModelKind::Knn,
        "--knn-cap applies to --model knn"
    );
    Ok(())
}

/// Runs `movierec train`.
pub fn run(args: TrainArgs, quiet: bool, threads: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    args.model_args.check_flags(&[args.model])?;
    check_train_flags(&args)?;
    if args.distributed.workers.is_some() {
        let (m, d) = (&args.model_args, &args.distributed);
        let (p, out) = (&args.protocol, &args.out);
        return crate::launch::train(args.model, m, p, out, args.holdout, d, quiet, threads);
    }
    let mut ds = args.protocol.load(quiet)?;
    let spinner = Bar::spinner("splitting", quiet);
    let opts = args.protocol.options(true, threads);
    let ctx = opts.context();
    let seed = opts.split.seed;
    // The ratings to fit on, and the part of them the model chooses on.
    let (fit, held): (Vec<usize>, Vec<usize>) = if args.holdout {
        let cfg = SplitConfig {
            repeats: 1,
            ..opts.split.clone()
        };
        let s = make_split(&ds.ratings, ds.timestamps.as_deref(), &cfg, 0)?;
        (s.train, s.validation)
    } else {
        let n = ds.ratings.len();
        carve_validation(n, opts.split.validation_fraction, seed)
    };
    let mut train = ds.ratings.select(&fit);
    let validation = ds.ratings.select(&held);
    drop((fit, held));
    // The loaded entries and timestamps are not needed past the split (20
    // bytes a rating: 2 GB at 100M); the dataset keeps its ids and catalog.
    ds.ratings.entries = Vec::new();
    ds.timestamps = None;
    spinner.finish_and_clear();
    // The matrix of all ratings gives the saved training ratings and the
    // fallback, and is handed to the fit, which uses it when it fits on all
    // ratings (and drops it first otherwise); without a validation set the
    // fit's ratings need not be kept beside it.
    let matrix = RatingMatrix::new(&train.concat(&validation))?;
    let (n_ratings, n_users, n_items) = (matrix.nnz(), matrix.n_users(), matrix.n_items());
    let saved_train = train_ratings(&matrix);
    let fallback = opts.fallback.fit(&matrix);
    if validation.is_empty() {
        train.entries = Vec::new();
    }
    let mut model_args = args.model_args.clone();
    model_args.saving_cap = (args.knn_cap > 0).then_some(args.knn_cap);
    let mut visitor = TrainRun {
        ctx,
        out: &args.out,
        contents: Contents::for_dataset(
            &ds,
            args.holdout,
            seed,
            ctx.threads,
            saved_train,
            fallback,
        ),
        train: &train,
        validation: &validation,
        full: Some(matrix),
        quiet,
        no_refit: args.no_refit,
    };
    let name = with_model(args.model, &model_args, &mut visitor)?;
    let bytes = std::fs::metadata(&args.out).map_or(0, |m| m.len());
    crate::emit(&format!(
        "{}: {} model ({}) fitted on {} ratings of {} users and {} movies{}, {:.1} MB, {:.1} s\n",
        args.out.display(),
        args.model.name(),
        name,
        n_ratings,
        n_users,
        n_items,
        if args.holdout {
            format!(" (test split of seed {seed} held out)")
        } else {
            String::new()
        },
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64()
    ))?;
    Ok(())
}

/// The training ratings as rows by user.
pub fn train_ratings(m: &RatingMatrix) -> TrainRatings {
    let mut t = TrainRatings {
        ptr: Vec::with_capacity(m.n_users() + 1),
        items: Vec::with_capacity(m.nnz()),
        values: Vec::with_capacity(m.nnz()),
    };
    t.ptr.push(0);
    for u in 0..m.n_users() {
        let (items, values) = m.user_ratings(UserIdx(u as u32));
        t.items.extend(items.iter().map(|&i| i as u32));
        t.values.extend_from_slice(values);
        t.ptr.push(t.items.len() as u64);
    }
    t
}

/// Watches the fits of [`fit_as_train`]: the CLI draws a progress bar, the
/// Python package also stops on Ctrl-C.
pub trait FitWatch {
    /// What observes one fit.
    type Observer: Observer;
    /// The observer of the fit described by `what` ("knn: fitting").
    fn start(&mut self, what: &str) -> Self::Observer;
    /// After that fit; an error ends the flow (e.g. an interrupted fit).
    fn finish(&mut self, observer: Self::Observer) -> anyhow::Result<()>;
}

/// The ratings of [`fit_as_train`].
pub struct TrainParts<'a> {
    /// The fit's part.
    pub train: &'a Ratings,
    /// The part the model's choices are made on (may be empty).
    pub validation: &'a Ratings,
    /// The matrix of train + validation, when the caller already holds it
    /// (built here when needed otherwise).
    pub full: Option<RatingMatrix>,
    /// One fit on `train` alone, its choices made on `validation`.
    pub no_refit: bool,
}

/// The fit of `movierec train` (and of the Python package's `fit`), as
/// `evaluate` makes it: the model's choices (K, epochs) on the validation
/// part, then a refit on train + validation with them. One fit on train +
/// validation when there is no validation part or the settings choose
/// nothing on it (the same model for half the work); one fit on `train`
/// with `no_refit`. Returns the model and the settings it was fitted with.
pub fn fit_as_train<F, W>(
    config: F,
    name: &str,
    parts: TrainParts<'_>,
    ctx: &RunContext,
    watch: &mut W,
) -> anyhow::Result<(F::Model, F)>
where
    F: Fit + Clone,
    W: FitWatch,
{
    let fit_err = |e: F::Error| anyhow::anyhow!("fitting {name}: {e}");
    let TrainParts {
        train,
        validation,
        full,
        no_refit,
    } = parts;
    let fit_all = |config: &F, what: &str, full: Option<RatingMatrix>, watch: &mut W| {
        let m = match full {
            Some(m) => m,
            None => RatingMatrix::new(&train.concat(validation))?,
        };
        let mut obs = watch.start(what);
        let model = config.fit(&m, None, ctx, &mut obs).map_err(fit_err)?;
        watch.finish(obs)?;
        anyhow::Ok(model)
    };
    if validation.is_empty() || (!no_refit && !config.chooses_on_validation()) {
        let model = fit_all(&config, &format!("{name}: fitting"), full, watch)?;
        return Ok((model, config));
    }
    drop(full);
    let m = RatingMatrix::new(train)?;
    let mut obs = watch.start(&format!("{name}: fitting"));
    let first = config
        .fit(&m, Some(validation), ctx, &mut obs)
        .map_err(fit_err)?;
    watch.finish(obs)?;
    drop(m);
    if no_refit {
        return Ok((first, config));
    }
    let again = config.refit_config(&first);
    drop(first);
    let model = fit_all(
        &again,
        &format!("{name}: refitting on all ratings"),
        None,
        watch,
    )?;
    Ok((model, again))
}

/// The CLI's [`FitWatch`]: one spinner across the fits.
struct Spinner(indicatif::ProgressBar);

impl FitWatch for Spinner {
    type Observer = FitProgress;
    fn start(&mut self, what: &str) -> FitProgress {
        self.0.set_message(what.to_string());
        FitProgress::new(self.0.clone(), what.to_string())
    }
    fn finish(&mut self, _: FitProgress) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Fits the model, then saves it with `contents`; returns the model's name.
struct TrainRun<'a> {
    ctx: RunContext,
    out: &'a std::path::Path,
    contents: Contents,
    train: &'a Ratings,
    validation: &'a Ratings,
    /// The matrix of all ratings (taken by the fit).
    full: Option<RatingMatrix>,
    quiet: bool,
    no_refit: bool,
}

impl ModelVisitor for TrainRun<'_> {
    type Output = String;
    fn visit<F>(&mut self, kind: ModelKind, name: &str, config: F) -> anyhow::Result<String>
    where
        F: Fit + Serialize + DeserializeOwned + Clone,
        F::Model: Serialize + DeserializeOwned,
    {
        let mut spinner = Spinner(Bar::spinner(&format!("{name}: fitting"), self.quiet));
        let parts = TrainParts {
            train: self.train,
            validation: self.validation,
            full: self.full.take(),
            no_refit: self.no_refit,
        };
        let (model, chosen) = fit_as_train(config, name, parts, &self.ctx, &mut spinner)?;
        spinner.0.finish_and_clear();
        self.save(kind, name, &model, &chosen)
    }
}

impl TrainRun<'_> {
    /// Saves `model`, fitted with `chosen`, with the contents.
    fn save<F>(
        &mut self,
        kind: ModelKind,
        name: &str,
        model: &F::Model,
        chosen: &F,
    ) -> anyhow::Result<String>
    where
        F: Fit + Serialize,
        F::Model: Serialize,
    {
        self.contents.meta.name = name.to_string();
        self.contents.meta.config = serde_json::to_string(chosen)?;
        let spinner = Bar::spinner("saving", self.quiet);
        self.contents.save(self.out, kind, model)?;
        spinner.finish_and_clear();
        Ok(name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use movierec_core::{BiasConfig, Rating, RatingScale};

    use super::*;

    /// Each fit's ratings and validation size.
    type Fits = Vec<(usize, Option<usize>)>;

    /// Records the ratings and validation size of each fit.
    #[derive(Clone)]
    struct Recording {
        chooses: bool,
        fits: Arc<Mutex<Fits>>,
    }

    impl Fit for Recording {
        type Model = movierec_core::BiasBaseline;
        type Error = movierec_core::Error;
        fn fit(
            &self,
            t: &RatingMatrix,
            v: Option<&Ratings>,
            c: &RunContext,
            o: &mut dyn Observer,
        ) -> Result<Self::Model, Self::Error> {
            self.fits
                .lock()
                .unwrap()
                .push((t.nnz(), v.map(Ratings::len)));
            BiasConfig::default().fit(t, v, c, o)
        }
        fn chooses_on_validation(&self) -> bool {
            self.chooses
        }
    }

    struct Quiet;

    impl FitWatch for Quiet {
        type Observer = movierec_core::NoopObserver;
        fn start(&mut self, _: &str) -> Self::Observer {
            movierec_core::NoopObserver
        }
        fn finish(&mut self, _: Self::Observer) -> anyhow::Result<()> {
            Ok(())
        }
    }

    fn ratings(users: u32, items: u32) -> Ratings {
        let entries = (0..users)
            .flat_map(|u| (0..items).map(move |i| Rating::new(u, i, ((u + i) % 5 + 1) as f32)))
            .collect();
        Ratings::new(
            entries,
            users as usize,
            items as usize,
            RatingScale::new(1.0, 5.0),
        )
    }

    /// The fits made for each case: (ratings of the matrix, validation size).
    fn fits(chooses: bool, no_refit: bool) -> Fits {
        let all = ratings(10, 8);
        let (train, validation) = (
            all.select(&(0..72).collect::<Vec<_>>()),
            all.select(&(72..80).collect::<Vec<_>>()),
        );
        let rec = Recording {
            chooses,
            fits: Arc::default(),
        };
        let parts = TrainParts {
            train: &train,
            validation: &validation,
            full: None,
            no_refit,
        };
        fit_as_train(rec.clone(), "x", parts, &RunContext::new(1, 0), &mut Quiet).unwrap();
        let fits = rec.fits.lock().unwrap().clone();
        fits
    }

    #[test]
    fn a_fit_is_refitted_only_when_validation_chose_something() {
        assert_eq!(fits(true, false), vec![(72, Some(8)), (80, None)]);
        assert_eq!(fits(false, false), vec![(80, None)], "one fit on all");
        assert_eq!(fits(true, true), vec![(72, Some(8))]);
        assert_eq!(
            fits(false, true),
            vec![(72, Some(8))],
            "--no-refit: train alone"
        );
    }
}
