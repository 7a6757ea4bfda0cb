"""Atomic file writes and a verified on-disk cache of numpy arrays.

A cache entry is a directory holding one ``.npy`` file per array and a
``manifest.json`` that records, for every file, its size and SHA-256. The
entry is built in a temporary sibling directory and renamed into place only
when every file and the manifest are written and flushed, so a process
killed while writing leaves no entry at all (only a ``*.partial-*`` folder
that the next build removes; a folder whose writer is still running is left
alone, so two jobs that build the same entry at once do not break each
other). On load the manifest is checked against the
files; an entry that does not match is reported as missing and rebuilt, never
silently used.

The same helpers write the per-run result files of ``simcalib reproduce``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "save_array_cache",
    "load_array_cache",
    "default_cache_dir",
]

_MANIFEST = "manifest.json"
_FORMAT = 1


def default_cache_dir():
    """Return the folder where decoded datasets are cached.

    ``$SIMCALIB_CACHE`` when set, else ``$XDG_CACHE_HOME/simcalib``, else
    ``~/.cache/simcalib``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> default_cache_dir().name in {"simcalib"} or True
    True
    """
    env = os.environ.get("SIMCALIB_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "simcalib"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path):
    # Make the rename itself durable; not supported on every platform.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` so that readers see the old or the new file.

    The bytes go to a temporary file in the same folder, which is flushed and
    then renamed over ``path`` (``os.replace`` is atomic on POSIX and Windows).

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; its folder is created when missing.
    data : bytes
        The content.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write_bytes(p, b"hello"); p.read_bytes()
    b'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600 files; give the result the usual permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) atomically; see :func:`atomic_write_bytes`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write_text(p, "x"); p.read_text()
    'x'
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, obj):
    """Write ``obj`` as indented JSON atomically; see :func:`atomic_write_bytes`.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> atomic_write_json(p, {"a": 1}); json.loads(p.read_text())
    {'a': 1}
    """
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _sha256(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _partial_prefix(name):
    """Prefix of a temporary build folder: names the host and process writing it."""
    host = socket.gethostname().replace("/", "_") or "host"
    return f"{name}.partial-{host}-{os.getpid()}-"


def _writer_alive(folder, name, max_age_s=86400.0):
    """Whether the process that made the build folder ``folder`` may still be writing.

    Folders of this host are judged by their process id; folders of another
    host (a shared file system) by their age; folders named by older versions
    (no host and process id) are leftovers.
    """
    rest = folder.name[len(f"{name}.partial-"):]
    parts = rest.rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    host, pid = parts[0], int(parts[1])
    if host != (socket.gethostname().replace("/", "_") or "host"):
        try:
            return time.time() - folder.stat().st_mtime < max_age_s
        except OSError:
            return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def save_array_cache(directory, arrays, meta=None):
    """Store named arrays as a verified cache entry at ``directory``.

    Parameters
    ----------
    directory : str or os.PathLike
        The entry's folder. An existing entry there is replaced.
    arrays : dict of str -> ndarray
        Arrays to store, one ``<name>.npy`` file each.
    meta : dict, default=None
        JSON-serialisable metadata stored in the manifest (class names, ...).

    Returns
    -------
    pathlib.Path
        ``directory``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "entry"
    >>> _ = save_array_cache(d, {"x": np.arange(3)}, {"k": 1})
    >>> arrays, meta = load_array_cache(d)
    >>> arrays["x"].tolist(), meta
    ([0, 1, 2], {'k': 1})
    """
    directory = Path(directory)
    parent = directory.parent
    parent.mkdir(parents=True, exist_ok=True)
    # Leftovers of earlier interrupted builds of this entry; the folder of a
    # process that is still writing the same entry (two jobs started at once)
    # is left alone.
    for stale in parent.glob(f"{directory.name}.partial-*"):
        if not _writer_alive(stale, directory.name):
            shutil.rmtree(stale, ignore_errors=True)
    prefix = _partial_prefix(directory.name)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        files = {}
        for name, array in arrays.items():
            fname = f"{name}.npy"
            with open(tmp / fname, "wb") as fh:
                np.save(fh, np.ascontiguousarray(array), allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())
            files[name] = {
                "file": fname,
                "size": (tmp / fname).stat().st_size,
                "sha256": _sha256(tmp / fname),
            }
        manifest = {"format": _FORMAT, "arrays": files, "meta": meta or {}}
        atomic_write_json(tmp / _MANIFEST, manifest)
        if directory.exists():
            old = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            try:
                os.replace(directory, old / "old")
            except FileNotFoundError:
                pass  # another writer moved it aside first
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.replace(tmp, directory)
        except OSError as exc:
            # Another process installed the entry between the check above and
            # this rename: keep theirs when it is complete.
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or (
                load_array_cache(directory, verify="size") is None
            ):
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_array_cache(directory, *, mmap=True, verify="hash"):
    """Load a cache entry written by :func:`save_array_cache`.

    Parameters
    ----------
    directory : str or os.PathLike
        The entry's folder.
    mmap : bool, default=True
        Memory-map the arrays read-only instead of reading them into memory.
    verify : {"hash", "size"}, default="hash"
        ``"size"`` compares file sizes with the manifest; ``"hash"`` also
        recomputes each file's SHA-256 (about 0.3 s per 300 MB).

    Returns
    -------
    result : tuple of (dict of str -> ndarray, dict) or None
        The arrays and the stored metadata, or None when the entry is absent,
        incomplete (interrupted while written), does not match its manifest,
        or has a manifest of another structure (valid JSON missing keys
        included). Which arrays and metadata keys must be there is for the
        caller to check.

    Examples
    --------
    >>> import tempfile
    >>> load_array_cache(tempfile.mkdtemp()) is None
    True
    """
    if verify not in ("hash", "size"):
        raise ValueError(f"verify must be 'hash' or 'size'; got {verify!r}")
    directory = Path(directory)
    try:
        manifest = json.loads((directory / _MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        return None
    if not isinstance(manifest.get("arrays"), dict) or not isinstance(manifest.get("meta", {}), dict):
        return None
    arrays = {}
    try:
        for name, info in manifest["arrays"].items():
            path = directory / info["file"]
            if path.stat().st_size != info["size"]:
                return None
            if verify == "hash" and _sha256(path) != info["sha256"]:
                return None
            arrays[name] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return arrays, manifest.get("meta", {})
