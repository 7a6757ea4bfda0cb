"""SimilaritySmoother: a similarity source + (alpha, beta) -> soft targets."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from simcalib._validation import check_labels, check_scalar_in_range
from simcalib.smoothing._soft_labels import smooth_labels_from_distances

__all__ = ["SimilaritySmoother"]


class SimilaritySmoother(TransformerMixin, BaseEstimator):
    """Class-similarity label smoothing: labels -> soft targets.

    ``fit`` fits a clone of ``similarity`` on ``(X, y)`` and builds the smooth
    label of every class with :func:`smooth_labels_from_distances`:
    row-wise z-normalisation of the class distances **over the K - 1 other
    classes (the diagonal does not enter)**, ``s_k = softmax(-beta z_k)`` with
    ``s_k(k) = 0`` and renormalised, then ``(1 - alpha) e_k + alpha s_k``.
    ``transform(y)`` looks the rows up for the labels ``y``.

    The smooth labels are those of Liu and JaJa [1]_ (eq. 17-18).

    Parameters
    ----------
    similarity : similarity source or array-like of shape (n_classes, n_classes)
        An unfitted estimator with ``fit(X, y)`` that learns ``classes_`` and
        ``distances_`` (e.g. :class:`~simcalib.similarity.PixelDistanceSimilarity`,
        :class:`~simcalib.similarity.WordEmbeddingSimilarity`). A plain
        matrix is read as class distances in sorted-label order
        (:class:`~simcalib.similarity.PrecomputedSimilarity`). Its parameters
        are reachable as ``similarity__<name>`` in ``set_params``.
    alpha : float, default=0.1
        Mass moved from the true class to the others, in [0, 1].
    beta : float, default=1.0
        Sharpness of the similarity softmax, >= 0 (paper: 0.5 to 6).

    Attributes
    ----------
    similarity_ : estimator
        The fitted clone of ``similarity``.
    classes_ : ndarray of shape (n_classes,)
        Sorted labels (those of ``similarity_``).
    soft_labels_ : ndarray of shape (n_classes, n_classes), dtype=float64
        Row ``k`` is the smooth label of ``classes_[k]``; rows sum to 1 and
        ``soft_labels_[k, k] == 1 - alpha``.

    Notes
    -----
    With K = 2, or when every other class is equally far, the other classes
    share ``alpha`` equally whatever ``beta`` is. ``alpha = 0`` gives one-hot
    labels; ``beta = 0`` gives ``alpha / (K - 1)`` on every other class (unlike
    uniform label smoothing, which also puts ``alpha / K`` on the true class).

    References
    ----------
    .. [1] C. Liu and J. JaJa, "Class-similarity based label smoothing for confidence calibration", *ICANN*, 2021. arXiv:2006.14028.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.similarity import PixelDistanceSimilarity
    >>> from simcalib.smoothing import SimilaritySmoother
    >>> X = np.array([[0.0], [0.2], [1.0], [1.1], [5.0], [5.3]])
    >>> y = np.array(["a", "a", "b", "b", "c", "c"])
    >>> smoother = SimilaritySmoother(PixelDistanceSimilarity(device="numpy"),
    ...                               alpha=0.2, beta=2.0).fit(X, y)
    >>> smoother.transform(["a", "c"]).round(3)
    array([[0.8  , 0.196, 0.004],
           [0.004, 0.196, 0.8  ]])
    """

    def __init__(self, similarity, alpha=0.1, beta=1.0):
        self.similarity = similarity
        self.alpha = alpha
        self.beta = beta

    def fit(self, X, y):
        """Fit the similarity source and build the smooth label of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or None
            Samples for the similarity source (``None`` for sources that only
            use class names or a given matrix).
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : SimilaritySmoother
            The fitted smoother.
        """
        # everything is checked, and the source fitted on a clone, before any
        # fitted attribute changes: a failed refit leaves the old smoother intact
        check_scalar_in_range(self.alpha, "alpha", lo=0.0, hi=1.0)
        check_scalar_in_range(self.beta, "beta", lo=0.0)
        sim = self.similarity
        if isinstance(sim, type):
            raise ValueError(
                f"similarity must be an estimator instance or a distance matrix; got the "
                f"class {sim.__name__} (pass {sim.__name__}() instead)"
            )
        if hasattr(sim, "fit") and hasattr(sim, "get_params"):
            sim = clone(sim)
        elif hasattr(sim, "fit"):
            raise ValueError(
                f"similarity must be a scikit-learn style estimator (with get_params); "
                f"got {type(sim).__name__}"
            )
        else:
            from simcalib.similarity import PrecomputedSimilarity

            sim = PrecomputedSimilarity(_distance_matrix(sim))
        fitted = sim.fit(X, y)
        soft_labels = smooth_labels_from_distances(
            fitted.distances_, alpha=self.alpha, beta=self.beta
        )
        self.similarity_ = fitted
        self.classes_ = fitted.classes_
        self.soft_labels_ = soft_labels
        return self

    def transform(self, y):
        """Soft targets for labels ``y``.

        Parameters
        ----------
        y : array-like of shape (n_samples,)
            Labels, all seen in ``fit``.

        Returns
        -------
        targets : ndarray of shape (n_samples, n_classes), dtype=float64
            Row ``i`` is the smooth label of ``y[i]``; columns follow
            ``classes_``.
        """
        check_is_fitted(self, "soft_labels_")
        idx = check_labels(y, len(self.classes_), labels=self.classes_, name="y")
        return self.soft_labels_[idx]

    def fit_transform(self, X, y):
        """Fit, then return the soft targets of ``y`` (not a transform of ``X``).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or None
            Samples for the similarity source.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        targets : ndarray of shape (n_samples, n_classes), dtype=float64
            Soft targets of ``y``.
        """
        return self.fit(X, y).transform(y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def _distance_matrix(sim):
    """``similarity`` given as an array: a real-valued matrix, else a clear error."""
    try:
        M = None if isinstance(sim, str) or sim is None else np.asarray(sim)
    except (TypeError, ValueError):
        M = None
    if M is None or M.dtype.kind not in "iuf":
        raise ValueError(
            "similarity must be a similarity source (e.g. PixelDistanceSimilarity()) "
            f"or a (n_classes, n_classes) distance matrix; got {sim!r}"
        )
    return M.astype(np.float64)
