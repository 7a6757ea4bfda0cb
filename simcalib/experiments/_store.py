"""The output folder of ``simcalib reproduce``: layout, checks and atomic writes.

Layout::

    config.json                       settings of the folder (written once every
                                      check has passed, before the first run)
    runs/<run>/seed<s>/settings.json  settings of the run (written when it starts)
    runs/<run>/seed<s>/checkpoint.pt  training state while a network is unfinished
    runs/<run>/seed<s>/outputs.npz    its logits / probabilities and labels (atomic;
                                      ``simcalib evaluate`` reads it)
    runs/<run>/seed<s>/result.json    its metrics, settings and the size and
                                      SHA-256 of outputs.npz (atomic, written last)

Rules, so that a number is never reused under settings that did not make it:

- Every run stores its own settings (the folder's settings plus what
  identifies the run: targets, alpha, beta, seed, calibrator, the content
  of the word vectors). ``config.json`` only summarises them: when it is
  missing or unreadable, the runs' own settings decide, and the folder is
  refused if any run was made with other settings.
- A run counts as finished only when ``result.json`` parses, carries its
  settings and metrics, and ``outputs.npz`` has the recorded size and
  checksum and holds every array with the expected shape. A damaged run is
  reported on one line, removed and redone.
- A run lacking the OOD outputs now asked for, or a post-hoc run fitted on
  an earlier version of its network, is recomputed.
- A checkpoint is used only when the run's ``settings.json`` matches and
  the file loads; otherwise it is reported, removed and training restarts.
- Runs written by an earlier simcalib (no stored settings) are adopted
  when ``config.json`` matches, and refused when it is missing.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import zipfile
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import numpy as np

from simcalib.datasets._cache import atomic_write_bytes, atomic_write_json
from simcalib.experiments._config import ExperimentConfig
from simcalib.experiments._tables import TABLE_ROWS

__all__ = ["OutputFolder", "Stored", "folder_settings", "run_settings", "ood_key",
           "check_output_path", "OUTPUT_SPLITS", "sha256_bytes"]

CONFIG = "config.json"
RESULT = "result.json"
OUTPUTS = "outputs.npz"
CHECKPOINT = "checkpoint.pt"
SETTINGS = "settings.json"
FORMAT = 2

#: Splits whose outputs a run stores: a network's logits on the split its
#: calibrators are fitted on and on the evaluation split; a calibrator's
#: probabilities on the evaluation split. A new split is one more name here
#: (and an ``X_<name>`` / ``y_<name>`` pair of :class:`ExperimentData`).
OUTPUT_SPLITS = {"train": ("holdout", "test"), "posthoc": ("test",)}
_PREFIX = {"train": "logits", "posthoc": "probs"}
_RECORD_KEYS = ("method", "seed") + tuple(row[1] for row in TABLE_ROWS)
_DEFAULTS = {
    f.name: f.default if f.default is not MISSING else f.default_factory()
    for f in fields(ExperimentConfig)
}


def _plain(value):
    # numpy scalars and arrays are valid settings (a grid of np.int64 epochs)
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a JSON-storable setting")


def _jsonable(obj):
    """``obj`` as it reads back from JSON (tuples become lists, numpy scalars plain)."""
    return json.loads(json.dumps(obj, default=_plain))


def sha256_bytes(data):
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path, chunk=1 << 22):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def data_fingerprint(data):
    """Shapes, split sizes and a hash of the labels: tells datasets apart cheaply.

    The pixels are left out: JPEG decoders of different machines may differ
    in the last bit, and a folder must resume on another machine.
    """
    h = hashlib.sha256()
    for split in ("train", "holdout", "test"):
        h.update(np.ascontiguousarray(getattr(data, f"y_{split}"), dtype=np.int64).tobytes())
    h.update("\n".join(map(str, data.class_names)).encode("utf-8"))
    return {
        "image_shape": list(data.image_shape),
        "dtype": str(data.X_train.dtype),
        "n_classes": int(data.n_classes),
        "sizes": [len(data.y_train), len(data.y_holdout), len(data.y_test)],
        "labels_sha256": h.hexdigest()[:16],
    }


def folder_settings(config, data):
    """Settings of an output folder: :meth:`ExperimentConfig.identity` and the data."""
    return _jsonable({**config.identity(), "data": data_fingerprint(data)})


@functools.lru_cache(maxsize=8)
def _file_identity(path, size, mtime_ns):
    return {"file": os.path.basename(path), "sha256": _sha256_file(path)[:16]}


def file_identity(path):
    """Name and content hash of a file (word vectors): moving it keeps its identity."""
    path = os.path.abspath(os.path.expanduser(os.fspath(path)))
    st = os.stat(path)
    return _file_identity(path, st.st_size, st.st_mtime_ns)


def run_settings(run, folder, config):
    """Settings of one run: the folder's settings and what identifies the run."""
    ident = run.identity()
    if run.targets == "we":
        ident["word_vectors"] = file_identity(config.word_vectors)
    return _jsonable({"folder": folder, "run": ident})


def ood_key(config, ood):
    """What the stored OOD outputs of a run were computed from (None: no OOD)."""
    if not ood:
        return None
    return _jsonable({"dataset": config.ood_dataset, "n": config.n_ood, "kinds": list(ood)})


def settings_diff(stored, expected):
    """``["key: old -> new", ...]`` where ``stored`` differs from ``expected``.

    A key missing from ``stored`` (a folder made before the setting existed)
    matches when ``expected`` holds that setting's default; the data
    fingerprint, unknown to folders of earlier versions, always matches.
    Keys only in ``stored`` (settings no longer part of the identity) are
    ignored.
    """
    diff = []
    for key, value in expected.items():
        if key not in stored:
            if key == "data" or (key in _DEFAULTS and _jsonable(_DEFAULTS[key]) == value):
                continue
            diff.append(f"{key}: (not stored) -> {value!r}")
        elif stored[key] != value:
            diff.append(f"{key}: {stored[key]!r} -> {value!r}")
    return diff


def check_output_path(out):
    """Refuse an output path that is a file or lies under one, before any work.

    Raises
    ------
    ValueError
        Naming the path.
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"output folder {out} is an existing file, not a folder")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"cannot create output folder {out}: {parent} is a file")
            if not os.access(parent, os.W_OK | os.X_OK) and not out.exists():
                raise ValueError(f"cannot create output folder {out}: {parent} is not writable")
            break
    if out.is_dir():
        runs = out / "runs"
        if runs.exists() and not runs.is_dir():
            raise ValueError(f"{runs} is a file; {out} is not a simcalib output folder")
        entries = [p.name for p in out.iterdir()]
        if entries and CONFIG not in entries and "runs" not in entries:
            raise ValueError(
                f"output folder {out} is not empty and holds no {CONFIG} or runs/ of an "
                "earlier run; use a new or empty folder"
            )


def _read_json(path):
    """``(value, None)``, or ``(None, reason)`` when the file is missing or unreadable."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    try:
        return json.loads(raw.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"not valid JSON ({exc})"


def _npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@dataclass
class Stored:
    """A finished run as found on disk or just written.

    Attributes
    ----------
    record : dict
        Its row of ``results.csv`` (method, seed, metrics, timings).
    outputs : dict of str -> ndarray
        Contents of ``outputs.npz``.
    sha256 : str
        Checksum of ``outputs.npz`` (post-hoc runs record their base's).
    """

    record: dict
    outputs: dict
    sha256: str


class _Damaged(Exception):
    """A stored file that cannot be trusted; the message says why."""


class OutputFolder:
    """The output folder of one invocation, checked against its settings.

    Parameters
    ----------
    out : pathlib.Path
        The folder (need not exist yet).
    settings : dict
        :func:`folder_settings` of this invocation.
    log : callable
        Receives one line per noteworthy event (damaged files, adoptions).
    """

    def __init__(self, out, settings, log):
        self.out = Path(out)
        self.settings = settings
        self.log = log
        self.config_ok = False  # config.json exists and matches

    def _rel(self, path):
        try:
            return str(Path(path).relative_to(self.out))
        except ValueError:  # pragma: no cover - always under out
            return str(path)

    # ------------------------------------------------------------ folder
    def _refuse(self, where, diff):
        return ValueError(
            f"output folder {self.out} holds runs made with other settings "
            f"({'; '.join(diff)}{'' if where is None else ', in ' + where}); "
            "use another --out folder"
        )

    def check(self, expected_runs):
        """Refuse the folder when any stored settings differ from this invocation's.

        Parameters
        ----------
        expected_runs : dict of (name, seed) -> dict
            :func:`run_settings` of every planned run.

        Raises
        ------
        ValueError
            Naming the differing settings and, for a run, its folder.
        """
        check_output_path(self.out)
        stored, reason = _read_json(self.out / CONFIG)
        if stored is not None and not isinstance(stored, dict):
            stored, reason = None, "not a JSON object"
        if stored is not None:
            diff = settings_diff(stored, self.settings)
            if diff:
                raise self._refuse(None, diff)
            self.config_ok = True
        legacy = []
        for folder in sorted((self.out / "runs").glob("*/seed*")):
            if not folder.is_dir():
                continue
            found = self._stored_settings(folder)
            if found is None:
                result, _ = _read_json(folder / RESULT)
                if isinstance(result, dict) and "storage" not in result:
                    legacy.append(folder)
                continue
            if not isinstance(found.get("folder"), dict) or not isinstance(found.get("run"), dict):
                continue  # damaged: redone when its turn comes
            diff = settings_diff(found["folder"], self.settings)
            if diff:
                raise self._refuse(self._rel(folder), diff)
            expected = expected_runs.get(self._run_key(folder))
            if expected is not None and found["run"] != expected["run"]:
                diff = settings_diff(found["run"], expected["run"])
                raise self._refuse(self._rel(folder), diff or ["run identity"])
        if legacy and not self.config_ok:
            raise ValueError(
                f"{self._rel(legacy[0])} in {self.out} was written by an earlier simcalib "
                f"without its settings, and {CONFIG} is {reason}: nothing tells which "
                f"settings made it; restore {CONFIG} or move the run away"
            )
        if stored is None and reason != "missing":
            self.log(f"{CONFIG} is {reason}; every stored run matches these settings, "
                     "so it is written again")
        elif stored is None and any((self.out / "runs").glob("*/seed*")):
            self.log(f"{CONFIG} is missing; every stored run matches these settings, "
                     "so it is written again")

    @staticmethod
    def _run_key(folder):
        seed = folder.name[len("seed"):]
        return (folder.parent.name, int(seed)) if seed.isdigit() else None

    @staticmethod
    def _stored_settings(folder):
        result, _ = _read_json(folder / RESULT)
        if isinstance(result, dict) and isinstance(result.get("storage"), dict):
            settings = result["storage"].get("settings")
            if isinstance(settings, dict):
                return settings
        settings, _ = _read_json(folder / SETTINGS)
        return settings if isinstance(settings, dict) else None

    def write_config(self):
        """Create the folder and write ``config.json`` (after every check passed)."""
        self.out.mkdir(parents=True, exist_ok=True)
        # config_ok keeps saying whether config.json vouched for the stored
        # runs before this invocation: a rewritten file vouches for nothing.
        atomic_write_json(self.out / CONFIG, self.settings)

    # ------------------------------------------------------------ runs
    def load(self, run, settings, *, n_rows, n_classes, ood=None, base_sha=None):
        """The finished run, or None when it must be (re)computed.

        Parameters
        ----------
        run : Run
            The planned run.
        settings : dict
            Its :func:`run_settings`.
        n_rows : dict of str -> int
            Expected rows of each stored split's array.
        n_classes : int
            Expected columns.
        ood : tuple of (dict, list of int) or None
            :func:`ood_key` and the size of each OOD set, when OOD outputs
            are wanted.
        base_sha : str, default=None
            Post-hoc runs: checksum of the base network's current outputs.

        Returns
        -------
        stored : Stored or None
        """
        folder = run.folder(self.out)
        if not (folder / RESULT).exists():
            return None
        try:
            result, outputs, sha = self._read_run(run, folder, settings, n_rows, n_classes,
                                                  ood, base_sha)
        except _Damaged as exc:
            self.log(f"{self._rel(folder)}: {exc}; redoing this run")
            for name in (RESULT, OUTPUTS):
                (folder / name).unlink(missing_ok=True)
            return None
        storage = result.pop("storage")
        if ood is not None:
            key, sizes = ood
            if storage.get("ood") != key or not self._has_ood(outputs, run, sizes, n_classes):
                self.log(f"{self._rel(folder)}: no stored outputs for the OOD inputs now "
                         "asked for; recomputing this run")
                return None
        if run.posthoc and storage.get("base_sha256") != base_sha:
            self.log(f"{self._rel(folder)}: fitted on an earlier version of the "
                     f"{run.base.name} network; refitting")
            return None
        return Stored(result, outputs, sha)

    def _read_run(self, run, folder, settings, n_rows, n_classes, ood, base_sha):
        result, reason = _read_json(folder / RESULT)
        if result is None:
            raise _Damaged(f"{RESULT} is {reason}")
        if not isinstance(result, dict):
            raise _Damaged(f"{RESULT} is not a JSON object")
        if "storage" not in result:
            result = self._adopt(run, folder, result, settings, n_classes, ood, base_sha)
        storage = result.get("storage")
        if not isinstance(storage, dict) or storage.get("format") != FORMAT:
            raise _Damaged(f"{RESULT} lacks its storage record")
        if storage.get("settings") != settings:
            # check() refused other settings; anything else here is damage
            raise _Damaged(f"{RESULT} records other or incomplete settings")
        missing = [k for k in _RECORD_KEYS if k not in result]
        bad = [k for k in _RECORD_KEYS[2:] if k in result and (
            isinstance(result[k], bool) or not isinstance(result[k], (int, float)))]
        if missing or bad:
            raise _Damaged(f"{RESULT} misses or garbles {', '.join(missing + bad)}")
        files = storage.get("files")
        info = files.get(OUTPUTS) if isinstance(files, dict) else None
        if not isinstance(info, dict) or not {"size", "sha256"} <= set(info):
            raise _Damaged(f"{RESULT} does not record the checksum of {OUTPUTS}")
        outputs, sha = self._read_outputs(folder / OUTPUTS, info)
        kind = "posthoc" if run.posthoc else "train"
        prefix = _PREFIX[kind]
        for split in OUTPUT_SPLITS[kind]:
            _check_array(outputs, f"{prefix}_{split}", (n_rows[split], n_classes))
        return result, outputs, sha

    @staticmethod
    def _read_outputs(path, info):
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise _Damaged(f"{OUTPUTS} is missing") from None
        if size != info["size"]:
            raise _Damaged(f"{OUTPUTS} has {size} bytes; {RESULT} recorded {info['size']}")
        raw = path.read_bytes()
        sha = sha256_bytes(raw)
        if sha != info["sha256"]:
            raise _Damaged(f"{OUTPUTS} does not match its recorded SHA-256")
        return _load_npz(raw), sha

    def _has_ood(self, outputs, run, sizes, n_classes):
        prefix = _PREFIX["posthoc" if run.posthoc else "train"]
        try:
            for i, n in enumerate(sizes):
                _check_array(outputs, f"{prefix}_ood{i}", (n, n_classes))
        except _Damaged:
            return False
        return True

    def _adopt(self, run, folder, result, settings, n_classes, ood, base_sha):
        """Give a run of an earlier simcalib (no stored settings) its storage record.

        Its settings are those of the matching ``config.json``. Earlier
        versions stored the OOD outputs in ``outputs.npz`` without a key;
        their inputs came from the same generator, so matching counts and
        sizes identify them. A post-hoc run is taken to be fitted on the
        base network's current outputs.
        """
        if not self.config_ok:  # pragma: no cover - check() refused the folder
            raise _Damaged(f"{RESULT} records no settings")
        try:
            raw = (folder / OUTPUTS).read_bytes()
        except OSError as exc:
            raise _Damaged(f"{OUTPUTS} is unreadable ({exc.strerror or exc})") from None
        outputs = _load_npz(raw)
        storage = {"format": FORMAT, "settings": settings,
                   "files": {OUTPUTS: {"size": len(raw), "sha256": sha256_bytes(raw)}},
                   "ood": None}
        if ood is not None:
            key, sizes = ood
            prefix = _PREFIX["posthoc" if run.posthoc else "train"]
            n_stored = sum(1 for k in outputs if k.startswith(f"{prefix}_ood"))
            if n_stored == len(sizes) and self._has_ood(outputs, run, sizes, n_classes):
                storage["ood"] = key
        if run.posthoc:
            storage["base_sha256"] = base_sha
        result = {**result, "storage": storage}
        atomic_write_json(folder / RESULT, result)
        self.log(f"{self._rel(folder)}: written by an earlier simcalib; its settings are "
                 f"those of {CONFIG}, now stored with it")
        return result

    def begin(self, run, settings, epochs=None):
        """Prepare a run's folder for (re)computation; return whether a checkpoint is used.

        Writes ``settings.json``; removes a checkpoint that is damaged or that
        nothing ties to these settings (and stale temporary files).
        """
        folder = run.folder(self.out)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(f"{CHECKPOINT}.tmp*"):
            stale.unlink(missing_ok=True)
        checkpoint = folder / CHECKPOINT
        if checkpoint.exists():
            stored, _ = _read_json(folder / SETTINGS)
            if stored is None and not self.config_ok:
                reason = f"no {SETTINGS} ties it to these settings"
            elif stored is not None and stored != settings:
                reason = f"{SETTINGS} records other settings"
            else:
                reason = _probe_checkpoint(checkpoint, epochs)
            if reason is not None:
                self.log(f"{self._rel(checkpoint)}: {reason}; training this run from the start")
                checkpoint.unlink()
        atomic_write_json(folder / SETTINGS, settings)
        return checkpoint.exists()

    def save(self, run, record, outputs, settings, *, ood=None, base_sha=None):
        """Store a finished run: ``outputs.npz``, then ``result.json``; drop the checkpoint.

        Returns
        -------
        stored : Stored
        """
        folder = run.folder(self.out)
        # Without result.json the run reads as unfinished until both files
        # are in place, whatever moment an interruption picks.
        (folder / RESULT).unlink(missing_ok=True)
        raw = _npz_bytes(outputs)
        atomic_write_bytes(folder / OUTPUTS, raw)
        sha = sha256_bytes(raw)
        storage = {"format": FORMAT, "settings": settings,
                   "files": {OUTPUTS: {"size": len(raw), "sha256": sha}},
                   "ood": ood}
        if run.posthoc:
            storage["base_sha256"] = base_sha
        result = _jsonable({**record, "storage": storage})
        atomic_write_json(folder / RESULT, result)
        (folder / CHECKPOINT).unlink(missing_ok=True)  # finished: the result replaces it
        result.pop("storage")
        return Stored(result, outputs, sha)


def _load_npz(raw):
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise _Damaged(f"{OUTPUTS} holds a single array, not an .npz archive")
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise _Damaged(f"{OUTPUTS} is not a readable .npz archive ({exc})") from None


def _check_array(outputs, name, shape):
    if name not in outputs:
        raise _Damaged(f"{OUTPUTS} lacks the array {name}")
    arr = outputs[name]
    if arr.shape != shape or arr.dtype.kind != "f":
        raise _Damaged(f"{OUTPUTS}: {name} has shape {arr.shape} and dtype {arr.dtype}; "
                       f"expected {shape} floats")
    if not np.all(np.isfinite(arr)):
        raise _Damaged(f"{OUTPUTS}: {name} holds NaN or infinity")


#: What ``torch.load`` raises on a truncated or garbled file.
_LOAD_ERRORS = (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError,
                zipfile.BadZipFile, KeyError, AttributeError, IndexError, TypeError,
                ImportError, UnicodeDecodeError)


def _probe_checkpoint(path, epochs):
    """None when the checkpoint loads and is plausible, else why it is not."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except _LOAD_ERRORS as exc:
        return f"damaged, it does not load ({type(exc).__name__}: {str(exc)[:80]})"
    need = {"epoch", "module", "optimizer", "history"}
    if not isinstance(state, dict) or not need <= set(state):
        return "damaged, it lacks the training state"
    epoch = state["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1 or (
            epochs is not None and epoch > epochs):
        return f"damaged, it records epoch {epoch!r}"
    return None
