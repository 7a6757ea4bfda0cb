"""Input checks shared by every stage of simcalib.

Each check raises :class:`ValueError` with a message that names the argument
and the problem, so that a bad input fails at the public function that
received it rather than deep inside a computation.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "check_probabilities",
    "check_labels",
    "check_finite_2d",
    "check_prediction_inputs",
    "check_scalar_in_range",
]

#: Default tolerance on ``|sum(p_i) - 1|`` for a row of probabilities. Loose
#: enough for float32 softmax outputs of a few thousand classes.
ROW_SUM_ATOL = 1e-4


def check_finite_2d(X, *, name="X", dtype=np.float64, min_columns=1):
    """Return ``X`` as a finite 2-D float array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_columns)
        The input to check.
    name : str, default="X"
        Name used in error messages.
    dtype : numpy dtype, default=np.float64
        Dtype of the returned array.
    min_columns : int, default=1
        Smallest number of columns accepted.

    Returns
    -------
    X : ndarray of shape (n_samples, n_columns)

    Raises
    ------
    ValueError
        If ``X`` is not numeric, not 2-D, empty, has too few columns or holds
        NaN or infinity.

    Examples
    --------
    >>> check_finite_2d([[0.0, 1.0]]).shape
    (1, 2)
    """
    try:
        X = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; got {exc}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_columns); got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if X.shape[1] < min_columns:
        raise ValueError(
            f"{name} must have at least {min_columns} columns; got shape {X.shape}"
        )
    # np.sum is one fast pass without a boolean temporary; it is non-finite
    # whenever an entry is (or on overflow, which the exact check clears, so
    # the overflow warning is no news).
    with np.errstate(over="ignore", invalid="ignore"):
        total = X.sum()
    if not np.isfinite(total) and not np.all(np.isfinite(X)):
        n_bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
        raise ValueError(f"{name} contains NaN or infinity ({n_bad} entries)")
    return X


def check_probabilities(y_prob, *, name="y_prob", atol=ROW_SUM_ATOL):
    """Return ``y_prob`` as a validated (n, K) float64 probability matrix.

    Parameters
    ----------
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities. A 1-D input is read as the probability of
        the positive class of a binary problem (what scikit-learn scorers
        pass) and expanded to two columns ``[1 - p, p]``.
    name : str, default="y_prob"
        Name used in error messages.
    atol : float, default=1e-4
        Largest accepted deviation of a row sum from 1, and of an entry below
        0 or above 1.

    Returns
    -------
    y_prob : ndarray of shape (n_samples, n_classes)
        Entries clipped into [0, 1]; rows are not renormalised. When no
        entry needs clipping and the input is already a float64 array, this
        is the input itself (no copy): do not modify it in place.

    Raises
    ------
    ValueError
        If the input is empty, has the wrong number of dimensions, holds NaN
        or infinity, values outside [0, 1], or rows that do not sum to 1.

    Examples
    --------
    >>> check_probabilities([0.2, 0.9])
    array([[0.8, 0.2],
           [0.1, 0.9]])
    """
    try:
        y_prob = np.asarray(y_prob, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; got {exc}") from None
    if y_prob.ndim == 1:
        if y_prob.shape[0] == 0:
            raise ValueError(f"{name} is empty: it has 0 samples")
        if not np.all(np.isfinite(y_prob)):
            raise ValueError(f"{name} contains NaN or infinity")
        _clip_into_unit(y_prob, name, atol)
        y_prob = np.clip(y_prob, 0.0, 1.0)
        return np.column_stack([1.0 - y_prob, y_prob])
    y_prob = check_finite_2d(y_prob, name=name, min_columns=2)
    y_prob = _clip_into_unit(y_prob, name, atol)
    sums = y_prob.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > atol)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"rows of {name} must sum to 1 (within {atol:g}); {bad.size} rows do not, "
            f"e.g. row {i} sums to {sums[i]:.6g}. Pass probabilities, not logits "
            "(apply a softmax first)."
        )
    return y_prob


def _clip_into_unit(y_prob, name, atol):
    """Check the range; clip (a copy) only when some entry is outside [0, 1]."""
    lo, hi = float(y_prob.min()), float(y_prob.max())
    if lo < -atol or hi > 1.0 + atol:
        raise ValueError(
            f"{name} must hold probabilities in [0, 1]; got values in [{lo:.6g}, {hi:.6g}]"
        )
    if lo < 0.0 or hi > 1.0:
        return np.clip(y_prob, 0.0, 1.0)
    return y_prob


def check_labels(y_true, n_classes, *, labels=None, name="y_true"):
    """Return ``y_true`` as integer class indices in ``[0, n_classes)``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: integer indices in ``[0, n_classes)``, or any values
        listed in ``labels``.
    n_classes : int
        Number of columns of the probability matrix.
    labels : array-like of shape (n_classes,), default=None
        The class label of each probability column, in column order. When
        given, ``y_true`` holds entries of ``labels`` (strings, for example).
    name : str, default="y_true"
        Name used in error messages.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype=int64

    Raises
    ------
    ValueError
        If ``y_true`` is not 1-D, is empty, holds labels outside the classes,
        or non-integer values without ``labels``.

    Examples
    --------
    >>> check_labels(["b", "a"], 2, labels=["a", "b"])
    array([1, 0])
    """
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n_samples,); got shape {y.shape}")
    if y.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != n_classes:
            raise ValueError(
                f"labels must be 1-D with one entry per probability column "
                f"({n_classes}); got shape {labels.shape}"
            )
        if len(np.unique(labels)) != labels.shape[0]:
            raise ValueError("labels must not contain duplicates")
        order = np.argsort(labels, kind="stable")
        sorted_labels = labels[order]
        try:
            pos = np.searchsorted(sorted_labels, y)
        except TypeError:
            raise ValueError(
                f"{name} and labels have incomparable types ({y.dtype} vs {labels.dtype})"
            ) from None
        pos = np.clip(pos, 0, n_classes - 1)
        found = sorted_labels[pos] == y
        if not np.all(found):
            unknown = np.unique(y[~found])[:10]
            raise ValueError(
                f"{name} contains labels not in labels (the known classes): "
                f"{unknown.tolist()}"
            )
        return order[pos].astype(np.int64)
    if y.dtype.kind in "OUS":
        raise ValueError(
            f"{name} holds non-numeric labels ({y.dtype}); pass labels= with the "
            "class of each probability column"
        )
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or infinity")
        if not np.all(y == np.round(y)):
            raise ValueError(f"{name} must hold integer class indices; got non-integer values")
    y = y.astype(np.int64)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        raise ValueError(
            f"{name} must hold class indices in [0, {n_classes}) for {n_classes} "
            f"probability columns; got values in [{lo}, {hi}]"
        )
    return y


def check_prediction_inputs(y_true, y_prob, *, labels=None, atol=ROW_SUM_ATOL):
    """Validate a (labels, probabilities) pair as the metrics receive it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, see :func:`check_labels`.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Probabilities, see :func:`check_probabilities`.
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``.
    atol : float, default=1e-4
        Tolerance on row sums.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype=int64
    y_prob : ndarray of shape (n_samples, n_classes), dtype=float64

    Examples
    --------
    >>> y, p = check_prediction_inputs([1, 0], [[0.3, 0.7], [0.6, 0.4]])
    >>> y.tolist(), p.shape
    ([1, 0], (2, 2))
    """
    y_prob = check_probabilities(y_prob, atol=atol)
    y = check_labels(y_true, y_prob.shape[1], labels=labels)
    if y.shape[0] != y_prob.shape[0]:
        raise ValueError(
            f"y_true and y_prob have different numbers of samples: "
            f"{y.shape[0]} and {y_prob.shape[0]}"
        )
    return y, y_prob


def check_scalar_in_range(value, name, *, lo=None, hi=None, lo_open=False, hi_open=False,
                          integer=False, allow_inf=False):
    """Check a scalar hyper-parameter: its type, finiteness and range, naming it if wrong.

    This is the one scalar check of simcalib: every estimator and function
    validates its numeric parameters with it (in ``fit``, before any fitted
    attribute changes), so NaN, infinity, booleans and out-of-range values
    are refused with the same message everywhere.

    Parameters
    ----------
    value : object
        The value to check. Python and numpy numbers are accepted; booleans
        are not.
    name : str
        Parameter name used in error messages.
    lo, hi : float or None, default=None
        Bounds (None: unbounded on that side).
    lo_open, hi_open : bool, default=False
        Whether the bound itself is excluded.
    integer : bool, default=False
        Whether ``value`` must be an integer.
    allow_inf : bool, default=False
        Whether ``+inf`` / ``-inf`` are accepted (NaN never is).

    Returns
    -------
    value : number
        ``value`` unchanged.

    Raises
    ------
    ValueError
        If ``value`` is not a real number (an integer with ``integer``), is
        NaN, is infinite without ``allow_inf``, or lies outside the range.

    Examples
    --------
    >>> check_scalar_in_range(15, "n_bins", lo=1, integer=True)
    15
    >>> check_scalar_in_range(float("nan"), "alpha", lo=0, hi=1)
    Traceback (most recent call last):
    ...
    ValueError: alpha must be a finite real number; got nan
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        what = "an integer" if integer else "a real number"
        raise ValueError(f"{name} must be {what}; got {value!r}")
    if not integer:
        as_float = float(value)
        if np.isnan(as_float) or (np.isinf(as_float) and not allow_inf):
            raise ValueError(f"{name} must be a finite real number; got {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}; got {value!r}")
    if hi is not None and (value >= hi if hi_open else value > hi):
        raise ValueError(f"{name} must be {'<' if hi_open else '<='} {hi}; got {value!r}")
    return value
