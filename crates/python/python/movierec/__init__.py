"""movierec from Python: the CLI's models, protocol and model files on pandas data.

Everything here calls the Rust crates of the ``movierec`` workspace (through
``movierec._native``); settings are the CLI's flags, spelt as keyword
arguments (``--min-support 3`` is ``min_support=3``), with the CLI's defaults,
presets and checks. The same seed and settings give the same split, model,
predictions and figures as the ``movierec`` command.

Example::

    import movierec
    data = movierec.load("data/ml-latest-small")
    train, test = movierec.split(data, seed=42)
    model = movierec.KNN(k=40).fit(train)
    model.recommend(1, n=5)                      # a DataFrame with titles
    movierec.evaluate([movierec.Bias(), movierec.MF()], data, repeats=2)
"""

from __future__ import annotations

import json
import io
import os
from typing import Any, Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import _native
from ._native import MovieRecError

__all__ = [
    "MovieRecError",
    "Ratings",
    "load",
    "from_pandas",
    "split",
    "Model",
    "Constant",
    "GlobalMean",
    "Bias",
    "Popular",
    "KNN",
    "MF",
    "DenseMF",
    "Autoencoder",
    "EASE",
    "IALS",
    "MultDAE",
    "MultVAE",
    "load_model",
    "evaluate",
]

PathLike = Union[str, "os.PathLike[str]"]


def _flags(settings: dict, switches: Iterable[str] = ("user_based", "no_refit")) -> list:
    """Keyword arguments as the CLI's flags: ``min_support=3`` -> ``--min-support 3``."""
    out = []
    for key, value in settings.items():
        if value is None:
            continue
        flag = "--" + key.rstrip("_").replace("_", "-")
        if key in switches:
            if value:
                out.append(flag)
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        out += [flag, str(value)]
    return out


class Ratings:
    """A rating set: ratings with raw user and movie ids, optional
    timestamps and the movie catalogue (titles, years, genres).

    Made by :func:`load`, :func:`from_pandas` or :func:`split`.

    >>> data = movierec.load("data/ml-latest-small")
    >>> len(data), data.n_users, data.n_items
    (100836, 610, 9724)
    >>> data.to_pandas().head()
    """

    def __init__(self, native: "_native.Data"):
        self._data = native

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return (
            f"<movierec.Ratings {self.name!r}: {len(self)} ratings, "
            f"{self.n_users} users, {self.n_items} movies>"
        )

    @property
    def name(self) -> str:
        """The dataset's name (its folder, or the name given)."""
        return self._data.name

    @property
    def n_users(self) -> int:
        """Distinct users."""
        return self._data.n_users

    @property
    def n_items(self) -> int:
        """Distinct rated movies."""
        return self._data.n_items

    @property
    def scale(self) -> Tuple[float, float]:
        """The rating scale (min, max)."""
        return self._data.scale

    def to_pandas(self) -> pd.DataFrame:
        """The ratings as a DataFrame: ``user``, ``item``, ``rating`` (float32)
        and ``timestamp`` when the source has them, in rating order."""
        users, items, ratings, ts = self._data.arrays()
        cols = {
            "user": np.frombuffer(users, dtype="<u8").astype(np.int64),
            "item": np.frombuffer(items, dtype="<u8").astype(np.int64),
            "rating": np.frombuffer(ratings, dtype="<f4").copy(),
        }
        if ts is not None:
            cols["timestamp"] = np.frombuffer(ts, dtype="<i8").copy()
        return pd.DataFrame(cols)

    def movies(self) -> pd.DataFrame:
        """The catalogue: ``movie_id``, ``title``, ``year``, ``genres`` (``|``-joined)."""
        rows = self._data.movies()
        return pd.DataFrame(rows, columns=["movie_id", "title", "year", "genres"])


def load(
    path: PathLike,
    *,
    columns: Optional[str] = None,
    delimiter: str = ",",
    no_header: bool = False,
    scale: Optional[str] = None,
    on_duplicate: str = "error",
) -> Ratings:
    """Reads a dataset as the CLI's ``--data PATH`` does: a MovieLens folder
    (ml-latest*, ml-100k, ml-1m, ml-10m) or rating file, or with ``columns``
    (``"user,item,rating[,timestamp]"``, names or 0-based positions) one
    generic CSV file. A bad file raises :class:`MovieRecError` with the CLI's
    message.

    >>> data = movierec.load("data/ml-latest-small")
    >>> movierec.load("my.tsv", columns="0,1,2", delimiter="\\t", no_header=True, scale="1..5")
    """
    args = ["--data", os.fspath(path), "--on-duplicate", on_duplicate]
    args += _flags(
        {"columns": columns, "delimiter": delimiter, "scale": scale, "no_header": no_header},
        switches=("no_header",),
    )
    return Ratings(_native.load(args))


def from_pandas(
    df: pd.DataFrame,
    user: str = "userId",
    item: str = "movieId",
    rating: str = "rating",
    timestamp: Optional[str] = "timestamp",
    *,
    scale: Tuple[float, float] = (0.5, 5.0),
    movies: Optional[pd.DataFrame] = None,
    name: str = "dataframe",
    on_duplicate: str = "error",
) -> Ratings:
    """A rating set from a DataFrame with integer user and movie ids.

    ``timestamp`` is used when the frame has that column (pass ``None`` to
    ignore it). ``movies``, a frame with ``movieId`` (or ``movie_id``),
    ``title`` and optionally ``genres`` (``|``-joined), gives the titles that
    ``recommend`` and ``similar`` show. Ids are indexed in order of first
    appearance, as the CLI reads a file, so a frame read from ratings.csv
    gives the same model as the folder.

    >>> df = pd.read_csv("data/ml-latest-small/ratings.csv")
    >>> data = movierec.from_pandas(df, user="userId", item="movieId", rating="rating")
    """
    users = np.ascontiguousarray(df[user].to_numpy(), dtype="<u8")
    items = np.ascontiguousarray(df[item].to_numpy(), dtype="<u8")
    values = np.ascontiguousarray(df[rating].to_numpy(), dtype="<f4")
    ts = None
    if timestamp is not None and timestamp in df.columns:
        ts = np.ascontiguousarray(df[timestamp].to_numpy(), dtype="<i8").tobytes()
    native = _native.from_arrays(
        name,
        users.tobytes(),
        items.tobytes(),
        values.tobytes(),
        ts,
        (float(scale[0]), float(scale[1])),
        on_duplicate,
    )
    if movies is not None:
        idcol = "movieId" if "movieId" in movies.columns else "movie_id"
        genres = movies["genres"] if "genres" in movies.columns else [""] * len(movies)
        rows = [
            (int(i), str(t), [g for g in str(gs).split("|") if g and g != "(no genres listed)"])
            for i, t, gs in zip(movies[idcol], movies["title"], genres)
        ]
        native = _native.with_movies(native, rows)
    return Ratings(native)


def split(
    data: Ratings,
    protocol: str = "holdout",
    *,
    repeat: int = 0,
    test_fraction: float = 0.1,
    folds: int = 5,
    seed: int = 42,
) -> Tuple[Ratings, Ratings]:
    """One split of the protocol as ``(train, test)``: the same ratings as
    ``movierec split --protocol P --repeat R --seed S`` writes to train.csv
    (train + validation) and test.csv. Protocols: holdout, kfold,
    user-holdout, temporal.

    >>> train, test = movierec.split(data, seed=42)
    """
    tr, te = _native.split(data._data, protocol, repeat, test_fraction, folds, seed)
    return Ratings(tr), Ratings(te)


_MOVIE_COLUMNS = ["movie_id", "title", "year", "genres"]

# Settings of the fit itself (the protocol's), not of the model.
_FIT_KEYS = ("seed", "validation_fraction", "fallback", "threads", "knn_cap")

Hidden = Union[int, Sequence[int]]


def _given(**settings: Any) -> dict:
    """The settings given (not None), in signature order."""
    return {k: v for k, v in settings.items() if v is not None}


class Model:
    """A model of the CLI's model table, scikit-learn style.

    Each class takes its model's CLI flags (``movierec train --help``) as
    keyword arguments, ``_`` for ``-`` (``--min-support 3`` is
    ``min_support=3``); one left out (``None``) keeps the CLI's default, so
    ``MF()`` is ``movierec train --model mf-sgd``. A flag the model does not
    have is a ``TypeError``, as for any Python function.

    Every class also takes the settings of the fit: ``preset`` ("report",
    "report-deep", "large": the model's presets), ``config`` (a TOML file as
    ``--config``), ``seed`` (42), ``validation_fraction`` (0.1: what the
    model chooses on validation, then the refit on all ratings, as
    ``movierec train``), ``fallback`` ("bias"), ``threads`` (0: all cores)
    and ``progress`` (False: no progress bars).
    """

    kind: str = ""

    def __init__(
        self,
        *,
        preset: Optional[str] = None,
        config: Optional[PathLike] = None,
        seed: Optional[int] = None,
        validation_fraction: Optional[float] = None,
        fallback: Optional[str] = None,
        threads: Optional[int] = None,
        progress: bool = False,
    ):
        self.settings = _given(
            preset=preset,
            config=None if config is None else os.fspath(config),
            seed=seed,
            validation_fraction=validation_fraction,
            fallback=fallback,
            threads=threads,
        )
        self.progress = progress
        self._fitted: Optional["_native.Fitted"] = None

    def _own(self, arguments: dict) -> None:
        """Adds the model's own settings, a subclass constructor's
        ``locals()`` (those given), before the fit's."""
        mine = {k: v for k, v in arguments.items() if k not in ("self", "fit", "__class__")}
        self.settings = {**_given(**mine), **self.settings}

    def get_params(self, deep: bool = True) -> dict:
        """The keyword arguments given (scikit-learn's convention, so that
        ``sklearn.base.clone`` works); the ones left out keep the CLI's
        defaults."""
        params = dict(self.settings)
        if self.progress:
            params["progress"] = True
        return params

    def set_params(self, **params: Any) -> "Model":
        """Changes settings (as keyword arguments of the class; unknown ones
        raise ``TypeError``) and forgets the fit. Returns self."""
        fresh = type(self)(**{**self.get_params(), **params})
        self.__dict__.update(fresh.__dict__)
        return self

    def __getstate__(self) -> dict:
        """Pickling keeps the settings and the fitted model as the bytes of
        its model file (what :meth:`save` writes)."""
        state = dict(self.__dict__)
        if self._fitted is not None:
            state["_fitted"] = self._fitted.to_bytes()
        return state

    def __setstate__(self, state: dict) -> None:
        fitted = state.get("_fitted")
        if fitted is not None:
            state = {**state, "_fitted": _native.model_from_bytes(fitted)}
        self.__dict__.update(state)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"{type(self).__name__}({args})"

    def _fit_args(self) -> list:
        return ["--model", self.kind] + _flags(self.settings)

    def _eval_args(self) -> list:
        own = {k: v for k, v in self.settings.items() if k not in _FIT_KEYS}
        return ["--model", self.kind] + _flags(own)

    def fit(self, train: Ratings) -> "Model":
        """Fits on ``train`` as ``movierec train`` does (the GIL is released;
        Ctrl-C stops it with KeyboardInterrupt). Returns self."""
        self._fitted = _native.fit(train._data, self._fit_args(), self.progress)
        return self

    @property
    def fitted(self) -> "_native.Fitted":
        if self._fitted is None:
            raise MovieRecError(f"{type(self).__name__} is not fitted: call fit(train) first")
        return self._fitted

    @property
    def name(self) -> str:
        """The fitted model's name in tables (with a preset's suffix)."""
        return self.fitted.name

    @property
    def config(self) -> dict:
        """The configuration the model was fitted with (after its choices on validation)."""
        return json.loads(self.fitted.config)

    def predict(self, users: Any, items: Any) -> np.ndarray:
        """Rating estimates (float32) for raw id pairs, as ``movierec predict``:
        clamped to the scale, the fallback for unknown ids.

        >>> model.predict([1, 1], [1, 2])
        array([4.31, 3.72], dtype=float32)
        """
        u = np.ascontiguousarray(np.atleast_1d(np.asarray(users)), dtype="<u8")
        i = np.ascontiguousarray(np.atleast_1d(np.asarray(items)), dtype="<u8")
        out = self.fitted.predict(u.tobytes(), i.tobytes())
        return np.frombuffer(out, dtype="<f4").copy()

    def recommend(self, user: int, n: int = 10, exclude_rated: bool = True) -> pd.DataFrame:
        """The top ``n`` movies for a user of the training ratings, as
        ``movierec recommend --user``: ``movie_id``, ``title``, ``year``,
        ``genres``, ``score``."""
        rows = self.fitted.recommend(int(user), n, exclude_rated)
        return pd.DataFrame(rows, columns=_MOVIE_COLUMNS + ["score"])

    def recommend_new(
        self, ratings: pd.DataFrame, n: int = 10, item: str = "movieId", rating: str = "rating"
    ) -> pd.DataFrame:
        """The top ``n`` movies for a new user's ratings (a frame of movie ids
        and ratings), folded in without refitting, as ``movierec recommend
        --ratings``."""
        if item not in ratings.columns and "item" in ratings.columns:
            item = "item"
        movies = [int(m) for m in ratings[item]]
        values = [float(r) for r in ratings[rating]]
        rows = self.fitted.recommend_new(movies, values, n)
        return pd.DataFrame(rows, columns=_MOVIE_COLUMNS + ["score"])

    def similar(self, movie: Union[int, str], n: int = 10) -> pd.DataFrame:
        """The ``n`` movies nearest to ``movie`` (an id or a title), as
        ``movierec similar``."""
        rows = self.fitted.similar(str(movie), n)
        return pd.DataFrame(rows, columns=_MOVIE_COLUMNS + ["similarity"])

    def save(self, path: PathLike) -> None:
        """Writes the model file ``movierec recommend/predict/similar --model`` read."""
        self.fitted.save(os.fspath(path))


class Constant(Model):
    """The report's constant 3.0 for every pair (``--model constant``)."""

    kind = "constant"


class GlobalMean(Model):
    """The mean training rating (``--model global-mean``)."""

    kind = "global-mean"


class Bias(Model):
    """Global mean + regularised user and item biases (``--model bias``)."""

    kind = "bias"


class Popular(Model):
    """Most popular first, for top-N lists (``--model popular``)."""

    kind = "popular"


class KNN(Model):
    """Item-based KNN (``--model knn``), or user-based with ``user_based=True``.

    ``k``: neighbours per prediction, or ``"auto"`` to choose K on
    validation; ``similarity``: "adjusted-cosine", "cosine", "pearson" or
    "pearson-baseline"; ``neighbourhood``: "report" or "rated";
    ``prediction``: "report", "mean-centred" or "baseline"; ``shrinkage``,
    ``min_support``, ``max_neighbours``; ``knn_cap``: each movie's list
    capped at this many neighbours when no ``max_neighbours`` is given (200,
    as ``train --knn-cap``; 0: no cap).

    >>> movierec.KNN(k=40, similarity="pearson-baseline").fit(train).predict([1], [50])
    """

    kind = "knn"

    def __init__(
        self,
        *,
        k: Union[int, str, None] = None,
        similarity: Optional[str] = None,
        neighbourhood: Optional[str] = None,
        prediction: Optional[str] = None,
        shrinkage: Optional[float] = None,
        min_support: Optional[int] = None,
        max_neighbours: Optional[int] = None,
        user_based: Optional[bool] = None,
        knn_cap: Optional[int] = None,
        **fit: Any,
    ):
        super().__init__(**fit)
        self._own(locals())


class MF(Model):
    """Matrix factorisation by SGD (``--model mf-sgd``): ``factors``,
    ``epochs`` (at most; early stopping on validation), ``lr``, ``reg``,
    ``biases`` (False: the report's plain ``p_u . q_i``).

    >>> movierec.MF(factors=100).fit(train).predict([1], [50])
    """

    kind = "mf-sgd"

    def __init__(
        self,
        *,
        factors: Optional[int] = None,
        epochs: Optional[int] = None,
        lr: Optional[float] = None,
        reg: Optional[float] = None,
        biases: Optional[bool] = None,
        **fit: Any,
    ):
        super().__init__(**fit)
        self._own(locals())


class DenseMF(Model):
    """The report's dense full-batch GD factorisation (``--model mf-dense``):
    ``factors``, ``epochs`` (full-batch steps), ``lr``, ``reg`` (its beta)."""

    kind = "mf-dense"

    def __init__(
        self,
        *,
        factors: Optional[int] = None,
        epochs: Optional[int] = None,
        lr: Optional[float] = None,
        reg: Optional[float] = None,
        **fit: Any,
    ):
        super().__init__(**fit)
        self._own(locals())


class Autoencoder(Model):
    """The report's item autoencoder (``--model autoencoder``): ``hidden``
    (layer sizes), ``output`` ("relu" or "identity"), ``epochs``, ``batch``,
    ``lr``, ``l1_share``, ``dropout``, ``user_based``; presets "report",
    "report-deep", "large"."""

    kind = "autoencoder"

    def __init__(
        self,
        *,
        hidden: Optional[Hidden] = None,
        output: Optional[str] = None,
        epochs: Optional[int] = None,
        batch: Optional[int] = None,
        lr: Optional[float] = None,
        l1_share: Optional[float] = None,
        dropout: Optional[float] = None,
        user_based: Optional[bool] = None,
        **fit: Any,
    ):
        super().__init__(**fit)
        self._own(locals())


class EASE(Model):
    """EASE for top-N lists (``--model ease``): ``lambda_`` (``--lambda``;
    by default chosen on validation NDCG@10)."""

    kind = "ease"

    def __init__(self, *, lambda_: Optional[float] = None, **fit: Any):
        super().__init__(**fit)
        self._own(locals())


class IALS(Model):
    """Implicit ALS for top-N lists (``--model ials``): ``factors``,
    ``epochs`` (iterations), ``reg``, ``alpha`` (confidence ``1 + alpha r``)."""

    kind = "ials"

    def __init__(
        self,
        *,
        factors: Optional[int] = None,
        epochs: Optional[int] = None,
        reg: Optional[float] = None,
        alpha: Optional[float] = None,
        **fit: Any,
    ):
        super().__init__(**fit)
        self._own(locals())


class _Mult(Model):
    """The settings Mult-DAE and Mult-VAE share."""

    def __init__(
        self,
        *,
        hidden: Optional[Hidden] = None,
        epochs: Optional[int] = None,
        lr: Optional[float] = None,
        batch: Optional[int] = None,
        dropout: Optional[float] = None,
        **fit: Any,
    ):
        super().__init__(**fit)
        self._own(locals())


class MultDAE(_Mult):
    """Mult-DAE for top-N lists (``--model mult-dae``): ``hidden``,
    ``epochs``, ``lr``, ``batch``, ``dropout``."""

    kind = "mult-dae"


class MultVAE(_Mult):
    """Mult-VAE for top-N lists (``--model mult-vae``): ``hidden``,
    ``epochs``, ``lr``, ``batch``, ``dropout``."""

    kind = "mult-vae"


def _classes(base: type) -> list:
    return [d for c in base.__subclasses__() for d in [c, *_classes(c)]]


_KINDS = {c.kind: c for c in _classes(Model) if c.kind}


def load_model(path: PathLike) -> Model:
    """Reads a model file written by ``movierec train`` or :meth:`Model.save`.

    >>> model = movierec.load_model("mf.mrec")
    >>> model.recommend(1, n=5)
    """
    fitted = _native.load_model(os.fspath(path))
    name = fitted.name
    cls = next(
        (c for k, c in sorted(_KINDS.items(), key=lambda kc: -len(kc[0])) if name.startswith(k)),
        Model,
    )
    model = cls.__new__(cls)
    Model.__init__(model)
    model._fitted = fitted
    return model


_SUMMARY_SKIP = {"dataset", "protocol", "repeat", "fed_input"}
_DEFAULT_RANKING = (10,)


def evaluate(
    models: Union[Model, Sequence[Model]],
    data: Ratings,
    protocol: str = "holdout",
    repeats: int = 5,
    ranking_at: Optional[Sequence[int]] = _DEFAULT_RANKING,
    *,
    seed: int = 42,
    folds: int = 5,
    test_fraction: float = 0.1,
    validation_fraction: float = 0.1,
    fallback: str = "bias",
    relevant: float = 4.0,
    refit: bool = True,
    threads: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Runs the CLI's protocol (``movierec evaluate --ranking --at K,...``)
    for each model on ``data``: one row per model with the mean of every
    column of the CLI's table and its 95% confidence half-width
    (``<column>_ci95``). ``ranking_at=None`` skips the top-N metrics.

    ``df.attrs["repeats"]`` holds the per-repeat records and
    ``df.attrs["report"]`` the report as ``movierec evaluate --json`` prints it.

    Protocols: holdout, kfold, user-holdout, temporal, and "report"
    (``movierec evaluate --protocol report``: the report's way of measuring
    beside the held-out figures of the same fits; rating estimates only, so
    its default has no top-N metrics and another ``ranking_at`` raises).

    >>> movierec.evaluate([movierec.Bias(), movierec.KNN()], data, repeats=2)
    """
    if isinstance(models, Model):
        models = [models]
    common = _flags(
        {
            "protocol": protocol,
            "repeats": repeats,
            "folds": folds,
            "test_fraction": test_fraction,
            "validation_fraction": validation_fraction,
            "seed": seed,
            "fallback": fallback,
            "threads": threads,
            "no_refit": not refit,
        }
    )
    if protocol == "report" and ranking_at is _DEFAULT_RANKING:
        ranking_at = None
    if ranking_at:
        common += ["--ranking", "--at", ",".join(str(int(k)) for k in ranking_at), "--relevant", str(relevant)]
    argvs = [m._eval_args() + common for m in models]
    text, csv = _native.evaluate(data._data, argvs, progress)
    report = json.loads(text)
    body = "\n".join(line for line in csv.splitlines() if not line.startswith("#"))
    rows = pd.read_csv(io.StringIO(body), dtype={"repeat": str})
    per = rows[~rows["repeat"].isin(["mean", "ci95"])].copy()
    per["repeat"] = per["repeat"].astype(int)
    mean = rows[rows["repeat"] == "mean"].drop(columns=["repeat"]).reset_index(drop=True)
    ci = rows[rows["repeat"] == "ci95"].drop(columns=["repeat"]).reset_index(drop=True)
    table = mean.copy()
    for col in mean.columns:
        if col in _SUMMARY_SKIP or col == "model" or col == "k":
            continue
        table[col + "_ci95"] = ci[col]
    table.attrs["repeats"] = per.to_dict("records")
    table.attrs["report"] = report
    return table
