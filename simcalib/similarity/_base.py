"""Common base of the class similarity sources.

A similarity source is fitted on ``(X, y)`` and learns ``distances_``, a
symmetric (K, K) matrix of non-negative distances between the K classes of
``y`` with a zero diagonal. Sources that only look at class names accept
``X=None``. The smoother (:class:`simcalib.smoothing.SimilaritySmoother`) turns
the distances into soft labels.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from simcalib._validation import _is_torch_tensor, check_scalar_in_range, encode_labels

__all__ = ["BaseSimilarity"]


class BaseSimilarity(BaseEstimator):
    """Base class of the class similarity sources.

    Subclasses implement ``_class_distances(X, y_idx)`` and return a (K, K)
    array of class distances in the order of ``classes_`` (only the
    off-diagonal part matters; the base class symmetrises it, zeroes the
    diagonal and checks it). ``fit`` encodes ``y`` (sorted unique labels, as
    :class:`~sklearn.preprocessing.LabelEncoder` does, with
    :func:`simcalib._validation.encode_labels`) and validates ``X`` when the
    source needs it. Subclasses check their parameters in ``_check_params``;
    ``_class_distances`` runs on a copy of the estimator, so the by-products
    it stores reach the estimator only when the whole fit succeeds.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique labels of ``y``.
    distances_ : ndarray of shape (n_classes, n_classes), dtype=float64
        Symmetric, non-negative class distances with a zero diagonal; row and
        column ``k`` refer to ``classes_[k]``. Ready for
        ``matplotlib.pyplot.imshow``.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.similarity import BaseSimilarity
    >>> class Constant(BaseSimilarity):
    ...     _requires_X = False
    ...     def _class_distances(self, X, y_idx):
    ...         return np.ones((len(self.classes_),) * 2)
    >>> Constant().fit(None, ["a", "b", "c"]).distances_
    array([[0., 1., 1.],
           [1., 0., 1.],
           [1., 1., 0.]])
    """

    #: Whether ``fit`` needs samples ``X`` (False: class names are enough).
    _requires_X = True

    def fit(self, X, y):
        """Learn the class distances.

        Everything is validated, and the distances computed, before any
        fitted attribute changes: a fit that fails leaves a fitted source as
        it was.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or None
            Samples. Sources that only use class names accept ``None``.
        y : array-like of shape (n_samples,)
            Class labels (integers or strings). At least two distinct labels.
            Sources that only use class names may get each label once.

        Returns
        -------
        self : object
            The fitted source.
        """
        self._check_params()
        classes, y_idx = encode_labels(y, name="y", min_classes=2)
        n_features = None
        if self._requires_X or X is not None:
            X = self._validate_X(X, y_idx.shape[0])
            n_features = int(np.prod(X.shape[1:]))
        # Compute on a shallow copy: subclasses store their by-products
        # (within_class_distances_, autoencoder_, ...) on it, and `self`
        # takes them over only once everything has succeeded.
        staged = object.__new__(type(self))
        staged.__dict__.update(self.__dict__)
        staged.classes_ = classes
        D = staged._class_distances(X, y_idx)
        staged.distances_ = _finalize_distances(D, len(classes), type(self).__name__)
        if n_features is None:
            staged.__dict__.pop("n_features_in_", None)
        else:
            staged.n_features_in_ = n_features
        self.__dict__.update(staged.__dict__)
        return self

    def _check_params(self):
        """Validate the parameters (a hook; called first in :meth:`fit`).

        The base class checks ``random_state`` when the source has one;
        subclasses extend this (calling ``super()._check_params()``).
        """
        if "random_state" in self.get_params(deep=False):
            try:
                check_random_state(self.random_state)
            except ValueError:
                raise ValueError(
                    "random_state must be None, an int or a numpy RandomState; got "
                    f"{self.random_state!r}"
                ) from None

    def _validate_X(self, X, n_samples):
        """Return ``X`` as a real-valued array of ``n_samples`` rows (no copy if possible).

        uint8 images stay uint8 (no float copy of a large image set) and
        booleans become uint8. Changes no attribute (``fit`` sets
        ``n_features_in_``, the number of values per sample, C*H*W for
        images, once it has succeeded).
        """
        if X is None:
            raise ValueError(f"X is required by {type(self).__name__}; got None")
        if _is_torch_tensor(X):
            X = X.detach().cpu().numpy()
        if hasattr(X, "toarray") and hasattr(X, "nnz"):
            raise ValueError("X must be a dense array; got a sparse matrix")
        try:
            X = np.asarray(X)
            if X.dtype.kind == "O":
                X = X.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"X must be a numeric array; got {exc}") from None
        if X.dtype.kind == "b":
            X = X.astype(np.uint8)
        if X.dtype.kind not in "uif":
            raise ValueError(f"X must hold real numbers (a numeric dtype); got dtype {X.dtype}")
        if X.ndim < 2:
            raise ValueError(
                f"X must have one row per sample, shape (n_samples, n_features, ...); got "
                f"shape {X.shape}"
            )
        if X.shape[0] == 0 or X[:1].size == 0:
            raise ValueError(f"X is empty: shape {X.shape}")
        if X.dtype.kind == "f":
            with np.errstate(over="ignore", invalid="ignore"):
                finite = np.isfinite(X.sum()) or bool(np.isfinite(X).all())
            if not finite:
                raise ValueError("X contains NaN or infinity")
        if n_samples is not None and X.shape[0] != n_samples:
            raise ValueError(
                f"X and y have different numbers of samples: {X.shape[0]} and {n_samples}"
            )
        return X

    def _class_distances(self, X, y_idx):  # pragma: no cover - abstract
        raise NotImplementedError

    def most_similar(self, label, n=5):
        """Return the ``n`` classes closest to ``label``, nearest first.

        Parameters
        ----------
        label : object
            A label of ``classes_``.
        n : int, default=5
            Number of neighbours.

        Returns
        -------
        neighbours : list of (label, distance) tuples
            At most ``n`` other classes sorted by increasing distance.
        """
        check_is_fitted(self, "distances_")
        check_scalar_in_range(n, "n", lo=1, integer=True)
        if np.ndim(label) != 0:
            raise ValueError(f"label must be a single class label; got {label!r}")
        try:
            _, (k,) = encode_labels([label], self.classes_, name="label")
        except ValueError:
            raise ValueError(f"label {label!r} is not one of the fitted classes_") from None
        row = self.distances_[k].copy()
        row[k] = np.inf
        order = np.argsort(row, kind="stable")[: min(n, len(row) - 1)]
        return [(self.classes_[j].item(), float(row[j])) for j in order]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = False
        return tags


def _finalize_distances(D, n_classes, source):
    """Check, symmetrise and zero the diagonal of a (K, K) distance matrix."""
    D = np.array(D, dtype=np.float64)
    if D.shape != (n_classes, n_classes):
        raise ValueError(
            f"{source} produced distances of shape {D.shape}; expected "
            f"({n_classes}, {n_classes})"
        )
    np.fill_diagonal(D, 0.0)
    if not np.all(np.isfinite(D)):
        raise ValueError(f"{source} produced non-finite class distances")
    if D.min() < 0:
        raise ValueError(
            f"{source} produced negative class distances (min {D.min():.6g})"
        )
    return 0.5 * (D + D.T)
