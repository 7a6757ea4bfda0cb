"""Class distances -> class-similarity smooth labels (paper §5.4, eq. 17-18)."""

from __future__ import annotations

import numpy as np

from simcalib._validation import check_finite_2d, check_scalar_in_range

__all__ = ["smooth_labels_from_distances"]


def smooth_labels_from_distances(distances, alpha=0.1, beta=1.0):
    """Turn a (K, K) class distance matrix into the (K, K) smooth label matrix.

    Row ``k`` is the smooth label of class ``k``:

    1. take the K - 1 off-diagonal distances ``d_k(k')``, ``k' != k``
       (**the diagonal does not enter the z-normalisation**: it is zero or a
       within-class spread, neither of which is a distance to another class);
    2. z-normalise them: ``z = (d - mean) / std`` with the population std
       (``ddof=0``); a row of equal distances (std = 0, e.g. always when
       K = 2) gives ``z = 0``, i.e. uniform mass;
    3. ``s_k = softmax(-beta * z)`` over the K - 1 other classes, which equals
       the paper's softmax over all K classes with ``s_k(k)`` set to 0 and
       the rest renormalised;
    4. ``y_k = (1 - alpha) e_k + alpha s_k``.

    This is eq. 17-18 of Liu and JaJa [1]_.

    Parameters
    ----------
    distances : array-like of shape (n_classes, n_classes)
        Class distances; row ``k`` holds the distances from class ``k``. Need
        not be symmetric; the diagonal is ignored. ``n_classes >= 2``.
    alpha : float, default=0.1
        Total mass given to the other classes, in [0, 1]. 0 gives one-hot.
    beta : float, default=1.0
        Sharpness, >= 0. 0 gives ``alpha / (K - 1)`` on every other class;
        large values put the mass on the nearest classes.

    Returns
    -------
    soft_labels : ndarray of shape (n_classes, n_classes), dtype=float64
        Row-stochastic: rows sum to 1, ``soft_labels[k, k] == 1 - alpha``, and
        off-diagonal mass decreases (weakly) as the distance increases.

    References
    ----------
    .. [1] C. Liu and J. JaJa, "Class-similarity based label smoothing for confidence calibration", *ICANN*, 2021. arXiv:2006.14028.

    Examples
    --------
    >>> from simcalib.smoothing import smooth_labels_from_distances
    >>> D = [[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]]
    >>> smooth_labels_from_distances(D, alpha=0.1, beta=1.0).round(4)
    array([[0.9   , 0.0881, 0.0119],
           [0.0881, 0.9   , 0.0119],
           [0.0119, 0.0881, 0.9   ]])
    """
    D = check_finite_2d(distances, name="distances", min_columns=2)
    K = D.shape[0]
    if D.shape != (K, K):
        raise ValueError(
            f"distances must be square (n_classes, n_classes); got shape {D.shape}"
        )
    check_scalar_in_range(alpha, "alpha", lo=0.0, hi=1.0)
    check_scalar_in_range(beta, "beta", lo=0.0)
    alpha, beta = float(alpha), float(beta)

    off = ~np.eye(K, dtype=bool)
    d = D[off].reshape(K, K - 1)
    mean = d.mean(axis=1, keepdims=True)
    std = d.std(axis=1, keepdims=True)
    # Rows of (numerically) equal distances: z = 0 rather than 0/0 or noise / tiny.
    flat = std <= 1e-12 * np.maximum(np.abs(d).max(axis=1, keepdims=True), 1e-300)
    z = np.where(flat, 0.0, (d - mean) / np.where(flat, 1.0, std))
    logits = -beta * z
    logits -= logits.max(axis=1, keepdims=True)
    s = np.exp(logits)
    s /= s.sum(axis=1, keepdims=True)

    soft = np.zeros((K, K))
    soft[off] = (alpha * s).ravel()
    np.fill_diagonal(soft, 1.0 - alpha)
    return soft
