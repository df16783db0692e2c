"""The Python package against the `movierec` CLI on the same ratings."""

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest

import movierec

# Models and settings fitted both ways (few epochs: the suite stays fast).
CASES = [
    (movierec.Bias, "bias", {}),
    (movierec.KNN, "knn", {}),
    (movierec.KNN, "knn", {"k": 20, "similarity": "pearson", "shrinkage": 10.0}),
    (movierec.MF, "mf-sgd", {"epochs": 8, "factors": 16}),
    (movierec.DenseMF, "mf-dense", {"epochs": 20}),
    (movierec.Autoencoder, "autoencoder", {"epochs": 4, "hidden": [20]}),
    (movierec.EASE, "ease", {}),
]


def _flags(settings):
    return movierec._flags(settings)


def _pairs(data, tmp_path):
    df = data.to_pandas()
    users = np.unique(df["user"])[:20]
    items = np.unique(df["item"])[:30]
    u, i = np.meshgrid(users, items, indexing="ij")
    pairs = pd.DataFrame({"user": u.ravel(), "item": i.ravel()})
    # Unknown ids take the fallback, in both.
    pairs = pd.concat([pairs, pd.DataFrame({"user": [999999, 1], "item": [1, 999999]})])
    path = tmp_path / "pairs.csv"
    pairs.to_csv(path, index=False)
    return pairs, path


@pytest.mark.parametrize("cls,kind,settings", CASES)
def test_predictions_match_cli_bit_for_bit(cli, synth, tmp_path, cls, kind, settings):
    data = movierec.load(synth)
    common = {"seed": 7, "threads": 2}
    model = cls(**settings, **common).fit(data)
    pairs, path = _pairs(data, tmp_path)
    ours = model.predict(pairs["user"], pairs["item"])
    out = tmp_path / "m.mrec"
    cli("train", "--data", synth, "--model", kind, *_flags({**settings, **common}), "--out", out, "--quiet")
    cli("predict", "--model", out, "--pairs", path, "--out", tmp_path / "p.csv", "--quiet")
    theirs = pd.read_csv(tmp_path / "p.csv", dtype={"prediction": str})
    theirs = np.array([np.float32(s) for s in theirs["prediction"]], dtype=np.float32)
    assert ours.dtype == np.float32
    assert ours.view(np.uint32).tolist() == theirs.view(np.uint32).tolist()
    assert model.config == json.loads(movierec.load_model(out).fitted.config)


def _figures(obj):
    """The report without timings, provenance and run context."""
    if isinstance(obj, dict):
        return {
            k: _figures(v)
            for k, v in obj.items()
            if "seconds" not in k and k not in ("provenance", "context", "dataset")
        }
    if isinstance(obj, list):
        return [_figures(v) for v in obj]
    return obj


def test_evaluate_matches_cli(cli, synth):
    data = movierec.load(synth)
    table = movierec.evaluate(
        [movierec.Bias(), movierec.KNN(k=20), movierec.MF(epochs=5)],
        data,
        repeats=2,
        seed=5,
        ranking_at=(10, 5),
        threads=2,
    )
    proc = cli(
        "evaluate", "--data", synth, "--model", "bias", "--repeats", 2, "--seed", 5,
        "--ranking", "--at", "10,5", "--json", "--quiet", "--threads", 2,
    )
    knn = cli(
        "evaluate", "--data", synth, "--model", "knn", "--k", 20, "--repeats", 2, "--seed", 5,
        "--ranking", "--at", "10,5", "--json", "--quiet", "--threads", 2,
    )
    mf = cli(
        "evaluate", "--data", synth, "--model", "mf-sgd", "--epochs", 5, "--repeats", 2,
        "--seed", 5, "--ranking", "--at", "10,5", "--json", "--quiet", "--threads", 2,
    )
    theirs = [json.loads(p.stdout)["models"][0] for p in (proc, knn, mf)]
    ours = table.attrs["report"]["models"]
    assert _figures(ours) == _figures(theirs)
    assert list(table["model"]) == ["bias", "knn", "mf-sgd"]
    assert table.loc[0, "rmse"] == pytest.approx(theirs[0]["mean"]["rmse"])
    assert {"rmse", "rmse_ci95", "mae", "ndcg", "ndcg_ci95"} <= set(table.columns)
    assert len(table.attrs["repeats"]) == 6


def test_bad_file_raises_the_cli_message(cli, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,rating\n1,2,9.5\n")
    proc = cli("evaluate", "--data", bad, "--columns", "user,item,rating", "--quiet", check=False)
    assert proc.returncode == 1
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    with pytest.raises(movierec.MovieRecError) as e:
        movierec.load(bad, columns="user,item,rating")
    assert str(e.value) == line[len("error: "):]
    with pytest.raises(movierec.MovieRecError):
        movierec.load(tmp_path / "missing")
    with pytest.raises(TypeError, match="not_a_flag"):
        movierec.KNN(not_a_flag=1)


def test_model_files_cross(cli, synth, tmp_path):
    data = movierec.load(synth)
    # Python -> CLI.
    model = movierec.MF(epochs=5, seed=3, threads=2).fit(data)
    path = tmp_path / "py.mrec"
    model.save(path)
    proc = cli("recommend", "--model", path, "--user", 1, "--top", 5, "--json", "--quiet")
    theirs = json.loads(proc.stdout)
    ours = model.recommend(1, n=5)
    assert list(ours["movie_id"]) == [r["movie_id"] for r in theirs]
    assert list(ours["title"]) == [r["title"] for r in theirs]
    assert ours["score"].tolist() == pytest.approx([r["score"] for r in theirs])
    # CLI -> Python.
    out = tmp_path / "cli.mrec"
    cli("train", "--data", synth, "--model", "knn", "--out", out, "--quiet")
    loaded = movierec.load_model(out)
    assert isinstance(loaded, movierec.KNN)
    proc = cli("similar", "--model", out, "--movie", 1, "--top", 4, "--json", "--quiet")
    assert list(loaded.similar(1, 4)["movie_id"]) == [r["movie_id"] for r in json.loads(proc.stdout)]
    new = pd.DataFrame({"movieId": [1, 2, 3], "rating": [5.0, 4.0, 1.0]})
    assert len(loaded.recommend_new(new, n=3)) == 3


def test_split_matches_cli(cli, synth, tmp_path):
    data = movierec.load(synth)
    for protocol in ("holdout", "kfold"):
        cli("split", "--data", synth, "--protocol", protocol, "--repeat", 1, "--seed", 9, "--out", tmp_path / protocol, "--quiet")
        train, test = movierec.split(data, protocol, repeat=1, seed=9)
        for ours, name in ((train, "train.csv"), (test, "test.csv")):
            theirs = pd.read_csv(tmp_path / protocol / name)
            df = ours.to_pandas()
            assert df["user"].tolist() == theirs["user"].tolist()
            assert df["item"].tolist() == theirs["item"].tolist()
            assert df["rating"].tolist() == pytest.approx(theirs["rating"].tolist())


def test_from_pandas_gives_the_folder_model(synth):
    df = pd.read_csv(synth / "ratings.csv")
    movies = pd.read_csv(synth / "movies.csv")
    a = movierec.MF(epochs=4, threads=2).fit(movierec.from_pandas(df, movies=movies))
    b = movierec.MF(epochs=4, threads=2).fit(movierec.load(synth))
    users, items = df["userId"][:50], df["movieId"][:50]
    assert a.predict(users, items).tobytes() == b.predict(users, items).tobytes()
    assert a.recommend(2, n=3)["title"].tolist() == b.recommend(2, n=3)["title"].tolist()
    back = movierec.load(synth).to_pandas()
    assert back["user"].tolist() == df["userId"].tolist()
    with pytest.raises(movierec.MovieRecError, match="duplicate rating"):
        movierec.from_pandas(pd.concat([df.head(2), df.head(1)]))


def test_from_pandas_resolves_duplicates_as_the_cli_reads_a_file(cli, synth, tmp_path):
    df = pd.read_csv(synth / "ratings.csv").head(300)
    # Rows 0 and 5 again, later: one newer (it wins, where its row is) and one older.
    again = df.iloc[[0, 5]].copy()
    again["rating"] = [0.5, 1.0]
    again["timestamp"] = [df["timestamp"][0] + 1, df["timestamp"][5] - 1]
    dup = pd.concat([df.iloc[:100], again, df.iloc[100:]], ignore_index=True)
    (tmp_path / "dup").mkdir()
    dup.to_csv(tmp_path / "dup" / "ratings.csv", index=False)
    ours = movierec.from_pandas(dup, on_duplicate="latest").to_pandas()
    theirs = movierec.load(tmp_path / "dup", on_duplicate="latest").to_pandas()
    assert len(ours) == len(df)
    pd.testing.assert_frame_equal(ours, theirs)
    for protocol in ["holdout", "temporal"]:
        a = movierec.split(movierec.from_pandas(dup, on_duplicate="latest"), protocol, seed=5)
        b = movierec.split(movierec.load(tmp_path / "dup", on_duplicate="latest"), protocol, seed=5)
        for x, y in zip(a, b):
            pd.testing.assert_frame_equal(x.to_pandas(), y.to_pandas())


def test_each_class_takes_exactly_its_models_cli_flags():
    import inspect

    fit = set(inspect.signature(movierec.Model).parameters)
    for cls in movierec._KINDS.values():
        params = inspect.signature(cls).parameters
        own = {p.rstrip("_").replace("_", "-") for p in params if p not in fit | {"fit", "knn_cap"}}
        assert own == set(movierec._native.model_flags(cls.kind)), cls.__name__
    # A flag is passed only when given, so that the CLI's defaults apply.
    assert movierec.MF()._fit_args() == ["--model", "mf-sgd"]
    assert movierec.MF(biases=False, seed=3)._fit_args() == ["--model", "mf-sgd", "--biases", "false", "--seed", "3"]
    assert movierec.EASE(lambda_=50)._fit_args() == ["--model", "ease", "--lambda", "50"]
    assert movierec.KNN(user_based=True, k="auto")._fit_args() == ["--model", "knn", "--k", "auto", "--user-based"]
    with pytest.raises(TypeError):
        movierec.Bias(factors=3)


def test_fit_releases_the_gil(cli, tmp_path):
    out = tmp_path / "big"
    cli("synth", "--users", 400, "--items", 600, "--ratings", 40000, "--out", out, "--quiet")
    data = movierec.load(out)
    ticks = []
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    try:
        start = time.perf_counter()
        movierec.Autoencoder(epochs=30, hidden=[64], threads=1).fit(data)
        end = time.perf_counter()
    finally:
        stop.set()
        t.join()
    assert end - start > 0.05, "the fit was too quick to tell"
    during = [x for x in ticks if start + 0.2 * (end - start) < x < end - 0.2 * (end - start)]
    assert len(during) >= 3, f"{len(during)} ticks of the other thread during a {end - start:.2f} s fit"


def test_real_data(movielens):
    data = movierec.load(movielens)
    assert (len(data), data.n_users) == (100836, 610)
    model = movierec.KNN().fit(data)
    top = model.recommend(1, n=5)
    assert len(top) == 5 and all(top["title"] != "")
    assert "Toy Story 2 (1999)" in model.similar("Toy Story (1995)", 20)["title"].tolist()


def test_evaluate_report_protocol_matches_cli(cli, synth):
    data = movierec.load(synth)
    table = movierec.evaluate(
        [movierec.Bias(), movierec.KNN(k=20)], data, protocol="report", repeats=2, seed=5, threads=2
    )
    theirs = [
        json.loads(
            cli(
                "evaluate", "--data", synth, "--protocol", "report", *flags, "--repeats", 2,
                "--seed", 5, "--json", "--quiet", "--threads", 2,
            ).stdout
        )["models"][0]
        for flags in (["--model", "bias"], ["--model", "knn", "--k", 20])
    ]
    ours = table.attrs["report"]["models"]
    assert _figures(ours) == _figures(theirs)
    assert list(table["model"]) == ["bias", "knn"]
    assert {"train_accuracy", "test_held_out_mse", "test_held_out_mse_ci95"} <= set(table.columns)
    with pytest.raises(movierec.MovieRecError, match="ranking_at=None"):
        movierec.evaluate(movierec.Bias(), data, protocol="report", ranking_at=(5,))


def test_a_model_pickles_with_its_fit(synth):
    import pickle

    data = movierec.load(synth)
    model = movierec.MF(epochs=3, threads=2).fit(data)
    back = pickle.loads(pickle.dumps(model))
    assert type(back) is movierec.MF and back.settings == model.settings
    users, items = [1, 2, 3], [1, 2, 5]
    assert back.predict(users, items).tobytes() == model.predict(users, items).tobytes()
    assert back.recommend(1, n=3).equals(model.recommend(1, n=3))
    fresh = pickle.loads(pickle.dumps(movierec.KNN(k=5)))
    assert fresh.settings == {"k": 5} and fresh._fitted is None
    with pytest.raises(movierec.MovieRecError, match="pickled model"):
        movierec._native.model_from_bytes(b"not a model")


def test_params_follow_scikit_learn(synth):
    model = movierec.KNN(k=7, seed=3)
    assert model.get_params() == {"k": 7, "seed": 3}
    clone = type(model)(**model.get_params())
    assert clone.get_params() == model.get_params()
    model.fit(movierec.load(synth))
    assert model.set_params(k=9) is model and model._fitted is None
    assert model.get_params() == {"k": 9, "seed": 3}
    with pytest.raises(TypeError):
        model.set_params(factors=3)
    assert movierec.EASE(lambda_=5.0).get_params() == {"lambda_": 5.0}


def test_a_split_setting_the_protocol_ignores_is_refused(synth):
    data = movierec.load(synth)
    with pytest.raises(movierec.MovieRecError, match="--test-fraction does not apply to kfold"):
        movierec.split(data, "kfold", test_fraction=0.3)
    with pytest.raises(movierec.MovieRecError, match="--repeats applies to holdout"):
        movierec.evaluate(movierec.Bias(), data, protocol="temporal", repeats=2)
    train, test = movierec.split(data, "kfold", folds=4, repeat=3)
    assert len(train) + len(test) == len(data)
