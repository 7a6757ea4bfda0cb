"""Execution of one run: train a network, or fit a calibrator on a network's logits.

Also what every run needs before the first one starts: the OOD inputs and
a preflight that builds the network once and reads the word vectors, so
that a bad model name or a class without a word vector fails in seconds,
not after hours of training.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from simcalib.exceptions import TrainingInterruptedWarning
from simcalib.experiments._data import ood_inputs
from simcalib.experiments._store import OUTPUT_SPLITS
from simcalib.experiments._train import (
    make_calibrator,
    make_classifier,
    make_similarity,
    softmax,
)

__all__ = ["ood_sets", "preflight", "train", "calibrate", "evaluate", "probabilities"]


def ood_sets(config, data):
    """The out-of-distribution inputs of Fig. 3 (empty when ``config.ood`` is off).

    Returns
    -------
    ood : dict of str -> ndarray of shape (n, C, H, W)
    """
    if not config.ood:
        return {}
    other = None
    if config.ood_dataset is not None:
        from simcalib import datasets

        if config.ood_dataset == "tiny-imagenet":
            other = datasets.load_tiny_imagenet(config.ood_data_dir, verbose=not config.quiet).X_test
        elif config.ood_dataset == "cifar100":
            other = datasets.load_cifar100(config.ood_data_dir).X_test
        elif config.ood_dataset == "folder":
            other = datasets.load_image_folder(
                config.ood_data_dir, image_size=data.image_shape[1:],
                color_mode="grayscale" if data.image_shape[0] == 1 else "rgb",
                verbose=not config.quiet).X_test
        else:  # "digits"; check_config allows no other value
            other = datasets.load_digits_images(dtype="uint8").X_test
    name = f"{config.ood_dataset} test images" if other is not None else "other dataset"
    return ood_inputs(data, n=config.n_ood, other=other, other_name=name, random_state=0)


def preflight(order, config, data, log):
    """Fail before any training when the network cannot be built or run on these
    images, or when the word vectors lack a class name."""
    import torch

    from simcalib.nn import build_network

    kwargs = {} if config.width is None else {"width": config.width}
    try:
        net = build_network(config.model, data.image_shape[0], data.n_classes, **kwargs)
    except TypeError as exc:  # an unexpected keyword such as width
        raise ValueError(f"model {config.model!r} does not take these options: {exc}") from None
    except (RuntimeError, MemoryError) as exc:  # e.g. a width too large to allocate
        raise ValueError(
            f"model {config.model!r} with width {config.width} cannot be built: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    net.eval()
    x = torch.zeros((2, *data.image_shape), dtype=torch.float32)
    try:
        with torch.no_grad():
            net(x)
    except RuntimeError as exc:
        raise ValueError(
            f"model {config.model!r} cannot take images of shape {data.image_shape}: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    if any(r.targets == "we" for r in order):
        sim = make_similarity("we", config, data, 0)
        sim.fit(None, np.arange(data.n_classes))
        log(f"word vectors: every class name found in {config.word_vectors}")


def _epochs_done_callback():
    """A skorch callback, placed after the checkpoint: counts complete, saved epochs.

    skorch's ``fit`` swallows KeyboardInterrupt and returns normally, leaving
    a history row for an epoch that never ended. This callback's
    ``on_epoch_end`` runs only after every earlier callback of the epoch,
    the checkpoint included, so its ``done`` counts the epochs that ended.
    """
    from skorch.callbacks import Callback

    class EpochsDone(Callback):
        def initialize(self):
            self.done = 0
            return self

        def on_train_begin(self, net, **kwargs):
            # after TrainingCheckpoint has restored a resumed run's history
            self.done = len(net.history)

        def on_epoch_end(self, net, **kwargs):
            self.done = len(net.history)

    return EpochsDone()


def check_finished(done, current, epochs, what, *, interrupted=False):
    """Raise KeyboardInterrupt when ``fit`` returned before its last epoch ended.

    ``done`` counts the complete epochs (see :func:`_epochs_done_callback`),
    ``current`` is the epoch training was in (the length of its history) and
    ``interrupted`` is the classifier's own record of a ``fit`` cut short by
    Ctrl-C (:attr:`SimilarityLSClassifier.interrupted_
    <simcalib.classifier.SimilarityLSClassifier>`). Either signal stops the
    run, so that an interrupted network is never stored as finished.
    """
    if interrupted or done < epochs:
        raise KeyboardInterrupt(
            f"training of {what} was interrupted in epoch {max(current, 1)} of {epochs}"
        )


def train(run, config, data, ood, folder, callbacks=()):
    """Train the network of a training run; return its record and outputs.

    The checkpoint callback writes the training state to ``folder`` after
    every epoch and resumes from it.

    Returns
    -------
    record : dict
        Method, seed, smoothing parameters, timings, device and
        :func:`~simcalib.metrics.calibration_report` of the test split.
    outputs : dict of str -> ndarray
        ``logits_<split>`` (float32) and ``y_<split>`` (the labels, int64)
        for the stored splits, and ``logits_ood<i>`` for each OOD set.
    """
    from simcalib.classifier import TrainingCheckpoint

    checkpoint = TrainingCheckpoint(folder, resume=True)
    done = _epochs_done_callback()
    clf = make_classifier(
        run.targets, run.alpha, run.beta, config, data, run.seed,
        callbacks=[("checkpoint", checkpoint), *callbacks, ("simcalib_epochs_done", done)],
    )
    start = time.monotonic()
    with warnings.catch_warnings():
        # an interruption is reported by check_finished (and the CLI), not as a warning
        warnings.simplefilter("ignore", TrainingInterruptedWarning)
        clf.fit(data.X_train, data.y_train)
    seconds = time.monotonic() - start
    check_finished(done.done, len(clf.history_), config.epochs, f"{run.name} (seed {run.seed})",
                   interrupted=bool(getattr(clf, "interrupted_", False)))
    outputs = {f"logits_{split}": clf.decision_function(getattr(data, f"X_{split}")).astype(np.float32)
               for split in OUTPUT_SPLITS["train"]}
    outputs.update(_labels(data, "train"))
    for i, X in enumerate(ood.values()):
        outputs[f"logits_ood{i}"] = clf.decision_function(X).astype(np.float32)
    if not all(np.all(np.isfinite(v)) for v in outputs.values()):
        raise ValueError(
            f"training of {run.name} (seed {run.seed}) diverged: the network outputs NaN or "
            f"infinity (lr={config.lr:g}); lower --lr"
        )
    record = {
        "method": run.method, "run": run.name, "seed": run.seed,
        "alpha": 0.0 if run.targets in ("one-hot", "mixup") else run.alpha,
        "beta": run.beta if run.targets not in ("one-hot", "mixup", "uniform") else None,
        "epochs": config.epochs, "train_seconds": round(seconds, 2),
        "resumed_epoch": int(getattr(clf, "resumed_epoch_", 0)),
        "device": str(getattr(clf, "device_", config.device)),
        **evaluate(outputs, data),
    }
    return record, outputs


def _labels(data, kind):
    """``y_<split>`` beside the outputs of each stored split: a run's
    ``outputs.npz`` is then all that ``simcalib evaluate`` needs."""
    return {f"y_{split}": np.asarray(getattr(data, f"y_{split}"), dtype=np.int64)
            for split in OUTPUT_SPLITS[kind]}


def calibrate(run, config, data, base_outputs, n_ood):
    """Fit the calibrator of a post-hoc run on its base network's held-out logits.

    Returns
    -------
    record : dict
    outputs : dict of str -> ndarray
        ``probs_test``, ``y_test`` and ``probs_ood<i>``.
    """
    start = time.monotonic()
    cal = make_calibrator(run.calibrator, data.y_holdout)
    cal.fit(base_outputs["logits_holdout"].astype(np.float64), data.y_holdout)
    outputs = {f"probs_{split}": cal.predict_proba(base_outputs[f"logits_{split}"].astype(np.float64))
               for split in OUTPUT_SPLITS["posthoc"]}
    outputs.update(_labels(data, "posthoc"))
    for i in range(n_ood):
        outputs[f"probs_ood{i}"] = cal.predict_proba(base_outputs[f"logits_ood{i}"].astype(np.float64))
    seconds = time.monotonic() - start
    record = {"method": run.method, "run": run.name, "seed": run.seed, "alpha": None,
              "beta": None, "epochs": config.epochs, "fit_seconds": round(seconds, 3),
              **evaluate(outputs, data)}
    return record, outputs


def probabilities(outputs, split):
    """Probabilities of a run on ``split`` (softmax of stored logits, or stored probs)."""
    if f"logits_{split}" in outputs:
        return softmax(outputs[f"logits_{split}"])
    return outputs[f"probs_{split}"]


def evaluate(outputs, data):
    """:func:`~simcalib.metrics.calibration_report` of a run's test outputs.

    Recomputed from the stored outputs whenever a folder is read, so the
    tables always follow the current metric code.
    """
    from simcalib.metrics import calibration_report

    return calibration_report(data.y_test, probabilities(outputs, "test"),
                              labels=np.arange(data.n_classes))
