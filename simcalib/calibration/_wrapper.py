"""CalibratedClassifier: a classifier followed by a logit-level calibrator."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv
from sklearn.utils import _safe_indexing, get_tags, indexable
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from simcalib._validation import encode_labels
from simcalib.calibration._base import PROBA_EPS
from simcalib.calibration._temperature import TemperatureScaling

__all__ = ["CalibratedClassifier"]

_RESPONSE_METHODS = ("auto", "decision_function", "predict_proba")


class CalibratedClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A classifier whose logits pass through a post-hoc calibrator.

    Raw ``X`` goes to ``estimator``; its logits -- ``decision_function``
    when it has one, else ``log(predict_proba)`` -- go to the calibrator
    (any simcalib calibrator, e.g. :class:`TemperatureScaling`).

    Two ways to fit, as in scikit-learn's ``CalibratedClassifierCV``:

    * ``estimator`` is a fitted model wrapped in
      :class:`sklearn.frozen.FrozenEstimator`: it is not refitted, ``cv`` is
      ignored and the calibrator is fitted on all of ``(X, y)``, which should
      then be a held-out set.
    * otherwise, cross-validation: for each split a clone of ``estimator`` is
      fitted on the training part and a clone of ``calibrator`` on the
      estimator's logits of the test part. With ``ensemble=True`` the
      predicted probabilities are the mean over the fold pairs; with
      ``ensemble=False`` one calibrator is fitted on the out-of-fold logits
      of all samples and the estimator is refitted on all data.

    Parameters
    ----------
    estimator : classifier, default=None
        The model to calibrate; ``None`` means
        :class:`~sklearn.linear_model.LogisticRegression`.
    calibrator : simcalib calibrator, default=None
        Cloned before fitting; ``None`` means :class:`TemperatureScaling`.
        Its ``classes`` parameter, if any, is set to the column indices.
        A calibrator with ``input_type="probabilities"`` receives the softmax
        of the logits.
    cv : int, cross-validation generator or iterable, default=None
        Splits for the internal cross-validation; ``None`` is 5-fold
        stratified. Ignored for a :class:`~sklearn.frozen.FrozenEstimator`.
    ensemble : bool, default=True
        Average one (estimator, calibrator) pair per fold, or fit a single
        pair (see above).
    response_method : {"auto", "decision_function", "predict_proba"}, default="auto"
        Which method of ``estimator`` gives the logits. For a binary
        one-dimensional ``decision_function`` ``z`` the logits are
        ``[-z/2, z/2]``, whose softmax is ``sigmoid(z)``.

    Attributes
    ----------
    calibrated_classifiers_ : list of (estimator, calibrator) tuples
        The fitted pairs (one per fold with ``ensemble=True``).
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    response_method_ : str
        The method of ``estimator`` that gives the logits
        (``"decision_function"`` or ``"predict_proba"``).
    n_features_in_ : int
        Number of features of ``X`` (when the estimator defines it).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from simcalib.calibration import CalibratedClassifier, TemperatureScaling
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = CalibratedClassifier(LogisticRegression(max_iter=1000),
    ...                            TemperatureScaling(), cv=3).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def __init__(
        self,
        estimator=None,
        calibrator=None,
        *,
        cv=None,
        ensemble=True,
        response_method="auto",
    ):
        self.estimator = estimator
        self.calibrator = calibrator
        self.cv = cv
        self.ensemble = ensemble
        self.response_method = response_method

    def _get_estimator(self):
        estimator = LogisticRegression() if self.estimator is None else self.estimator
        if isinstance(estimator, type):
            raise ValueError(
                f"estimator must be an estimator instance; got the class "
                f"{estimator.__name__} (pass {estimator.__name__}() instead)"
            )
        return estimator

    def _get_calibrator(self, n_classes):
        cal = TemperatureScaling() if self.calibrator is None else self.calibrator
        if isinstance(cal, type):
            raise ValueError(
                f"calibrator must be an estimator instance; got the class "
                f"{cal.__name__} (pass {cal.__name__}() instead)"
            )
        if not (hasattr(cal, "fit") and hasattr(cal, "predict_proba")):
            raise ValueError(
                f"calibrator must have fit and predict_proba methods; got {cal!r}"
            )
        cal = clone(cal)
        if "classes" in cal.get_params(deep=False):
            cal.set_params(classes=np.arange(n_classes))
        return cal

    def fit(self, X, y, **fit_params):
        """Fit the estimator(s) and calibrator(s).

        Everything is fitted before any fitted attribute changes: a fit that
        fails leaves a fitted ``CalibratedClassifier`` as it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, whatever ``estimator`` accepts.
        y : array-like of shape (n_samples,)
            Class labels.
        **fit_params : dict
            Passed to ``estimator.fit`` (not used with a frozen estimator).

        Returns
        -------
        self : CalibratedClassifier
        """
        if not isinstance(self.response_method, str) or (
            self.response_method not in _RESPONSE_METHODS
        ):
            raise ValueError(
                f"response_method must be one of {_RESPONSE_METHODS}; "
                f"got {self.response_method!r}"
            )
        if not isinstance(self.ensemble, bool | np.bool_):
            raise ValueError(f"ensemble must be a bool; got {self.ensemble!r}")
        if y is None:
            raise ValueError(
                "CalibratedClassifier requires y to be passed, but the target y is None"
            )
        X, y = indexable(X, y)
        check_consistent_length(X, y)
        y = column_or_1d(y, warn=True)
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity")
        check_classification_targets(y)
        estimator = self._get_estimator()
        method = self._response_method(estimator)

        if isinstance(estimator, FrozenEstimator):
            check_is_fitted(estimator)
            # the frozen model's classes in its own column order (a skorch
            # net keeps a user-given classes= unsorted)
            classes, y_idx = encode_labels(
                y, np.asarray(estimator.classes_), name="y",
                classes_name="the classes_ of the frozen estimator",
            )
            cal = self._get_calibrator(len(classes))
            cal.fit(self._calibrator_input(cal, estimator, X, classes, method), y_idx)
            pairs = [(estimator, cal)]
        else:
            classes, y_idx = encode_labels(y, name="y")
            n_classes = len(classes)
            if n_classes < 2:
                raise ValueError(
                    f"y has only one class ({classes.tolist()}); "
                    "CalibratedClassifier needs at least two classes"
                )
            cv = check_cv(5 if self.cv is None else self.cv, y, classifier=True)
            n_splits = cv.get_n_splits(X, y)
            min_count = int(np.bincount(y_idx).min())
            if hasattr(cv, "n_splits") and min_count < n_splits:
                raise ValueError(
                    f"cv={self.cv!r} asks for {n_splits} folds but the smallest class "
                    f"has only {min_count} samples; use fewer folds"
                )
            splits = list(cv.split(X, y))
            if self.ensemble:
                pairs = [
                    self._fit_pair(
                        estimator, X, y, y_idx, classes, method, train, test, fit_params
                    )
                    for train, test in splits
                ]
            else:
                pairs = [
                    self._fit_single(
                        estimator, X, y, y_idx, classes, method, splits, fit_params
                    )
                ]

        self.classes_ = classes
        self.calibrated_classifiers_ = pairs
        self.response_method_ = method
        first = pairs[0][0]
        for attr in ("n_features_in_", "feature_names_in_"):
            if hasattr(first, attr):
                setattr(self, attr, getattr(first, attr))
            else:
                self.__dict__.pop(attr, None)
        return self

    def _fit_estimator(self, estimator, X, y, classes, fit_params):
        est = clone(estimator).fit(X, y, **fit_params)
        missing = np.setdiff1d(classes, est.classes_)
        if missing.size or len(est.classes_) != len(classes):
            raise ValueError(
                f"a training fold lacks the classes {missing[:10].tolist()}; "
                "use fewer or stratified folds"
            )
        return est

    def _fit_pair(self, estimator, X, y, y_idx, classes, method, train, test, fit_params):
        est = self._fit_estimator(
            estimator, _safe_indexing(X, train), y[train], classes,
            _subset(fit_params, train, y),
        )
        cal = self._get_calibrator(len(classes))
        cal.fit(
            self._calibrator_input(cal, est, _safe_indexing(X, test), classes, method),
            y_idx[test],
        )
        return est, cal

    def _fit_single(self, estimator, X, y, y_idx, classes, method, splits, fit_params):
        cal = self._get_calibrator(len(classes))
        scores = np.empty((len(y), len(classes)))
        for train, test in splits:
            est = self._fit_estimator(
                estimator,
                _safe_indexing(X, train),
                y[train],
                classes,
                _subset(fit_params, train, y),
            )
            scores[test] = self._calibrator_input(
                cal, est, _safe_indexing(X, test), classes, method
            )
        cal.fit(scores, y_idx)
        return self._fit_estimator(estimator, X, y, classes, fit_params), cal

    def _response_method(self, est):
        if self.response_method != "auto":
            return self.response_method
        return "decision_function" if hasattr(est, "decision_function") else "predict_proba"

    def _logits(self, est, X, classes, method):
        """Logits of ``est`` on ``X`` with columns in the order of ``classes``."""
        if method == "decision_function":
            z = np.asarray(est.decision_function(X), dtype=np.float64)
            if z.ndim == 1 or z.shape[1] == 1:
                z = z.reshape(-1, 1)
                z = np.hstack([-0.5 * z, 0.5 * z])
        else:
            p = np.asarray(est.predict_proba(X), dtype=np.float64)
            z = np.log(np.clip(p, PROBA_EPS, 1.0))
        # the estimator's columns follow its classes_, which a refitted fold
        # may order differently from ours (e.g. an unsorted classes= param)
        est_classes = np.asarray(est.classes_)
        if not np.array_equal(est_classes, classes):
            _, columns = encode_labels(
                classes, est_classes, name="classes", classes_name="estimator.classes_"
            )
            z = z[:, columns]
        return z

    def _calibrator_input(self, cal, est, X, classes, method):
        logits = self._logits(est, X, classes, method)
        if getattr(cal, "input_type", "logits") == "probabilities":
            return softmax(logits, axis=1)
        return logits

    def predict_proba(self, X):
        """Calibrated probabilities, averaged over the fitted pairs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data, whatever ``estimator`` accepts.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; column ``k`` belongs to ``classes_[k]``.
        """
        check_is_fitted(self)
        proba = None
        for est, cal in self.calibrated_classifiers_:
            # the method fixed by fit: a later set_params changes nothing
            p = cal.predict_proba(
                self._calibrator_input(cal, est, X, self.classes_, self.response_method_)
            )
            proba = np.array(p, dtype=np.float64) if proba is None else proba + p
        proba /= len(self.calibrated_classifiers_)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Most probable class after calibration.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data, whatever ``estimator`` accepts.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Entries of ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        est_tags = get_tags(self._get_estimator())
        tags.input_tags.sparse = est_tags.input_tags.sparse
        tags.input_tags.allow_nan = est_tags.input_tags.allow_nan
        return tags


def _subset(fit_params, idx, y):
    """Index the per-sample entries of fit_params (e.g. sample_weight)."""
    n = len(y)
    return {
        k: _safe_indexing(v, idx) if hasattr(v, "__len__") and len(v) == n else v
        for k, v in fit_params.items()
    }
