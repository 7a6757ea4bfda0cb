"""scikit-learn scorers for model selection on calibration errors."""

from __future__ import annotations

from sklearn.metrics import make_scorer
from sklearn.metrics._scorer import _Scorer

from simcalib.metrics._histogram import (
    classwise_calibration_error,
    expected_calibration_error,
)
from simcalib.metrics._kde import kde_calibration_error

__all__ = [
    "make_calibration_scorer",
    "ece_scorer",
    "ece_output_scorer",
    "kde_ece_scorer",
    "kde_ece_output_scorer",
    "classwise_ece_scorer",
]


class _ClassesAwareScorer(_Scorer):
    """A ``make_scorer`` scorer that passes ``labels=estimator.classes_``.

    scikit-learn hands a metric only ``y_true`` and the ``predict_proba``
    output (for a binary problem, only the column of ``classes_[1]``). The
    metric needs to know which class each column is: with string labels, or
    when a cross-validation fold lacks a class, ``y_true`` alone does not
    say. This scorer adds the estimator's ``classes_`` as ``labels`` unless
    ``labels`` was fixed in :func:`make_calibration_scorer`.
    """

    def _score(self, method_caller, estimator, X, y_true, **kwargs):
        if "labels" not in self._kwargs and "labels" not in kwargs:
            classes = getattr(estimator, "classes_", None)
            if classes is not None:
                kwargs["labels"] = classes
        return super()._score(method_caller, estimator, X, y_true, **kwargs)


def make_calibration_scorer(metric, **kwargs):
    """Build a scorer (lower error is better) from a calibration metric.

    The scorer is :func:`sklearn.metrics.make_scorer` with
    ``response_method="predict_proba"`` and ``greater_is_better=False`` (so
    it returns the negated error, as scikit-learn maximises scores), and it
    passes the estimator's ``classes_`` to the metric as ``labels``, so that
    string labels and folds missing a class work.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_prob, *, labels=None, **kwargs) -> float``, for
        example :func:`expected_calibration_error`.
    **kwargs
        Fixed keyword arguments of ``metric`` (``n_bins=10``, ``mode=...``).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float`` (the negated error).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from simcalib.metrics import expected_calibration_error, make_calibration_scorer
    >>> scorer = make_calibration_scorer(expected_calibration_error, n_bins=10)
    >>> X, y = load_iris(return_X_y=True)
    >>> scores = cross_val_score(LogisticRegression(max_iter=500), X, y, scoring=scorer)
    >>> bool((scores <= 0).all())
    True
    """
    scorer = make_scorer(
        metric, response_method="predict_proba", greater_is_better=False, **kwargs
    )
    # Same state, one overridden method: re-class the scorer rather than
    # depending on the private constructor's signature.
    scorer.__class__ = _ClassesAwareScorer
    return scorer


#: Negated top-label histogram ECE (15 bins), for ``scoring=``.
ece_scorer = make_calibration_scorer(expected_calibration_error)
#: Negated pooled output histogram ECE (15 bins, tables' scale).
ece_output_scorer = make_calibration_scorer(expected_calibration_error, mode="output")
#: Negated top-label KDE ECE (reference bandwidth).
kde_ece_scorer = make_calibration_scorer(kde_calibration_error)
#: Negated pooled output KDE ECE (reference bandwidth, tables' scale).
kde_ece_output_scorer = make_calibration_scorer(kde_calibration_error, mode="output")
#: Negated classwise ECE (15 bins).
classwise_ece_scorer = make_calibration_scorer(classwise_calibration_error)

