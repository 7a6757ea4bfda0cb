"""Smoke tests of the figures: files are written, axes hold the data."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from simcalib.experiments import plot_ood_confidence, plot_reliability_grid, plot_sweeps


def _png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reliability_grid(tmp_path, rng):
    p = rng.dirichlet(np.ones(4), 60)
    y = rng.integers(0, 4, 60)
    preds = {k: p for k in ("one-hot", "ts", "uniform", "mixup", "dir-odir", "ets", "l1")}
    path = plot_reliability_grid(preds, y, tmp_path / "f1.png", suptitle="x")
    assert _png(path)


def test_sweeps_and_ood(tmp_path, rng):
    rep = lambda e: {"hist_ece_p": e, "hist_ece_o": 2 * e}  # noqa: E731
    assert _png(plot_sweeps({"uniform": [(0.1, rep(0.1)), (0.05, rep(0.2))],
                             "we": [(0.1, rep(0.05))]},
                            {"we": [(1.0, rep(0.1)), (2.0, rep(0.07))]}, tmp_path / "f2.png"))
    conf = {"other dataset": {"one-hot": rng.random(20), "we": rng.random(20)},
            "uniform noise": {"one-hot": rng.random(20)}}
    assert _png(plot_ood_confidence(conf, tmp_path / "f3.png"))
