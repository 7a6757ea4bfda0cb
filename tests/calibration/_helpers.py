"""Synthetic logits shared by the calibration tests."""

import numpy as np
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin


def overconfident_logits(n, k, *, scale=4.0, margin=1.5, seed=0):
    """(logits, labels): informative logits multiplied by ``scale`` (> 1 is
    overconfident)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    z = rng.normal(size=(n, k)) + margin * np.eye(k)[y]
    return scale * z, y


def nll(proba, y):
    return float(-np.mean(np.log(proba[np.arange(len(y)), y])))


def raw_nll(logits, y):
    return float(-np.mean(log_softmax(logits, axis=1)[np.arange(len(y)), y]))


class LogitsAsFeatures(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose decision_function returns X: hands given logits to
    scikit-learn's calibration code."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=np.float64)

    def predict(self, X):
        return self.classes_[np.argmax(X, axis=1)]
