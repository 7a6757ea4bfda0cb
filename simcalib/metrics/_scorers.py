"""scikit-learn scorers for model selection on calibration errors."""

from __future__ import annotations

import inspect

from simcalib.metrics._histogram import (
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
)
from simcalib.metrics._kde import kde_calibration_error
from simcalib.metrics._scores import brier_score, negative_log_likelihood

__all__ = [
    "CalibrationScorer",
    "make_calibration_scorer",
    "ece_scorer",
    "ece_output_scorer",
    "kde_ece_scorer",
    "kde_ece_output_scorer",
    "classwise_ece_scorer",
]

#: simcalib's own metrics: their fixed options are checked when the scorer is
#: made, by scoring a two-sample input, so a bad option fails there and not
#: in the middle of a grid search.
_OWN_METRICS = (
    expected_calibration_error,
    maximum_calibration_error,
    classwise_calibration_error,
    kde_calibration_error,
    brier_score,
    negative_log_likelihood,
)


class CalibrationScorer:
    """A scikit-learn scorer: ``scorer(estimator, X, y)`` returns the negated error.

    scikit-learn maximises scores, so the scorer returns ``-metric(y,
    estimator.predict_proba(X), labels=estimator.classes_, **kwargs)``: the
    calibration error with its sign flipped (lower error, higher score). It
    is a plain ``(estimator, X, y)`` callable, which is what ``scoring=``
    accepts in :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_val_score` and the like.

    The full ``predict_proba`` matrix is passed (scikit-learn's own scorers
    keep only the positive-class column of a binary problem), together with
    the estimator's ``classes_`` as ``labels`` unless ``labels`` is fixed:
    with string labels, or when a cross-validation fold lacks a class,
    ``y`` alone does not say which class each column is.

    Build it with :func:`make_calibration_scorer`.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_prob, *, labels=None, **kwargs) -> float``.
    kwargs : dict
        Fixed keyword arguments of ``metric``.

    Examples
    --------
    >>> from simcalib.metrics import CalibrationScorer, expected_calibration_error
    >>> CalibrationScorer(expected_calibration_error, {"n_bins": 10})
    make_calibration_scorer(expected_calibration_error, n_bins=10)
    """

    #: As scikit-learn's scorers say: the score is the negated error.
    greater_is_better = False
    response_method = "predict_proba"

    def __init__(self, metric, kwargs=None):
        self.metric = metric
        self.kwargs = dict(kwargs or {})

    def __call__(self, estimator, X, y_true, **kwargs):
        """Negated ``metric`` of ``estimator`` on ``(X, y_true)``.

        Parameters
        ----------
        estimator : fitted classifier
            Must have ``predict_proba``.
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y_true : array-like of shape (n_samples,)
            True labels, in the estimator's label space.

        Returns
        -------
        score : float
            ``-metric(...)``; 0 is perfect calibration.
        """
        if kwargs:
            raise ValueError(
                f"calibration scorers take no extra arguments such as sample weights; "
                f"got {sorted(kwargs)}"
            )
        predict_proba = getattr(estimator, "predict_proba", None)
        if not callable(predict_proba):
            raise ValueError(
                "estimator must have predict_proba to be scored on calibration; got "
                f"{type(estimator).__name__}"
            )
        y_prob = predict_proba(X)  # an unfitted estimator raises NotFittedError here
        options = dict(self.kwargs)
        if "labels" not in options:
            classes = getattr(estimator, "classes_", None)
            if classes is not None:
                options["labels"] = classes
        return -float(self.metric(y_true, y_prob, **options))

    def __repr__(self):
        name = getattr(self.metric, "__name__", repr(self.metric))
        options = "".join(f", {key}={value!r}" for key, value in self.kwargs.items())
        return f"make_calibration_scorer({name}{options})"


def _check_metric_options(metric, kwargs):
    try:
        signature = inspect.signature(metric)
    except (TypeError, ValueError):  # builtins without a signature: nothing to check
        return
    parameters = signature.parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        unknown = sorted(set(kwargs) - set(parameters))
        if unknown:
            raise ValueError(
                f"{getattr(metric, '__name__', 'metric')} has no parameter(s) {unknown}; "
                f"its parameters are {list(parameters)}"
            )
    if metric in _OWN_METRICS:
        labels = kwargs.get("labels")
        y_true = [0, 1] if labels is None else list(labels)[:2]
        n_columns = 2 if labels is None else len(labels)
        y_prob = [[1.0 / n_columns] * n_columns] * 2
        try:
            metric(y_true, y_prob, **kwargs)
        except ValueError as exc:
            raise ValueError(f"make_calibration_scorer: {exc}") from None


def make_calibration_scorer(metric, **kwargs):
    """Build a scorer (lower error is better) from a calibration metric.

    The scorer is a plain ``(estimator, X, y)`` callable
    (:class:`CalibrationScorer`), the form scikit-learn documents for
    ``scoring=``: it calls ``predict_proba`` and returns the negated error
    (scikit-learn maximises scores), and it passes the estimator's
    ``classes_`` to the metric as ``labels``, so that string labels and
    folds missing a class work.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_prob, *, labels=None, **kwargs) -> float``, for
        example :func:`expected_calibration_error`.
    **kwargs
        Fixed keyword arguments of ``metric`` (``n_bins=10``, ``mode=...``).
        Names that ``metric`` does not take are refused here, and so are
        invalid values of simcalib's own metrics.

    Returns
    -------
    scorer : CalibrationScorer
        ``scorer(estimator, X, y) -> float`` (the negated error).

    Raises
    ------
    ValueError
        If ``metric`` is not callable, or a keyword is not one of its
        parameters or has an invalid value.

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
    if not callable(metric):
        raise ValueError(f"metric must be a callable (y_true, y_prob) -> float; got {metric!r}")
    _check_metric_options(metric, kwargs)
    return CalibrationScorer(metric, kwargs)


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

