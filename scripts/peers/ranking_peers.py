#!/usr/bin/env python3
"""Python peers of movierec's top-N models, run by scripts/peers/ranking-peers.sh.

  ranking_peers.py run --train T.csv --test S.csv --repeat R --out R.json [--seed 42] [--threads 2]
      Fits the peers on T.csv (header user,item,rating; raw ids), scores their
      top-10 lists on S.csv and writes one JSON object per model to R.json.
  ranking_peers.py report --dir D --out-md M.md --out-csv M.csv --header "..."
      Reads D/r*/peers.json and D/r*/movierec-*.json (movierec evaluate --json)
      and writes the side-by-side table, mean +- 95% CI over the repeats, and
      the speed/accuracy ratios, every number taken from those files.

Metric definitions are those of crates/eval/src/ranking.rs:
- candidates of a user: items with a training rating the user has not rated
  in training;
- relevant: the user's test items rated >= 4 that are candidates;
- ranked users: test users with at least one relevant item and at least one
  training rating (the others are left out);
- the list: the 10 best-scored candidates, ties broken by lower item index
  (items indexed by sorted raw id);
- precision h/k, recall h/R, NDCG = sum over hits at position p (from 0) of
  1/log2(p+2), over the ideal DCG of min(k, R) hits; means over ranked users.
"""

import argparse
import csv
import glob
import json
import math
import os
import sys
import time

import numpy as np
import scipy
import scipy.linalg
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

K = 10
THRESHOLD = 4.0
EASE_GRID = [25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0]
EASE_SINGLE_LAMBDA = 100.0  # the single-lambda timing; movierec's default `lambda`
VALIDATION_FRACTION = 0.1
ALS_FACTORS = 64
ALS_ITERATIONS = 15
BPR_FACTORS = 128
T_95_4DF = 2.776  # Student t, 95%, two-sided, 4 degrees of freedom (5 repeats)


# ---------------------------------------------------------------- data


def read_ratings(path):
    """(users, items, ratings) arrays of raw ids and values."""
    users, items, ratings = [], [], []
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        if [h.strip() for h in header[:3]] != ["user", "item", "rating"]:
            sys.exit(f"{path}: expected header user,item,rating, got {header}")
        for row in r:
            users.append(int(row[0]))
            items.append(int(row[1]))
            ratings.append(float(row[2]))
    return (
        np.asarray(users, dtype=np.int64),
        np.asarray(items, dtype=np.int64),
        np.asarray(ratings, dtype=np.float32),
    )


class Indexed:
    """Training ratings as a users x items CSR of ratings, with the raw-id maps."""

    def __init__(self, u, i, r):
        self.user_ids = np.unique(u)
        self.item_ids = np.unique(i)  # sorted raw ids: ties go to the lower raw id
        self.ui = np.searchsorted(self.user_ids, u)
        self.ii = np.searchsorted(self.item_ids, i)
        self.r = r
        self.n_users = len(self.user_ids)
        self.n_items = len(self.item_ids)
        self.ratings = sp.csr_matrix(
            (r, (self.ui, self.ii)), shape=(self.n_users, self.n_items), dtype=np.float32
        )
        self.ratings.sum_duplicates()

    def binary(self):
        x = self.ratings.copy()
        x.data[:] = 1.0
        return x


def relevant_sets(train, tu, ti, tr):
    """Per ranked user (train row index): the relevant item indices."""
    rel = {}
    known_u = np.isin(tu, train.user_ids)
    known_i = np.isin(ti, train.item_ids)
    keep = known_u & known_i & (tr >= THRESHOLD)
    ui = np.searchsorted(train.user_ids, tu[keep])
    ii = np.searchsorted(train.item_ids, ti[keep])
    indptr, indices = train.ratings.indptr, train.ratings.indices
    for u, i in zip(ui.tolist(), ii.tolist()):
        row = indices[indptr[u] : indptr[u + 1]]
        if i in row:  # rated in training: not a candidate
            continue
        rel.setdefault(u, set()).add(i)
    return rel


def rank_metrics(train, rel, score_fn, k=K):
    """Means of precision, recall and NDCG@k over the users of `rel`.

    score_fn(user_rows) -> dense (len(user_rows) x n_items) scores.
    """
    users = np.asarray(sorted(rel), dtype=np.int64)
    if len(users) == 0:
        return dict(precision=float("nan"), recall=float("nan"), ndcg=float("nan"), users=0)
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.cumsum(discounts)
    p_sum = r_sum = n_sum = 0.0
    for start in range(0, len(users), 256):
        rows = users[start : start + 256]
        s = np.asarray(score_fn(rows), dtype=np.float64)
        s[np.isnan(s)] = -np.inf  # no fallback needed here: every peer scores every item
        seen = train.ratings[rows]
        for j in range(len(rows)):
            s[j, seen.indices[seen.indptr[j] : seen.indptr[j + 1]]] = -np.inf
        # Descending score, ties by lower index: a stable sort of -score.
        top = np.argsort(-s, axis=1, kind="stable")[:, :k]
        for j, u in enumerate(rows.tolist()):
            r = rel[u]
            hits = np.fromiter((it in r for it in top[j].tolist()), dtype=bool, count=k)
            h = int(hits.sum())
            p_sum += h / k
            r_sum += h / len(r)
            n_sum += float(discounts[hits].sum()) / ideal[min(k, len(r)) - 1]
    n = len(users)
    return dict(precision=p_sum / n, recall=r_sum / n, ndcg=n_sum / n, users=n)


# ---------------------------------------------------------------- EASE


def ease_weights(x, lam, inverse="potri"):
    """EASE item x item weights, float32 throughout: G = X^T X + lam I,
    P = G^-1 from its Cholesky factor, B = -P / diag(P), diag 0.

    inverse="potri": LAPACK spotrf + spotri (the inverse from the factor,
    about n^3 flops in all); inverse="cho_solve": scipy's cho_factor +
    cho_solve against the identity (about 7n^3/3 flops)."""
    g = (x.T @ x).toarray().astype(np.float32, copy=False)
    g[np.diag_indices_from(g)] += np.float32(lam)
    if inverse == "potri":
        c, info = scipy.linalg.lapack.spotrf(g, lower=0, overwrite_a=1, clean=0)
        if info != 0:
            raise RuntimeError(f"spotrf failed (info {info}) at lambda {lam}")
        del g
        p, info = scipy.linalg.lapack.spotri(c, lower=0, overwrite_c=1)
        if info != 0:
            raise RuntimeError(f"spotri failed (info {info}) at lambda {lam}")
        iu = np.tril_indices_from(p, -1)
        p[iu] = p.T[iu]  # spotri fills the upper triangle only
    else:
        c = scipy.linalg.cho_factor(g, lower=False, overwrite_a=True, check_finite=False)
        del g
        p = scipy.linalg.cho_solve(
            c, np.eye(c[0].shape[0], dtype=np.float32), overwrite_b=True, check_finite=False
        )
        del c
    b = p / (-np.diag(p))[None, :]
    b[np.diag_indices_from(b)] = 0.0
    return b.astype(np.float32, copy=False)


def ease_scores(x, b):
    xc = x.tocsr()
    return lambda rows: np.asarray(xc[rows] @ b)


def carve(n, seed):
    """10% of the training rows as validation (seeded permutation)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = min(n, int(round(n * VALIDATION_FRACTION)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def ease_search_refit(u, i, r, seed):
    """Lambda chosen on a validation carve by NDCG@10, then refit on all of train."""
    fit_rows, val_rows = carve(len(u), seed)
    part = Indexed(u[fit_rows], i[fit_rows], r[fit_rows])
    rel = relevant_sets(part, u[val_rows], i[val_rows], r[val_rows])
    xp = part.binary()
    best = (-1.0, None)
    scores = {}
    for lam in EASE_GRID:
        b = ease_weights(xp, lam)
        nd = rank_metrics(part, rel, ease_scores(xp, b))["ndcg"]
        scores[lam] = nd
        del b
        if nd > best[0]:
            best = (nd, lam)
    full = Indexed(u, i, r)
    x = full.binary()
    return full, x, ease_weights(x, best[1]), best[1], scores


# ---------------------------------------------------------------- runs


def run(args):
    import implicit
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    u, i, r = read_ratings(args.train)
    tu, ti, tr = read_ratings(args.test)  # read now, but only used after every fit
    seed = args.seed + args.repeat
    out = []

    def record(model, detail, train, fit_s, score_fn, extra=None):
        rel = relevant_sets(train, tu, ti, tr)
        m = rank_metrics(train, rel, score_fn)
        row = dict(model=model, detail=detail, repeat=args.repeat, fit_seconds=fit_s, **m)
        if extra:
            row.update(extra)
        out.append(row)
        print(
            f"  r{args.repeat} {model}: NDCG@10 {m['ndcg']:.4f} P@10 {m['precision']:.4f} "
            f"R@10 {m['recall']:.4f} fit {fit_s:.2f} s",
            file=sys.stderr,
        )

    # EASE, BLAS on args.threads threads (movierec runs with --threads too).
    with threadpool_limits(limits=args.threads):
        t0 = time.perf_counter()
        full, x, b, lam, grid = ease_search_refit(u, i, r, seed)
        fit_s = time.perf_counter() - t0
        record(
            "scipy-ease",
            f"search {len(EASE_GRID)} lambdas + refit",
            full,
            fit_s,
            ease_scores(x, b),
            dict(lam=lam, validation_ndcg={str(k): v for k, v in grid.items()}),
        )
        del b
        for key, inverse in (("scipy-ease-single", "potri"), ("scipy-ease-cho-solve", "cho_solve")):
            t0 = time.perf_counter()
            full = Indexed(u, i, r)
            x = full.binary()
            b = ease_weights(x, EASE_SINGLE_LAMBDA, inverse)
            fit_s = time.perf_counter() - t0
            record(key, f"lambda {EASE_SINGLE_LAMBDA:g}, {inverse}", full, fit_s, ease_scores(x, b),
                   dict(lam=EASE_SINGLE_LAMBDA))
            del b, x

    full = Indexed(u, i, r)
    # implicit: its own threads do the work; BLAS on 1 thread as implicit asks.
    with threadpool_limits(limits=1, user_api="blas"):
        conf = full.ratings.copy()
        conf.data = 1.0 + conf.data  # c = 1 + alpha * r with alpha 1 (implicit uses c = alpha * value)
        als = AlternatingLeastSquares(
            factors=ALS_FACTORS,
            iterations=ALS_ITERATIONS,
            alpha=1.0,
            num_threads=args.threads,
            random_state=seed,
        )
        t0 = time.perf_counter()
        als.fit(conf, show_progress=False)
        fit_s = time.perf_counter() - t0
        uf, itf = np.asarray(als.user_factors), np.asarray(als.item_factors)
        record(
            "implicit-als",
            f"{ALS_FACTORS} factors, {ALS_ITERATIONS} iterations, reg {als.regularization:g}, "
            "confidence 1 + r",
            full,
            fit_s,
            lambda rows: uf[rows] @ itf.T,
        )

        bpr = BayesianPersonalizedRanking(
            factors=BPR_FACTORS, num_threads=args.threads, random_state=seed
        )
        t0 = time.perf_counter()
        bpr.fit(full.binary(), show_progress=False)
        fit_s = time.perf_counter() - t0
        bu, bi = np.asarray(bpr.user_factors), np.asarray(bpr.item_factors)
        record(
            "implicit-bpr",
            f"{BPR_FACTORS} factors, {bpr.iterations} iterations, lr {bpr.learning_rate:g}, "
            f"reg {bpr.regularization:g}",
            full,
            fit_s,
            lambda rows: bu[rows] @ bi.T,
        )

    meta = dict(
        numpy=np.__version__, scipy=scipy.__version__, implicit=implicit.__version__,
        python=sys.version.split()[0],
    )
    with open(args.out, "w") as f:
        json.dump(dict(meta=meta, rows=out), f, indent=1)


# ---------------------------------------------------------------- report

# (key, label, source): source "movierec:<file stem>:<model name>" or "peers:<model>"
ROWS = [
    ("movierec-ease", "movierec ease (defaults: rating-weighted X, lambda searched on validation + refit)",
     "movierec:movierec-default:ease"),
    ("movierec-ease-binary", "movierec ease (binary X, lambda searched + refit)",
     "movierec:movierec-ease-binary:ease"),
    ("movierec-ials", "movierec ials (defaults, early-stopped on validation + refit)",
     "movierec:movierec-default:ials"),
    ("movierec-ials-equal", "movierec ials (64 factors, 15 iterations, no early stopping, one fit on all of train: --validation-fraction 0)",
     "movierec:movierec-ials-equal:ials"),
    ("scipy-ease", "numpy/scipy EASE (binary X, f32 Cholesky + potri; 7 lambdas searched + refit)",
     "peers:scipy-ease"),
    ("scipy-ease-single", "numpy/scipy EASE (binary X, f32 Cholesky + potri; one lambda = 100)",
     "peers:scipy-ease-single"),
    ("scipy-ease-cho-solve", "numpy/scipy EASE (binary X, f32 cho_factor + cho_solve; one lambda = 100)",
     "peers:scipy-ease-cho-solve"),
    ("implicit-als", "implicit ALS (64 factors, 15 iterations, confidence 1 + r)", "peers:implicit-als"),
    ("implicit-bpr", "implicit BPR (128 factors, its defaults)", "peers:implicit-bpr"),
]


def mean_ci(values):
    v = np.asarray(values, dtype=np.float64)
    m = float(v.mean())
    if len(v) < 2:
        return m, float("nan")
    t = T_95_4DF if len(v) == 5 else STUDENT_T.get(len(v) - 1, float("nan"))
    return m, t * float(v.std(ddof=1)) / math.sqrt(len(v))


# 95% two-sided Student t by degrees of freedom, for PEERS_REPEATS other than 5.
STUDENT_T = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def movierec_rows(path, model):
    """Per-repeat values of one model in a `movierec evaluate --json` file."""
    with open(path) as f:
        doc = json.load(f)
    for m in doc["models"]:
        if m.get("name") == model or m.get("model") == model or m.get("label") == model:
            mean = m["mean"]
            rk = mean["ranking"]
            return dict(
                ndcg=rk["ndcg"], precision=rk["precision"], recall=rk["recall"],
                fit_seconds=mean["fit_seconds"],
            )
    sys.exit(f"{path}: no model {model!r} (have {[m.get('name') for m in doc['models']]})")


def report(args):
    repeat_dirs = sorted(glob.glob(os.path.join(args.dir, "r*")), key=lambda p: int(p.rsplit("r", 1)[1]))
    per = {key: [] for key, _, _ in ROWS}
    meta = None
    for d in repeat_dirs:
        with open(os.path.join(d, "peers.json")) as f:
            peers = json.load(f)
        meta = peers["meta"]
        by_model = {row["model"]: row for row in peers["rows"]}
        for key, _, src in ROWS:
            kind, *rest = src.split(":")
            if kind == "movierec":
                per[key].append(movierec_rows(os.path.join(d, rest[0] + ".json"), rest[1]))
            else:
                per[key].append(by_model[rest[0]])
    n = len(repeat_dirs)
    metrics = [("ndcg", "NDCG@10"), ("precision", "P@10"), ("recall", "R@10"), ("fit_seconds", "fit s")]
    means = {}
    lines_md = []
    lines_md.append("| model | " + " | ".join(h for _, h in metrics) + " |")
    lines_md.append("|---|" + "---:|" * len(metrics))
    csv_rows = [["model", "label"] + [f"{m}_mean" for m, _ in metrics] + [f"{m}_ci95" for m, _ in metrics]
                + [f"{m}_r{r}" for m, _ in metrics for r in range(n)]]
    for key, label, _ in ROWS:
        cells, ms, cis = [], [], []
        for m, _ in metrics:
            vals = [float(row[m]) for row in per[key]]
            mu, ci = mean_ci(vals)
            means[(key, m)] = mu
            ms.append(mu)
            cis.append(ci)
            digits = 2 if m == "fit_seconds" else 4
            cells.append(f"{mu:.{digits}f} ± {ci:.{digits}f}")
        lines_md.append(f"| {label} | " + " | ".join(cells) + " |")
        csv_rows.append([key, label] + [f"{v:.6g}" for v in ms] + [f"{v:.6g}" for v in cis]
                        + [f"{float(row[m]):.6g}" for m, _ in metrics for row in per[key]])

    def ratio(a, b):
        return means[a] / means[b]

    # Per-repeat ratios too, so the spread of the ratio is visible.
    def ratio_ci(a, b):
        vals = [float(x[a[1]]) / float(y[b[1]]) for x, y in zip(per[a[0]], per[b[0]])]
        return mean_ci(vals)

    ratios = [
        ("scipy EASE fit s (search + refit) / movierec EASE fit s (defaults)",
         ("scipy-ease", "fit_seconds"), ("movierec-ease", "fit_seconds")),
        ("scipy EASE fit s (search + refit) / movierec EASE fit s (binary X, same search)",
         ("scipy-ease", "fit_seconds"), ("movierec-ease-binary", "fit_seconds")),
        ("scipy EASE fit s (one lambda, cho_solve) / movierec EASE fit s (defaults, with its search)",
         ("scipy-ease-cho-solve", "fit_seconds"), ("movierec-ease", "fit_seconds")),
        ("implicit ALS fit s / movierec iALS fit s (64 factors, 15 iterations each)",
         ("implicit-als", "fit_seconds"), ("movierec-ials-equal", "fit_seconds")),
        ("NDCG@10 movierec iALS (defaults) / implicit ALS",
         ("movierec-ials", "ndcg"), ("implicit-als", "ndcg")),
        ("NDCG@10 movierec iALS (64 factors, 15 iterations) / implicit ALS",
         ("movierec-ials-equal", "ndcg"), ("implicit-als", "ndcg")),
    ]
    lines_r = ["| ratio | of the means | mean of per-repeat ratios ± 95% CI |", "|---|---:|---:|"]
    csv_rows.append([])
    csv_rows.append(["ratio", "of_means", "per_repeat_mean", "per_repeat_ci95"])
    for label, a, b in ratios:
        rm = ratio(a, b)
        pm, pci = ratio_ci(a, b)
        lines_r.append(f"| {label} | {rm:.2f} | {pm:.2f} ± {pci:.2f} |")
        csv_rows.append([label, f"{rm:.6g}", f"{pm:.6g}", f"{pci:.6g}"])

    lam_lines = []
    for key in ("scipy-ease",):
        lams = [row.get("lam") for row in per[key]]
        lam_lines.append(f"numpy/scipy EASE lambda chosen per repeat: {', '.join(f'{l:g}' for l in lams)}.")

    with open(args.out_md, "w") as f:
        f.write(f"# Top-N peers side by side on {args.dataset}\n\n")
        f.write(args.header.rstrip() + "\n\n")
        f.write(
            f"Python peers: numpy {meta['numpy']}, scipy {meta['scipy']}, implicit {meta['implicit']} "
            f"(Python {meta['python']}). {n} repeats of the protocol's split (`movierec split --seed 42 "
            f"--repeat r`, train = train + validation); every model reads the same train.csv and test.csv. "
            f"Mean ± 95% CI over the repeats (Student t, {n - 1} df).\n\n"
        )
        f.write("\n".join(lines_md) + "\n\n")
        f.write("## Ratios measured in this run\n\n")
        f.write("\n".join(lines_r) + "\n\n")
        f.write("## Notes\n\n")
        f.write(
            "- Metrics as in `crates/eval/src/ranking.rs`: candidates = items with a training rating the user "
            "has not rated in training; relevant = test rating >= 4 among candidates; users without relevant "
            "items or training ratings left out; ties by lower item index; NDCG with binary gains over the "
            "ideal of min(10, R) hits. The Python side reimplements them (`scripts/peers/ranking_peers.py`).\n"
            "- movierec models: `movierec evaluate --train --test --ranking --at 10 --threads 2`; each carves "
            "10% of train as validation (seeded), chooses settings there, refits on all of train (except the equal-work iALS row, one fit on all of train); fit s "
            "covers the search and the refit.\n"
            "- numpy/scipy EASE: binary X, G = X^T X + lambda I in float32, P = G^-1 from its Cholesky "
            "factor, B = -P / diag(P), diagonal 0; BLAS limited to 2 threads. Two ways to the inverse: "
            "LAPACK `spotrf` + `spotri` (scipy.linalg.lapack; about n^3 flops, the faster, used for the search) "
            "and `scipy.linalg.cho_factor` + `cho_solve` against the identity (about 7n^3/3 flops). "
            "The search version chooses lambda from 25..1600 on a seeded 10% carve of train by NDCG@10 "
            "and refits; fit s covers both. " + " ".join(lam_lines) + "\n"
            "- implicit ALS: `AlternatingLeastSquares(factors=64, iterations=15, alpha=1, "
            "regularization=0.01 (its default), num_threads=2)`, fed 1 + rating so that its confidence "
            "is c = 1 + r (movierec's default linear confidence with alpha 1); its default conjugate-gradient "
            "solver (3 steps) on both sides. movierec iALS uses exact user solves and 3 CG steps per item, "
            "and its regularisation is frequency-scaled (reg 0.01 x row weight), so the two losses are not "
            "identical: equal factors and iterations, not equal loss.\n"
            "- implicit BPR: `BayesianPersonalizedRanking(factors=128, num_threads=2)` on binary X, its "
            "defaults otherwise (100 iterations, learning rate 0.01, reg 0.01).\n"
            "- implicit runs with BLAS limited to 1 thread (as implicit recommends); its own threads = 2.\n"
            "- Fit seconds are wall-clock on a shared machine; the load average before and after the run is "
            "in the header line. Ratios of means and per-repeat ratios are both shown.\n"
        )
    with open(args.out_csv, "w", newline="") as f:
        f.write("# " + args.header.strip().replace("\n", " ") + "\n")
        w = csv.writer(f)
        for row in csv_rows:
            w.writerow(row)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("run")
    a.add_argument("--train", required=True)
    a.add_argument("--test", required=True)
    a.add_argument("--repeat", type=int, required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--seed", type=int, default=42)
    a.add_argument("--threads", type=int, default=2)
    b = sub.add_parser("report")
    b.add_argument("--dir", required=True)
    b.add_argument("--dataset", required=True)
    b.add_argument("--out-md", required=True)
    b.add_argument("--out-csv", required=True)
    b.add_argument("--header", required=True)
    args = ap.parse_args()
    run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    main()
