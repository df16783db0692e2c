//! `movierec report gap-analysis`: writes `results/gap-analysis.md`, the
//! report's "15 minutes against 10 hours" (its 7.4) explained from
//! measurements. `scripts/gap-analysis.sh` produces the inputs (three
//! training curves from `movierec evaluate`, the `gap/step` benchmarks) and
//! runs this; every figure in the file is computed here from those inputs,
//! the prose is this module's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::Args;
use movierec_core::EpochRecord;
use movierec_eval::{write_atomic, ModelReport, Report};

use super::estimates::{self, fmt_seconds, sig3, Estimate};

/// The report's own figures (its 7.4): wall time of the autoencoder and of
/// the matrix factorisation, in seconds.
const REPORT_AE_SECONDS: f64 = 15.0 * 60.0;
const REPORT_MF_SECONDS: f64 = 10.0 * 3600.0;

/// Full `users x items` passes of `f32` in one dense MF step of ours:
/// `P Q^T` written, `R`, `M` and `pred` read and the residual written, the
/// residual read by each of the two gradient products.
const OUR_DENSE_PASSES: f64 = 7.0;
/// Full `users x items` passes of `f64` in one step of the report's numpy
/// loop (its 6.2): `np.dot(P, Q)` 1, `train - pred` 3, `* train_mask` 3,
/// `np.square` 2, `np.sum` 1, `-diff` 2, `* train_mask` 3, the two products
/// 2; plus its accuracy check every 10 steps (`np.round(pred * 2) / 2` 6,
/// `== train`, `* 1`, `* mask`, `np.sum` 9, again for validation 9: 24 / 10).
const NUMPY_DENSE_PASSES: f64 = 20.0 + 2.4;

/// Arguments of `movierec report gap-analysis`.
#[derive(Debug, Args)]
pub struct GapAnalysisArgs {
    /// Dataset folder the curves were trained on.
    #[arg(long, value_name = "DIR", default_value = "data/ml-latest-small")]
    data: PathBuf,
    /// Folder of the three curve runs (`movierec evaluate --out`):
    /// mf-dense.json, mf-sgd.json and autoencoder.json.
    #[arg(long, value_name = "DIR", default_value = "target/gap-analysis")]
    curves: PathBuf,
    /// Criterion's output folder.
    #[arg(long, value_name = "DIR", default_value = "target/criterion")]
    criterion: PathBuf,
    /// Criterion baseline of the `gap/step` benchmarks (`new`: the latest
    /// run; `bench-report`: the one saved by `scripts/bench-report.sh`).
    #[arg(long, value_name = "NAME", default_value = "new")]
    baseline: String,
    /// The markdown file to write.
    #[arg(long, value_name = "FILE", default_value = "results/gap-analysis.md")]
    out: PathBuf,
    /// The command named at the top of the file as its generator.
    #[arg(long, value_name = "TEXT", default_value = "scripts/gap-analysis.sh")]
    command: String,
}

/// One curve run: its report (one model, one repeat) and provenance.
struct Run {
    provenance: String,
    model: ModelReport,
}

impl Run {
    fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
        let mut r: Report =
            serde_json::from_str(&text).with_context(|| path.display().to_string())?;
        if r.models.len() != 1 || r.models[0].repeats.is_empty() {
            bail!("{}: expected one model with a repeat", path.display());
        }
        Ok(Self {
            provenance: r.provenance.unwrap_or_default(),
            model: r.models.remove(0),
        })
    }

    fn curve(&self) -> &[EpochRecord] {
        &self.model.repeats[0].curve
    }

    /// `(epoch, seconds, validation RMSE)` of every evaluated epoch.
    fn validation(&self) -> Vec<(usize, f64, f64)> {
        self.curve()
            .iter()
            .filter_map(|r| r.validation.as_ref().map(|v| (r.epoch, r.seconds, v.rmse)))
            .collect()
    }

    /// The first evaluated epoch at or below `target`.
    fn reach(&self, target: f64) -> Option<(usize, f64, f64)> {
        self.validation().into_iter().find(|p| p.2 <= target)
    }

    fn best(&self) -> (usize, f64, f64) {
        self.validation()
            .into_iter()
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .unwrap_or((0, 0.0, f64::NAN))
    }

    /// Epochs between two validation records (the dense MF evaluates every 10 steps).
    fn eval_every(&self) -> usize {
        let v = self.validation();
        if v.len() >= 2 {
            v[1].0 - v[0].0
        } else {
            1
        }
    }

    fn last(&self) -> &EpochRecord {
        self.curve().last().expect("checked non-empty")
    }

    fn config_usize(&self, key: &str) -> Option<usize> {
        self.model.config.get(key)?.as_u64().map(|v| v as usize)
    }

    /// Wall seconds per epoch of the curve run (metrics included).
    fn wall_per_epoch(&self) -> f64 {
        let l = self.last();
        l.seconds / l.epoch as f64
    }
}

fn bench<'a>(all: &'a [Estimate], function: &str) -> anyhow::Result<&'a Estimate> {
    all.iter()
        .find(|e| e.group == "gap/step" && e.function == function)
        .ok_or_else(|| {
            anyhow!("no gap/step/{function} result: run `cargo bench -p movierec-benches --bench main -- gap/step`")
        })
}

fn gflop(x: f64) -> String {
    format!("{} GFlop", sig3(x / 1e9))
}

fn mbytes(x: f64) -> String {
    format!("{} MB", sig3(x / 1e6))
}

fn hours(s: f64) -> String {
    if s >= 3600.0 {
        format!("{} h", sig3(s / 3600.0))
    } else if s >= 60.0 {
        format!("{} min", sig3(s / 60.0))
    } else {
        fmt_seconds(s)
    }
}

/// Runs `movierec report gap-analysis`.
pub fn run(args: GapAnalysisArgs) -> anyhow::Result<()> {
    let text = render(&args)?;
    write_atomic(&args.out, text.as_bytes())?;
    crate::emit(&format!("{}: gap analysis written\n", args.out.display()))?;
    Ok(())
}

/// The markdown of `results/gap-analysis.md` from the inputs `args` names.
#[allow(clippy::too_many_lines)]
fn render(args: &GapAnalysisArgs) -> anyhow::Result<String> {
    let data = movierec_data::load(&args.data, &Default::default())?;
    let (users, items, n_all) = (
        data.ratings.n_users as f64,
        data.ratings.n_items as f64,
        data.ratings.len(),
    );
    let dense = Run::load(&args.curves.join("mf-dense.json"))?;
    let sgd = Run::load(&args.curves.join("mf-sgd.json"))?;
    let ae = Run::load(&args.curves.join("autoencoder.json"))?;
    for r in [&dense, &sgd, &ae] {
        if r.curve().is_empty() || r.validation().is_empty() {
            bail!("{}: no validation curve", r.model.model);
        }
    }
    let nnz = sgd
        .curve()
        .iter()
        .find_map(|r| r.train.as_ref().map(|t| t.n))
        .context("mf-sgd curve has no training metrics")? as f64;
    let cells = users * items;
    let density = nnz / cells;
    let k_dense = dense
        .config_usize("factors")
        .context("mf-dense config: no factors")? as f64;
    let k_sgd = sgd
        .config_usize("factors")
        .context("mf-sgd config: no factors")? as f64;
    let hidden: Vec<f64> = ae
        .model
        .config
        .get("hidden")
        .and_then(|h| h.as_array())
        .map(|h| h.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    if hidden.len() != 1 {
        bail!("the gap analysis models a one-hidden-layer autoencoder");
    }
    let h = hidden[0];
    let batch = ae
        .config_usize("batch")
        .context("autoencoder config: no batch")? as f64;
    let batches = (items / batch).ceil();
    let params = 2.0 * users * h + users + h;

    let all = estimates::load(&args.criterion, &args.baseline, None)?;
    let b_dense = bench(&all, "dense-step")?;
    let b_sgd = bench(&all, "sgd-epoch")?;
    let b_ae_dense = bench(&all, "dense-epoch")?;
    let b_ae_sparse = bench(&all, "sparse-epoch")?;

    // 1. Work per step (flops, bytes).
    let w_dense = 6.0 * cells * k_dense + 5.0 * cells;
    let by_dense = OUR_DENSE_PASSES * 4.0 * cells;
    let w_sgd = 10.0 * nnz * k_sgd;
    let by_sgd = 16.0 * k_sgd * nnz;
    // Adam touches every parameter each batch (~10 flops, m, v, w and g read and written).
    let adam = batches * 10.0 * params;
    let adam_bytes = batches * 7.0 * 4.0 * params;
    let w_ae_dense = 10.0 * cells * h + adam;
    let by_ae_dense = 5.0 * 4.0 * cells + 3.0 * 8.0 * users * h * batches + adam_bytes;
    let w_ae_sparse = 10.0 * nnz * h + adam;
    let by_ae_sparse = 5.0 * 4.0 * h * nnz + adam_bytes;

    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!-- generated by `{}` (crates/cli/src/report/gap_analysis.rs); do not edit: every figure below is computed from the runs it names -->\n",
        args.command
    );
    s.push_str("# 15 minutes against 10 hours\n\n");
    let _ = writeln!(
        s,
        "The report (its 7.4): \"We spend about 15min to run the whole data in AutoEncoder \
         model, however, the Matrix Factorization need about 10 hours to finish the program.\" \
         That is a factor of {} between two models fitted by gradient descent on the same \
         {} ratings. This file explains it from measurements: the work of one step of each \
         optimiser, the measured seconds of that step, the steps each needs to reach a given \
         validation RMSE, and their product.\n",
        sig3(REPORT_MF_SECONDS / REPORT_AE_SECONDS),
        n_all
    );

    s.push_str("## Inputs\n\n");
    let _ = writeln!(
        s,
        "- Data: `{}`, {} users x {} movies = {} cells, {} ratings; the training part of one \
         protocol split holds {} ratings, so {:.2}% of the cells (1 in {}) carry one.",
        data.name,
        users,
        items,
        cells,
        n_all,
        nnz,
        density * 100.0,
        sig3(1.0 / density)
    );
    s.push_str(
        "- Curves (repeat 0 of the protocol, one thread, validation RMSE recorded per epoch):\n",
    );
    for r in [&dense, &sgd, &ae] {
        let _ = writeln!(s, "  - `{}`: {}", r.model.model, r.provenance);
    }
    let _ = writeln!(
        s,
        "- Step times: criterion group `gap/step` (`benches/gap.rs`: the same configurations, \
         one thread, on a synthetic {users} x {items} matrix with {} ratings), criterion \
         baseline `{}` ({}); machine: {}.\n",
        b_sgd.throughput.as_ref().map_or(0, |t| t.1),
        args.baseline,
        if args.baseline == "bench-report" {
            "saved by `scripts/bench-report.sh`, the run behind `results/benchmarks.md`"
        } else {
            "run by the command at the top"
        },
        estimates::machine()
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    s.push_str("## 1. Work per step\n\n");
    s.push_str(
        "Flops count multiplies and adds; bytes are the main arrays streamed once per step \
         (small factor matrices that stay in cache not counted for the dense paths).\n\n",
    );
    s.push_str("| path | one step | flops | formula | bytes touched | formula | work per training rating |\n");
    s.push_str("| --- | --- | ---: | --- | ---: | --- | ---: |\n");
    let rows = [
        (
            format!("dense full-batch GD MF (the report's 6.2), k = {k_dense}"),
            "one gradient step on all cells",
            w_dense,
            "3 products of U x I x k (6 U I k) + 5 U I elementwise",
            by_dense,
            format!("{OUR_DENSE_PASSES} passes over U x I f32"),
        ),
        (
            format!("sparse SGD MF, k = {k_sgd}"),
            "one epoch: one update per rating",
            w_sgd,
            "10 nnz k (dot product, two factor updates)",
            by_sgd,
            "p_u and q_i read and written per rating (16 k B)".to_string(),
        ),
        (
            format!("autoencoder, dense path (the report's numpy), h = {h}"),
            "one epoch: all items in batches",
            w_ae_dense,
            "10 I U h (forward 4, backward 6) + Adam",
            by_ae_dense,
            "input, output and output gradient: 5 passes over I x U f32; both weight matrices 3 times per batch; Adam".to_string(),
        ),
        (
            format!("autoencoder, sparse path, h = {h}"),
            "one epoch: observed entries only",
            w_ae_sparse,
            "10 nnz h + Adam",
            by_ae_sparse,
            "5 weight rows of h f32 per rating (20 h B); Adam".to_string(),
        ),
    ];
    for (name, step, w, wf, b, bf) in &rows {
        let _ = writeln!(
            s,
            "| {name} | {step} | {} | {wf} | {} | {bf} | {} flop |",
            gflop(*w),
            mbytes(*b),
            sig3(w / nnz)
        );
    }
    let _ = writeln!(
        s,
        "\nOne dense MF step does {}x the arithmetic of one SGD epoch ({}x at equal k: 6 U I \
         against 10 nnz per factor) and {}x that of one sparse autoencoder epoch: the dense \
         paths pay for every one of the {} cells, of which {:.2}% are ratings.\n",
        sig3(w_dense / w_sgd),
        sig3(6.0 * cells / (10.0 * nnz)),
        sig3(w_dense / w_ae_sparse),
        cells,
        density * 100.0
    );

    s.push_str("## 2. Measured seconds per step\n\n");
    s.push_str("| path | benchmark | mean seconds | achieved | wall seconds per epoch in the curve run (metrics included) |\n");
    s.push_str("| --- | --- | ---: | ---: | ---: |\n");
    let per_epoch = [
        (&rows[0], b_dense, Some(&dense)),
        (&rows[1], b_sgd, Some(&sgd)),
        (&rows[2], b_ae_dense, None),
        (&rows[3], b_ae_sparse, Some(&ae)),
    ];
    for ((name, _, w, ..), b, run) in &per_epoch {
        let _ = writeln!(
            s,
            "| {name} | `{}` | {} | {} GFlop/s | {} |",
            b.full_id,
            fmt_seconds(b.seconds()),
            sig3(w / b.seconds() / 1e9),
            run.map_or("(not trained)".to_string(), |r| fmt_seconds(
                r.wall_per_epoch()
            ))
        );
    }
    s.push('\n');

    s.push_str("## 3. Steps to a validation RMSE\n\n");
    // The common target: the worst of the three best validation RMSEs,
    // rounded up to 0.005, so that every model reaches it.
    let worst_best = [&dense, &sgd, &ae]
        .iter()
        .map(|r| r.best().2)
        .fold(f64::MIN, f64::max);
    let target = (worst_best * 200.0).ceil() / 200.0;
    let targets = [1.0, 0.95, target];
    let _ = writeln!(
        s,
        "From the curves: the first evaluated step at or below each validation RMSE \
         ({} is the worst of the three models' best values, rounded up to 0.005, so every \
         model reaches it). The dense MF evaluates every {} steps, so its counts are \
         multiples of {}.\n",
        target,
        dense.eval_every(),
        dense.eval_every()
    );
    s.push_str("| model | best validation RMSE (at step) |");
    for t in targets {
        let _ = write!(s, " steps to <= {t:.3} |");
    }
    s.push_str("\n| --- | --- |");
    s.push_str(&" ---: |".repeat(targets.len()));
    s.push('\n');
    for r in [&dense, &sgd, &ae] {
        let b = r.best();
        let _ = write!(s, "| `{}` | {:.4} ({}) |", r.model.model, b.2, b.0);
        for t in targets {
            match r.reach(t) {
                Some(p) => {
                    let _ = write!(s, " {} |", p.0);
                }
                None => s.push_str(" never |"),
            }
        }
        s.push('\n');
    }
    s.push('\n');

    s.push_str("## 4. Time to the target: seconds per step x steps\n\n");
    let _ = writeln!(
        s,
        "To validation RMSE <= {target}: steps from section 3 times the benchmark's seconds \
         per step (pure training), beside the wall seconds at that point of the curve run \
         (training plus the per-epoch metrics). The autoencoder's dense path is priced with \
         the sparse path's step count (same math, same steps).\n"
    );
    s.push_str("| path | steps | seconds per step | predicted | measured in the curve run |\n");
    s.push_str("| --- | ---: | ---: | ---: | ---: |\n");
    let steps = |r: &Run| r.reach(target).map(|p| (p.0 as f64, p.1));
    let (d_steps, d_wall) = steps(&dense).context("mf-dense never reaches the target")?;
    let (s_steps, s_wall) = steps(&sgd).context("mf-sgd never reaches the target")?;
    let (a_steps, a_wall) = steps(&ae).context("autoencoder never reaches the target")?;
    let predicted = [
        (&rows[0].0, d_steps, b_dense, Some(d_wall)),
        (&rows[1].0, s_steps, b_sgd, Some(s_wall)),
        (&rows[2].0, a_steps, b_ae_dense, None),
        (&rows[3].0, a_steps, b_ae_sparse, Some(a_wall)),
    ];
    for (name, n, b, wall) in &predicted {
        let _ = writeln!(
            s,
            "| {name} | {n} | {} | {} | {} |",
            fmt_seconds(b.seconds()),
            hours(n * b.seconds()),
            wall.map_or("-".to_string(), hours)
        );
    }
    let t_dense = d_steps * b_dense.seconds();
    let t_ae_dense = a_steps * b_ae_dense.seconds();
    let t_ae_sparse = a_steps * b_ae_sparse.seconds();
    let t_sgd = s_steps * b_sgd.seconds();
    let ratio = t_dense / t_ae_dense;
    let _ = writeln!(
        s,
        "\nDense MF against the dense autoencoder, as the report ran both: {} against {}, a \
         factor of **{}** (the report: {}). On the sparse paths the same target takes {} (SGD \
         MF) and {} (sparse autoencoder).\n",
        hours(t_dense),
        hours(t_ae_dense),
        sig3(ratio),
        sig3(REPORT_MF_SECONDS / REPORT_AE_SECONDS),
        hours(t_sgd),
        hours(t_ae_sparse)
    );

    s.push_str("## 5. What the report's numpy code would have taken\n\n");
    let numpy_factor = 2.0 * NUMPY_DENSE_PASSES / OUR_DENSE_PASSES;
    let np_step = b_dense.seconds() * numpy_factor;
    let np_ae_epoch = b_ae_dense.seconds() * 2.0;
    let _ = writeln!(
        s,
        "An estimate, not a measurement (numpy is not run here). Model: numpy computes in \
         float64 (twice the bytes and half the SIMD lanes of our f32: x2), and the report's MF \
         loop (its 6.2) materialises a temporary for every elementwise operation: about {} \
         full U x I passes per step, its accuracy check every 10 steps included, against our \
         {OUR_DENSE_PASSES}. A dense step is dominated by those passes, so its numpy time is \
         estimated as ours x 2 x {}/{OUR_DENSE_PASSES} = x{}; the autoencoder's numpy epoch, \
         whose products dominate, as our dense-path epoch x 2.\n",
        NUMPY_DENSE_PASSES,
        NUMPY_DENSE_PASSES,
        sig3(numpy_factor)
    );
    s.push_str("| | numpy seconds per step (estimate) | steps to the target | time to the target | the report's time covers |\n");
    s.push_str("| --- | ---: | ---: | ---: | ---: |\n");
    let _ = writeln!(
        s,
        "| dense MF, k = {k_dense} | {} | {d_steps} | {} | {} steps in 10 h |",
        fmt_seconds(np_step),
        hours(d_steps * np_step),
        sig3(REPORT_MF_SECONDS / np_step),
    );
    let _ = writeln!(
        s,
        "| autoencoder, h = {h}, batch {batch} | {} | {a_steps} | {} | {} epochs in 15 min |",
        fmt_seconds(np_ae_epoch),
        hours(a_steps * np_ae_epoch),
        sig3(REPORT_AE_SECONDS / np_ae_epoch),
    );
    let _ = writeln!(
        s,
        "\nAt these rates the report's 10 hours buy about {} dense full-batch steps ({} in \
         each of the two runs it made) and its 15 minutes about {} autoencoder epochs. The \
         report states neither its step budget, its step size nor its machine, so these are \
         what its times imply, not what it ran. A full-batch step size small enough not to \
         diverge (ours: {} at k = {k_dense}; three times that diverges, \
         `crates/mf/src/dense.rs`) needs {d_steps} steps to reach {target} here and {} to its \
         best, each a full pass over all {} cells, while the autoencoder makes {} Adam \
         updates per epoch and reaches {target} in {a_steps} epochs.\n",
        sig3(REPORT_MF_SECONDS / np_step),
        sig3(REPORT_MF_SECONDS / 2.0 / np_step),
        sig3(REPORT_AE_SECONDS / np_ae_epoch),
        dense
            .model
            .config
            .get("lr")
            .and_then(|v| v.as_f64())
            .map_or("?".into(), |v| format!("{v:.0e}")),
        dense.best().0,
        cells,
        batches
    );

    s.push_str("## Conclusion\n\n");
    let rate_dense = w_dense / b_dense.seconds();
    let rate_ae = w_ae_dense / b_ae_dense.seconds();
    let factors = [
        (d_steps / a_steps, "the step count"),
        (w_dense / w_ae_dense, "the work per step"),
        (rate_ae / rate_dense, "the speed per flop"),
    ];
    let largest = factors
        .iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or("?", |f| f.1);
    let _ = writeln!(
        s,
        "Both of the report's models ran on dense matrices. To the same validation RMSE \
         ({target}) the dense MF takes {}x the time of the dense autoencoder here (the report: \
         {}x), and that factor is the product of three measured ones:\n\n\
         - steps: {d_steps} full-batch steps against {a_steps} epochs, x{};\n\
         - work per step: a dense MF step is {} against {} for an autoencoder epoch, x{};\n\
         - speed per flop: the MF step runs at {} GFlop/s (thin k = {k_dense} products and \
         {OUR_DENSE_PASSES} elementwise passes over all {} cells, bound by memory), the \
         autoencoder's wide products at {} GFlop/s, x{}.\n\n\
         The largest factor is {largest}. Full-batch gradient descent makes one small update \
         per pass over all cells where the autoencoder makes {} Adam updates per epoch. The dense \
         layout multiplies it: only {:.2}% of the cells are ratings, so a dense MF step does \
         {}x the arithmetic of a sparse SGD epoch, and matrix factorisation done sparsely \
         is not the slow model: SGD reaches the same RMSE in {} ({} for the sparse \
         autoencoder).",
        sig3(ratio),
        sig3(REPORT_MF_SECONDS / REPORT_AE_SECONDS),
        sig3(d_steps / a_steps),
        gflop(w_dense),
        gflop(w_ae_dense),
        sig3(w_dense / w_ae_dense),
        sig3(rate_dense / 1e9),
        cells,
        sig3(rate_ae / 1e9),
        sig3(rate_ae / rate_dense),
        batches,
        density * 100.0,
        sig3(w_dense / w_sgd),
        hours(t_sgd),
        hours(t_ae_sparse)
    );

    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_largest_unit() {
        assert_eq!(hours(7200.0), "2.00 h");
        assert_eq!(hours(90.0), "1.50 min");
        assert_eq!(hours(0.5), "500 ms");
        assert_eq!(gflop(2.5e9), "2.50 GFlop");
        assert_eq!(mbytes(1.34e6), "1.34 MB");
    }

    #[test]
    fn a_missing_step_benchmark_names_the_command_to_run() {
        let err = bench(&[], "dense-step").unwrap_err().to_string();
        assert!(err.contains("no gap/step/dense-step result"), "{err}");
        assert!(err.contains("cargo bench -p movierec-benches"), "{err}");
    }
}
