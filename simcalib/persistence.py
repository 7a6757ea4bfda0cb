"""Save a fitted model and load it on another machine (CPU or GPU).

:func:`save_model` writes any fitted simcalib model -- a
:class:`~simcalib.classifier.SimilarityLSClassifier`, a calibrator, a
:class:`~simcalib.calibration.CalibratedClassifier` stack, or any
scikit-learn estimator holding them -- to a folder; :func:`load_model` reads
it back, placing every network on the device asked for, or on one that the
loading machine has. The folder holds::

    simcalib-model.json   format, library versions, the SHA-256 of each file
    estimator.pkl         the scikit-learn side, pickled; every network in it
                          is a reference to the two files below
    network-<i>.pkl       network i without its tensors (parameters, classes,
                          input scaling, soft labels, history), pickled
    network-<i>.pt        network i's weights (skorch ``save_params``), a
                          ``state_dict`` of tensors only

The weights travel as a plain ``state_dict``, written with skorch's
:meth:`~skorch.net.NeuralNet.save_params` and read with
``torch.load(weights_only=True)`` through
:meth:`~skorch.net.NeuralNet.load_params` and the ``map_location`` of the
target device: a model trained on a GPU loads on a CPU-only machine, and
the reverse, with no device tensor inside a pickle.

**Security.** ``estimator.pkl`` and ``network-<i>.pkl`` are pickles
(scikit-learn's own persistence format): unpickling runs whatever code the
file's author put in it. :func:`load_model` is therefore as safe as running
a program from the same source -- load only models you made or trust, as
with :func:`joblib.load` and :func:`pickle.load`. The checksums in
``simcalib-model.json`` detect damaged or truncated files, not a malicious
author. The ``network-<i>.pt`` files alone are safe to read from an
untrusted source: ``torch.load(weights_only=True)`` restores tensors and
plain containers only.

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> from simcalib.calibration import TemperatureScaling
>>> rng = np.random.default_rng(0)
>>> logits, y = rng.normal(size=(200, 3)) * 3, rng.integers(0, 3, 200)
>>> cal = TemperatureScaling().fit(logits, y)
>>> folder = save_model(cal, tempfile.mkdtemp() + "/calibrator")
>>> again = load_model(folder)
>>> bool(np.allclose(again.predict_proba(logits), cal.predict_proba(logits)))
True
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import platform
import shutil
import tempfile
import warnings
from pathlib import Path

__all__ = ["save_model", "load_model", "MODEL_FILE"]

#: The manifest that marks a folder written by :func:`save_model`.
MODEL_FILE = "simcalib-model.json"
_FORMAT = 1
_ESTIMATOR = "estimator.pkl"
_TAG = "simcalib-network"
#: Attributes rebuilt on load instead of pickled: the torch objects (the
#: module, optimizer and criterion, rebuilt by ``initialize`` and filled
#: from the weights file), the random generators (re-seeded) and device
#: caches.
_REBUILT = ("module_", "optimizer_", "criterion_", "callbacks_", "_input_affine_",
            "soft_labels_t_", "data_rng_", "mixup_rng_", "initialized_", "history_")


def _network_class():
    try:
        from simcalib.classifier import SimilarityLSClassifier
    except ImportError:  # no torch: a model without networks needs none
        return None
    return SimilarityLSClassifier


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


class _Pickler(pickle.Pickler):
    """Pickles networks as references (``persistent_id``), numbering them in order."""

    def __init__(self, file, networks, cls):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.networks = networks  # list of nets, index = reference number
        self.cls = cls

    def persistent_id(self, obj):
        if self.cls is not None and isinstance(obj, self.cls):
            for i, net in enumerate(self.networks):
                if net is obj:
                    return (_TAG, i)
            self.networks.append(obj)
            return (_TAG, len(self.networks) - 1)
        return None


def find_networks(model):
    """Every :class:`~simcalib.classifier.SimilarityLSClassifier` in ``model``, once each.

    Found as :func:`save_model` finds them: wherever the model's pickled
    state refers to one (a :class:`~sklearn.frozen.FrozenEstimator`, the
    fitted pairs of a :class:`~simcalib.calibration.CalibratedClassifier`,
    a pipeline step, ...).

    Parameters
    ----------
    model : object

    Returns
    -------
    networks : list of SimilarityLSClassifier
    """
    networks = []
    _Pickler(io.BytesIO(), networks, _network_class()).dump(model)
    return networks


def _skeleton(net):
    """The state of ``net`` without its torch objects (rebuilt on load)."""
    state = {k: v for k, v in net.__dict__.items() if k not in _REBUILT}
    history = getattr(net, "history_", None)
    state["history_"] = None if history is None else history.to_list()
    state["_simcalib_initialized"] = bool(getattr(net, "initialized_", False))
    affine = getattr(net, "_input_affine_", None)
    # the exact float32 input scaling (recomputing it from the float32
    # input_mean_ / input_std_ could differ in the last bit)
    state["_simcalib_input_affine"] = (
        None if affine is None else tuple(t.detach().cpu().numpy() for t in affine))
    return state


def save_model(model, path):
    """Save a fitted model (network, calibrator or stack) to the folder ``path``.

    Parameters
    ----------
    model : estimator
        Anything picklable: a fitted
        :class:`~simcalib.classifier.SimilarityLSClassifier`, a simcalib
        calibrator, a :class:`~simcalib.calibration.CalibratedClassifier`
        (with its :class:`~sklearn.frozen.FrozenEstimator`), a scikit-learn
        :class:`~sklearn.pipeline.Pipeline`, ... Every
        ``SimilarityLSClassifier`` inside, however deeply nested, has its
        weights written to a ``.pt`` file; a network referenced twice is
        written once.
    path : str or os.PathLike
        The folder to write. It must not exist, or be a folder written by
        :func:`save_model` (which is then replaced), or be empty.

    Returns
    -------
    path : pathlib.Path
        The folder.

    Raises
    ------
    ValueError
        When ``path`` is a file or a non-empty folder of something else.

    See Also
    --------
    load_model : Read it back (only from sources you trust).

    Notes
    -----
    The folder is written beside ``path`` and renamed into place when
    complete, so an interrupted save leaves the previous model (or nothing).
    """
    path = Path(path).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"cannot save the model to {path}: it is a file")
        if any(path.iterdir()) and not (path / MODEL_FILE).is_file():
            raise ValueError(f"cannot save the model to {path}: the folder is not empty "
                             f"and holds no {MODEL_FILE}; use a new folder")
    cls = _network_class()
    networks = []
    # first find the networks of the stack (and those that their own state
    # refers to), then write everything at once
    while True:
        found = len(networks)
        _Pickler(io.BytesIO(), networks, cls).dump(
            (model, [_skeleton(net) for net in networks]))
        if len(networks) == found:
            break
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.partial-", dir=parent))
    try:
        files = {}
        buffer = io.BytesIO()
        _Pickler(buffer, list(networks), cls).dump(model)
        (tmp / _ESTIMATOR).write_bytes(buffer.getvalue())
        files[_ESTIMATOR] = _sha256(tmp / _ESTIMATOR)
        entries = []
        for i, net in enumerate(networks):
            state_file, weights_file = f"network-{i}.pkl", f"network-{i}.pt"
            buffer = io.BytesIO()
            _Pickler(buffer, list(networks), cls).dump(_skeleton(net))
            (tmp / state_file).write_bytes(buffer.getvalue())
            files[state_file] = _sha256(tmp / state_file)
            entry = {"class": f"{type(net).__module__}.{type(net).__qualname__}",
                     "state": state_file, "weights": None,
                     "device": str(getattr(net, "device_", net.device))}
            if getattr(net, "initialized_", False):
                net.save_params(f_params=str(tmp / weights_file))
                files[weights_file] = _sha256(tmp / weights_file)
                entry["weights"] = weights_file
            entries.append(entry)
        manifest = {
            "format": _FORMAT,
            "model": type(model).__name__,
            "estimator": _ESTIMATOR,
            "networks": entries,
            "sha256": files,
            "versions": _versions(),
        }
        (tmp / MODEL_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=parent))
            os.replace(path, old / "model")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _versions():
    import sklearn

    from simcalib import __version__

    versions = {"simcalib": __version__, "scikit-learn": sklearn.__version__,
                "python": platform.python_version()}
    try:
        import torch
    except ImportError:
        pass
    else:
        versions["torch"] = torch.__version__
    return versions


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, networks):
        super().__init__(file)
        self.networks = networks

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 2 and pid[0] == _TAG
                and isinstance(pid[1], int) and 0 <= pid[1] < len(self.networks)):
            raise pickle.UnpicklingError(f"unknown network reference {pid!r}")
        return self.networks[pid[1]]


def _read_manifest(path):
    try:
        manifest = json.loads((path / MODEL_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path} is not a model saved by simcalib.save_model "
                         f"(no {MODEL_FILE})") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path / MODEL_FILE} is not readable JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
        raise ValueError(f"{path / MODEL_FILE}: unknown format "
                         f"{manifest.get('format') if isinstance(manifest, dict) else manifest!r}")
    files = manifest.get("sha256")
    if not isinstance(files, dict) or not isinstance(manifest.get("networks"), list):
        raise ValueError(f"{path / MODEL_FILE} lacks its file list")
    for name, digest in files.items():
        if Path(name).name != name:
            raise ValueError(f"{path / MODEL_FILE} names a file outside the folder: {name!r}")
        if not (path / name).is_file():
            raise ValueError(f"{path}: {name} is missing")
        if _sha256(path / name) != digest:
            raise ValueError(f"{path}: {name} does not match its recorded SHA-256 "
                             "(damaged or modified)")
    named = [manifest.get("estimator")] + [
        e.get(k) for e in manifest["networks"] if isinstance(e, dict) for k in ("state", "weights")
        if e.get(k) is not None or k == "state"]
    unlisted = [n for n in named if n not in files]
    if unlisted or not all(isinstance(e, dict) and "class" in e for e in manifest["networks"]):
        raise ValueError(f"{path / MODEL_FILE} names files without a checksum: {unlisted}")
    return manifest


def _target_device(net, device):
    """Where network ``net`` goes: ``device``, else its own if available, else the CPU."""
    from simcalib._device import resolve_device

    if device is not None:
        return resolve_device(device)
    wanted = net.device
    try:
        return resolve_device(wanted)
    except ValueError:
        # e.g. saved with device="cuda" on a machine that has no GPU
        warnings.warn(
            f"{type(net).__name__} was saved with device={wanted!r}, which this machine "
            "does not have; loading it on the CPU (pass device= to choose)",
            RuntimeWarning, stacklevel=3,
        )
        return "cpu"


def load_model(path, *, device=None):
    """Load a model saved by :func:`save_model`.

    .. warning::
       The folder holds pickles: loading it runs code chosen by whoever
       wrote it. Load only models you made or trust (see the module
       docstring for what is safe from an untrusted source).

    Parameters
    ----------
    path : str or os.PathLike
        The folder written by :func:`save_model`.
    device : str, torch.device or None, default=None
        Device of every network in the model, resolved by
        :func:`simcalib._device.resolve_device` (``"auto"``: CUDA when
        available). None: each network's own ``device`` parameter when this
        machine has it -- so ``device=None`` at training means CUDA when
        available -- else the CPU, with a :class:`RuntimeWarning`. The
        networks' ``device`` parameter is set accordingly.

    Returns
    -------
    model : estimator
        The saved model, ready to predict (and to train on, as after
        ``fit``).

    Raises
    ------
    ValueError
        When ``path`` is not a saved model, a file is missing or does not
        match its checksum, or ``device`` is not available.
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder saved by simcalib.save_model")
    manifest = _read_manifest(path)
    entries = manifest["networks"]
    if device is not None:
        from simcalib._device import resolve_device

        device = resolve_device(device)
    cls = _network_class()
    if entries and cls is None:
        raise ImportError("this model holds networks, which need torch and skorch: "
                          "pip install 'simcalib[torch]'")
    import importlib

    networks = []
    for entry in entries:
        module_name, _, qualname = entry["class"].rpartition(".")
        net_cls = getattr(importlib.import_module(module_name), qualname)
        networks.append(net_cls.__new__(net_cls))
    states = []
    for entry in entries:
        with open(path / entry["state"], "rb") as fh:
            states.append(_Unpickler(fh, networks).load())
    with open(path / manifest["estimator"], "rb") as fh:
        model = _Unpickler(fh, networks).load()
    for net, state, entry in zip(networks, states, entries):
        _restore(net, state, path, entry, device)
    return model


def _restore(net, state, path, entry, device):
    import torch
    from skorch.history import History

    from simcalib.classifier._input import input_affine

    history = state.pop("history_")
    initialized = state.pop("_simcalib_initialized")
    affine = state.pop("_simcalib_input_affine")
    net.__dict__.update(state)
    net.history_ = None
    net.initialized_ = False
    if not initialized or entry["weights"] is None:
        if history is not None:
            net.history_ = History(history)
        return
    target = _target_device(net, device)
    requested = net.device
    net.device = target
    net.device_ = target
    net.initialize()  # module, optimizer, criterion and callbacks, on `target`
    net.history_ = History(history or [])
    load_kwargs = net.torch_load_kwargs
    net.torch_load_kwargs = {"weights_only": True}  # tensors only, whatever was set
    try:
        net.load_params(f_params=str(path / entry["weights"]))
    finally:
        net.torch_load_kwargs = load_kwargs
    if affine is None:
        affine = input_affine(net.input_mean_, net.input_std_, net.input_dtype_)
    net._input_affine_ = tuple(torch.as_tensor(a) for a in affine)
    net.soft_labels_t_ = None
    if device is None and requested in (None, "auto"):
        net.device = requested  # the auto rule stays the auto rule
