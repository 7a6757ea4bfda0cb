"""The target matrix of a classifier: one soft label per class, from any source."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from simcalib._validation import (
    _is_torch_tensor,
    check_scalar_in_range,
    encode_labels,
)

__all__ = ["soft_label_matrix", "TARGET_KINDS"]

#: The string values of ``similarity`` that need no similarity estimator.
TARGET_KINDS = ("onehot", "uniform")

#: Tolerance on the row sums of a user-given soft-label matrix.
_ROW_SUM_ATOL = 1e-5


def _check_similarity(similarity):
    """Classify ``similarity`` as 'kind', 'estimator' or 'matrix' without fitting anything."""
    if isinstance(similarity, str):
        if similarity not in TARGET_KINDS:
            raise ValueError(
                f"similarity={similarity!r} is not one of {TARGET_KINDS}, a similarity "
                "estimator, a (K, K) array or None"
            )
        return "kind", similarity
    if similarity is None:
        from simcalib.similarity import PixelDistanceSimilarity

        return "estimator", PixelDistanceSimilarity()
    if isinstance(similarity, type):
        raise ValueError(
            f"similarity must be an estimator instance; got the class "
            f"{similarity.__name__} (pass {similarity.__name__}() instead)"
        )
    if hasattr(similarity, "fit"):
        if not hasattr(similarity, "get_params"):
            raise ValueError(
                "similarity must be a scikit-learn style estimator (with get_params); "
                f"got {type(similarity).__name__}"
            )
        return "estimator", similarity
    if _is_torch_tensor(similarity):
        similarity = similarity.detach().cpu().numpy()
    try:
        Q = np.asarray(similarity, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"similarity must be 'onehot', 'uniform', a similarity estimator, None or a "
            f"(K, K) soft-label matrix; got {similarity!r}"
        ) from None
    return "matrix", Q


def soft_label_matrix(similarity, X, y, classes, *, alpha=0.1, beta=1.0):
    """Build the (K, K) soft-label matrix of a classifier: row ``k`` is the target of ``classes[k]``.

    This is how :class:`~simcalib.classifier.SimilarityLSClassifier` turns
    its ``similarity``, ``alpha`` and ``beta`` into training targets. Every
    argument is checked before anything is fitted.

    Parameters
    ----------
    similarity : None, "onehot", "uniform", similarity estimator or array-like of shape (K, K)
        - ``"onehot"``: the identity (plain cross-entropy);
        - ``"uniform"``: ``(1 - alpha) e_k + alpha / K``, torch's
          ``CrossEntropyLoss(label_smoothing=alpha)``;
        - a similarity estimator (e.g. ``PixelDistanceSimilarity()``), or
          None for ``PixelDistanceSimilarity()``: a
          :class:`~simcalib.smoothing.SimilaritySmoother` with ``alpha`` and
          ``beta`` fitted on ``(X, y)`` (one-hot without fitting when
          ``alpha == 0``); every class must have samples in ``y``;
        - an array: a row-stochastic matrix used as it is, row ``k`` being
          the target of ``classes[k]`` (``alpha`` and ``beta`` ignored).
    X : array-like of shape (n_samples, ...) or None
        Samples for the similarity estimator (torch tensors are copied to
        numpy); unused otherwise.
    y : array-like of shape (n_samples,)
        The labels of ``X``, entries of ``classes``.
    classes : array-like of shape (n_classes,)
        The classes, in the order of the classifier's outputs.
    alpha : float in [0, 1], default=0.1
        Mass moved away from the true class.
    beta : float >= 0, default=1.0
        Sharpness of the similarity softmax.

    Returns
    -------
    soft_labels : ndarray of shape (n_classes, n_classes), dtype=float64
        Row-stochastic; row ``k`` is the target of ``classes[k]``.
    smoother : SimilaritySmoother or None
        The fitted smoother (similarity estimators with ``alpha > 0``).

    Raises
    ------
    ValueError
        For an unknown string, an estimator class instead of an instance,
        ``alpha``/``beta`` that are NaN, infinite or out of range, a matrix
        that is not (K, K), finite, non-negative and row-stochastic, or a
        class without samples when a similarity estimator needs them.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.smoothing import soft_label_matrix
    >>> Q, _ = soft_label_matrix("uniform", None, [0, 1, 2], [0, 1, 2], alpha=0.3)
    >>> Q.round(2)
    array([[0.8, 0.1, 0.1],
           [0.1, 0.8, 0.1],
           [0.1, 0.1, 0.8]])
    >>> from simcalib.similarity import PixelDistanceSimilarity
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1], [5.0], [5.2]])
    >>> y = np.array(["c", "c", "b", "b", "a", "a"])
    >>> Q, smoother = soft_label_matrix(PixelDistanceSimilarity(device="numpy"), X, y,
    ...                                 ["c", "b", "a"], alpha=0.2, beta=2.0)
    >>> Q.round(3)  # rows follow the order of classes, not the sorted labels
    array([[0.8  , 0.196, 0.004],
           [0.196, 0.8  , 0.004],
           [0.004, 0.196, 0.8  ]])
    """
    check_scalar_in_range(alpha, "alpha", lo=0.0, hi=1.0)
    check_scalar_in_range(beta, "beta", lo=0.0)
    alpha, beta = float(alpha), float(beta)
    kind, source = _check_similarity(similarity)
    classes, _ = encode_labels(y, classes, name="y")
    n_classes = classes.shape[0]
    eye = np.eye(n_classes)
    if kind == "kind":
        if source == "onehot":
            return eye, None
        return (1.0 - alpha) * eye + alpha / n_classes, None
    if kind == "matrix":
        Q = source
        if Q.shape != (n_classes, n_classes):
            raise ValueError(
                f"similarity as a soft-label matrix must have shape ({n_classes}, "
                f"{n_classes}) for the {n_classes} classes; got {Q.shape}"
            )
        if not np.all(np.isfinite(Q)):
            raise ValueError("similarity as a soft-label matrix contains NaN or infinity")
        if (Q < 0).any() or not np.allclose(Q.sum(1), 1.0, rtol=0.0, atol=_ROW_SUM_ATOL):
            raise ValueError(
                "similarity as a soft-label matrix must be non-negative and have rows "
                f"summing to 1; got row sums in [{Q.sum(1).min():.6g}, {Q.sum(1).max():.6g}]"
            )
        return Q.copy(), None
    if alpha == 0.0:
        return eye, None  # one-hot: the similarity would be multiplied by 0
    from simcalib.smoothing._smoother import SimilaritySmoother

    if _is_torch_tensor(X):
        X = X.detach().cpu().numpy()
    smoother = SimilaritySmoother(clone(source), alpha=alpha, beta=beta).fit(X, y)
    present = np.isin(classes, smoother.classes_)
    if not present.all():
        raise ValueError(
            f"classes {classes[~present][:10].tolist()} have no samples in y; a "
            "similarity estimator needs samples of every class (use similarity="
            "'uniform' or a (K, K) soft-label matrix otherwise)"
        )
    # the smoother's rows follow its sorted labels; reorder them to `classes`
    _, idx = encode_labels(classes, smoother.classes_, name="classes")
    return np.asarray(smoother.soft_labels_)[np.ix_(idx, idx)], smoother
