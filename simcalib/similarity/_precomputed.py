"""A user-supplied class distance or similarity matrix."""

from __future__ import annotations

import numpy as np

from simcalib._validation import check_finite_2d, encode_labels
from simcalib.similarity._base import BaseSimilarity, _finalize_distances

__all__ = ["PrecomputedSimilarity"]

_KINDS = ("distance", "similarity")


class PrecomputedSimilarity(BaseSimilarity):
    """Class distances given as a matrix (e.g. from a taxonomy or a confusion matrix).

    Parameters
    ----------
    matrix : array-like of shape (n_classes, n_classes)
        Class distances (``kind="distance"``) or similarities
        (``kind="similarity"``). Must be symmetric up to a relative tolerance
        of 1e-6 (it is then symmetrised exactly); the diagonal is ignored.
    kind : {"distance", "similarity"}, default="distance"
        What ``matrix`` holds. Similarities ``S`` become distances
        ``D = max(S) - S`` (``1 - S`` for a similarity with unit diagonal such
        as a cosine). Any ``D = c - S`` gives the same soft labels, because
        the smoother z-normalises each row.
    classes : array-like of shape (n_classes,), default=None
        The label of each row/column of ``matrix``. ``None``: the rows follow
        the sorted unique labels of ``y`` in ``fit`` (or ``0..K-1`` when
        ``fit`` gets no ``y``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels; ``distances_`` is reordered to follow them.
    distances_ : ndarray of shape (n_classes, n_classes), dtype=float64
        Symmetric, non-negative distances with a zero diagonal.

    Examples
    --------
    >>> from simcalib.similarity import PrecomputedSimilarity
    >>> S = [[1.0, 0.9, 0.1], [0.9, 1.0, 0.2], [0.1, 0.2, 1.0]]
    >>> sim = PrecomputedSimilarity(S, kind="similarity", classes=["cat", "dog", "car"])
    >>> sim.fit().classes_
    array(['car', 'cat', 'dog'], dtype='<U3')
    >>> sim.distances_
    array([[0. , 0.9, 0.8],
           [0.9, 0. , 0.1],
           [0.8, 0.1, 0. ]])
    """

    _requires_X = False

    def __init__(self, matrix, *, kind="distance", classes=None):
        self.matrix = matrix
        self.kind = kind
        self.classes = classes

    def fit(self, X=None, y=None):
        """Check the matrix and order it by the sorted class labels.

        Parameters
        ----------
        X : ignored
            Present for API consistency.
        y : array-like of shape (n_samples,), default=None
            Labels. When given, its classes must be those of ``classes`` (or,
            without ``classes``, their number must match the matrix).

        Returns
        -------
        self : PrecomputedSimilarity
            The fitted source.
        """
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}; got {self.kind!r}")
        M = check_finite_2d(self.matrix, name="matrix", min_columns=2)
        K = M.shape[0]
        if M.shape != (K, K):
            raise ValueError(
                f"matrix must be square (n_classes, n_classes); got shape {M.shape}"
            )
        scale = max(float(np.abs(M).max()), np.finfo(np.float64).tiny)
        asym = float(np.abs(M - M.T).max())
        if asym > 1e-6 * scale:
            raise ValueError(
                f"matrix must be symmetric; max |M - M.T| = {asym:.3g} "
                f"(max |M| = {scale:.3g})"
            )
        if self.kind == "similarity":
            M = M.max() - M
        off = ~np.eye(K, dtype=bool)
        if M[off].min() < 0:
            raise ValueError(
                f"matrix holds negative distances (min {M[off].min():.6g}); "
                "pass kind='similarity' for similarities"
            )

        y_classes = None if y is None else encode_labels(y, name="y")[0]
        if self.classes is not None:
            labels = np.asarray(self.classes)
            if labels.ndim != 1 or labels.shape[0] != K:
                raise ValueError(
                    f"classes must have one label per matrix row ({K}); got shape {labels.shape}"
                )
            classes, codes = encode_labels(labels, name="classes")
            if classes.shape[0] != K:
                raise ValueError("classes must not contain duplicates")
            order = np.argsort(codes)  # the row of each sorted class
        elif y_classes is not None:
            classes, order = y_classes, np.arange(K)
        else:
            classes, order = np.arange(K), np.arange(K)
        if y_classes is not None and (
            y_classes.shape[0] != K
            or (self.classes is not None and not np.array_equal(y_classes, classes))
        ):
            raise ValueError(
                f"the classes of y ({y_classes.shape[0]}: {y_classes[:10].tolist()}) "
                f"do not match the {K} rows of matrix"
                + ("" if self.classes is None else f" (classes={classes[:10].tolist()})")
            )
        distances = _finalize_distances(M[np.ix_(order, order)], K, "PrecomputedSimilarity")
        self.classes_ = classes
        self.distances_ = distances
        return self
