"""All calibration and accuracy figures of a set of predictions at once."""

from __future__ import annotations

import numpy as np

from simcalib._validation import check_scalar_in_range
from simcalib.metrics._blocks import prediction_inputs, scan
from simcalib.metrics._histogram import (
    ClasswiseBins,
    PooledBins,
    _bin_edges,
    _top_label_statistics,
)
from simcalib.metrics._kde import PooledKDEMasses, _output_error, _prediction_error
from simcalib.metrics._scores import SampleScores

__all__ = ["calibration_report", "REPORT_KEYS"]

#: The line printed under every command-line table of ECEs: what P and O mean.
ECE_LEGEND = ("P = ECE of the predicted class, O = ECE of all outputs "
              "(paper's scale: 0-200 %, can exceed 100 %)")

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
    y, probs = prediction_inputs(y_true, y_prob, labels=labels)
    k = probs.n_classes
    # One validating pass over the probabilities feeds every metric: the
    # per-sample arrays it keeps are 1/K of the input each, and each block
    # is a cache-sized temporary.
    edges = _bin_edges(None, n_bins, "uniform")
    pooled = PooledBins(edges)
    classwise = ClasswiseBins(edges, k)
    kde_masses = PooledKDEMasses()
    scores = SampleScores(probs.n_samples)
    top = scan(y, probs, [pooled, classwise, kde_masses, scores])
    classwise.add_hits(y, top.true_value)
    top_stats = _top_label_statistics(top, n_bins, "uniform", k)
    return {
        "accuracy": float(np.mean(top.hit)),
        "nll": float(scores.log_loss.mean()),
        "brier": float(scores.brier.mean()),
        "hist_ece_p": top_stats.error("l1"),
        "hist_ece_o": pooled.statistics(top.true_value, k).error("l1", float(k)),
        "kde_ece_p": _prediction_error(top, "reference"),
        "kde_ece_o": k * _output_error(kde_masses, top, "reference"),
        "classwise_ece": classwise.error("l1", probs.n_samples),
        "mce": top_stats.error("max"),
    }
