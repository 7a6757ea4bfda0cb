"""Execution of one run: train a network, or fit a calibrator on a network's logits.

Also what every run needs before the first one starts: the OOD inputs and
a preflight that builds the network once and reads the word vectors, so
that a bad model name or a class without a word vector fails in seconds,
not after hours of training.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np

from simcalib.datasets._cache import atomic_write_json
from simcalib.exceptions import TrainingInterruptedWarning
from simcalib.experiments._data import ood_inputs
from simcalib.experiments._store import OUTPUT_SPLITS
from simcalib.experiments._train import (
    make_calibrator,
    make_classifier,
    make_search,
    make_similarity,
    softmax,
)
from simcalib.progress import joblib_progress

__all__ = ["ood_sets", "preflight", "train", "search", "calibrate", "evaluate",
           "probabilities", "SEARCH"]

#: File of a cross-validated run holding its search result, written before
#: its network is trained, so that resuming that training skips the search.
SEARCH = "search.json"


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
    searched = [r for r in order if r.search]
    if searched:
        smallest = int(np.bincount(data.y_train, minlength=data.n_classes).min())
        if smallest < config.cv_folds:
            raise ValueError(
                f"cv_folds={config.cv_folds} stratified folds need as many training images "
                f"of every class; the smallest class has {smallest}"
            )


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


def search(run, config, data, folder, settings=None, log=None):
    """Choose alpha and beta of a cross-validated run; return its search record.

    Fits :func:`~simcalib.experiments._train.make_search` on the training
    images (``data.X_train``, ``data.y_train``) only. The result is written
    to ``folder/search.json`` with the run's ``settings``, and read back
    from there (when the settings match) instead of searching again.

    Returns
    -------
    record : dict
        ``alpha``, ``beta`` (the best pair), ``cv_ece`` (its mean
        cross-validated Hist ECE P), ``search_seconds`` and ``grid``: one
        ``{"alpha", "beta", "cv_ece", "cv_ece_std"}`` per pair.
    """
    path = folder / SEARCH
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = None
    if isinstance(stored, dict) and stored.get("settings") == settings and settings is not None \
            and isinstance(stored.get("result"), dict):
        if log is not None:
            log(f"  search of {run.name} (seed {run.seed}) finished before: alpha "
                f"{stored['result']['alpha']:g}, beta {stored['result']['beta']:g}")
        return stored["result"]
    alphas, betas, folds = run.grid
    cv = make_search(run.targets, run.grid, config, data, run.seed)
    start = time.monotonic()
    # one bar over the grid's len(alphas) x len(betas) x folds fits (a terminal only)
    with warnings.catch_warnings(), joblib_progress(
            total=len(alphas) * len(betas) * int(folds), desc=f"CV {run.name}", delay=1.0):
        warnings.simplefilter("ignore", TrainingInterruptedWarning)
        cv.fit(data.X_train, data.y_train)
    seconds = time.monotonic() - start
    res = cv.cv_results_
    grid = [{"alpha": float(p["alpha"]), "beta": float(p["beta"]),
             "cv_ece": float(-m), "cv_ece_std": float(sd)}
            for p, m, sd in zip(res["params"], res["mean_test_score"], res["std_test_score"])]
    best = cv.best_params_
    result = {"alpha": float(best["alpha"]), "beta": float(best["beta"]),
              "cv_ece": float(-cv.best_score_), "search_seconds": round(seconds, 2),
              "folds": int(folds), "grid": grid}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"settings": settings, "result": result})
    if log is not None:
        log(f"  search of {run.name} (seed {run.seed}): alpha {result['alpha']:g}, beta "
            f"{result['beta']:g} (CV Hist ECE P {100 * result['cv_ece']:.2f}%, "
            f"{len(grid)} pairs x {folds} folds in {seconds:.0f} s)")
    return result


def train(run, config, data, ood, folder, callbacks=(), *, settings=None, log=None):
    """Train the network of a training run; return its record and outputs.

    The checkpoint callback writes the training state to ``folder`` after
    every tenth of the epochs (every epoch for runs under 20 epochs) and
    resumes from it. A cross-validated run first chooses
    its alpha and beta with :func:`search`.

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

    alpha, beta, chosen = run.alpha, run.beta, None
    if run.search:
        chosen = search(run, config, data, folder, settings=settings, log=log)
        alpha, beta = chosen["alpha"], chosen["beta"]
    # every tenth of the epochs: an interruption loses at most that much, and
    # short runs (the demo: 100 epochs of 4 batches) do not spend a tenth of
    # their time writing checkpoints
    checkpoint = TrainingCheckpoint(folder, every=max(1, int(config.epochs) // 10), resume=True)
    done = _epochs_done_callback()
    clf = make_classifier(
        run.targets, alpha, beta, config, data, run.seed,
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
        "alpha": 0.0 if run.targets in ("one-hot", "mixup") else alpha,
        "beta": beta if run.targets not in ("one-hot", "mixup", "uniform") else None,
        "epochs": config.epochs, "train_seconds": round(seconds, 2),
        "resumed_epoch": int(getattr(clf, "resumed_epoch_", 0)),
        "device": str(getattr(clf, "device_", config.device)),
        **evaluate(outputs, data),
    }
    if chosen is not None:
        record.update(search_seconds=chosen["search_seconds"], cv_ece=chosen["cv_ece"])
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

    Plus ``confidence``, the mean top-label probability (against
    ``accuracy`` it tells over- from under-confidence). Recomputed from the
    stored outputs whenever a folder is read, so the tables always follow
    the current metric code.
    """
    from simcalib.metrics import calibration_report

    probs = probabilities(outputs, "test")
    report = calibration_report(data.y_test, probs, labels=np.arange(data.n_classes))
    report["confidence"] = float(probs.max(axis=1).mean())
    return report
