"""Bad inputs to every metric function: a ValueError that names the argument.

Every public metric -- the histogram ECE / MCE / classwise ECE, the KDE ECE,
the Brier score, the NLL and ``calibration_report`` -- shares one input path,
so each bad input is tried on each of them.
"""

import numpy as np
import pytest

from simcalib.metrics import (
    brier_score,
    calibration_report,
    classwise_calibration_error,
    expected_calibration_error,
    kde_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
)

METRICS = {
    "expected_calibration_error": expected_calibration_error,
    "expected_calibration_error-output": lambda y, p, **kw: expected_calibration_error(
        y, p, mode="output", **kw),
    "maximum_calibration_error": maximum_calibration_error,
    "classwise_calibration_error": classwise_calibration_error,
    "kde_calibration_error": kde_calibration_error,
    "kde_calibration_error-output": lambda y, p, **kw: kde_calibration_error(
        y, p, mode="output", **kw),
    "brier_score": brier_score,
    "negative_log_likelihood": negative_log_likelihood,
    "calibration_report": calibration_report,
}

Y = np.array([0, 1, 2, 1, 0, 2, 1, 1])
P = np.array([
    [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3],
    [0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1], [0.2, 0.5, 0.3],
])


def _with(row, col, value):
    p = P.copy()
    p[row, col] = value
    return p


BAD_PROBABILITIES = {
    "nan-first-row": (_with(0, 0, np.nan), "y_prob contains NaN"),
    "nan-last-row": (_with(7, 2, np.nan), "y_prob contains NaN"),
    "inf": (_with(3, 1, np.inf), "y_prob contains NaN or infinity"),
    "-inf": (_with(3, 1, -np.inf), "y_prob contains NaN or infinity"),
    "logits": (P * 5 - 1, "y_prob must hold probabilities in [0, 1]"),
    "negative": (P - 0.2, "y_prob must hold probabilities in [0, 1]"),
    "rows-off": (P * 1.01, "rows of y_prob must sum to 1"),
    "huge": (_with(2, 0, 1e308), "y_prob must hold probabilities in [0, 1]"),
    "3-d": (P[None], "y_prob must be 2-D"),
    "scalar": (np.float64(0.5), "y_prob must be 2-D"),
    "empty": (np.empty((0, 3)), "y_prob is empty"),
    "one-column": (np.ones((8, 1)), "y_prob must have at least 2 columns"),
    "strings": (np.array([["a", "b", "c"]] * 8), "y_prob must be a numeric array"),
    "complex": (P.astype(complex), "y_prob must hold real numbers"),
    "ragged": ([[0.5, 0.5], [1.0]] * 4, "y_prob must be a numeric array"),
    "1-d-above-1": (np.full(8, 1.5), "y_prob must hold probabilities in [0, 1]"),
}


@pytest.mark.parametrize("case", sorted(BAD_PROBABILITIES))
@pytest.mark.parametrize("metric", sorted(METRICS))
def test_bad_probabilities(metric, case):
    p, message = BAD_PROBABILITIES[case]
    y = (Y > 0).astype(int) if case == "1-d-above-1" else Y
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        METRICS[metric](y, p)


BAD_LABELS = {
    "short": (Y[:5], {}, "y_true and y_prob have different numbers of samples"),
    "2-d": (np.stack([Y, Y], 1), {}, "y_true must be 1-D"),
    "non-integer": (Y + 0.5, {}, "y_true must hold integer class indices"),
    "nan": (np.r_[Y[:-1], np.nan], {}, "y_true contains NaN"),
    "too-large": (np.r_[Y[:-1], 3], {}, r"y_true must hold class indices in \[0, 3\)"),
    "negative": (np.r_[Y[:-1], -1], {}, r"y_true must hold class indices in \[0, 3\)"),
    "strings-without-labels": (np.array(list("abcbacbb")), {}, "y_true holds non-numeric"),
    "empty": (np.array([], dtype=int), {}, "y_true is empty"),
    "labels-length": (Y, {"labels": [0, 1]}, "labels must be 1-D with one entry"),
    "labels-duplicated": (Y, {"labels": [0, 1, 1]}, "labels must not contain duplicates"),
    "not-in-labels": (np.array(list("abcbacbz")), {"labels": list("abc")},
                      r"y_true (contains|has) labels .*not in labels"),
}


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
@pytest.mark.parametrize("metric", sorted(METRICS))
def test_bad_labels(metric, case):
    y, kwargs, message = BAD_LABELS[case]
    with pytest.raises(ValueError, match=message):
        METRICS[metric](y, P, **kwargs)


HISTOGRAM = {
    "expected_calibration_error": expected_calibration_error,
    "maximum_calibration_error": maximum_calibration_error,
    "classwise_calibration_error": classwise_calibration_error,
    "calibration_report": calibration_report,
}


@pytest.mark.parametrize("n_bins", [0, -1, 1.5, np.nan, np.inf, True, "15", None])
@pytest.mark.parametrize("metric", sorted(HISTOGRAM))
def test_bad_n_bins(metric, n_bins):
    with pytest.raises(ValueError, match="n_bins must be"):
        HISTOGRAM[metric](Y, P, n_bins=n_bins)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "P"}, "mode must be one of"),
        ({"mode": None}, "mode must be one of"),
        ({"strategy": "equal"}, "strategy must be one of"),
        ({"norm": "l3"}, "norm must be one of"),
        ({"norm": 1}, "norm must be one of"),
        ({"output_normalization": "K"}, "output_normalization must be one of"),
    ],
)
def test_bad_histogram_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(Y, P, **kwargs)


@pytest.mark.parametrize(
    "bandwidth",
    [np.nan, np.inf, -np.inf, 0.0, -1.0, 1e-9, 1e-5, 1.5, 1e9, True, "scott", None, [0.1]],
)
def test_bad_bandwidth(bandwidth):
    with pytest.raises(ValueError, match="bandwidth must be one of"):
        kde_calibration_error(Y, P, bandwidth=bandwidth)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "top"}, "mode must be one of"),
        ({"output_normalization": None}, "output_normalization must be one of"),
    ],
)
def test_bad_kde_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kde_calibration_error(Y, P, **kwargs)


def test_options_are_checked_before_the_data():
    """An option error is reported even when the data is bad too (cheap checks first)."""
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(Y, _with(0, 0, np.nan), n_bins=0)
    with pytest.raises(ValueError, match="bandwidth"):
        kde_calibration_error(Y, _with(0, 0, np.nan), bandwidth=-1.0)


def test_inputs_are_not_modified():
    p = P.copy()
    p[0] = [1.00005, -0.00005, 0.0]  # clipped inside, within the tolerance
    before = p.copy()
    for metric in METRICS.values():
        metric(Y, p)
    np.testing.assert_array_equal(p, before)
