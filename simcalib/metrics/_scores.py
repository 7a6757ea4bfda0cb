"""Proper scoring rules: multiclass Brier score and negative log-likelihood."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import log_loss

from simcalib._validation import check_prediction_inputs

__all__ = ["brier_score", "negative_log_likelihood"]


def _brier(y, y_prob):
    # sum_k (p_ik - 1[y_i = k])^2 = sum_k p_ik^2 - 2 p_iy + 1, without a one-hot matrix
    n = y_prob.shape[0]
    per_sample = np.einsum("ij,ij->i", y_prob, y_prob) - 2.0 * y_prob[np.arange(n), y] + 1.0
    return float(per_sample.mean())


def _nll(y, y_prob):
    # log_loss refuses rows that are off 1 by more than ~1e-8; our inputs are
    # accepted within 1e-4 (float32 softmax), so renormalise first.
    y_prob = y_prob / y_prob.sum(axis=1, keepdims=True)
    return float(log_loss(y, y_prob, labels=np.arange(y_prob.shape[1])))


def brier_score(y_true, y_prob, *, labels=None):
    r"""Multiclass Brier score: mean over samples of the squared error sum.

    ``1/n sum_i sum_k (p_ik - 1[y_i = k])**2``, in [0, 2]. This is
    scikit-learn's ``brier_score_loss(..., scale_by_half=False)`` on the
    full probability matrix. For two classes scikit-learn's default
    (``scale_by_half="auto"``) reports half of it, ``mean((p_i - y_i)**2)``
    on the positive-class probability; this function never halves, so that
    binary and multiclass values are on the same scale.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (class indices, or entries of ``labels``).
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities (1-D: positive class of a binary problem).
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``.

    Returns
    -------
    score : float
        Lower is better; 0 for a perfect, certain prediction.

    Examples
    --------
    >>> from simcalib.metrics import brier_score
    >>> round(brier_score([0, 1], [[0.8, 0.2], [0.4, 0.6]]), 4)
    0.2
    """
    y, p = check_prediction_inputs(y_true, y_prob, labels=labels)
    return _brier(y, p)


def negative_log_likelihood(y_true, y_prob, *, labels=None):
    """Mean negative log-likelihood of the true class (cross-entropy, nats).

    Computed by :func:`sklearn.metrics.log_loss` after renormalising the
    rows (inputs are accepted when rows sum to 1 within 1e-4). Probabilities
    are clipped away from 0 by ``log_loss``, so a confident wrong prediction
    gives a large finite value.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (class indices, or entries of ``labels``).
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities (1-D: positive class of a binary problem).
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``.

    Returns
    -------
    nll : float
        ``-1/n sum_i log p_{i, y_i}``.

    Examples
    --------
    >>> from simcalib.metrics import negative_log_likelihood
    >>> round(negative_log_likelihood([0, 1], [[0.5, 0.5], [0.5, 0.5]]), 4)
    0.6931
    """
    y, p = check_prediction_inputs(y_true, y_prob, labels=labels)
    return _nll(y, p)
