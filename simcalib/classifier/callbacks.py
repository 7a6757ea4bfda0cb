"""skorch callbacks for :class:`~simcalib.classifier.SimilarityLSClassifier`.

* :class:`LRSchedule` -- one-cycle or cosine learning rate, set every batch.
* :class:`EpochECE` -- held-out expected calibration error after each epoch.
* :class:`TrainingCheckpoint` -- save everything needed to resume a run and
  finish with the same weights as an uninterrupted one.
* :class:`PrintLog` -- skorch's epoch table, coloured only on a terminal.
* :class:`TrainingProgress` -- one progress bar over all epochs of a fit,
  drawn only on a terminal (:mod:`simcalib.progress`).
* ``ProgressBar`` and ``EarlyStopping`` are skorch's, re-exported here.
"""

from __future__ import annotations

import math
import os
import random
import sys
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, ProgressBar
from skorch.callbacks import PrintLog as _SkorchPrintLog
from skorch.history import History

from simcalib import progress
from simcalib._validation import check_scalar_in_range

__all__ = [
    "LRSchedule",
    "EpochECE",
    "TrainingCheckpoint",
    "PrintLog",
    "TrainingProgress",
    "ProgressBar",
    "EarlyStopping",
]

_SCHEDULES = ("onecycle", "cosine")


class LRSchedule(Callback):
    """Set the learning rate of every parameter group before each batch.

    The rate is a pure function of the number of training batches seen, so
    the schedule's whole state is one integer (``step_``), which
    :class:`TrainingCheckpoint` saves.

    Parameters
    ----------
    kind : {"onecycle", "cosine"}, default="onecycle"
        ``"onecycle"``: cosine warm-up from ``lr / div_factor`` to the net's
        ``lr`` over the first ``pct_start`` of training, then cosine
        annealing to ``lr / (div_factor * final_div_factor)`` (the shape of
        :class:`torch.optim.lr_scheduler.OneCycleLR`). ``"cosine"``: cosine
        annealing from ``lr`` to 0 (:class:`~torch.optim.lr_scheduler.CosineAnnealingLR`).
    pct_start : float, default=0.25
        Warm-up fraction for ``"onecycle"``.
    div_factor : float, default=25.0
        Initial rate is ``lr / div_factor`` for ``"onecycle"``.
    final_div_factor : float, default=1e4
        Final rate is ``lr / (div_factor * final_div_factor)`` for ``"onecycle"``.

    Attributes
    ----------
    step_ : int
        Training batches seen.
    total_steps_ : int
        ``max_epochs`` times the training batches per epoch.

    Examples
    --------
    >>> sched = LRSchedule("cosine")
    >>> round(sched.rate(0.5, 0.1), 3)
    0.05
    """

    def __init__(self, kind="onecycle", pct_start=0.25, div_factor=25.0, final_div_factor=1e4):
        self.kind = kind
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor

    def initialize(self):
        if not isinstance(self.kind, str) or self.kind not in _SCHEDULES:
            raise ValueError(f"kind must be one of {_SCHEDULES}; got {self.kind!r}")
        check_scalar_in_range(self.pct_start, "pct_start", lo=0.0, hi=1.0,
                              lo_open=True, hi_open=True)
        check_scalar_in_range(self.div_factor, "div_factor", lo=0.0, lo_open=True)
        check_scalar_in_range(self.final_div_factor, "final_div_factor", lo=0.0, lo_open=True)
        self.step_ = 0
        self.total_steps_ = None
        return self

    def rate(self, t, lr):
        """Learning rate at training progress ``t`` in [0, 1] for base rate ``lr``."""
        t = min(max(t, 0.0), 1.0)
        if self.kind == "cosine":
            return lr * 0.5 * (1.0 + math.cos(math.pi * t))
        lo = lr / self.div_factor
        end = lo / self.final_div_factor
        if t < self.pct_start:
            u = t / self.pct_start
            return lo + (lr - lo) * 0.5 * (1.0 - math.cos(math.pi * u))
        u = (t - self.pct_start) / (1.0 - self.pct_start)
        return end + (lr - end) * 0.5 * (1.0 + math.cos(math.pi * u))

    def on_train_begin(self, net, **kwargs):
        self.step_ = 0
        self.total_steps_ = None

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        if self.total_steps_ is None:
            per_epoch = getattr(net, "train_batches_per_epoch_", None) or 1
            self.total_steps_ = max(1, per_epoch * net.max_epochs)
        lr = self.rate(self.step_ / self.total_steps_, net.lr)
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        net.history.record_batch("lr", lr)

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.step_ += 1


def _ece_score(net, X, y):
    from simcalib.metrics import expected_calibration_error

    proba = net.predict_proba(X)
    # y is the encoded label (0 .. K-1), the column index of predict_proba
    return expected_calibration_error(
        np.asarray(y), proba, n_bins=15, labels=np.arange(proba.shape[1])
    )


class EpochECE(EpochScoring):
    """Expected calibration error of the held-out split after each epoch.

    Records ``valid_ece`` (15-bin top-label ECE of
    :func:`simcalib.metrics.expected_calibration_error`) in the history; it
    needs a validation split (``train_split``). Lower is better, so it can
    drive :class:`EarlyStopping` (``monitor="valid_ece"``) or a checkpoint.

    Parameters
    ----------
    name : str, default="valid_ece"
        Column name in the history.
    on_train : bool, default=False
        Score the training data instead of the validation split.

    Examples
    --------
    >>> cb = EpochECE()
    >>> cb.name, cb.lower_is_better
    ('valid_ece', True)
    """

    def __init__(self, name="valid_ece", on_train=False):
        super().__init__(
            scoring=_ece_score, lower_is_better=True, on_train=on_train, name=name
        )

    def get_params(self, deep=True):
        return {"name": self.name, "on_train": self.on_train}


def _rng_states(net):
    states = {
        "torch": torch.get_rng_state(),
        # the legacy global numpy state is what code outside simcalib may use
        "numpy": np.random.get_state(),  # noqa: NPY002
        "python": random.getstate(),
        "data": net.data_rng_.get_state(),
        "mixup": net.mixup_rng_.bit_generator.state,
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(net, states):
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])  # noqa: NPY002
    random.setstate(states["python"])
    net.data_rng_.set_state(states["data"])
    net.mixup_rng_.bit_generator.state = states["mixup"]
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _callback_state(callback):
    # the plain-valued fitted attributes (skorch's convention: trailing "_"),
    # e.g. LRSchedule.step_, EarlyStopping.misses_ / best_epoch_
    plain = (int, float, str, bool, type(None))
    return {
        k: v for k, v in vars(callback).items()
        if k.endswith("_") and isinstance(v, plain)
    }


class TrainingCheckpoint(Callback):
    """Save the whole training state after every ``every`` epochs; resume from it.

    The file holds the module, optimizer and history, the plain-valued state
    of every callback (learning-rate step, early-stopping counters, best
    scores) and the random number generator states (torch, CUDA, numpy,
    Python, and the net's data and mixup generators). A run interrupted
    after epoch ``e`` and started again with ``resume=True`` (same data,
    parameters and ``random_state``) loads it when training begins, trains
    the remaining ``max_epochs - e`` epochs, and ends with the same weights
    as a run that was never interrupted (bit for bit on the CPU; on a GPU up
    to the determinism of its kernels).

    Put it last in ``callbacks`` so the history it saves is complete.

    Parameters
    ----------
    dirname : str or path-like
        Folder of the checkpoint (created if missing).
    f_name : str, default="checkpoint.pt"
        File name inside ``dirname``.
    every : int, default=1
        Save every ``every`` epochs (and always after the last one).
    resume : bool, default=False
        Whether to load the file, if it exists, when training begins.

    Attributes
    ----------
    resumed_epoch_ : int
        The epoch loaded at the start of training (0 when none was).

    Examples
    --------
    >>> import tempfile
    >>> cb = TrainingCheckpoint(tempfile.mkdtemp(), resume=True)
    >>> cb.path.name
    'checkpoint.pt'
    """

    def __init__(self, dirname, f_name="checkpoint.pt", every=1, resume=False):
        self.dirname = dirname
        self.f_name = f_name
        self.every = every
        self.resume = resume

    @property
    def path(self):
        return Path(self.dirname) / self.f_name

    def initialize(self):
        check_scalar_in_range(self.every, "every", lo=1, integer=True)
        self.resumed_epoch_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        self.resumed_epoch_ = 0
        if self.resume and self.path.is_file():
            self.resumed_epoch_ = self.load(net)
            net.resumed_epoch_ = self.resumed_epoch_

    def on_epoch_end(self, net, **kwargs):
        epoch = len(net.history)
        if epoch % self.every == 0 or epoch >= net.max_epochs:
            self.save(net)

    def save(self, net):
        """Write the training state of ``net`` to :attr:`path` (atomically)."""
        state = {
            "epoch": len(net.history),
            "module": net.module_.state_dict(),
            "optimizer": net.optimizer_.state_dict(),
            "history": net.history.to_list(),
            "callbacks": {name: _callback_state(cb) for name, cb in net.callbacks_},
            "rng": _rng_states(net),
        }
        Path(self.dirname).mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.path)

    def load(self, net):
        """Restore ``net`` from :attr:`path`; return the epoch it was saved at."""
        # The file holds numpy/python RNG states, which weights_only loading
        # rejects; it is a file this callback wrote, load it like a pickle.
        state = torch.load(self.path, map_location=net.device_, weights_only=False)
        net.module_.load_state_dict(state["module"])
        net.optimizer_.load_state_dict(state["optimizer"])
        net.history_ = History(state["history"])
        for name, cb in net.callbacks_:
            for key, value in state["callbacks"].get(name, {}).items():
                setattr(cb, key, value)
        _set_rng_states(net, state["rng"])
        return int(state["epoch"])


class PrintLog(_SkorchPrintLog):
    """skorch's per-epoch table, with colour only when standard output is a terminal.

    skorch's :class:`~skorch.callbacks.PrintLog` colours the best value of
    every column with ANSI escape codes, also when the output goes to a
    file or a pipe, where the codes show up as garbage. This subclass
    keeps the codes only when the sink is ``print`` and standard output is
    a terminal; a custom sink (a logger, a file) never receives them.
    Lines go through :func:`simcalib.progress.write`, so they do not break
    a progress bar on screen.

    Parameters are those of skorch's ``PrintLog``.

    Examples
    --------
    >>> log = PrintLog().initialize()
    >>> row = {"epoch": 1, "train_loss": 0.5, "train_loss_best": True}
    >>> log.format_row(row, "train_loss", color="\x1b[32m")  # doctest's stdout is no terminal
    '0.5000'
    """

    def _colour(self):
        return self.sink is print and progress.is_terminal(sys.stdout)

    def format_row(self, row, key, color):
        text = super().format_row(row, key, color)
        if isinstance(text, str) and not self._colour():
            return progress.strip_ansi(text)
        return text

    def _sink(self, text, verbose):
        if self.sink is print:
            if verbose:
                progress.write(text)
        else:
            self.sink(text)


class TrainingProgress(Callback):
    """One progress bar over every training batch of a fit, on a terminal only.

    The bar counts the batches of all epochs (``max_epochs`` times the
    batches per epoch), names the current epoch and shows the last training
    loss. It is drawn only when the net's ``verbose`` is non-zero, progress
    bars are enabled (:func:`simcalib.progress.set_progress_bars`) and
    standard error is a terminal; otherwise it costs nothing.
    :class:`~simcalib.classifier.SimilarityLSClassifier` includes it by
    default (``callbacks__progress=None`` removes it).

    Parameters
    ----------
    delay : float, default=0.5
        Seconds before the bar first appears.

    Examples
    --------
    >>> TrainingProgress().initialize().bar_ is None
    True
    """

    def __init__(self, delay=0.5):
        self.delay = delay

    def initialize(self):
        self.bar_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self._close()

    def on_epoch_begin(self, net, **kwargs):
        if self.bar_ is None:
            # epochs this fit trains (fewer when TrainingCheckpoint resumed a run)
            self.epochs_ = int(getattr(net, "_planned_epochs", net.max_epochs))
            self.first_epoch_ = int(getattr(net, "resumed_epoch_", 0) or 0)
            per_epoch = getattr(net, "train_batches_per_epoch_", None)
            self.bar_ = progress.progress_bar(
                total=None if per_epoch is None else per_epoch * max(self.epochs_, 1),
                desc="training", unit="batch", enabled=bool(net.verbose), delay=self.delay,
            )
        epoch = len(net.history)  # skorch appended this epoch's row already
        self.bar_.set_description(
            f"epoch {epoch}/{self.first_epoch_ + self.epochs_}", refresh=False)

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training or self.bar_ is None:
            return
        if self.bar_.total is None:
            per_epoch = getattr(net, "train_batches_per_epoch_", None)
            if per_epoch:
                self.bar_.total = per_epoch * max(self.epochs_, 1)
        self.bar_.update()

    def on_epoch_end(self, net, **kwargs):
        if self.bar_ is not None and not self.bar_.disable:
            loss = net.history[-1].get("train_loss")
            if isinstance(loss, float):
                self.bar_.set_postfix(train_loss=f"{loss:.4f}", refresh=False)

    def on_train_end(self, net, **kwargs):
        self._close()

    def _close(self):
        bar, self.bar_ = getattr(self, "bar_", None), None
        if bar is not None:
            bar.close()

    def __getstate__(self):
        # a live tqdm bar holds a stream and a lock: never pickled
        state = dict(self.__dict__)
        state["bar_"] = None
        return state
