"""Proper scoring rules: multiclass Brier score and negative log-likelihood."""

from __future__ import annotations

import numpy as np

from simcalib.metrics._blocks import prediction_inputs, scan

__all__ = ["brier_score", "negative_log_likelihood"]


class SampleScores:
    """Per-sample Brier score and log-loss, block by block (no one-hot matrix)."""

    def __init__(self, n_samples):
        self.brier = np.empty(n_samples)
        self.log_loss = np.empty(n_samples)

    def add(self, start, block, true_value):
        stop = start + block.shape[0]
        # sum_k (p_ik - 1[y_i = k])^2 = sum_k p_ik^2 - 2 p_iy + 1
        brier = self.brier[start:stop]
        np.einsum("ij,ij->i", block, block, out=brier)
        brier -= 2.0 * true_value
        brier += 1.0
        # As scikit-learn's log_loss after renormalising the rows (inputs
        # are accepted when rows sum to 1 within 1e-4, log_loss wants 1e-8):
        # the true-class probability clipped to [eps, 1 - eps].
        eps = np.finfo(np.float64).eps
        p_true = np.clip(true_value / block.sum(axis=1), eps, 1.0 - eps)
        np.log(p_true, out=self.log_loss[start:stop])
        np.negative(self.log_loss[start:stop], out=self.log_loss[start:stop])


def sample_scores(y, probs):
    """Validate and score in one pass; return :class:`SampleScores`."""
    scores = SampleScores(probs.n_samples)
    scan(y, probs, [scores])
    return scores


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
    y, probs = prediction_inputs(y_true, y_prob, labels=labels)
    return float(sample_scores(y, probs).brier.mean())


def negative_log_likelihood(y_true, y_prob, *, labels=None):
    """Mean negative log-likelihood of the true class (cross-entropy, nats).

    The value of :func:`sklearn.metrics.log_loss` after renormalising the
    rows (inputs are accepted when rows sum to 1 within 1e-4): the
    true-class probability is clipped to ``[eps, 1 - eps]`` (``eps`` the
    float64 machine epsilon), so a confident wrong prediction gives a large
    finite value (at most ``-log(eps)``, about 36.04).

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
    y, probs = prediction_inputs(y_true, y_prob, labels=labels)
    return float(sample_scores(y, probs).log_loss.mean())
