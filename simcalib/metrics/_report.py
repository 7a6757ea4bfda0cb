"""All calibration and accuracy figures of a set of predictions at once."""

from __future__ import annotations

import numpy as np

from simcalib._validation import check_prediction_inputs, check_scalar_in_range
from simcalib.metrics._histogram import _classwise_ece, _ece
from simcalib.metrics._kde import _kde_ece
from simcalib.metrics._scores import _brier, _nll

__all__ = ["calibration_report", "REPORT_KEYS"]

#: Keys of :func:`calibration_report`, in display order.
REPORT_KEYS = (
    "accuracy",
    "nll",
    "brier",
    "hist_ece_p",
    "hist_ece_o",
    "kde_ece_p",
    "kde_ece_o",
    "classwise_ece",
    "mce",
)


def calibration_report(y_true, y_prob, *, labels=None, n_bins=15):
    """Accuracy, proper scores and the paper's four ECE variants in one dict.

    The inputs are validated once and every metric uses its default
    options, i.e. the paper's conventions: ``(lo, hi]`` bins, output ECEs on
    the tables' scale (``output_normalization="n"``), the reference KDE
    bandwidth.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (class indices, or entries of ``labels``).
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities (1-D: positive class of a binary problem).
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``.
    n_bins : int, default=15
        Number of bins of the histogram metrics.

    Returns
    -------
    report : dict of str to float
        ``accuracy`` (top-1, ties to the first class), ``nll``
        (:func:`negative_log_likelihood`), ``brier`` (:func:`brier_score`),
        ``hist_ece_p`` / ``hist_ece_o`` (:func:`expected_calibration_error`
        in prediction / output mode), ``kde_ece_p`` / ``kde_ece_o``
        (:func:`kde_calibration_error`), ``classwise_ece``
        (:func:`classwise_calibration_error`) and ``mce``
        (:func:`maximum_calibration_error`, prediction mode). All are
        fractions, not percentages.

    Examples
    --------
    >>> from simcalib.metrics import calibration_report
    >>> report = calibration_report([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    >>> sorted(report) == sorted(REPORT_KEYS)
    True
    >>> round(report["accuracy"], 4)
    0.6667
    """
    check_scalar_in_range(n_bins, "n_bins", lo=1, integer=True)
    y, p = check_prediction_inputs(y_true, y_prob, labels=labels)
    hist = dict(n_bins=n_bins, strategy="uniform", output_normalization="n")
    kde = dict(bandwidth="reference", output_normalization="n")
    return {
        "accuracy": float(np.mean(np.argmax(p, axis=1) == y)),
        "nll": _nll(y, p),
        "brier": _brier(y, p),
        "hist_ece_p": _ece(y, p, mode="prediction", norm="l1", **hist),
        "hist_ece_o": _ece(y, p, mode="output", norm="l1", **hist),
        "kde_ece_p": _kde_ece(y, p, mode="prediction", **kde),
        "kde_ece_o": _kde_ece(y, p, mode="output", **kde),
        "classwise_ece": _classwise_ece(y, p, n_bins=n_bins, strategy="uniform", norm="l1"),
        "mce": _ece(y, p, mode="prediction", norm="max", **hist),
    }
