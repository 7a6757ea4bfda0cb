"""Synthetic label noise: symmetric, pair-flip and class-similarity flips."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from simcalib._validation import check_finite_2d, check_scalar_in_range, encode_labels

__all__ = ["make_noisy_labels", "NOISE_KINDS"]

#: The kinds of noise :func:`make_noisy_labels` draws.
NOISE_KINDS = ("symmetric", "pairflip", "similarity")


def _flip_matrix(kind, n_classes, similarity):
    """(K, K) row-stochastic matrix of where a flipped label of class k goes (zero diagonal)."""
    K = n_classes
    if kind == "symmetric":
        P = np.full((K, K), 1.0 / (K - 1))
    elif kind == "pairflip":
        P = np.zeros((K, K))
        P[np.arange(K), (np.arange(K) + 1) % K] = 1.0
    else:
        if similarity is None:
            raise ValueError(
                "kind='similarity' needs similarity=, a (n_classes, n_classes) matrix "
                "whose off-diagonal entries weigh the flips (e.g. a soft-label matrix)"
            )
        S = check_finite_2d(similarity, name="similarity")
        if S.shape != (K, K):
            raise ValueError(
                f"similarity must have shape ({K}, {K}) (one row and column per class); "
                f"got {S.shape}"
            )
        if S.min() < 0:
            raise ValueError(f"similarity must be non-negative; got min {S.min():.6g}")
        P = S.copy()
        np.fill_diagonal(P, 0.0)
        mass = P.sum(axis=1)
        if np.any(mass <= 0):
            k = int(np.flatnonzero(mass <= 0)[0])
            raise ValueError(
                f"similarity row {k} has no off-diagonal mass: a label of that class "
                "has nowhere to flip to"
            )
        P = P / mass[:, None]
    np.fill_diagonal(P, 0.0)
    return P


def make_noisy_labels(y, rate, kind="symmetric", *, similarity=None, classes=None,
                      random_state=None):
    """Corrupt a fraction of labels, the way label-noise benchmarks do.

    Exactly ``round(rate * n_samples)`` samples, drawn uniformly without
    replacement, get a label **different** from their own; the others keep
    theirs. So ``mean(noisy != y) == rate`` up to rounding. (Benchmarks that
    redraw a label uniformly among all K classes, e.g. DivideMix's
    "symmetric" noise, flip only ``rate * (K - 1) / K`` of the labels.)
    Where a flipped label of class ``k`` goes depends on ``kind``:

    - ``"symmetric"``: uniformly to one of the other ``K - 1`` classes;
    - ``"pairflip"``: to the next class, ``classes[(k + 1) % K]``;
    - ``"similarity"``: to class ``j != k`` with probability proportional
      to ``similarity[k, j]``, so labels flip to classes near the true one,
      as real annotators err (willow for oak, dolphin for whale).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Clean labels (integers or strings).
    rate : float in [0, 1]
        Fraction of labels to flip.
    kind : {"symmetric", "pairflip", "similarity"}, default="symmetric"
        Where flipped labels go.
    similarity : array-like of shape (n_classes, n_classes), default=None
        For ``kind="similarity"``: non-negative weights, row ``k`` for the
        true class ``classes[k]``; the diagonal is ignored and each row is
        renormalised. A soft-label matrix works as it is (e.g.
        ``SimilaritySmoother(...).fit(X, y).soft_labels_``, or
        ``smooth_labels_from_distances(similarity.distances_, alpha=1.0, beta=...)``
        of a fitted similarity source, where ``beta`` sets how concentrated
        the flips are).
    classes : array-like of shape (n_classes,), default=None
        All classes, in the order of the rows of ``similarity`` (and of the
        pair-flip cycle). None: the sorted labels of ``y``. Labels may flip
        to a class absent from ``y`` only when it is listed here.
    random_state : int, RandomState instance or None, default=None
        Seed of which samples flip and where to.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
        Labels of the same kind as ``classes`` (``classes[codes]``).

    Raises
    ------
    ValueError
        For a rate outside [0, 1], an unknown kind, fewer than two classes,
        or a similarity of the wrong shape, negative or with a row without
        off-diagonal mass.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1, 2, 3], 25)
    >>> noisy = make_noisy_labels(y, 0.4, random_state=0)
    >>> float(np.mean(noisy != y))
    0.4
    >>> pair = make_noisy_labels(y, 0.2, kind="pairflip", random_state=0)
    >>> bool(np.all(pair[pair != y] == (y[pair != y] + 1) % 4))
    True
    """
    check_scalar_in_range(rate, "rate", lo=0.0, hi=1.0)
    if not isinstance(kind, str) or kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {NOISE_KINDS}; got {kind!r}")
    classes, codes = encode_labels(y, classes, name="y", min_classes=1)
    K = len(classes)
    if K < 2:
        raise ValueError(f"label noise needs at least 2 classes; got {K}")
    P = _flip_matrix(kind, K, similarity)
    rng = check_random_state(random_state)
    n = len(codes)
    n_flip = int(round(float(rate) * n))
    flip = rng.choice(n, size=n_flip, replace=False)
    noisy = codes.copy()
    # one draw per true class (a loop over classes, not samples)
    for k in np.unique(codes[flip]):
        members = flip[codes[flip] == k]
        noisy[members] = rng.choice(K, size=len(members), p=P[k])
    return classes[noisy]
