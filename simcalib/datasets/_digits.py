"""scikit-learn's digits as small images: the dataset that ships with the dependencies."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

__all__ = ["load_digits_images", "DIGIT_NAMES"]

#: English names of the ten digits; all are in common word-vector vocabularies.
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

_DESCR = """\
scikit-learn's optical recognition of handwritten digits (UCI ML): 1797
greyscale images of 8x8 pixels in 10 classes, pixel values 0-16 in the
original. Returned as (n, 1, 8, 8) images with the class names
``zero`` ... ``nine`` and a fixed stratified train / test split."""


def load_digits_images(*, dtype="float32", test_size=0.25, random_state=0):
    """Load scikit-learn's digits as (n, 1, 8, 8) images with class names.

    Ships with scikit-learn, so it needs no download: the dataset of
    ``simcalib demo``.

    Parameters
    ----------
    dtype : {"float32", "uint8"}, default="float32"
        ``"float32"``: pixel values scaled to [0, 1] (original value / 16).
        ``"uint8"``: scaled to 0..255 like the other image datasets.
    test_size : float, default=0.25
        Fraction of the images in the test split (stratified by class).
    random_state : int, default=0
        Seed of the split.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields

        images : ndarray of shape (1797, 1, 8, 8)
            All images, channels first.
        target : ndarray of shape (1797,), dtype int64
            Labels in [0, 10).
        X_train, X_test : ndarray of shape (n_train, 1, 8, 8) and (n_test, 1, 8, 8)
            Training and test images.
        y_train, y_test : ndarray of dtype int64
            The stratified split.
        class_names : list of str
            ``["zero", "one", ..., "nine"]``.
        DESCR : str
            A description of the dataset.

    Examples
    --------
    >>> data = load_digits_images()
    >>> data.images.shape, data.images.dtype.name, data.class_names[3]
    ((1797, 1, 8, 8), 'float32', 'three')
    >>> data.X_train.shape[0] + data.X_test.shape[0]
    1797
    """
    if dtype not in ("float32", "uint8"):
        raise ValueError(f"dtype must be 'float32' or 'uint8'; got {dtype!r}")
    if not (isinstance(test_size, float) and 0.0 < test_size < 1.0):
        raise ValueError(f"test_size must be a float in (0, 1); got {test_size!r}")
    raw = load_digits()
    n, k = len(raw.target), len(DIGIT_NAMES)
    n_test = int(np.ceil(test_size * n))
    if not k <= n_test <= n - k:
        raise ValueError(
            f"test_size={test_size!r} leaves {n - n_test} training and {n_test} test images "
            f"of {n}; each split needs at least one image per class ({k})"
        )
    pixels = raw.images[:, None, :, :]  # (n, 1, 8, 8), values 0..16
    if dtype == "float32":
        images = (pixels / 16.0).astype(np.float32)
    else:
        images = np.round(pixels * (255.0 / 16.0)).astype(np.uint8)
    target = raw.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        images, target, test_size=test_size, random_state=random_state, stratify=target
    )
    return Bunch(
        images=images,
        target=target,
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        class_names=list(DIGIT_NAMES),
        DESCR=_DESCR,
    )
