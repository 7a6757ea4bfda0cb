"""A folder of images, one sub-folder per class: the user's own data.

Layouts::

    root/<class name>/**/*.jpg|png|...          split into train / test here
    root/train/<class name>/**/*.jpg|png|...    split given by the folders
    root/test/<class name>/...  (or root/val/<class name>/...)

Every image is decoded with Pillow (in worker processes when there are many),
converted to RGB or greyscale, centre-cropped to the aspect ratio of
``image_size`` and resized to it; the uint8 arrays are cached on disk like
:func:`~simcalib.datasets.load_tiny_imagenet`'s and memory-mapped on later
loads. The class names are the folder names, so name-based similarities
(word vectors, WordNet) need nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from simcalib.datasets._cache import (
    default_cache_dir,
    load_array_cache,
    save_array_cache,
)
from simcalib.datasets._decode import CHUNK, decode_images
from simcalib.datasets._tiny_imagenet import (
    _check_loader_options,
    _natural_key,
    _read_entry,
    _select_classes,
)

__all__ = ["load_image_folder", "IMAGE_SUFFIXES"]

#: File name endings read as images (case-insensitive); other files are ignored.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_SPLIT_TEST = ("test", "val")
_CACHE_VERSION = 1
_CHUNK = CHUNK  # images per worker task (a module global, so tests can shrink it)
_COLOR_MODES = {"rgb": "RGB", "grayscale": "L"}
_LABELS = ("index", "name")

_DESCR = """\
Images from a folder with one sub-folder per class ({root}); class names are
the folder names. {split}. Images are centre-cropped to the aspect ratio of
{size[1]}x{size[0]} (width x height), resized to it with Pillow's Lanczos
filter and stored as uint8, channels first ({mode})."""


def _is_hidden(name):
    return name.startswith(".") or name.startswith("__")


def _class_dirs(folder):
    """Sorted ``[(name, path)]`` of the class sub-folders of ``folder``."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: _natural_key(e.name))
    except OSError as exc:
        raise ValueError(f"cannot list {folder}: {exc.strerror or exc}") from None
    return [(e.name, Path(e.path)) for e in entries if e.is_dir() and not _is_hidden(e.name)]


def _images_under(folder):
    """Image files below ``folder`` (any depth), in natural name order."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
        found += [
            Path(dirpath) / f for f in filenames
            if not _is_hidden(f) and f.lower().endswith(IMAGE_SUFFIXES)
        ]
    rel = {p: p.relative_to(folder).as_posix() for p in found}
    return sorted(found, key=lambda p: _natural_key(rel[p]))


def _find_layout(root):
    """``(train folder, test folder or None)``: the split folders when they exist."""
    train = root / "train"
    tests = [root / name for name in _SPLIT_TEST if (root / name).is_dir()]
    if train.is_dir() and tests:
        return train, tests[0]
    if train.is_dir() or tests:
        present = [p.name for p in [train, *tests] if p.is_dir()]
        # a lone train/ or test/ folder is a class named "train" only if
        # nothing suggests a split: refuse the ambiguous layout
        raise ValueError(
            f"{root} has a {'/'.join(present)}/ folder but not both train/ and "
            f"test/ (or val/); put every class folder under both, or none of them"
        )
    return root, None


def _scan(folder, where):
    """``{class name: [image paths]}`` of one split folder."""
    classes = _class_dirs(folder)
    if not classes:
        loose = _images_under(folder)
        hint = (f" (it holds {len(loose)} images directly; move them into one "
                "folder per class)") if loose else ""
        raise ValueError(f"no class folders in {where}{hint}; expected "
                         f"{where}/<class name>/<image files>")
    images = {name: _images_under(path) for name, path in classes}
    empty = [name for name, files in images.items() if not files]
    if empty:
        raise ValueError(
            f"class folders without images in {where}: {empty[:10]} (images are files "
            f"ending in {', '.join(IMAGE_SUFFIXES)})"
        )
    return images


def _split_items(per_class, names, test_size, random_state):
    from sklearn.model_selection import train_test_split

    paths = [p for n in names for p in per_class[n]]
    labels = np.array([k for k, n in enumerate(names) for _ in per_class[n]], dtype=np.int64)
    counts = np.bincount(labels, minlength=len(names))
    n_test = int(np.ceil(test_size * len(labels)))
    if counts.min() < 2 or not len(names) <= n_test <= len(labels) - len(names):
        small = names[int(np.argmin(counts))]
        raise ValueError(
            f"test_size={test_size:g} of {len(labels)} images ({counts.min()} in class "
            f"{small!r}) cannot put every class on both sides of the stratified split; "
            "add images or give train/ and test/ folders"
        )
    idx = np.arange(len(labels))
    tr, te = train_test_split(idx, test_size=test_size, random_state=random_state,
                              stratify=labels)
    tr, te = np.sort(tr), np.sort(te)
    return ([paths[i] for i in tr], labels[tr]), ([paths[i] for i in te], labels[te])


def _decode_resized(items, *, size, mode):
    """Decode ``[(where, path), ...]`` to ``(n, H, W, C)`` uint8, cropped and resized."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    h, w = size
    channels = 3 if mode == "RGB" else 1
    out = np.empty((len(items), h, w, channels), dtype=np.uint8)
    for i, (where, entry) in enumerate(items):
        raw = _read_entry(entry, where)
        try:
            with Image.open(io.BytesIO(raw)) as im:
                # JPEG: let the decoder shrink by a power of two first (fast)
                im.draft(mode, (max(w, h), max(w, h)))
                im = ImageOps.exif_transpose(im)  # photos carry their rotation in EXIF
                if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                    # composite onto black: a plain convert would keep the
                    # colour of fully transparent pixels
                    im = Image.alpha_composite(Image.new("RGBA", im.size, (0, 0, 0, 255)),
                                               im.convert("RGBA"))
                if im.mode != mode:
                    im = im.convert(mode)
                im = ImageOps.fit(im, (w, h), method=Image.Resampling.LANCZOS)
                arr = np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                Image.DecompressionBombError) as exc:
            raise ValueError(f"corrupt or unreadable image {where}: {exc}") from None
        out[i] = arr.reshape(h, w, channels)
    return out


def _stamp(files, root):
    """Paths, sizes and modification times of every image: a changed file rebuilds."""
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _check_size(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif (isinstance(image_size, (tuple, list)) and len(image_size) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                  for v in image_size)):
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise ValueError(
            f"image_size must be an int or a (height, width) pair of ints; got {image_size!r}"
        )
    if not all(1 <= v <= 4096 for v in size):
        raise ValueError(f"image_size must be between 1 and 4096 pixels; got {image_size!r}")
    return size


def load_image_folder(
    root,
    *,
    image_size=32,
    color_mode="rgb",
    labels="index",
    test_size=0.2,
    random_state=0,
    classes=None,
    max_per_class=None,
    cache=True,
    cache_dir=None,
    n_jobs=None,
    verbose=False,
):
    """Load a folder of images with one sub-folder per class.

    The common layout of image classification data: ``root/<class
    name>/<images>``, or the same under ``root/train/`` and ``root/test/``
    (or ``root/val/``) when the split is given. Class names are the folder
    names (sorted in natural order: ``class2`` before ``class10``), so
    :class:`~simcalib.similarity.WordEmbeddingSimilarity` and
    :class:`~simcalib.similarity.WordNetSimilarity` work on them directly
    (name folders ``maple_tree``, ``dog``, or WordNet ids ``n02085620``).

    The first load decodes every image with Pillow, in worker processes
    when there are thousands, and caches the arrays; later loads memory-map
    the cache. Adding, removing or changing an image (its size or
    modification time) makes a new cache entry.

    Parameters
    ----------
    root : str or os.PathLike
        The folder.
    image_size : int or (height, width), default=32
        Size of the returned images. Each image is centre-cropped to this
        aspect ratio and resized with Pillow's Lanczos filter (the JPEG
        decoder first shrinks large photos by a power of two); photos are
        turned upright by their EXIF orientation.
    color_mode : {"rgb", "grayscale"}, default="rgb"
        Three channels, or one (Pillow's ``"L"`` conversion). Transparent
        pixels become black.
    labels : {"index", "name"}, default="index"
        ``y_train`` / ``y_test`` as integer indices into ``class_names``, or
        as the class names themselves (strings), which a
        :class:`~simcalib.classifier.SimilarityLSClassifier` then keeps as
        its ``classes_`` and hands to a name-based similarity.
    test_size : float in (0, 1), default=0.2
        Fraction of the images of every class put in the test split (a
        stratified random split) when the folder has no ``train/`` and
        ``test/`` folders; ignored when it has.
    random_state : int, default=0
        Seed of that split.
    classes : int or list of str, default=None
        Load only these classes: the first ``classes`` folders, or the
        named ones. None loads every class folder.
    max_per_class : int, default=None
        Keep at most this many images of each class in each split (the
        first in natural file-name order), for quick reduced runs.
    cache : bool, default=True
        Read and write the cache; False decodes every time and returns
        in-memory arrays.
    cache_dir : str or os.PathLike, default=None
        Where to cache; default ``$SIMCALIB_CACHE`` or ``~/.cache/simcalib``
        (see :func:`~simcalib.datasets._cache.default_cache_dir`).
    n_jobs : int, default=None
        Worker processes for decoding: None uses up to 8 CPUs for more than
        a few thousand images, -1 all CPUs, 1 decodes in this process.
    verbose : bool, default=False
        Messages on standard error and a progress bar (on a terminal).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields

        X_train : ndarray of shape (n_train, C, H, W), dtype uint8
            Training images, channels first (C = 3 for ``"rgb"``, 1 for
            ``"grayscale"``). A read-only memory map when cached.
        y_train : ndarray of shape (n_train,)
            Labels: int64 indices into ``class_names``, or the names.
        X_test, y_test : ndarray
            The test split, the same way.
        class_names : list of str
            The class folder names, label ``k`` being ``class_names[k]``.
        files_train, files_test : list of str
            Each image's path relative to ``root``, in array order.
        DESCR : str
            A description of the data.

    Raises
    ------
    FileNotFoundError
        When ``root`` does not exist.
    ValueError
        On a wrong layout (no class folders, an empty class, a class of the
        test folder that the training folder lacks), too few images for
        the split, or an image that cannot be decoded; the message names
        the folder or file.

    See Also
    --------
    load_tiny_imagenet : Tiny-ImageNet-200 in its official layout.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name, value in [("cat", 40), ("dog", 200)]:
    ...     (root / name).mkdir()
    ...     for i in range(5):
    ...         Image.new("RGB", (20, 12), (value, i, 0)).save(root / name / f"{i}.png")
    >>> data = load_image_folder(root, image_size=8, cache=False)
    >>> data.X_train.shape, data.X_test.shape, data.class_names
    ((8, 3, 8, 8), (2, 3, 8, 8), ['cat', 'dog'])
    >>> load_image_folder(root, image_size=8, labels="name", cache=False).y_test.tolist()
    ['cat', 'dog']
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or os.PathLike); got {root!r}")
    size = _check_size(image_size)
    if not isinstance(color_mode, str) or color_mode not in _COLOR_MODES:
        raise ValueError(f"color_mode must be one of {sorted(_COLOR_MODES)}; got {color_mode!r}")
    if not isinstance(labels, str) or labels not in _LABELS:
        raise ValueError(f"labels must be one of {_LABELS}; got {labels!r}")
    if isinstance(test_size, bool) or not isinstance(test_size, (float, np.floating)) \
            or not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a float in (0, 1); got {test_size!r}")
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise ValueError(f"random_state must be an int; got {random_state!r}")
    if classes is not None and (
        isinstance(classes, (bool, str, bytes))
        or not (isinstance(classes, (int, np.integer)) or hasattr(classes, "__iter__"))
    ):
        raise ValueError(
            f"classes must be None, a number of classes or a list of folder names; got {classes!r}"
        )
    _check_loader_options(max_per_class, n_jobs, cache_dir)
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"image folder not found: {path} does not exist")
    if not path.is_dir():
        raise ValueError(f"{path} is a file; expected a folder with one sub-folder per class")
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise ImportError(
            "load_image_folder decodes images with Pillow: pip install 'simcalib[images]'"
        ) from None

    start = time.monotonic()
    train_dir, test_dir = _find_layout(path)
    train_images = _scan(train_dir, str(train_dir))
    names = _select_classes(list(train_images), classes, str(train_dir), minimum=2,
                            relation="are not folders of")
    if test_dir is not None:
        test_images = _scan(test_dir, str(test_dir))
        unknown = [n for n in test_images if n not in train_images]
        if unknown:
            raise ValueError(
                f"class folders of {test_dir} that {train_dir} lacks: {unknown[:10]}"
            )
        missing = [n for n in names if n not in test_images]
        if missing:
            raise ValueError(f"{test_dir} has no folder for the classes {missing[:10]}")
        index = {n: k for k, n in enumerate(names)}
        train = ([p for n in names for p in train_images[n]],
                 np.array([index[n] for n in names for _ in train_images[n]], dtype=np.int64))
        test = ([p for n in names for p in test_images[n]],
                np.array([index[n] for n in names for _ in test_images[n]], dtype=np.int64))
        split_text = f"Train / test split from the folders {train_dir.name}/ and {test_dir.name}/"
    else:
        train, test = _split_items(train_images, names, test_size, random_state)
        split_text = (f"Stratified random train / test split, test_size={test_size:g}, "
                      f"random_state={random_state}")
    if max_per_class is not None:
        train, test = (_first_per_class(*s, max_per_class) for s in (train, test))

    mode = _COLOR_MODES[color_mode]
    entry = None
    if cache:
        everything = sorted(set(train[0]) | set(test[0]))
        ident = json.dumps([
            _CACHE_VERSION, str(path.resolve()), _stamp(everything, path), list(size), mode,
            names, [p.relative_to(path).as_posix() for p in train[0]],
            [p.relative_to(path).as_posix() for p in test[0]],
        ])
        key = hashlib.sha256(ident.encode()).hexdigest()[:16]
        cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        entry = cache_root / "image-folder" / key
        cached = _valid_entry(load_array_cache(entry), len(train[0]), len(test[0]))
        if cached is not None:
            if verbose:
                sys.stderr.write(f"{path}: loaded cached arrays from {entry}\n")
            return _bunch(*cached, labels=labels)

    if verbose:
        sys.stderr.write(f"{path}: decoding {len(train[0])} training and {len(test[0])} "
                         f"test images of {len(names)} classes\n")
    decode = functools.partial(_decode_resized, size=size, mode=mode)
    channels = 3 if mode == "RGB" else 1

    def decoded(files, what):
        items = [(str(p), str(p)) for p in files]
        X = decode_images(items, decode, n_jobs=n_jobs, verbose=verbose, what=what,
                          chunk=_CHUNK, empty_shape=(size[0], size[1], channels))
        return np.ascontiguousarray(X.transpose(0, 3, 1, 2))

    arrays = {
        "X_train": decoded(train[0], "train"), "y_train": train[1],
        "X_test": decoded(test[0], "test"), "y_test": test[1],
    }
    meta = {
        "class_names": names,
        "files_train": [p.relative_to(path).as_posix() for p in train[0]],
        "files_test": [p.relative_to(path).as_posix() for p in test[0]],
        "descr": _DESCR.format(root=path.name, split=split_text, size=size, mode=mode),
    }
    if entry is not None:
        try:
            save_array_cache(entry, arrays, meta)
        except OSError as exc:
            # a read-only or full cache must not cost the user the decoded data
            warnings.warn(
                f"cannot write the image cache {entry} ({exc.strerror or exc}); returning "
                "the arrays without caching them", RuntimeWarning, stacklevel=2,
            )
        else:
            cached = _valid_entry(load_array_cache(entry, verify="size"),
                                  len(train[0]), len(test[0]))
            if cached is not None:
                arrays, meta = cached
    if verbose:
        sys.stderr.write(f"{path}: {len(train[0])} train / {len(test[0])} test images in "
                         f"{time.monotonic() - start:.1f} s\n")
    return _bunch(arrays, meta, labels=labels)


def _first_per_class(files, y, n):
    keep = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        keep[np.flatnonzero(y == k)[:n]] = True
    return [f for f, k in zip(files, keep) if k], y[keep]


def _valid_entry(cached, n_train, n_test):
    """``cached`` when it holds what this loader writes, consistently; else None."""
    if cached is None:
        return None
    arrays, meta = cached
    try:
        ok = (
            len(arrays["X_train"]) == len(arrays["y_train"]) == n_train
            and len(arrays["X_test"]) == len(arrays["y_test"]) == n_test
            and arrays["X_train"].ndim == arrays["X_test"].ndim == 4
            and all(isinstance(meta[k], list) for k in ("class_names", "files_train", "files_test"))
            and isinstance(meta["descr"], str)
        )
    except (KeyError, TypeError):
        return None
    return cached if ok else None


def _bunch(arrays, meta, *, labels):
    names = list(meta["class_names"])
    y_train, y_test = arrays["y_train"], arrays["y_test"]
    if labels == "name":
        table = np.array(names)
        y_train, y_test = table[np.asarray(y_train)], table[np.asarray(y_test)]
    return Bunch(
        X_train=arrays["X_train"], y_train=y_train,
        X_test=arrays["X_test"], y_test=y_test,
        class_names=names,
        files_train=list(meta["files_train"]), files_test=list(meta["files_test"]),
        DESCR=meta["descr"],
    )
