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
    "encode_labels",
    "check_images",
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
        return encode_labels(y, labels, name=name, classes_name="labels")[1]
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


# -- labels ------------------------------------------------------------------


def _is_torch_tensor(obj):
    # duck-typed, so that this module never imports torch itself
    return type(obj).__module__.split(".")[0] == "torch" and hasattr(obj, "detach")


def _label_array(y, name):
    """``y`` as a 1-D numpy array of labels (torch tensors and (n, 1) columns accepted)."""
    if y is None:
        raise ValueError(
            f"this estimator requires {name} to be passed, but the target {name} is None "
            f"({name}: the class label of each sample)"
        )
    if _is_torch_tensor(y):
        y = y.detach().cpu().numpy()
    try:
        y = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of class labels; got {exc}") from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels (n_samples,); got shape {y.shape}")
    if y.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has 0 samples")
    if y.dtype.kind in "cVM":
        raise ValueError(f"{name} must hold class labels (integers or strings); got dtype {y.dtype}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or infinity")
    if y.dtype.kind == "O":
        # NaN is the only value unequal to itself; None is not a label either
        missing = (y != y) | np.equal(y, None)
        if np.any(missing):
            raise ValueError(
                f"{name} contains missing labels (None or NaN) at {int(missing.sum())} "
                "positions"
            )
    return y


def _first_values(values, limit=10):
    """Up to ``limit`` distinct values as a list, for error messages."""
    values = np.asarray(values).ravel()
    try:
        values = np.unique(values)
    except TypeError:  # mixed types cannot be sorted; keep the order of appearance
        values = list(dict.fromkeys(values.tolist()))
    return list(values[:limit].tolist() if isinstance(values, np.ndarray) else values[:limit])


def _class_array(classes, classes_name):
    """Validate a user-given list of classes: 1-D, non-empty, distinct, no NaN."""
    if _is_torch_tensor(classes):
        classes = classes.detach().cpu().numpy()
    try:
        classes = np.asarray(classes)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{classes_name} must be a 1-D array of labels; got {exc}") from None
    if classes.ndim != 1 or classes.shape[0] == 0:
        raise ValueError(
            f"{classes_name} must be a non-empty 1-D array of labels; got shape "
            f"{classes.shape}"
        )
    _label_array(classes, classes_name)  # NaN, None, complex
    try:
        uniques, counts = np.unique(classes, return_counts=True)
    except TypeError:
        raise ValueError(
            f"{classes_name} must hold labels of one comparable type (all numbers or "
            f"all strings); got {classes[:10].tolist()}"
        ) from None
    if uniques.shape[0] != classes.shape[0]:
        raise ValueError(
            f"{classes_name} must not contain duplicates; got "
            f"{uniques[counts > 1][:10].tolist()} more than once"
        )
    return classes


def encode_labels(y, classes=None, *, name="y", classes_name="classes", min_classes=1):
    """Encode class labels as integer positions: the one label encoder of simcalib.

    Every estimator and function that receives class labels encodes them
    here, with the semantics of :class:`sklearn.preprocessing.LabelEncoder`:

    - ``classes=None``: the classes are the sorted unique labels of ``y``
      and each label becomes its position among them (``LabelEncoder().fit_transform``);
    - ``classes`` given: each label becomes its position in ``classes``,
      **in the order given** (``classes=["b", "a"]`` encodes ``"b"`` as 0);
      a label that is not in ``classes`` is an error, never a silent 0.

    Parameters
    ----------
    y : array-like or torch.Tensor of shape (n_samples,) or (n_samples, 1)
        Labels: integers, integer-valued floats, strings or booleans.
    classes : array-like of shape (n_classes,), default=None
        Known classes, distinct, in column order. ``None``: inferred from ``y``.
    name : str, default="y"
        Name of ``y`` in error messages.
    classes_name : str, default="classes"
        Name of ``classes`` in error messages.
    min_classes : int, default=1
        Smallest number of classes accepted (2 for a classifier).

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The classes (sorted when inferred, as given otherwise).
    codes : ndarray of shape (n_samples,), dtype=int64
        ``classes[codes]`` equals ``y``.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D, is empty, holds NaN, infinity, None, continuous
        values (when ``classes`` is inferred) or labels outside ``classes``,
        mixes incomparable types, or has fewer than ``min_classes`` classes;
        if ``classes`` is not 1-D or has duplicates.

    Examples
    --------
    >>> classes, codes = encode_labels(["b", "a", "b"])
    >>> classes.tolist(), codes.tolist()
    (['a', 'b'], [1, 0, 1])
    >>> encode_labels(["b", "a", "b"], classes=["b", "a"])[1].tolist()
    [0, 1, 0]
    >>> encode_labels(["c"], classes=["a", "b"])
    Traceback (most recent call last):
    ...
    ValueError: y has labels ['c'] that are not in classes (the known classes: ['a', 'b'])
    """
    y = _label_array(y, name)
    if classes is None:
        if y.dtype.kind == "f" and not np.all(y == np.round(y)):
            raise ValueError(
                f"{name} holds continuous values such as {_first_values(y[y != np.round(y)], 3)}; "
                "class labels must be integers or strings"
            )
        try:
            classes, codes = np.unique(y, return_inverse=True)
        except TypeError:
            raise ValueError(
                f"{name} must hold labels of one comparable type (all numbers or all "
                f"strings); got values such as {y[:5].tolist()}"
            ) from None
        if classes.shape[0] < min_classes:
            raise ValueError(
                f"{name} must hold at least {min_classes} classes; got only "
                f"{classes.shape[0]}: {classes[:10].tolist()}"
            )
        return classes, codes.reshape(-1).astype(np.int64)

    classes = _class_array(classes, classes_name)
    if classes.shape[0] < min_classes:
        raise ValueError(
            f"{classes_name} must hold at least {min_classes} classes; got "
            f"{classes.tolist()}"
        )
    order = np.argsort(classes, kind="stable")
    sorted_classes = classes[order]
    try:
        pos = np.clip(np.searchsorted(sorted_classes, y), 0, classes.shape[0] - 1)
        found = np.asarray(sorted_classes[pos] == y, dtype=bool)
    except TypeError:  # labels of another, incomparable type: none is known
        pos, found = None, np.zeros(y.shape[0], dtype=bool)
    if found.shape != y.shape or not np.all(found):
        unknown = y if found.shape != y.shape else y[~found]
        raise ValueError(
            f"{name} has labels {_first_values(unknown)} that are not in {classes_name} "
            f"(the known classes: {classes[:10].tolist()}"
            f"{', ...' if classes.shape[0] > 10 else ''})"
        )
    return classes, order[pos].astype(np.int64)


# -- images ------------------------------------------------------------------

#: Channel counts of ordinary images (grey, RGB, RGBA); a last axis of this
#: size after two larger ones is read as channels-last.
IMAGE_CHANNELS = (1, 3, 4)


def _looks_channels_last(shape):
    """Whether an (n, a, b, c) shape reads as (n, H, W, C) rather than (n, C, H, W)."""
    _, a, b, c = shape
    return c in IMAGE_CHANNELS and a > max(IMAGE_CHANNELS) and b > max(IMAGE_CHANNELS)


def check_images(X, *, name="X", input_shape=None, flat_hint="reshape flat rows into images first"):
    """Return a batch of images as an array or tensor of shape (n, C, H, W).

    The one image check of simcalib, used by
    :class:`~simcalib.classifier.SimilarityLSClassifier` and
    :class:`~simcalib.similarity.AutoencoderSimilarity`. Images are
    channels-first. A 4-D input whose last axis has 1, 3 or 4 entries while
    the two before it are larger than 4 -- ``(n, 32, 32, 3)``, say -- is
    almost surely channels-last and is refused with the transpose that fixes
    it, rather than read as 32 channels of 32x3 pixels. Likewise a 3-D input
    ``(H, W, C)`` that looks like a single channels-last image. (A
    channels-first input of 5 or more channels whose width is 1, 3 or 4 is
    refused too; such images are not supported.) Inputs with both spatial
    sides of at most 4, such as ``(n, 4, 4, 3)``, are ambiguous and read as
    channels-first.

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n, C, H, W), (n, H, W) or (n, C*H*W)
        Images. ``(n, H, W)`` is one channel. Flat rows need ``input_shape``.
        Real dtypes only (uint8, other integers, floats); the dtype is kept.
    name : str, default="X"
        Name used in error messages.
    input_shape : tuple of int (C, H, W) or None, default=None
        Shape to fold 2-D ``X`` into; images of another shape are refused.
    flat_hint : str, default="reshape flat rows into images first"
        What the error for 2-D ``X`` without ``input_shape`` advises.

    Returns
    -------
    images : ndarray or torch.Tensor of shape (n, C, H, W)
        A view of ``X`` where possible (torch tensors stay tensors).

    Raises
    ------
    ValueError
        For a non-numeric, boolean or complex dtype, a shape that is not an
        image batch (or likely channels-last), no samples or an empty image,
        NaN or infinity, or flat rows that ``input_shape`` does not fold.

    Examples
    --------
    >>> import numpy as np
    >>> check_images(np.zeros((2, 8, 8), np.uint8)).shape
    (2, 1, 8, 8)
    >>> check_images(np.zeros((2, 32, 32, 3)))
    Traceback (most recent call last):
    ...
    ValueError: X of shape (2, 32, 32, 3) looks like channels-last images (n, H, W, C) with C=3; simcalib expects channels-first images (n, C, H, W): pass X.transpose(0, 3, 1, 2) (numpy) or X.permute(0, 3, 1, 2) (torch)
    """
    tensor = _is_torch_tensor(X)
    if tensor:
        arr = X
        kind = (
            "f" if arr.dtype.is_floating_point
            else "c" if arr.dtype.is_complex
            else "b" if str(arr.dtype) == "torch.bool"
            else "u" if str(arr.dtype) == "torch.uint8"
            else "i"
        )
    else:
        if hasattr(X, "toarray") and hasattr(X, "nnz"):
            raise ValueError(f"{name} must be a dense array of images; got a sparse matrix")
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be an array of images; got {exc}") from None
        kind = arr.dtype.kind
    if kind not in "uif":
        raise ValueError(
            f"{name} must hold real numbers (uint8 or float images); got dtype {arr.dtype}"
            + (" (convert boolean masks with X.astype(np.uint8) * 255)" if kind == "b" else "")
        )
    shape = tuple(int(s) for s in arr.shape)
    if arr.ndim == 2:
        if input_shape is None:
            raise ValueError(
                f"{name} must be images of shape (n, C, H, W) or (n, H, W); got 2-D shape "
                f"{shape}: {flat_hint}"
            )
        target = _check_input_shape(input_shape)
        if int(np.prod(target)) != shape[1]:
            raise ValueError(
                f"input_shape={tuple(input_shape)!r} does not fold {name} of shape {shape}: "
                f"C*H*W = {int(np.prod(target))} but {name} has {shape[1]} columns"
            )
        arr = arr.reshape((shape[0],) + target)
    elif arr.ndim == 3:
        n, h, w = shape
        if w in IMAGE_CHANNELS[1:] and n > max(IMAGE_CHANNELS) and h > max(IMAGE_CHANNELS):
            raise ValueError(
                f"{name} of shape {shape} looks like one channels-last image (H, W, C); "
                f"pass a batch of channels-first images (n, C, H, W), e.g. "
                f"{name}.transpose(2, 0, 1)[None]"
            )
        arr = arr[:, None]
    elif arr.ndim == 4:
        if _looks_channels_last(shape):
            raise ValueError(
                f"{name} of shape {shape} looks like channels-last images (n, H, W, C) "
                f"with C={shape[3]}; simcalib expects channels-first images (n, C, H, W): "
                f"pass {name}.transpose(0, 3, 1, 2) (numpy) or {name}.permute(0, 3, 1, 2) "
                "(torch)"
            )
    else:
        raise ValueError(
            f"{name} must be images of shape (n, C, H, W) or (n, H, W); got {arr.ndim}-D "
            f"shape {shape}"
        )
    if arr.shape[0] == 0 or min(arr.shape[1:]) == 0:
        raise ValueError(f"{name} must hold at least one non-empty image; got shape {shape}")
    if input_shape is not None and tuple(arr.shape[1:]) != _check_input_shape(input_shape):
        raise ValueError(
            f"input_shape={tuple(input_shape)!r} does not match {name} of shape {shape}: "
            f"its images are {tuple(int(s) for s in arr.shape[1:])}"
        )
    if kind == "f":
        if tensor:
            finite = bool(arr.isfinite().all())
        else:
            # one pass without a boolean temporary; exact check only if needed
            with np.errstate(over="ignore", invalid="ignore"):
                finite = np.isfinite(arr.sum()) or bool(np.isfinite(arr).all())
        if not finite:
            raise ValueError(f"{name} contains NaN or infinity")
    return arr


def _check_input_shape(input_shape):
    try:
        target = tuple(input_shape)
    except TypeError:
        target = ()
    if len(target) != 3:
        raise ValueError(f"input_shape must be a tuple (C, H, W); got {input_shape!r}")
    for i, side in enumerate(target):
        check_scalar_in_range(side, f"input_shape[{i}]", lo=1, integer=True)
    return tuple(int(s) for s in target)
