"""Every ECE estimate stays inside its range, for arbitrary valid inputs.

The ranges follow from the definitions (``S = sum of all probabilities``,
which is ``n`` up to the row-sum tolerance):

* prediction mode (histogram with any norm, KDE), MCE, classwise ECE: [0, 1];
* pooled output mode on the tables' scale (``output_normalization="n"``):
  L1 (histogram and KDE) in [0, (S + n) / n] = [0, 2] -- all-wrong one-hot
  predictions reach 2 (200 %); L2 in [0, sqrt(2)]; max norm in [0, 1];
* with ``"nK"`` everything above is divided by K (L2 by sqrt(K)).

The inputs include the degenerate cases that broke the KDE estimate:
constant rows, one-hot rows (confidences exactly 0 and 1), all-equal rows,
ties, a single sample, two classes.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcalib.metrics import (
    calibration_report,
    classwise_calibration_error,
    expected_calibration_error,
    kde_calibration_error,
    maximum_calibration_error,
)

KINDS = ("random", "peaked", "one-hot", "constant", "uniform", "rounded", "mixed")


def _rows(rng, kind, n, k):
    if kind == "random":
        p = rng.dirichlet(np.full(k, 0.5), size=n)
    elif kind == "peaked":  # almost all confidences exactly 1.0 (Dir-ODIR-like)
        p = np.eye(k)[rng.integers(0, k, n)]
        few = rng.uniform(size=n) < 0.05
        p[few] = rng.dirichlet(np.ones(k), size=int(few.sum()))
    elif kind == "one-hot":
        p = np.eye(k)[rng.integers(0, k, n)]
    elif kind == "constant":
        p = np.tile(rng.dirichlet(np.ones(k)), (n, 1))
    elif kind == "uniform":
        p = np.full((n, k), 1.0 / k)
    elif kind == "rounded":  # many ties and values on bin edges
        p = np.round(rng.dirichlet(np.ones(k), size=n), 1)
        p[:, -1] = 0.0
        p[:, -1] = np.clip(1.0 - p.sum(1), 0.0, None)
        p /= p.sum(1, keepdims=True)
    else:
        p = np.concatenate([_rows(rng, kind, n, k) for kind in ("one-hot", "random")])
        p = p[rng.permutation(len(p))[:n]]
    return p


def _labels(rng, how, p):
    n, k = p.shape
    pred = p.argmax(1)
    if how == "correct":
        return pred
    if how == "wrong":
        return (pred + 1) % k
    if how == "one-class":
        return np.zeros(n, dtype=int)
    return rng.integers(0, k, size=n)


inputs = st.builds(
    lambda seed, kind, n, k, how: _make(seed, kind, n, k, how),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(KINDS),
    n=st.integers(1, 40),
    k=st.integers(2, 6),
    how=st.sampled_from(("random", "correct", "wrong", "one-class")),
)


def _make(seed, kind, n, k, how):
    rng = np.random.default_rng(seed)
    p = _rows(rng, kind, n, k)
    return _labels(rng, how, p), p


def _upper(mode, norm, normalization, k, p):
    if mode == "prediction" or norm == "max":
        return 1.0
    l1 = (p.sum() + p.shape[0]) / p.shape[0]  # 2, up to the row sums
    if normalization == "nK":
        l1 /= k
    return l1 if norm == "l1" else np.sqrt(l1)


TOL = 1e-9


@settings(max_examples=150, deadline=None)
@given(
    data=inputs,
    mode=st.sampled_from(("prediction", "output")),
    norm=st.sampled_from(("l1", "l2", "max")),
    strategy=st.sampled_from(("uniform", "quantile")),
    normalization=st.sampled_from(("n", "nK")),
    n_bins=st.integers(1, 20),
)
def test_histogram_ece_in_range(data, mode, norm, strategy, normalization, n_bins):
    y, p = data
    value = expected_calibration_error(
        y, p, mode=mode, norm=norm, strategy=strategy, n_bins=n_bins,
        output_normalization=normalization,
    )
    assert -TOL <= value <= _upper(mode, norm, normalization, p.shape[1], p) + TOL


@settings(max_examples=80, deadline=None)
@given(
    data=inputs,
    mode=st.sampled_from(("prediction", "output")),
    bandwidth=st.one_of(
        st.sampled_from(("reference", "paper")), st.floats(1.4e-4, 1.0)
    ),
    normalization=st.sampled_from(("n", "nK")),
)
def test_kde_ece_in_range(data, mode, bandwidth, normalization):
    y, p = data
    value = kde_calibration_error(
        y, p, mode=mode, bandwidth=bandwidth, output_normalization=normalization
    )
    assert -TOL <= value <= _upper(mode, "l1", normalization, p.shape[1], p) + TOL


@settings(max_examples=60, deadline=None)
@given(data=inputs, strategy=st.sampled_from(("uniform", "quantile")),
       norm=st.sampled_from(("l1", "l2", "max")))
def test_classwise_and_mce_in_range(data, strategy, norm):
    y, p = data
    assert -TOL <= classwise_calibration_error(y, p, strategy=strategy, norm=norm) <= 1 + TOL
    assert -TOL <= maximum_calibration_error(y, p, strategy=strategy) <= 1 + TOL


@settings(max_examples=40, deadline=None)
@given(data=inputs)
def test_report_in_range_and_equal_to_the_functions(data):
    y, p = data
    report = calibration_report(y, p)
    for key in ("accuracy", "hist_ece_p", "kde_ece_p", "classwise_ece", "mce"):
        assert -TOL <= report[key] <= 1 + TOL, key
    for key in ("hist_ece_o", "kde_ece_o", "brier"):
        assert -TOL <= report[key] <= 2 + TOL, key
    assert report["kde_ece_p"] == kde_calibration_error(y, p)
    assert report["kde_ece_o"] == pytest.approx(
        kde_calibration_error(y, p, mode="output"), rel=1e-12, abs=1e-15
    )
    assert report["hist_ece_o"] == pytest.approx(
        expected_calibration_error(y, p, mode="output"), rel=1e-12, abs=1e-15
    )


@pytest.mark.parametrize("c, accuracy", [(0.7, 0.3), (0.5001, 0.0), (0.9, 0.1), (1.0, 0.5)])
@pytest.mark.parametrize("k", [2, 3])
def test_kde_on_constant_predictions_is_the_histogram_value(c, accuracy, k):
    """No spread at all: the bandwidth is the grid step (it used to give 10-50)."""
    n = 100
    p = np.tile([c] + [(1 - c) / (k - 1)] * (k - 1), (n, 1))
    y = np.r_[np.zeros(round(accuracy * n), int), np.ones(n - round(accuracy * n), int)]
    hist = expected_calibration_error(y, p)
    assert hist == pytest.approx(abs(c - accuracy))
    assert kde_calibration_error(y, p) == pytest.approx(hist, abs=1e-3)


def test_kde_single_sample_and_almost_all_ones():
    assert kde_calibration_error([0], [[0.6, 0.4]]) == pytest.approx(0.4, abs=1e-3)
    assert kde_calibration_error([1], [[0.6, 0.4]]) == pytest.approx(0.6, abs=1e-3)
    rng = np.random.default_rng(0)
    n, k = 1000, 10
    y = rng.integers(0, k, n)
    p = np.eye(k)[y]
    p[:3] = rng.dirichlet(np.ones(k), 3)  # three spread confidences, the rest exactly 1
    y[3:40] = (y[3:40] + 1) % k
    for mode in ("prediction", "output"):
        hist = expected_calibration_error(y, p, mode=mode)
        assert kde_calibration_error(y, p, mode=mode) == pytest.approx(hist, abs=0.02)


def test_rows_within_tolerance_keep_the_bound():
    """Rows may sum to 1 + 1e-4: the output bound is (sum p + n) / n, not 2."""
    wrong = np.tile([0.0, 0.6 + 4.5e-5, 0.4 + 4.5e-5, 0.0], (4, 1))
    y = np.zeros(4, dtype=int)  # the true class always gets 0
    bound = (wrong.sum() + 4) / 4
    assert expected_calibration_error(y, wrong, mode="output") == pytest.approx(bound)
    assert 2.0 < bound
    assert kde_calibration_error(y, wrong, mode="output") <= bound + TOL
