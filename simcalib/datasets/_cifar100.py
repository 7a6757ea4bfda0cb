"""CIFAR-100 in its official ``cifar-100-python`` pickle layout."""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_cifar100"]

CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
_FOLDER = "cifar-100-python"
_FILES = ("train", "test", "meta")

_DESCR = """\
CIFAR-100 (Krizhevsky, 2009): 60000 colour images of 32x32 pixels in 100
fine classes grouped into 20 coarse superclasses; 50000 training and 10000
test images (500 / 100 per fine class). Loaded from the official
``cifar-100-python`` pickle files (``train``, ``test``, ``meta``)."""


def _find_folder(root):
    """Return the folder that holds ``train``, ``test`` and ``meta``."""
    root = Path(root).expanduser()
    for candidate in (root, root / _FOLDER):
        if all((candidate / name).is_file() for name in _FILES):
            return candidate
    return None


def _unpickle(path):
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh, encoding="latin1")
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError,
            AttributeError, ImportError, IndexError, MemoryError) as exc:
        raise ValueError(
            f"cannot read CIFAR-100 file {path}: it is truncated or not an "
            f"official cifar-100-python pickle ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(obj, dict):
        raise ValueError(f"CIFAR-100 file {path} does not hold a dict; got {type(obj).__name__}")
    # Python 2 pickles loaded with encoding="latin1" have str keys already;
    # files re-saved with bytes keys are accepted too.
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _get(batch, key, path):
    if key not in batch:
        raise ValueError(
            f"CIFAR-100 file {path} has no {key!r} entry; found {sorted(batch)}"
        )
    return batch[key]


def _read_split(path):
    batch = _unpickle(path)
    data = np.asarray(_get(batch, "data", path))
    fine = np.asarray(_get(batch, "fine_labels", path), dtype=np.int64)
    coarse = np.asarray(_get(batch, "coarse_labels", path), dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"CIFAR-100 file {path}: 'data' must be uint8 of shape (n, 3072); "
            f"got {data.dtype} {data.shape}"
        )
    n = data.shape[0]
    if fine.shape != (n,) or coarse.shape != (n,):
        raise ValueError(
            f"CIFAR-100 file {path}: {n} images but {fine.shape[0]} fine and "
            f"{coarse.shape[0]} coarse labels"
        )
    if n and (fine.min() < 0 or fine.max() > 99 or coarse.min() < 0 or coarse.max() > 19):
        raise ValueError(f"CIFAR-100 file {path}: labels outside [0, 100) / [0, 20)")
    # Rows are 1024 red, then green, then blue values in row-major order.
    return data.reshape(n, 3, 32, 32), fine, coarse


def _progress(done, total, start, stream):
    elapsed = max(time.monotonic() - start, 1e-9)
    rate = done / elapsed / 2**20
    if total:
        frac = done / total
        bar = "#" * int(30 * frac)
        stream.write(
            f"\r  [{bar:<30}] {100 * frac:5.1f}%  {done / 2**20:7.1f}/"
            f"{total / 2**20:.1f} MiB  {rate:5.1f} MiB/s"
        )
    else:
        stream.write(f"\r  {done / 2**20:7.1f} MiB  {rate:5.1f} MiB/s")
    stream.flush()


def _download(url, dest, md5=None, *, stream=None, chunk=1 << 16):
    """Download ``url`` to ``dest`` with a progress bar, atomically.

    The bytes go to a temporary file that is renamed to ``dest`` only when
    complete and (if ``md5`` is given) matching the checksum.
    """
    stream = sys.stderr if stream is None else stream
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    stream.write(f"downloading {url} -> {dest}\n")
    digest = hashlib.md5()
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while block := response.read(chunk):
                out.write(block)
                digest.update(block)
                done += len(block)
                _progress(done, total, start, stream)
        stream.write("\n")
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(f"download of {url} failed: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if md5 is not None and digest.hexdigest() != md5:
        tmp.unlink(missing_ok=True)
        raise ValueError(
            f"download of {url} is corrupt: md5 {digest.hexdigest()} != expected {md5}"
        )
    tmp.replace(dest)
    return dest


def _download_and_extract(root, url, md5):
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    archive = root / url.rsplit("/", 1)[-1]
    if not archive.is_file():
        _download(url, archive, md5)
    # Extract into a temporary folder, then move the finished folder in place,
    # so an interrupted extraction never looks like a complete dataset.
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                if hasattr(tarfile, "data_filter"):  # Python >= 3.10.12 / 3.11.4
                    tar.extractall(tmp, filter="data")
                else:  # pragma: no cover
                    tar.extractall(tmp)
        except (tarfile.TarError, EOFError) as exc:
            reason = str(exc).splitlines()[0].rstrip(":") if str(exc) else type(exc).__name__
            raise ValueError(
                f"archive {archive} is not a readable tar archive ({reason}); delete it to "
                "download it again"
            ) from None
        found = _find_folder(tmp)
        if found is None:
            raise ValueError(f"archive {archive} does not contain a {_FOLDER} folder")
        target = root / _FOLDER
        if target.exists():
            shutil.rmtree(target)
        found.replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_cifar100(root, *, download=False, url=CIFAR100_URL, md5=CIFAR100_MD5):
    """Load CIFAR-100 from the official ``cifar-100-python`` pickle files.

    Parameters
    ----------
    root : str or os.PathLike
        The ``cifar-100-python`` folder (holding ``train``, ``test`` and
        ``meta``) or a folder that contains it.
    download : bool, default=False
        When the files are missing, download the official archive (about
        160 MB) into ``root`` with a progress bar, check its MD5 and extract
        it. Never done unless asked.
    url : str, default=CIFAR100_URL
        Where to download from (a mirror, or a ``file://`` URL).
    md5 : str or None, default=CIFAR100_MD5
        Expected MD5 of the archive; None skips the check.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With the fields

        X_train : ndarray of shape (50000, 3, 32, 32), dtype uint8
            Training images, channels first (RGB).
        y_train : ndarray of shape (50000,), dtype int64
            Fine labels in [0, 100).
        X_test : ndarray of shape (10000, 3, 32, 32), dtype uint8
            Test images.
        y_test : ndarray of shape (10000,), dtype int64
            Fine test labels.
        y_coarse_train, y_coarse_test : ndarray of dtype int64
            Coarse (superclass) labels in [0, 20).
        class_names : list of str
            The 100 fine label names (``"apple"``, ..., ``"maple_tree"``, ...).
        coarse_class_names : list of str
            The 20 superclass names.
        fine_to_coarse : ndarray of shape (100,), dtype int64
            Superclass of each fine class.
        DESCR : str
            A description of the dataset.

    Raises
    ------
    FileNotFoundError
        When the files are missing and ``download=False``; the message names
        the folder that was searched.
    ValueError
        When a file is truncated or not in the official format; the message
        names the file.

    Examples
    --------
    >>> data = load_cifar100("~/data/cifar100")  # doctest: +SKIP
    >>> data.X_train.shape, data.class_names[:2]  # doctest: +SKIP
    ((50000, 3, 32, 32), ['apple', 'aquarium_fish'])
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or os.PathLike); got {root!r}")
    folder = _find_folder(root)
    if folder is None:
        if Path(root).expanduser().exists() and not Path(root).expanduser().is_dir():
            raise ValueError(
                f"CIFAR-100 root {root} is a file; pass the cifar-100-python folder "
                "or a folder that contains it"
            )
        if not download:
            missing = Path(root).expanduser()
            raise FileNotFoundError(
                f"CIFAR-100 not found in {missing}: expected the files "
                f"{', '.join(_FILES)} in {missing} or {missing / _FOLDER} "
                "(pass download=True to fetch the official archive)"
            )
        folder = _download_and_extract(root, url, md5)

    X_train, y_train, yc_train = _read_split(folder / "train")
    X_test, y_test, yc_test = _read_split(folder / "test")
    meta = _unpickle(folder / "meta")
    fine_names = [str(n) for n in _get(meta, "fine_label_names", folder / "meta")]
    coarse_names = [str(n) for n in _get(meta, "coarse_label_names", folder / "meta")]
    if len(fine_names) != 100 or len(coarse_names) != 20:
        raise ValueError(
            f"CIFAR-100 file {folder / 'meta'}: expected 100 fine and 20 coarse "
            f"names; got {len(fine_names)} and {len(coarse_names)}"
        )
    fine_to_coarse = np.full(100, -1, dtype=np.int64)
    fine_to_coarse[np.concatenate([y_train, y_test])] = np.concatenate([yc_train, yc_test])
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        y_coarse_train=yc_train,
        y_coarse_test=yc_test,
        class_names=fine_names,
        coarse_class_names=coarse_names,
        fine_to_coarse=fine_to_coarse,
        DESCR=_DESCR,
    )
