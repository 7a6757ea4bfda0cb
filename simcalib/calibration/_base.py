"""Input handling and loss functions shared by the post-hoc calibrators.

Every calibrator takes the (n_samples, n_classes) output of an already
trained classifier -- logits by default, probabilities when
``input_type="probabilities"`` -- and one label per row. Column ``k`` of that
output belongs to ``classes_[k]``, the k-th entry of the sorted class labels
(the scikit-learn convention for ``predict_proba`` and ``decision_function``)
unless the ``classes`` parameter says otherwise. A binary problem may also be
given as a single column (the positive-class decision value or probability).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from simcalib._validation import ROW_SUM_ATOL, encode_labels

__all__ = ["BaseCalibrator", "PROBA_EPS", "nll_and_grad_logits"]

#: Probabilities are clipped to ``[PROBA_EPS, 1]`` before taking the log, so
#: that a hard 0 from an overconfident model becomes a large finite
#: negative logit (log(1e-12) ~ -27.6) instead of ``-inf``.
PROBA_EPS = 1e-12

_INPUT_TYPES = ("logits", "probabilities")

#: What ``validate_data(reset=True)`` sets on the estimator.
_INPUT_ATTRIBUTES = ("n_features_in_", "feature_names_in_")


class BaseCalibrator(ClassifierMixin, BaseEstimator):
    """Common ``fit``/``predict`` plumbing of the calibrators (not public).

    Subclasses implement ``_fit(Z, y)`` on the (n, K) log-space scores ``Z``
    (logits, or log-probabilities in probability mode) with integer labels
    ``y`` in ``[0, K)``, and ``_predict_log_proba(Z)`` returning calibrated
    (n, K) log-probabilities.
    """

    # -- parameters every subclass has ------------------------------------
    def _check_common_params(self):
        if self.input_type not in _INPUT_TYPES:
            raise ValueError(
                f"input_type must be one of {_INPUT_TYPES}; got {self.input_type!r}"
            )

    # -- input conversion --------------------------------------------------
    def _scores(self, X, n_columns):
        """Turn validated X (n, n_columns) into (n, K) log-space scores."""
        if self.input_type == "probabilities":
            _check_probability_input(X)
            if n_columns == 1:
                X = np.hstack([1.0 - X, X])
            return np.log(np.clip(X, PROBA_EPS, 1.0))
        if n_columns == 1:
            # a binary decision value z is the log-odds: [-z/2, z/2] keeps
            # softmax equal to sigmoid(z), so the identity map is "uncalibrated"
            return np.hstack([-0.5 * X, 0.5 * X])
        return X

    def _validate_fit_data(self, X, y):
        """Validate (X, y) for fit; set classes_, n_features_in_; return Z, y.

        A failed validation leaves ``classes_``, ``n_features_in_`` and
        ``feature_names_in_`` as they were.
        """
        self._check_common_params()
        # validate_data(reset=True) sets n_features_in_ (and feature_names_in_)
        # at once; they are put back if anything below fails
        saved = {k: v for k, v in vars(self).items() if k in _INPUT_ATTRIBUTES}
        try:
            Z, y_index, classes = self._checked_fit_data(X, y)
        except BaseException:
            for key in _INPUT_ATTRIBUTES:
                self.__dict__.pop(key, None)
            self.__dict__.update(saved)
            raise
        self.classes_ = classes
        return Z, y_index

    def _checked_fit_data(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        check_classification_targets(y)
        n_samples, n_columns = X.shape
        # the one label encoder: sorted classes of y, or positions in the
        # given classes (in their order); unknown labels are an error
        classes, y_index = encode_labels(y, self.classes, name="y", classes_name="classes")
        n_classes = classes.shape[0]
        expected_columns = (1, 2) if n_classes == 2 else (n_classes,)
        if n_samples < n_columns:
            raise ValueError(
                f"the calibration set has {n_samples} samples but X has {n_columns} "
                "columns (classes); a calibrator needs at least one sample per class"
            )
        if n_columns not in expected_columns:
            hint = (
                "y has labels unseen among the columns of X"
                if n_classes > n_columns
                else "pass classes= with the label of every column of X"
            )
            raise ValueError(
                f"X has {n_columns} columns but y has {n_classes} classes "
                f"{classes[:10].tolist()}; there must be one column per class "
                f"({hint})"
            )
        n_present = np.unique(y_index).shape[0]
        if n_present < 2:
            raise ValueError(
                f"y has only one class ({classes[y_index[:1]].tolist()}); a calibration "
                "set needs at least two classes"
            )
        return self._scores(X, n_columns), y_index, classes

    def _validate_predict_data(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._scores(X, X.shape[1])

    # -- public prediction API ---------------------------------------------
    def predict_proba(self, X):
        """Calibrated class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Uncalibrated logits (or probabilities, see ``input_type``).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float64
            Rows sum to 1; column ``k`` belongs to ``classes_[k]``.
        """
        Z = self._validate_predict_data(X)
        return _normalise(np.exp(self._predict_log_proba(Z)))

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed without underflow.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Uncalibrated logits (or probabilities, see ``input_type``).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes), dtype float64
        """
        Z = self._validate_predict_data(X)
        return self._predict_log_proba(Z)

    def decision_function(self, X):
        """Calibrated logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Uncalibrated logits (or probabilities, see ``input_type``).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            Calibrated logits (normalised as log-probabilities); for two
            classes the positive-class log-odds, as scikit-learn classifiers
            return.
        """
        log_proba = self.predict_log_proba(X)
        if log_proba.shape[1] == 2:
            return log_proba[:, 1] - log_proba[:, 0]
        return log_proba

    def predict(self, X):
        """Most probable class after calibration.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Uncalibrated logits (or probabilities, see ``input_type``).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Entries of ``classes_``.
        """
        log_proba = self.predict_log_proba(X)  # checks fitted before classes_
        return self.classes_[np.argmax(log_proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _normalise(proba):
    return proba / proba.sum(axis=1, keepdims=True)


def _check_probability_input(X):
    lo, hi = float(X.min()), float(X.max())
    if lo < -ROW_SUM_ATOL or hi > 1.0 + ROW_SUM_ATOL:
        raise ValueError(
            "X must hold probabilities in [0, 1] with input_type='probabilities'; "
            f"got values in [{lo:.6g}, {hi:.6g}] (pass input_type='logits' for logits)"
        )
    if X.shape[1] > 1:
        sums = X.sum(axis=1)
        bad = np.abs(sums - 1.0) > ROW_SUM_ATOL
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                "rows of X must sum to 1 with input_type='probabilities'; "
                f"{int(bad.sum())} rows do not, e.g. row {i} sums to {sums[i]:.6g}"
            )


# -- losses -----------------------------------------------------------------


def nll_and_grad_logits(logits, y):
    """Mean NLL and its gradient with respect to the (n, K) logits.

    ``logits`` is overwritten (it becomes the gradient): the callers pass a
    fresh array, and avoiding copies keeps the K = 200 Dirichlet fit fast.
    """
    n = logits.shape[0]
    rows = np.arange(n)
    logits -= logits.max(axis=1, keepdims=True)
    z_y = logits[rows, y]
    np.exp(logits, out=logits)
    s = logits.sum(axis=1)
    loss = float(np.mean(np.log(s)) - np.mean(z_y))
    logits /= s[:, None]
    logits[rows, y] -= 1.0
    logits /= n
    return loss, logits
