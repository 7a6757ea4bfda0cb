"""Datasets of the experiments: loading, reduction, held-out split, OOD inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from simcalib._validation import check_scalar_in_range

__all__ = ["ExperimentData", "load_experiment_data", "DATASETS", "ood_inputs"]

DATASETS = ("digits", "cifar100", "tiny-imagenet", "folder")
#: Side of the images of a "folder" dataset when none is given.
DEFAULT_IMAGE_SIZE = 32


@dataclass
class ExperimentData:
    """The arrays of one experiment.

    Attributes
    ----------
    X_train, y_train : ndarray
        Images (n, C, H, W) the networks are trained on, labels in [0, K).
    X_holdout, y_holdout : ndarray
        The calibration split: the post-hoc calibrators are fitted on a
        network's logits of these. Held out from the training data, or drawn
        from the test split (see ``holdout_from``).
    X_test, y_test : ndarray
        Evaluation split.
    class_names : list of str
        Name of each label (multi-word and synonym names for word vectors).
    word_names : list of str
        Name of each class for word vectors: ``class_names``, or the
        comma-separated synonyms of ``words.txt`` for Tiny-ImageNet.
    name : str
        Dataset name.
    holdout_from : {"train", "test"}, default="train"
        Which split the calibration images were drawn from.

    Examples
    --------
    >>> d = load_experiment_data("digits")
    >>> d.n_classes, d.image_shape
    (10, (1, 8, 8))
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_holdout: np.ndarray
    y_holdout: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: list
    word_names: list
    name: str
    holdout_from: str = "train"

    @property
    def n_classes(self):
        """Number of classes K."""
        return len(self.class_names)

    @property
    def image_shape(self):
        """(C, H, W) of one image."""
        return tuple(self.X_train.shape[1:])


def _load_raw(dataset, data_dir, *, max_classes, max_train_per_class, verbose,
              image_size=None):
    from simcalib import datasets

    if dataset == "digits":
        raw = datasets.load_digits_images()
        return raw, list(raw.class_names)
    if data_dir is None:
        raise ValueError(f"data_dir is required for dataset {dataset!r}")
    if dataset == "cifar100":
        raw = datasets.load_cifar100(data_dir)
        return raw, list(raw.class_names)
    if dataset == "tiny-imagenet":
        raw = datasets.load_tiny_imagenet(
            data_dir, classes=max_classes, max_per_class=max_train_per_class, verbose=verbose
        )
        return raw, list(raw.class_descriptions)
    if dataset == "folder":
        raw = datasets.load_image_folder(
            data_dir, image_size=image_size or DEFAULT_IMAGE_SIZE, classes=max_classes,
            max_per_class=max_train_per_class, verbose=verbose,
        )
        return raw, list(raw.class_names)
    raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def _first_per_class(y, n_per_class):
    """Indices of the first ``n_per_class`` samples of every class, in order."""
    order = np.argsort(y, kind="stable")
    ys = y[order]
    starts = np.searchsorted(ys, ys, side="left")
    rank = np.arange(len(ys)) - starts
    return np.sort(order[rank < n_per_class])


def load_experiment_data(
    dataset,
    data_dir=None,
    *,
    max_classes=None,
    max_train_per_class=None,
    holdout=0.1,
    holdout_from="train",
    random_state=0,
    verbose=False,
    image_size=None,
):
    """Load a dataset, optionally reduce it, and hold out a calibration split.

    Parameters
    ----------
    dataset : {"digits", "cifar100", "tiny-imagenet", "folder"}
        Which dataset; ``"folder"`` is a folder of the user's images with one
        sub-folder per class (:func:`~simcalib.datasets.load_image_folder`).
    data_dir : str or os.PathLike, default=None
        Where it lives (not needed for digits).
    max_classes : int, default=None
        Keep only the first classes (labels ``0 .. max_classes - 1``).
    max_train_per_class : int, default=None
        Keep only the first training images of each class (before the
        held-out split); the test split is reduced to the kept classes only.
        Digits has no official test split (scikit-learn ships one pool of
        1797 images, split at random by
        :func:`~simcalib.datasets.load_digits_images`), so there the
        training images left out join the test split: 4 images per class
        train the network and the other 1757 evaluate it.
    holdout : float, default=0.1
        Fraction of the ``holdout_from`` split (stratified by class) held
        out to fit the post-hoc calibrators.
    holdout_from : {"train", "test"}, default="train"
        ``"train"``: the calibration images are held out from the training
        images and every method trains on the same remaining images.
        ``"test"``: they are drawn per class from the test split, which
        keeps the rest, and the networks train on every training image.
        The second removes any shift between training and test
        distribution from the calibrators: on Tiny-ImageNet the official
        val images are harder than held-out training images, so a
        temperature fitted on the latter is too small for the former.
    random_state : int, default=0
        Seed of the held-out split (the same for every method and seed, so
        that the methods are compared on identical data).
    verbose : bool, default=False
        Progress of the loaders.
    image_size : int, default=None
        ``"folder"`` only: side of the square images (None: 32).

    Returns
    -------
    data : ExperimentData

    Examples
    --------
    >>> d = load_experiment_data("digits", max_classes=3)
    >>> d.n_classes, d.image_shape, sorted(set(d.y_test.tolist()))
    (3, (1, 8, 8), [0, 1, 2])
    >>> d = load_experiment_data("digits", max_train_per_class=4, holdout=0.5,
    ...                          holdout_from="test")
    >>> len(d.y_train), len(d.y_holdout), len(d.y_test)
    (40, 879, 878)
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    check_scalar_in_range(holdout, "holdout", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    if holdout_from not in ("train", "test"):
        raise ValueError(f"holdout_from must be 'train' or 'test'; got {holdout_from!r}")
    if max_classes is not None:
        check_scalar_in_range(max_classes, "max_classes", lo=2, integer=True)
    if max_train_per_class is not None:
        # the held-out split is stratified: every class needs two images
        check_scalar_in_range(max_train_per_class, "max_train_per_class", lo=2, integer=True)
    raw, word_names = _load_raw(
        dataset, data_dir, max_classes=max_classes,
        max_train_per_class=max_train_per_class, verbose=verbose, image_size=image_size,
    )
    X, y = raw.X_train, np.asarray(raw.y_train)
    X_test, y_test = raw.X_test, np.asarray(raw.y_test)
    names = list(raw.class_names)
    if max_classes is not None:
        if not 2 <= max_classes <= len(names):
            raise ValueError(f"max_classes must be in [2, {len(names)}]; got {max_classes}")
        keep, keep_test = y < max_classes, y_test < max_classes
        X, y, X_test, y_test = X[keep], y[keep], X_test[keep_test], y_test[keep_test]
        names = names[:max_classes]
        word_names = word_names[:max_classes]
    if max_train_per_class is not None:
        idx = _first_per_class(y, max_train_per_class)
        if dataset == "digits":  # one iid pool: the images left out evaluate
            rest = np.setdiff1d(np.arange(len(y)), idx)
            X_test = np.concatenate([np.asarray(X)[rest], np.asarray(X_test)])
            y_test = np.concatenate([y[rest], y_test])
        X, y = X[idx], y[idx]
    X, y = np.asarray(X), np.asarray(y, dtype=np.int64)
    X_test, y_test = np.asarray(X_test), np.asarray(y_test, dtype=np.int64)
    if holdout_from == "train":
        (X_tr, y_tr), (X_ho, y_ho) = _stratified_split(
            X, y, holdout, len(names), random_state,
            what="training images", fix="raise max_train_per_class or change holdout")
    else:
        X_tr, y_tr = X, y
        (X_test, y_test), (X_ho, y_ho) = _stratified_split(
            X_test, y_test, holdout, len(names), random_state,
            what="test images", fix="change holdout")
    return ExperimentData(
        X_train=X_tr, y_train=y_tr, X_holdout=X_ho, y_holdout=y_ho,
        X_test=X_test, y_test=y_test,
        class_names=names, word_names=word_names, name=dataset, holdout_from=holdout_from,
    )


def _stratified_split(X, y, fraction, n_classes, random_state, *, what, fix):
    """``(X_keep, y_keep), (X_out, y_out)``: ``fraction`` of the samples drawn per class.

    Raises ValueError, naming ``what`` and ``fix``, when a class would end
    up without a sample on either side.
    """
    counts = np.bincount(y, minlength=n_classes)
    n_out = int(np.ceil(fraction * len(y)))
    if counts.min() < 2 or not n_classes <= n_out <= len(y) - n_classes:
        raise ValueError(
            f"holdout={fraction:g} of {len(y)} {what} ({counts.min()} in the "
            f"smallest of {n_classes} classes) cannot give every class an image on both "
            f"sides of the stratified held-out split; {fix}"
        )
    X_keep, X_out, y_keep, y_out = train_test_split(
        X, y, test_size=fraction, random_state=random_state, stratify=y
    )
    return (X_keep, y_keep), (X_out, y_out)


def _sample_image_patches(n, shape, rng):
    """Random crops of scikit-learn's two sample photos, resized to ``shape``."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # two (427, 640, 3) uint8 photos
    c, h, w = shape
    out = np.empty((n, h, w, 3), dtype=np.float32)
    for i in range(n):  # n is a few hundred; each crop is a different size
        photo = photos[i % len(photos)]
        scale = int(rng.integers(2, 9))
        ch, cw = h * scale, w * scale
        top = int(rng.integers(0, photo.shape[0] - ch + 1))
        left = int(rng.integers(0, photo.shape[1] - cw + 1))
        crop = photo[top:top + ch, left:left + cw].astype(np.float32)
        out[i] = crop.reshape(h, scale, w, scale, 3).mean(axis=(1, 3))
    if c == 1:
        out = out @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        out = out[..., None]
    return out.transpose(0, 3, 1, 2)  # (n, c, h, w), values 0..255


def ood_inputs(data, *, n=500, other=None, other_name="other dataset", random_state=0):
    """Out-of-distribution inputs for the paper's Fig. 3.

    Parameters
    ----------
    data : ExperimentData
        The in-distribution data (sets the image shape and dtype).
    n : int, default=500
        Number of images of each kind.
    other : ndarray of shape (m, C', H', W'), default=None
        Images of another dataset (e.g. Tiny-ImageNet's validation set for a
        CIFAR-100 model). Resized by nearest-neighbour sampling and converted
        to the channel count when needed. Default: random crops of
        scikit-learn's sample photos (needs Pillow), downsampled to the image
        size.
    other_name : str, default="other dataset"
        Key of ``other`` in the result (e.g. ``"Tiny-ImageNet val"``).
    random_state : int, default=0
        Seed.

    Returns
    -------
    ood : dict of str -> ndarray
        ``other_name`` (or ``"sample photo crops"`` by default, when Pillow is
        installed) and ``"uniform noise"``, each of
        shape (n, C, H, W) and the dtype of ``data.X_train``.

    Examples
    --------
    >>> d = load_experiment_data("digits")
    >>> ood_inputs(d, n=4)["uniform noise"].shape
    (4, 1, 8, 8)
    """
    check_scalar_in_range(n, "n", lo=1, integer=True)
    if other is not None:
        other = np.asarray(other)
        if other.ndim != 4 or len(other) == 0 or 0 in other.shape[1:]:
            raise ValueError(
                f"other must be a non-empty array of images (m, C, H, W); got shape {other.shape}"
            )
    rng = np.random.default_rng(random_state)
    c, h, w = data.image_shape
    as_uint8 = data.X_train.dtype == np.uint8
    hi = 255.0 if as_uint8 else float(np.max(data.X_train))
    result = {}
    if other is not None:
        pick = rng.choice(len(other), size=min(n, len(other)), replace=False)
        imgs = other[np.sort(pick)].astype(np.float32)
        if other.dtype == np.uint8 and not as_uint8:
            imgs = imgs / 255.0 * hi
        rows = (np.arange(h) * imgs.shape[2] // h)
        cols = (np.arange(w) * imgs.shape[3] // w)
        imgs = imgs[:, :, rows][:, :, :, cols]
        if imgs.shape[1] != c:
            imgs = imgs.mean(axis=1, keepdims=True).repeat(c, axis=1)
        result[other_name] = imgs
    else:
        try:
            patches = _sample_image_patches(n, (c, h, w), rng)
        except ImportError:  # Pillow missing: scikit-learn cannot read the photos
            patches = None
        if patches is not None:
            result["sample photo crops"] = patches * (hi / 255.0)
    result["uniform noise"] = rng.uniform(0.0, hi, size=(n, c, h, w)).astype(np.float32)
    dtype = data.X_train.dtype
    return {
        k: (np.clip(np.round(v), 0, 255).astype(np.uint8) if as_uint8 else v.astype(dtype))
        for k, v in result.items()
    }
