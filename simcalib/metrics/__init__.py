"""Calibration metrics, proper scores and scikit-learn scorers.

Histogram metrics
    :func:`expected_calibration_error` (top-label "P" or pooled output "O"
    ECE, uniform or equal-mass bins, L1/L2/max norms),
    :func:`maximum_calibration_error`, :func:`classwise_calibration_error`.
KDE metric
    :func:`kde_calibration_error`, the triweight-kernel estimate of the
    reference code.
Proper scores
    :func:`brier_score`, :func:`negative_log_likelihood`.
Summary
    :func:`calibration_report`, every figure of the paper's tables at once.
Scorers
    ``ece_scorer``, ``ece_output_scorer``, ``kde_ece_scorer``,
    ``kde_ece_output_scorer``, ``classwise_ece_scorer`` and
    :func:`make_calibration_scorer` (plain ``(estimator, X, y)`` callables,
    :class:`CalibrationScorer`), for ``GridSearchCV(scoring=...)``.

Every function takes ``(y_true, y_prob)``: labels of shape (n,) and
probabilities of shape (n, K), or (n,) for the positive class of a binary
problem, plus ``labels=`` when ``y_true`` does not hold column indices.
None of this needs torch.
"""

from simcalib.metrics._histogram import (
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
)
from simcalib.metrics._kde import kde_calibration_error
from simcalib.metrics._report import REPORT_KEYS, calibration_report
from simcalib.metrics._scorers import (
    CalibrationScorer,
    classwise_ece_scorer,
    ece_output_scorer,
    ece_scorer,
    kde_ece_output_scorer,
    kde_ece_scorer,
    make_calibration_scorer,
)
from simcalib.metrics._scores import brier_score, negative_log_likelihood

__all__ = [
    "CalibrationScorer",
    "REPORT_KEYS",
    "brier_score",
    "calibration_report",
    "classwise_calibration_error",
    "classwise_ece_scorer",
    "ece_output_scorer",
    "ece_scorer",
    "expected_calibration_error",
    "kde_calibration_error",
    "kde_ece_output_scorer",
    "kde_ece_scorer",
    "make_calibration_scorer",
    "maximum_calibration_error",
    "negative_log_likelihood",
]
