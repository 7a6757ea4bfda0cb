"""Input handling of the classifier: image checks, dtype rule and per-channel scaling.

:class:`~simcalib.classifier.SimilarityLSClassifier` reads images through
:func:`simcalib._validation.check_images` (channels-first, likely
channels-last refused) and turns every raw batch into the network's input
with one per-channel affine map ``x * scale + shift``. The map depends on
the training images only:

- **dtype rule**: uint8 images are divided by 255; any other real dtype is
  used as given. The rule is fixed at ``fit``: images given later
  (``predict``, ``partial_fit``) must be uint8 exactly when the training
  images were, otherwise the same pixels would be scaled differently
  without a word.
- **standardisation** (``standardize=True``): after the dtype rule, each
  channel is centred and scaled by the training mean and standard deviation
  (a channel with zero spread is only centred).

Per-sample soft targets (``fit(X, y, soft_targets=S)``) are checked by
:func:`check_soft_targets` and combined with the class-level soft-label
matrix by :func:`combine_soft_targets`.
"""

from __future__ import annotations

import numpy as np
import torch

from simcalib._validation import ROW_SUM_ATOL, _first_values, check_images

__all__ = [
    "check_soft_targets",
    "combine_soft_targets",
    "check_training_images",
    "check_images_like_training",
    "dtype_name",
    "input_statistics",
    "input_affine",
    "unit_scale",
]

#: Rows per chunk when the statistics are accumulated (bounded memory).
_CHUNK = 4096


def dtype_name(X):
    """``"uint8"``, ``"float32"``, ... of a numpy array or torch tensor.

    Examples
    --------
    >>> import numpy as np, torch
    >>> dtype_name(np.zeros(2, np.uint8)), dtype_name(torch.zeros(2))
    ('uint8', 'float32')
    """
    return str(X.dtype).replace("torch.", "")


def check_training_images(X, input_shape=None):
    """Validate training images; return an array or tensor of shape (n, C, H, W).

    Parameters
    ----------
    X : array-like or torch.Tensor of shape (n, C, H, W), (n, H, W) or (n, C*H*W)
        Images; flat rows need ``input_shape``.
    input_shape : tuple of int (C, H, W) or None, default=None
        Shape to fold flat rows into.

    Returns
    -------
    X : ndarray or torch.Tensor of shape (n, C, H, W)

    Examples
    --------
    >>> import numpy as np
    >>> check_training_images(np.zeros((3, 64)), input_shape=(1, 8, 8)).shape
    (3, 1, 8, 8)
    """
    if isinstance(X, torch.utils.data.Dataset):
        raise ValueError(
            f"X must be an array of images, not a Dataset; got {type(X).__name__}"
        )
    return check_images(
        X, name="X", input_shape=input_shape,
        flat_hint="pass input_shape=(C, H, W) to fold flat rows into images",
    )


def check_images_like_training(X, *, input_shape=None, fitted_shape, fitted_dtype,
                               owner="SimilarityLSClassifier"):
    """Validate images given after fit: same (C, H, W) and same dtype rule as in fit.

    Parameters
    ----------
    X : array-like or torch.Tensor
        Images, as for :func:`check_training_images`.
    input_shape : tuple of int or None, default=None
        Shape to fold flat rows into.
    fitted_shape : tuple of int
        ``(C, H, W)`` of the training images.
    fitted_dtype : str or None
        dtype name of the training images (None: not recorded, no check).
    owner : str, default="SimilarityLSClassifier"
        Estimator name used in error messages.

    Returns
    -------
    X : ndarray or torch.Tensor of shape (n, C, H, W)

    Raises
    ------
    ValueError
        For anything :func:`check_training_images` refuses, a different
        number of channels or image size, or uint8 images where the training
        images were not uint8 (or the reverse).

    Examples
    --------
    >>> import numpy as np
    >>> check_images_like_training(np.zeros((2, 1, 8, 8), np.uint8),
    ...                            fitted_shape=(1, 8, 8), fitted_dtype="float32")
    Traceback (most recent call last):
    ...
    ValueError: X has dtype uint8 but SimilarityLSClassifier was fitted on float32 images, which are used as given; uint8 images are divided by 255, so the same pixels would be scaled differently. Pass images of the training dtype (e.g. X.astype(np.float32) in the training units).
    """
    X = check_training_images(X, input_shape)
    shape = tuple(int(s) for s in X.shape[1:])
    c, h, w = fitted_shape
    if shape[0] != c:
        hint = ""
        if X.ndim == 4 and X.shape[-1] == c:
            hint = "; channels-last images must be transposed to (n, C, H, W)"
        raise ValueError(
            f"X has {shape[0]} channels but {owner} was fitted on {c}-channel images "
            f"(X has shape {tuple(X.shape)}){hint}"
        )
    if shape[1:] != (h, w):
        raise ValueError(
            f"X has images of size {shape[1]}x{shape[2]} but {owner} was fitted on "
            f"{h}x{w} images"
        )
    if fitted_dtype is not None and (dtype_name(X) == "uint8") != (fitted_dtype == "uint8"):
        if fitted_dtype == "uint8":
            how = "which are divided by 255; other dtypes are used as given"
            fix = "X.astype(np.uint8) for 0-255 pixels"
        else:
            how = "which are used as given; uint8 images are divided by 255"
            fix = f"e.g. X.astype(np.{fitted_dtype}) in the training units"
        raise ValueError(
            f"X has dtype {dtype_name(X)} but {owner} was fitted on {fitted_dtype} "
            f"images, {how}, so the same pixels would be scaled differently. Pass "
            f"images of the training dtype ({fix})."
        )
    return X


def unit_scale(dtype):
    """Factor of the dtype rule: 1/255 for uint8, 1 otherwise.

    Examples
    --------
    >>> unit_scale("uint8"), unit_scale("float64")
    (0.00392156862745098, 1.0)
    """
    return 1.0 / 255.0 if dtype == "uint8" else 1.0


def input_statistics(X, standardize=True):
    """Per-channel mean and standard deviation of ``X`` after the dtype rule.

    Parameters
    ----------
    X : ndarray or torch.Tensor of shape (n, C, H, W)
        Checked training images (a read-only memmap is fine: chunks are
        copied one at a time).
    standardize : bool, default=True
        False returns ``mean = 0`` and ``std = 1`` without reading ``X``.

    Returns
    -------
    mean, std : ndarray of shape (C,), dtype=float64
        Population statistics; a zero standard deviation is returned as 1.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([0, 255], np.uint8).reshape(2, 1, 1, 1)
    >>> input_statistics(X)
    (array([0.5]), array([0.5]))
    """
    c = X.shape[1]
    if not standardize:
        return np.zeros(c), np.ones(c)
    unit = unit_scale(dtype_name(X))
    # running float64 sums over chunks of samples keep memory bounded
    s1 = torch.zeros(c, dtype=torch.float64)
    s2 = torch.zeros(c, dtype=torch.float64)
    for start in range(0, len(X), _CHUNK):
        chunk = X[start:start + _CHUNK]
        if not isinstance(chunk, torch.Tensor):
            chunk = torch.from_numpy(np.array(chunk, dtype=np.float64))
        chunk = chunk.to(torch.float64) * unit
        s1 += chunk.sum((0, 2, 3)).cpu()
        s2 += chunk.square().sum((0, 2, 3)).cpu()
    count = len(X) * X.shape[2] * X.shape[3]
    mean = (s1 / count).numpy()
    var = np.maximum((s2 / count).numpy() - mean**2, 0.0)
    std = np.sqrt(var)
    std[std < 1e-12] = 1.0
    return mean, std


def input_affine(mean, std, dtype):
    """The map ``x * scale + shift`` of raw pixels of ``dtype`` to network input.

    Parameters
    ----------
    mean, std : array-like of shape (C,)
        From :func:`input_statistics`.
    dtype : str
        dtype name of the training images (sets the 1/255 of uint8).

    Returns
    -------
    scale, shift : torch.Tensor of shape (1, C, 1, 1), float32, on the CPU

    Examples
    --------
    >>> scale, shift = input_affine([0.5], [0.25], "uint8")
    >>> float(255 * scale + shift)
    2.0
    """
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    c = mean.shape[0]
    unit = unit_scale(dtype)
    return (
        torch.as_tensor(unit / std, dtype=torch.float32).view(1, c, 1, 1),
        torch.as_tensor(-mean / std, dtype=torch.float32).view(1, c, 1, 1),
    )


def check_soft_targets(soft_targets, n_samples, classes, *, name="soft_targets",
                       atol=ROW_SUM_ATOL):
    """Validate per-sample soft targets; return them as a float32 tensor.

    Parameters
    ----------
    soft_targets : array-like or torch.Tensor of shape (n_samples, n_classes)
        One probability row per training sample, columns following
        ``classes``. Integer and boolean one-hot rows are accepted.
    n_samples : int
        Number of training samples (rows expected).
    classes : ndarray of shape (n_classes,)
        The classes in column order (for the error messages).
    name : str, default="soft_targets"
        Name used in error messages.
    atol : float, default=1e-4
        Largest accepted deviation of a row sum from 1.

    Returns
    -------
    soft_targets : torch.Tensor of shape (n_samples, n_classes), float32
        On the device of the input (a numpy array gives a CPU tensor); rows
        are not renormalised.

    Raises
    ------
    ValueError
        If the input is not a real numeric 2-D array of ``n_samples`` rows
        and ``len(classes)`` columns, or holds NaN, infinity, negative
        entries or rows that do not sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> check_soft_targets([[0.9, 0.1], [0, 1]], 2, np.array(["a", "b"])).dtype
    torch.float32
    """
    if isinstance(soft_targets, torch.Tensor):
        S = soft_targets.detach()
        if S.is_complex():
            raise ValueError(f"{name} must be real; got dtype {S.dtype}")
    else:
        try:
            arr = np.asarray(soft_targets)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"dtype {arr.dtype} is not a real number type")
            S = torch.as_tensor(arr.astype(np.float32, copy=False))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} must be a numeric array of shape (n_samples, n_classes); got {exc}"
            ) from None
    S = S.float()
    n_classes = len(classes)
    if S.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_classes); got shape {tuple(S.shape)}"
        )
    if S.shape[0] != n_samples:
        raise ValueError(f"{name} has {S.shape[0]} rows but X has {n_samples} samples")
    if S.shape[1] != n_classes:
        raise ValueError(
            f"{name} has {S.shape[1]} columns but there are {n_classes} classes "
            f"{_first_values(classes)}: its columns follow classes_ (the sorted labels "
            "of y, or classes= as given; pass classes= when a split may miss a class)"
        )
    finite = torch.isfinite(S)
    if not bool(finite.all()):
        n_bad = int((~finite).sum())
        raise ValueError(f"{name} contains NaN or infinity ({n_bad} entries)")
    lowest = float(S.min())
    if lowest < 0:
        row = int(torch.nonzero(S < 0)[0, 0])
        raise ValueError(
            f"{name} must be non-negative; got {lowest:.6g} (e.g. in row {row})"
        )
    sums = S.double().sum(dim=1)
    bad = torch.nonzero((sums - 1.0).abs() > atol).ravel()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f"rows of {name} must sum to 1 (within {atol:g}); {bad.numel()} rows do not, "
            f"e.g. row {i} sums to {float(sums[i]):.6g}"
        )
    return S


def combine_soft_targets(soft_targets, soft_labels):
    """Training targets ``soft_targets @ soft_labels`` of per-sample soft targets.

    Row ``i`` is the mixture of the class-level targets ``soft_labels[k]``
    weighted by ``soft_targets[i, k]``: a one-hot row ``e_k`` gives exactly
    ``soft_labels[k]`` (today's target of class ``k``), and with an identity
    ``soft_labels`` (one-hot training) the targets are ``soft_targets``
    themselves. The product is taken in float64 (never TF32) and rounded
    once to float32, so one-hot rows reproduce the class rows bit for bit.

    Parameters
    ----------
    soft_targets : torch.Tensor of shape (n_samples, n_classes), float32
        Checked per-sample targets (:func:`check_soft_targets`).
    soft_labels : ndarray of shape (n_classes, n_classes)
        The class-level soft-label matrix ``Q``.

    Returns
    -------
    targets : torch.Tensor of shape (n_samples, n_classes), float32
        On the device of ``soft_targets``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> Q = np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)
    >>> T = combine_soft_targets(torch.tensor([[0.0, 1.0], [0.5, 0.5]]), Q)
    >>> torch.equal(T[0], torch.from_numpy(Q[1]))  # a one-hot row picks a row of Q
    True
    >>> T[1].round(decimals=2).tolist()
    [0.550000011920929, 0.44999998807907104]
    """
    Q = np.asarray(soft_labels)
    if np.array_equal(Q, np.eye(len(Q), dtype=Q.dtype)):
        return soft_targets
    Q_t = torch.as_tensor(Q, dtype=torch.float64, device=soft_targets.device)
    # chunks bound the float64 temporaries
    rows = [
        (soft_targets[start:start + _CHUNK].double() @ Q_t).float()
        for start in range(0, len(soft_targets), _CHUNK)
    ]
    return torch.cat(rows) if rows else soft_targets
