"""Peak memory of every metric stays within about twice its input.

Measured with tracemalloc (numpy reports its allocations to it) on a
moderate input, 200000 x 10 probabilities; not timed. Before the blocked
pass, ``calibration_report`` peaked at 6.2x its input (996 MB for 2 million
x 10 float64 probabilities); the figures are in docs/benchmarks/metrics.txt.
"""

import tracemalloc

import matplotlib
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

matplotlib.use("Agg")

N, K = 200_000, 10

METRICS = {
    "ece": lambda y, p: expected_calibration_error(y, p),
    "ece-output": lambda y, p: expected_calibration_error(y, p, mode="output"),
    "ece-quantile": lambda y, p: expected_calibration_error(y, p, strategy="quantile"),
    "ece-l2": lambda y, p: expected_calibration_error(y, p, norm="l2"),
    "mce": lambda y, p: maximum_calibration_error(y, p),
    "classwise": lambda y, p: classwise_calibration_error(y, p),
    "classwise-quantile": lambda y, p: classwise_calibration_error(y, p, strategy="quantile"),
    "kde": lambda y, p: kde_calibration_error(y, p),
    "kde-output": lambda y, p: kde_calibration_error(y, p, mode="output"),
    "brier": lambda y, p: brier_score(y, p),
    "nll": lambda y, p: negative_log_likelihood(y, p),
    "report": lambda y, p: calibration_report(y, p),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(N, K)) * 2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return rng.integers(0, K, N), p


def _peak(func, *args, **kwargs):
    tracemalloc.start()
    try:
        func(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(METRICS))
def test_peak_within_twice_the_input(data, name, dtype):
    y, p = data
    p = p.astype(dtype)
    input_bytes = p.nbytes + y.nbytes
    assert _peak(METRICS[name], y, p) <= 2.0 * input_bytes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equal_mass_output_bins_copy_the_values_once(data, dtype):
    """Quantiles of all n*K values need them at once: one float64 copy, no more."""
    y, p = data
    p = p.astype(dtype)
    peak = _peak(expected_calibration_error, y, p, mode="output", strategy="quantile")
    assert peak <= 8 * p.size + 0.5 * (p.nbytes + y.nbytes)


def test_reliability_display_bins_within_the_same_bound(data):
    import matplotlib.pyplot as plt

    from simcalib.plotting import ReliabilityDisplay

    y, p = data
    plt.figure()  # matplotlib's own first-use allocations happen outside the measure
    plt.close("all")
    peak = _peak(ReliabilityDisplay.from_predictions, y, p)
    plt.close("all")
    assert peak <= 2.0 * (p.nbytes + y.nbytes)
