"""Tiny-ImageNet-200 in its official ``tiny-imagenet-200`` layout.

The source may be the extracted folder, the official zip, or a tar archive
(``.tar``, ``.tar.gz``, ``.tar.xz``, ...). All image bytes are read in one
sequential pass (compressed tar archives have no random access), decoded with
Pillow in worker processes, and the uint8 arrays are cached on disk as
``.npy`` files that later loads memory-map.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import tarfile
import time
import warnings
import zipfile
from pathlib import Path, PurePosixPath

import numpy as np
from sklearn.utils import Bunch

from simcalib.datasets._cache import (
    default_cache_dir,
    load_array_cache,
    save_array_cache,
)
from simcalib.datasets._decode import CHUNK, decode_images

__all__ = ["load_tiny_imagenet"]

_FOLDER = "tiny-imagenet-200"
_IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
_TEXT_FILES = ("wnids.txt", "words.txt", "val_annotations.txt")
_CACHE_VERSION = 1
_CHUNK = CHUNK

_DESCR = """\
Tiny-ImageNet-200 (Stanford CS231n): 200 ImageNet classes, 500 training and
50 validation images per class (the official test split has no public
labels, so the validation split is returned as the test split). The class of
label i is line i of ``wnids.txt``; names come from ``words.txt``;
validation labels from ``val/val_annotations.txt``."""


def _natural_key(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


class _Source:
    """The files of one dataset copy: relative path -> bytes or a file path."""

    def __init__(self, label, files):
        self.label = label  # how the source is named in error messages
        self.files = files
        self._is_dir = Path(label).is_dir()

    def where(self, rel):
        """Name of the file ``rel`` for messages: a path, or ``archive:member``."""
        return str(Path(self.label) / rel) if self._is_dir else f"{self.label}:{rel}"

    def text(self, rel):
        if rel not in self.files:
            raise ValueError(
                f"wrong Tiny-ImageNet layout: {self.where(rel)} is missing"
            )
        raw = _read_entry(self.files[rel], self.where(rel))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{self.where(rel)} is not UTF-8 text: {exc}") from None


def _read_entry(entry, where):
    if isinstance(entry, bytes):
        return entry
    try:
        with open(entry, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ValueError(f"cannot read {where}: {exc}") from None


def _relevant(name):
    low = name.lower()
    base = PurePosixPath(name).name
    return base in _TEXT_FILES or low.endswith(_IMAGE_SUFFIXES)


def _strip_prefix(names_to_entries, label):
    """Re-key archive members relative to the folder holding ``wnids.txt``."""
    candidates = [n for n in names_to_entries if PurePosixPath(n).name == "wnids.txt"]
    if not candidates:
        raise ValueError(
            f"wrong Tiny-ImageNet layout: no wnids.txt found in {label} "
            f"(expected {_FOLDER}/wnids.txt)"
        )
    wnids = min(candidates, key=lambda n: (n.count("/"), n))
    prefix = wnids[: -len("wnids.txt")]
    return {n[len(prefix):]: e for n, e in names_to_entries.items() if n.startswith(prefix)}


def _open_source(root):
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"Tiny-ImageNet not found: {path} does not exist (expected a "
            f"{_FOLDER} folder, its zip or a tar archive)"
        )
    if path.is_dir():
        base = path if (path / "wnids.txt").is_file() else path / _FOLDER
        if not (base / "wnids.txt").is_file():
            raise ValueError(
                f"wrong Tiny-ImageNet layout: no wnids.txt in {path} or {path / _FOLDER}"
            )
        files = {}
        for name in _TEXT_FILES[:2]:
            if (base / name).is_file():
                files[name] = str(base / name)
        if (base / "val" / "val_annotations.txt").is_file():
            files["val/val_annotations.txt"] = str(base / "val" / "val_annotations.txt")
        for split_dir in (base / "train", base / "val" / "images"):
            if not split_dir.is_dir():
                continue
            for dirpath, _, filenames in os.walk(split_dir):
                for fname in filenames:
                    if fname.lower().endswith(_IMAGE_SUFFIXES):
                        full = Path(dirpath) / fname
                        files[full.relative_to(base).as_posix()] = str(full)
        return _Source(str(base), files)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                files = {
                    info.filename: zf.read(info)
                    for info in zf.infolist()
                    if not info.is_dir() and _relevant(info.filename)
                }
        except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as exc:
            raise ValueError(f"cannot read zip archive {path}: {exc}") from None
        return _Source(str(path), _strip_prefix(files, path))
    try:
        tar = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        # tarfile lists every compression it tried, one per line: keep the first
        reason = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__
        raise ValueError(
            f"{path} is neither a Tiny-ImageNet folder, a zip nor a readable tar "
            f"archive ({reason})"
        ) from None
    files = {}
    try:
        with tar:
            for member in tar:
                if member.isfile() and _relevant(member.name):
                    fh = tar.extractfile(member)
                    files[member.name] = fh.read()
                    if len(files[member.name]) != member.size:
                        raise EOFError(f"member {member.name} is truncated")
    except (tarfile.TarError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"cannot read tar archive {path} (truncated or corrupt?): {exc}") from None
    return _Source(str(path), _strip_prefix(files, path))


def _require_pillow():
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise ImportError(
            "load_tiny_imagenet decodes JPEGs with Pillow: pip install 'simcalib[images]'"
        ) from None


def _decode_chunk(items):
    """Decode ``[(where, bytes-or-path), ...]`` into an (n, H, W, 3) uint8 array."""
    from PIL import Image, UnidentifiedImageError

    out = None
    for i, (where, entry) in enumerate(items):
        raw = _read_entry(entry, where)
        try:
            with Image.open(io.BytesIO(raw)) as im:
                im.draft("RGB", im.size)
                if im.mode != "RGB":  # a few Tiny-ImageNet images are greyscale
                    im = im.convert("RGB")
                arr = np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ValueError(f"corrupt image {where}: {exc}") from None
        if out is None:
            out = np.empty((len(items),) + arr.shape, dtype=np.uint8)
        elif arr.shape != out.shape[1:]:
            raise ValueError(
                f"image {where} has size {arr.shape[1]}x{arr.shape[0]}; the "
                f"others have {out.shape[2]}x{out.shape[1]}"
            )
        out[i] = arr
    return out


def _decode_all(items, n_jobs, verbose, what):
    """Decode every item, in worker processes when there are many."""
    return decode_images(items, _decode_chunk, n_jobs=n_jobs, verbose=verbose, what=what,
                         chunk=_CHUNK)


def _parse_words(text, wnids, where):
    table = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        wnid, _, names = line.partition("\t")
        table[wnid.strip()] = names.strip()
    missing = [w for w in wnids if w not in table]
    if missing:
        raise ValueError(f"{where} has no names for the class ids {missing[:10]}")
    descriptions = [table[w] for w in wnids]
    synonyms = [[s.strip() for s in d.split(",") if s.strip()] for d in descriptions]
    return descriptions, synonyms


def _select_classes(wnids, classes, where, *, minimum=1, relation="are not in"):
    """The classes a loader keeps: all, the first ``classes``, or those named.

    One rule for every loader (Tiny-ImageNet wnids, image-folder names):
    named classes keep the dataset's order; ``minimum`` is the fewest a
    selection may hold; errors name ``where`` the names come from.
    """
    if classes is None:
        return list(wnids)
    if isinstance(classes, (int, np.integer)) and not isinstance(classes, bool):
        if not minimum <= classes <= len(wnids):
            raise ValueError(f"classes must be in [{minimum}, {len(wnids)}]; got {classes}")
        return list(wnids[:classes])
    classes = [str(c) for c in classes]
    unknown = [c for c in classes if c not in wnids]
    if unknown:
        raise ValueError(f"classes {unknown[:10]} {relation} {where}")
    if not classes:
        raise ValueError("classes is empty")
    if len(set(classes)) < minimum:
        raise ValueError(f"classes must name at least {minimum} classes; got {classes}")
    return [w for w in wnids if w in set(classes)]


def _plan(source, classes, max_per_class):
    """Return (wnids, descriptions, synonyms, train items, y_train, val items, y_val)."""
    all_wnids = [w.strip() for w in source.text("wnids.txt").splitlines() if w.strip()]
    if not all_wnids:
        raise ValueError(f"{source.where('wnids.txt')} lists no class ids")
    if len(set(all_wnids)) != len(all_wnids):
        raise ValueError(f"{source.where('wnids.txt')} lists a class id twice")
    wnids = _select_classes(all_wnids, classes, source.where("wnids.txt"))
    index = {w: i for i, w in enumerate(wnids)}
    descriptions, synonyms = _parse_words(
        source.text("words.txt"), wnids, source.where("words.txt")
    )

    per_class = {w: [] for w in all_wnids}
    for rel in source.files:
        parts = rel.split("/")
        if parts[0] != "train" or not rel.lower().endswith(_IMAGE_SUFFIXES):
            continue
        if len(parts) != 4 or parts[2] != "images":
            raise ValueError(
                f"wrong Tiny-ImageNet layout: {source.where(rel)} is not in "
                "train/<wnid>/images/"
            )
        if parts[1] not in per_class:
            raise ValueError(
                f"wrong Tiny-ImageNet layout: class folder {source.where('train/' + parts[1])} "
                f"is not listed in {source.where('wnids.txt')}"
            )
        per_class[parts[1]].append(rel)
    train_items, y_train = [], []
    for w in wnids:
        rels = sorted(per_class[w], key=_natural_key)
        if not rels:
            raise ValueError(
                f"wrong Tiny-ImageNet layout: no training images in "
                f"{source.where(f'train/{w}/images')}"
            )
        rels = rels[:max_per_class] if max_per_class else rels
        train_items += [(source.where(r), source.files[r]) for r in rels]
        y_train += [index[w]] * len(rels)

    ann_rel = "val/val_annotations.txt"
    val_by_class = {w: [] for w in wnids}
    for lineno, line in enumerate(source.text(ann_rel).splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise ValueError(
                f"{source.where(ann_rel)} line {lineno} is not 'file<TAB>wnid...': {line!r}"
            )
        fname, wnid = fields[0].strip(), fields[1].strip()
        if wnid not in index:
            if wnid not in all_wnids:
                raise ValueError(
                    f"{source.where(ann_rel)} line {lineno}: class id {wnid!r} is "
                    f"not listed in {source.where('wnids.txt')}"
                )
            continue
        rel = f"val/images/{fname}"
        if rel not in source.files:
            raise ValueError(
                f"{source.where(rel)} is missing (listed in {source.where(ann_rel)} "
                f"line {lineno})"
            )
        val_by_class[wnid].append(rel)
    val_items, y_val = [], []
    chosen = []
    for w in wnids:
        rels = sorted(val_by_class[w], key=_natural_key)
        chosen += [(r, index[w]) for r in (rels[:max_per_class] if max_per_class else rels)]
    chosen.sort(key=lambda t: _natural_key(t[0]))  # official val order
    val_items = [(source.where(r), source.files[r]) for r, _ in chosen]
    y_val = [c for _, c in chosen]
    return (wnids, descriptions, synonyms, train_items, np.asarray(y_train, np.int64),
            val_items, np.asarray(y_val, np.int64))


def _cache_key(root, classes, max_per_class):
    path = Path(root).expanduser().resolve()
    if path.is_dir():
        base = path if (path / "wnids.txt").is_file() else path / _FOLDER
        stamp = [
            (p.name, p.stat().st_mtime_ns)
            for p in (base, base / "wnids.txt", base / "train", base / "val")
            if p.exists()
        ]
    else:
        st = path.stat()
        stamp = [st.st_size, st.st_mtime_ns]
    ident = json.dumps(
        [_CACHE_VERSION, str(path), stamp,
         None if classes is None else (classes if isinstance(classes, int) else list(map(str, classes))),
         max_per_class],
        default=str,
    )
    return hashlib.sha256(ident.encode()).hexdigest()[:16]


def load_tiny_imagenet(
    root,
    *,
    cache_dir=None,
    cache=True,
    classes=None,
    max_per_class=None,
    n_jobs=None,
    verbose=False,
):
    """Load Tiny-ImageNet-200 from its folder, the official zip or a tar archive.

    The first load decodes every JPEG with Pillow (about 10 s for 110000
    32x32 images on 2 cores) and caches the uint8 arrays on disk; later loads
    memory-map the cache and take about a second. A cache entry that was
    interrupted while being written, or whose files do not match their
    recorded checksums, is detected and rebuilt.

    Parameters
    ----------
    root : str or os.PathLike
        The ``tiny-imagenet-200`` folder (holding ``wnids.txt``), a folder that
        contains it, ``tiny-imagenet-200.zip``, or a tar archive of it
        (``.tar``, ``.tar.gz``, ``.tar.xz``, ``.tar.bz2``).
    cache_dir : str or os.PathLike, default=None
        Where to cache decoded arrays; default
        :func:`~simcalib.datasets._cache.default_cache_dir` (``$SIMCALIB_CACHE``
        or ``~/.cache/simcalib``). Entries are keyed by the source's path,
        size and modification time and by ``classes`` / ``max_per_class``.
    cache : bool, default=True
        Read and write the cache. When False, decode every time and return
        in-memory arrays.
    classes : int or list of str, default=None
        Load only these classes: the first ``classes`` ids of ``wnids.txt``,
        or the given ids. Labels are renumbered ``0 .. len(classes) - 1`` in
        ``wnids.txt`` order. None loads all 200.
    max_per_class : int, default=None
        Keep at most this many images per class in each split (the first
        ones in natural file-name order), for quick reduced runs.
    n_jobs : int, default=None
        Worker processes for decoding; None uses up to 8 CPUs when there are
        more than a few thousand images, -1 all CPUs, 1 decodes in-process.
    verbose : bool, default=False
        Print progress to stderr.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields

        X_train : ndarray of shape (n_train, 3, H, W), dtype uint8
            Training images, channels first (RGB; greyscale images are
            converted). H = W = 64 for the official set, 32 for the
            downsampled copy. A read-only memory map when cached.
        y_train : ndarray of shape (n_train,), dtype int64
            Labels: the line number of the class id in ``wnids.txt``.
        X_test, y_test : ndarray
            The official validation split (its labels come from
            ``val/val_annotations.txt``), in ``val_<i>`` order. Also available
            as ``X_val``, ``y_val``.
        wnids : list of str
            The WordNet id of each label.
        class_names : list of str
            The first synonym of each class in ``words.txt`` (``"Egyptian cat"``).
        class_synonyms : list of list of str
            All synonyms of each class (``["goldfish", "Carassius auratus"]``).
        class_descriptions : list of str
            The raw ``words.txt`` entry of each class.
        DESCR : str
            A description of the dataset.

    Raises
    ------
    FileNotFoundError
        When ``root`` does not exist.
    ValueError
        On a wrong layout, a missing, truncated or corrupt file or image; the
        message names the file.

    Examples
    --------
    >>> data = load_tiny_imagenet("tiny-imagenet-200-32px.tar.xz")  # doctest: +SKIP
    >>> data.X_train.shape, data.class_names[0]  # doctest: +SKIP
    ((100000, 3, 32, 32), 'Egyptian cat')
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or os.PathLike); got {root!r}")
    _check_classes(classes)
    _check_loader_options(max_per_class, n_jobs, cache_dir)
    path = Path(root).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"Tiny-ImageNet not found: {path} does not exist (expected a "
            f"{_FOLDER} folder, its zip or a tar archive)"
        )
    _require_pillow()
    entry = None
    if cache:
        cache_root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        entry = cache_root / "tiny-imagenet" / _cache_key(path, classes, max_per_class)
        cached = _valid_entry(load_array_cache(entry))
        if cached is not None:
            arrays, meta = cached
            if verbose:
                sys.stderr.write(f"Tiny-ImageNet: loaded cached arrays from {entry}\n")
            return _bunch(arrays, meta)
        if verbose and entry.exists():
            sys.stderr.write(f"Tiny-ImageNet: cache {entry} is incomplete; rebuilding\n")

    start = time.monotonic()
    if verbose:
        sys.stderr.write(f"Tiny-ImageNet: reading {path}\n")
    source = _open_source(path)
    wnids, descriptions, synonyms, train_items, y_train, val_items, y_val = _plan(
        source, classes, max_per_class
    )
    X_train = _decode_all(train_items, n_jobs, verbose, "train")
    X_val = _decode_all(val_items, n_jobs, verbose, "val")
    if X_val.shape[0] and X_val.shape[1:] != X_train.shape[1:]:
        raise ValueError(
            f"validation image {val_items[0][0]} has shape {X_val.shape[1:]}; "
            f"training images have {X_train.shape[1:]}"
        )
    arrays = {
        "X_train": np.ascontiguousarray(X_train.transpose(0, 3, 1, 2)),
        "y_train": y_train,
        "X_val": np.ascontiguousarray(X_val.transpose(0, 3, 1, 2)),
        "y_val": y_val,
    }
    meta = {"wnids": wnids, "descriptions": descriptions, "synonyms": synonyms}
    if entry is not None:
        try:
            save_array_cache(entry, arrays, meta)
        except OSError as exc:
            # a read-only or full cache must not cost the user the decoded data
            warnings.warn(
                f"cannot write the Tiny-ImageNet cache {entry} ({exc.strerror or exc}); "
                "returning the arrays without caching them",
                RuntimeWarning, stacklevel=2,
            )
        else:
            cached = _valid_entry(load_array_cache(entry, verify="size"))
            if cached is not None:
                arrays, meta = cached
    if verbose:
        sys.stderr.write(
            f"Tiny-ImageNet: {len(y_train)} train / {len(y_val)} val images in "
            f"{time.monotonic() - start:.1f} s\n"
        )
    return _bunch(arrays, meta)


def _check_classes(classes):
    if classes is None:
        return
    if isinstance(classes, bool) or isinstance(classes, (str, bytes)) or not (
        isinstance(classes, (int, np.integer)) or hasattr(classes, "__iter__")
    ):
        raise ValueError(
            f"classes must be None, a number of classes or a list of class ids; got {classes!r}"
        )


def _check_loader_options(max_per_class, n_jobs, cache_dir):
    """The options the image loaders share; each error names its argument."""
    if max_per_class is not None and (
        isinstance(max_per_class, bool) or not isinstance(max_per_class, (int, np.integer))
        or max_per_class < 1
    ):
        raise ValueError(f"max_per_class must be a positive integer or None; got {max_per_class!r}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer))
                               or n_jobs == 0 or n_jobs < -1):
        raise ValueError(f"n_jobs must be None, -1 or a positive integer; got {n_jobs!r}")
    if cache_dir is not None:
        if not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(f"cache_dir must be a path or None; got {cache_dir!r}")
        _check_cache_dir(Path(cache_dir).expanduser())


def _check_cache_dir(cache_dir):
    if cache_dir.exists() and not cache_dir.is_dir():
        raise ValueError(f"cache_dir {cache_dir} is a file, not a folder")
    blocker = next((p for p in cache_dir.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ValueError(f"cache_dir {cache_dir} cannot be created: {blocker} is a file")


def _valid_entry(cached):
    """``cached`` when it holds every array and name list, consistently; else None.

    The manifest's checksums prove the files are the ones written; this
    proves they are what this loader writes (a hand-edited or foreign
    manifest must lead to a rebuild, not a KeyError).
    """
    if cached is None:
        return None
    arrays, meta = cached
    try:
        n_train, n_val = len(arrays["X_train"]), len(arrays["X_val"])
        ok = (
            len(arrays["y_train"]) == n_train and len(arrays["y_val"]) == n_val
            and arrays["X_train"].ndim == 4 and arrays["X_val"].ndim == 4
            and isinstance(meta, dict)
            and all(isinstance(meta[k], list) for k in ("wnids", "descriptions", "synonyms"))
            and len(meta["wnids"]) == len(meta["descriptions"]) == len(meta["synonyms"])
            and all(isinstance(s, list) for s in meta["synonyms"])
        )
    except (KeyError, TypeError):
        return None
    return cached if ok else None


def _bunch(arrays, meta):
    synonyms = [list(s) for s in meta["synonyms"]]
    return Bunch(
        X_train=arrays["X_train"],
        y_train=arrays["y_train"],
        X_test=arrays["X_val"],
        y_test=arrays["y_val"],
        X_val=arrays["X_val"],
        y_val=arrays["y_val"],
        wnids=list(meta["wnids"]),
        class_names=[s[0] if s else w for s, w in zip(synonyms, meta["wnids"])],
        class_synonyms=synonyms,
        class_descriptions=list(meta["descriptions"]),
        DESCR=_DESCR,
    )
