"""Annotators: how much evidence of each class a generated image really shows."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from simcalib._validation import (
    _is_torch_tensor,
    check_scalar_in_range,
    encode_labels,
)

__all__ = ["PrototypeAnnotator", "annotate", "pair_evidence"]

_EPS = 1e-12


def annotate(annotator, images, classes):
    """Class probabilities of ``images`` from an annotator, checked.

    Parameters
    ----------
    annotator : object with ``predict_proba`` or callable
        A fitted classifier (``predict_proba(images)``, e.g. a
        :class:`~simcalib.classifier.SimilarityLSClassifier` calibrated by
        :class:`~simcalib.calibration.CalibratedClassifier`) or a callable
        ``annotator(images) -> (n, K)`` scores.
    images : array-like of shape (n_samples, C, H, W)
        The images to score.
    classes : ndarray of shape (n_classes,)
        The class of each expected column; an annotator with ``classes_``
        must list the same classes in the same order.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes), dtype=float64
        Non-negative scores (rows need not sum to 1).

    Raises
    ------
    ValueError
        If the annotator's classes differ, or it returns something other than
        finite non-negative scores of shape (n_samples, n_classes).

    Examples
    --------
    >>> import numpy as np
    >>> annotate(lambda x: np.full((len(x), 2), 0.5), np.zeros((3, 1, 2, 2)), np.arange(2)).shape
    (3, 2)
    """
    known = getattr(annotator, "classes_", None)
    if known is not None and not (
        len(known) == len(classes) and np.array_equal(np.asarray(known), np.asarray(classes))
    ):
        raise ValueError(
            f"the annotator's classes_ {np.asarray(known)[:10].tolist()} differ from the "
            f"mixer's classes {np.asarray(classes)[:10].tolist()} (same classes, same order "
            "needed)"
        )
    if hasattr(annotator, "predict_proba"):
        proba = annotator.predict_proba(images)
    elif callable(annotator):
        proba = annotator(images)
    else:
        raise ValueError(
            "annotator must have predict_proba or be a callable images -> (n, K) scores; "
            f"got {type(annotator).__name__}"
        )
    if _is_torch_tensor(proba):
        proba = proba.detach().cpu().numpy()
    proba = np.asarray(proba, dtype=np.float64)
    n = len(images)
    if proba.shape != (n, len(classes)):
        raise ValueError(
            f"the annotator must return scores of shape (n_samples, n_classes) = "
            f"{(n, len(classes))}; got {proba.shape}"
        )
    if not np.all(np.isfinite(proba)) or np.any(proba < 0):
        raise ValueError("the annotator must return finite, non-negative scores")
    return proba


def pair_evidence(proba, a, b):
    """Evidence for class ``a`` against ``b``: ``p_a / (p_a + p_b)`` per sample.

    The annotator's probabilities restricted to the two mixed classes and
    renormalised (0.5 when both are zero).

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes)
        Annotator scores.
    a, b : ndarray of int of shape (n_samples,)
        Columns of the two classes of each sample.

    Returns
    -------
    evidence : ndarray of shape (n_samples,), dtype=float64
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> pair_evidence(np.array([[0.6, 0.2, 0.2]]), np.array([0]), np.array([1])).round(6).tolist()
    [0.75]
    """
    rows = np.arange(len(proba))
    pa, pb = proba[rows, a], proba[rows, b]
    total = pa + pb
    return np.where(total > 0, pa / np.where(total > 0, total, 1.0), 0.5)


class PrototypeAnnotator(ClassifierMixin, BaseEstimator):
    """Scores images by the cosine similarity of their embedding to class prototypes.

    ``fit`` embeds the (clean) training images and keeps each class's mean
    unit-normalised embedding as its prototype; the logits of an image are
    its cosine similarities to the prototypes divided by ``temperature``.
    This is the offline analogue of CSM's CLIP annotator (image embedding
    against class embeddings). Calibrate it on held-out data as any
    classifier, e.g. ``CalibratedClassifier(FrozenEstimator(annotator),
    TemperatureScaling()).fit(X_holdout, y_holdout)``.

    Parameters
    ----------
    embed : callable
        ``embed(images) -> (n, D)`` features, e.g. the ``encode`` method of
        a fitted :class:`~simcalib.similarity.AutoencoderSimilarity`.
    temperature : float > 0, default=0.1
        Divides the cosine similarities.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels.
    prototypes_ : ndarray of shape (n_classes, D)
        Unit-norm class prototypes.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> ann = PrototypeAnnotator(embed=lambda x: x).fit(X, [0, 0, 1, 1])
    >>> ann.predict([[0.8, 0.3]]).tolist()
    [0]
    """

    def __init__(self, embed, *, temperature=0.1):
        self.embed = embed
        self.temperature = temperature

    def _features(self, X):
        if not callable(self.embed):
            raise ValueError(f"embed must be callable; got {type(self.embed).__name__}")
        F = self.embed(X)
        if _is_torch_tensor(F):
            F = F.detach().cpu().numpy()
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2 or F.shape[0] != len(X):
            raise ValueError(
                f"embed must return an array of shape (n_samples={len(X)}, D); got {F.shape}"
            )
        if not np.all(np.isfinite(F)):
            raise ValueError("embed returned NaN or infinite features")
        return F / np.maximum(np.linalg.norm(F, axis=1, keepdims=True), _EPS)

    def fit(self, X, y):
        """Compute the class prototypes.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Images (anything ``embed`` accepts).
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : PrototypeAnnotator
        """
        check_scalar_in_range(self.temperature, "temperature", lo=0.0, lo_open=True)
        classes, codes = encode_labels(y, name="y", min_classes=2)
        if codes.shape[0] != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {codes.shape[0]}")
        F = self._features(X)
        sums = np.zeros((len(classes), F.shape[1]))
        np.add.at(sums, codes, F)
        self.prototypes_ = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), _EPS)
        self.classes_ = classes
        return self

    def decision_function(self, X):
        """Cosine similarities to the prototypes over ``temperature``, shape (n, n_classes)."""
        check_is_fitted(self, "prototypes_")
        return self._features(X) @ self.prototypes_.T / self.temperature

    def predict_proba(self, X):
        """Softmax of :meth:`decision_function`, shape (n, n_classes)."""
        return softmax(self.decision_function(X), axis=1)

    def predict(self, X):
        """The class of the nearest prototype."""
        return self.classes_[self.decision_function(X).argmax(axis=1)]
