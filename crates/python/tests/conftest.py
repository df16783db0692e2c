"""Fixtures: the CLI binary built by cargo and a small synthetic dataset."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _binary() -> pathlib.Path:
    given = os.environ.get("MOVIEREC_BIN")
    if given:
        return pathlib.Path(given)
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    release = target / "release" / "movierec"
    # Build (or bring up to date) the release binary, as the CI's smoke step does.
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-q", "-p", "movierec-cli"],
        cwd=ROOT,
        check=True,
    )
    return release


@pytest.fixture(scope="session")
def cli():
    """Runs the `movierec` binary; returns the completed process."""
    binary = _binary()

    def run(*args, check=True):
        proc = subprocess.run(
            [str(binary), *map(str, args)], capture_output=True, text=True
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"movierec {' '.join(map(str, args))}: {proc.stderr}")
        return proc

    return run


@pytest.fixture(scope="session")
def synth(cli, tmp_path_factory):
    """A synthetic MovieLens folder: 80 users, 120 movies, 3000 ratings."""
    out = tmp_path_factory.mktemp("synth") / "synth"
    cli("synth", "--users", 80, "--items", 120, "--ratings", 3000, "--seed", 3, "--out", out, "--quiet")
    return out


@pytest.fixture(scope="session")
def movielens():
    """ml-latest-small, or a visible skip."""
    path = pathlib.Path(
        os.environ.get("MOVIELENS_DIR", ROOT.parent / "shared" / "data" / "ml-latest-small")
    )
    if not (path / "ratings.csv").is_file():
        pytest.skip(f"SKIPPED: no ml-latest-small at {path} (set MOVIELENS_DIR)")
    return path
