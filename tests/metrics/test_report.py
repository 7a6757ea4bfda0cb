"""calibration_report collects the individual metrics."""

import numpy as np
import pytest

from simcalib.metrics import (
    REPORT_KEYS,
    brier_score,
    calibration_report,
    classwise_calibration_error,
    expected_calibration_error,
    kde_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
)


def test_report_equals_individual_metrics(rng):
    z = rng.normal(size=(300, 6)) * 3
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = rng.integers(0, 6, 300)
    report = calibration_report(y, p, n_bins=10)
    assert tuple(report) == REPORT_KEYS
    expected = {
        "accuracy": np.mean(p.argmax(1) == y),
        "nll": negative_log_likelihood(y, p),
        "brier": brier_score(y, p),
        "hist_ece_p": expected_calibration_error(y, p, n_bins=10),
        "hist_ece_o": expected_calibration_error(y, p, n_bins=10, mode="output"),
        "kde_ece_p": kde_calibration_error(y, p),
        "kde_ece_o": kde_calibration_error(y, p, mode="output"),
        "classwise_ece": classwise_calibration_error(y, p, n_bins=10),
        "mce": maximum_calibration_error(y, p, n_bins=10),
    }
    for key, value in expected.items():
        assert report[key] == pytest.approx(value, rel=1e-12), key
        assert isinstance(report[key], float)


def test_report_validates():
    with pytest.raises(ValueError, match="n_bins"):
        calibration_report([0, 1], [[0.5, 0.5], [0.2, 0.8]], n_bins=0)
    with pytest.raises(ValueError, match="y_prob"):
        calibration_report([0, 1], [[0.5, np.nan], [0.2, 0.8]])
