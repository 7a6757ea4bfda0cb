"""Run the paper's comparison: every method x seed, resumable, then tables and figures.

Layout of an output folder::

    config.json                      settings that determine the numbers
    runs/<run>/seed<s>/result.json   metrics of one finished run (atomic)
    runs/<run>/seed<s>/outputs.npz   its logits / probabilities (atomic)
    runs/<run>/seed<s>/checkpoint.pt training state while a run is unfinished
    results.csv, results.md          per-run rows; mean +- std tables
    fig1_reliability.png, fig2_sweeps.png, fig3_ood.png

A run whose ``result.json`` exists is skipped; an unfinished training run
resumes from its checkpoint (written after every epoch), so an interruption
loses at most the current epoch.
"""

from __future__ import annotations

import io
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from simcalib.datasets._cache import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)
from simcalib.experiments._data import load_experiment_data, ood_inputs
from simcalib.experiments._methods import METHODS, get_methods
from simcalib.experiments._tables import format_table, results_to_csv, summarize
from simcalib.experiments._train import (
    make_calibrator,
    make_classifier,
    resolve_device,
    softmax,
)

__all__ = ["ExperimentConfig", "ExperimentResult", "run_experiment"]

_LABELS = {m.key: m.label for m in METHODS}


@dataclass
class ExperimentConfig:
    """Settings of one comparison run (see ``simcalib reproduce --help``).

    Parameters
    ----------
    dataset : {"digits", "cifar100", "tiny-imagenet"}, default="digits"
    data_dir : str, default=None
        Folder or archive of the dataset (not needed for digits).
    model : str, default="small_cnn"
        Network name for :func:`simcalib.nn.build_network` (``"resnet18"``,
        ``"resnet34"``, ``"wrn16_4"``, ``"densenet_bc100"``, ...).
    width : int, default=None
        ``module__width`` of the network (ResNets, SmallCNN); None: its default.
    methods : tuple of str, default=all ten
        Method keys (see :data:`simcalib.experiments.METHODS`).
    seeds : tuple of int, default=(0,)
        One run per method and seed; tables show mean +- std over seeds.
    epochs, batch_size, lr, weight_decay : training settings
        AdamW with a one-cycle schedule peaking at ``lr``.
    alpha, beta : float, default=0.1, 2.0
        Smoothing mass (uniform and similarity methods) and similarity
        sharpness of the main table.
    mixup_alpha : float, default=0.2
        Beta(a, a) parameter of mixup training.
    holdout : float, default=0.1
        Fraction of the training data held out for the post-hoc calibrators.
    max_classes, max_train_per_class : int, default=None
        Reduced runs: the first classes / training images per class.
    word_vectors : str, default=None
        Word-vector file for WE.
    similarity_samples : int, default=None
        Subsample per class for the pixel distances (None: exact).
    ae_latent_dim, ae_epochs : int, default=None
        Autoencoder settings for AE (None: the similarity's defaults).
    device : str, default="auto"
        ``"auto"`` uses CUDA when available.
    sweep_alphas, sweep_betas : tuple of float, default=()
        Fig. 2: alphas for uniform and the similarity method (at ``beta``),
        betas for the similarity method (at ``alpha``); first seed only.
    sweep_method : str, default=None
        Similarity method of the sweeps; None: ``"we"`` with word vectors,
        else ``"l2"``.
    ood : bool, default=True
        Fig. 3: confidences on another dataset's images and uniform noise.
    ood_dataset, ood_data_dir : str, default=None
        The other dataset (e.g. Tiny-ImageNet for a CIFAR-100 model); None:
        crops of scikit-learn's sample photos.
    n_ood : int, default=500
        Number of OOD images of each kind.
    quiet : bool, default=False
        No per-epoch log of the networks.

    Examples
    --------
    >>> cfg = ExperimentConfig(methods=("one-hot", "we"), seeds=(0, 1), epochs=2,
    ...                        word_vectors="glove.txt")
    >>> cfg.identity()["epochs"], "seeds" in cfg.identity()
    (2, False)
    """

    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "small_cnn"
    width: int | None = None
    methods: tuple = tuple(m.key for m in METHODS)
    seeds: tuple = (0,)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    alpha: float = 0.1
    beta: float = 2.0
    mixup_alpha: float = 0.2
    holdout: float = 0.1
    max_classes: int | None = None
    max_train_per_class: int | None = None
    word_vectors: str | None = None
    similarity_samples: int | None = None
    ae_latent_dim: int | None = None
    ae_epochs: int | None = None
    device: str = "auto"
    sweep_alphas: tuple = ()
    sweep_betas: tuple = ()
    sweep_method: str | None = None
    ood: bool = True
    ood_dataset: str | None = None
    ood_data_dir: str | None = None
    n_ood: int = 500
    quiet: bool = False

    #: Fields that do not change the numbers of a finished run.
    _FREE = ("methods", "seeds", "sweep_alphas", "sweep_betas", "sweep_method",
             "device", "quiet", "data_dir", "ood_data_dir", "word_vectors", "n_ood", "ood")

    def identity(self):
        """The settings a finished run's numbers depend on (stored in config.json)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._FREE}


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    records : list of dict
        One per (method, seed) of the main table.
    summary : dict
        :func:`~simcalib.experiments.summarize` of ``records``.
    table : str
        The text table (methods as columns).
    files : dict of str -> pathlib.Path
        Written files (``"csv"``, ``"markdown"``, ``"fig1"``, ...).
    n_trained, n_skipped : int
        Runs computed now / found finished.

    Examples
    --------
    >>> ExperimentResult(records=[], summary={}, table="").n_trained
    0
    """

    records: list
    summary: dict
    table: str
    files: dict = field(default_factory=dict)
    n_trained: int = 0
    n_skipped: int = 0


@dataclass(frozen=True)
class _Run:
    method: str       # method key (post-hoc: "ts", ...; training: the targets)
    targets: str | None
    alpha: float
    beta: float
    seed: int

    @property
    def posthoc(self):
        return self.targets is None

    @property
    def name(self):
        if self.posthoc or self.targets in ("one-hot", "mixup"):
            return self.method
        if self.targets == "uniform":
            return f"uniform-a{self.alpha:g}"
        return f"{self.targets}-a{self.alpha:g}-b{self.beta:g}"

    def folder(self, out):
        return Path(out) / "runs" / self.name / f"seed{self.seed}"


def _training_run(key, config, seed, alpha=None, beta=None):
    return _Run(key, key, config.alpha if alpha is None else float(alpha),
                config.beta if beta is None else float(beta), int(seed))


def _plan(config):
    """Main runs (method, seed) and sweep runs, deduplicated, in execution order."""
    methods = get_methods(config.methods)
    main, extra = [], []
    for seed in config.seeds:
        for m in methods:
            if m.stage == "posthoc":
                main.append(_Run(m.key, None, 0.0, 0.0, int(seed)))
                extra.append(_training_run("one-hot", config, seed))
            else:
                main.append(_training_run(m.key, config, seed))
    sweeps = {"alpha": [], "beta": []}
    if config.sweep_alphas or config.sweep_betas:
        sim = config.sweep_method or ("we" if config.word_vectors else "l2")
        seed = config.seeds[0]
        for a in config.sweep_alphas:
            for key in ("uniform", sim):
                sweeps["alpha"].append(_training_run(key, config, seed, alpha=a))
        for b in config.sweep_betas:
            sweeps["beta"].append(_training_run(sim, config, seed, beta=b))
    order, seen = [], set()
    for run in extra + main + sweeps["alpha"] + sweeps["beta"]:
        ident = (run.name, run.seed)
        if ident not in seen:
            seen.add(ident)
            order.append(run)
    order.sort(key=lambda r: r.posthoc)  # networks first, calibrators after
    return main, sweeps, order


def _save_npz(path, arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(path, buf.getvalue())


def _load_result(folder):
    try:
        result = json.loads((folder / "result.json").read_text(encoding="utf-8"))
        with np.load(folder / "outputs.npz") as npz:
            outputs = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, KeyError):
        return None
    return result, outputs


def _probabilities(outputs, split):
    if f"logits_{split}" in outputs:
        return softmax(outputs[f"logits_{split}"])
    return outputs[f"probs_{split}"]


def _check_config(out, config):
    path = Path(out) / "config.json"
    identity = json.loads(json.dumps(config.identity()))  # tuples -> lists
    if path.is_file():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            stored = None
        if isinstance(stored, dict) and stored != identity:
            diff = [f"{k}: {stored.get(k)!r} -> {identity.get(k)!r}"
                    for k in sorted(set(stored) | set(identity)) if stored.get(k) != identity.get(k)]
            raise ValueError(
                f"output folder {out} holds runs made with other settings "
                f"({'; '.join(diff)}); use another --out folder"
            )
    atomic_write_json(path, identity)


def _ood_sets(config, data):
    if not config.ood:
        return {}
    other = None
    if config.ood_dataset is not None:
        from simcalib import datasets

        if config.ood_dataset == "tiny-imagenet":
            other = datasets.load_tiny_imagenet(config.ood_data_dir, verbose=not config.quiet).X_test
        elif config.ood_dataset == "cifar100":
            other = datasets.load_cifar100(config.ood_data_dir).X_test
        elif config.ood_dataset == "digits":
            other = datasets.load_digits_images(dtype="uint8").X_test
        else:
            raise ValueError(
                f"ood_dataset must be 'tiny-imagenet', 'cifar100' or 'digits'; got {config.ood_dataset!r}"
            )
    name = f"{config.ood_dataset} test images" if other is not None else "other dataset"
    return ood_inputs(data, n=config.n_ood, other=other, other_name=name, random_state=0)


def _train(run, config, data, ood, folder, callbacks, log):
    from simcalib.classifier import TrainingCheckpoint
    from simcalib.metrics import calibration_report

    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = TrainingCheckpoint(folder, resume=True)
    clf = make_classifier(
        run.targets, run.alpha, run.beta, config, data, run.seed,
        callbacks=[("checkpoint", checkpoint), *callbacks],
    )
    start = time.monotonic()
    clf.fit(data.X_train, data.y_train)
    seconds = time.monotonic() - start
    if len(clf.history_) < config.epochs:
        # skorch ends fit() quietly on Ctrl-C; the checkpoint holds the last
        # complete epoch, so stop here and let a rerun resume from it.
        raise KeyboardInterrupt(
            f"training of {run.name} (seed {run.seed}) stopped after "
            f"{len(clf.history_)} of {config.epochs} epochs"
        )
    outputs = {
        "logits_test": clf.decision_function(data.X_test).astype(np.float32),
        "logits_holdout": clf.decision_function(data.X_holdout).astype(np.float32),
    }
    for i, X in enumerate(ood.values()):
        outputs[f"logits_ood{i}"] = clf.decision_function(X).astype(np.float32)
    _save_npz(folder / "outputs.npz", outputs)
    report = calibration_report(data.y_test, softmax(outputs["logits_test"]),
                                labels=np.arange(data.n_classes))
    result = {
        "method": run.method, "run": run.name, "seed": run.seed,
        "alpha": 0.0 if run.targets in ("one-hot", "mixup") else run.alpha,
        "beta": run.beta if run.targets not in ("one-hot", "mixup", "uniform") else None,
        "epochs": config.epochs, "train_seconds": round(seconds, 2),
        "resumed_epoch": int(getattr(clf, "resumed_epoch_", 0)),
        "device": str(getattr(clf, "device_", config.device)),
        **report,
    }
    atomic_write_json(folder / "result.json", result)
    checkpoint.path.unlink(missing_ok=True)  # finished: the result replaces it
    return result, outputs


def _calibrate(run, config, data, ood, out, log):
    from simcalib.metrics import calibration_report

    base = _load_result(_training_run("one-hot", config, run.seed).folder(out))
    if base is None:  # pragma: no cover - planned before, so it exists
        raise RuntimeError(f"one-hot run of seed {run.seed} is missing")
    _, base_out = base
    start = time.monotonic()
    cal = make_calibrator(run.method, run.seed, data.y_holdout)
    cal.fit(base_out["logits_holdout"].astype(np.float64), data.y_holdout)
    outputs = {"probs_test": cal.predict_proba(base_out["logits_test"].astype(np.float64))}
    for i in range(len(ood)):
        outputs[f"probs_ood{i}"] = cal.predict_proba(base_out[f"logits_ood{i}"].astype(np.float64))
    seconds = time.monotonic() - start
    folder = run.folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    _save_npz(folder / "outputs.npz", outputs)
    report = calibration_report(data.y_test, outputs["probs_test"], labels=np.arange(data.n_classes))
    result = {"method": run.method, "run": run.name, "seed": run.seed, "alpha": None,
              "beta": None, "epochs": config.epochs, "fit_seconds": round(seconds, 3),
              **report}
    atomic_write_json(folder / "result.json", result)
    return result, outputs


def _describe(run):
    label = _LABELS.get(run.method, run.method)
    if run.posthoc:
        return f"{label} on the one-hot network"
    if run.targets in ("one-hot", "mixup"):
        return label
    if run.targets == "uniform":
        return f"{label} (alpha={run.alpha:g})"
    return f"{label} (alpha={run.alpha:g}, beta={run.beta:g})"


def run_experiment(config, out, *, callbacks=(), log=None, command=None):
    """Train / calibrate every (method, seed), then write tables and figures.

    Parameters
    ----------
    config : ExperimentConfig
        What to run.
    out : str or os.PathLike
        Output folder (created). Rerunning with the same folder skips
        finished runs and resumes unfinished ones from their last epoch;
        a folder holding runs of other settings is refused.
    callbacks : sequence of skorch callbacks, default=()
        Added after the checkpoint callback of every training run.
    log : callable, default=None
        Receives progress lines; default prints to stderr.
    command : str, default=None
        The command line, recorded at the top of ``results.md``.

    Returns
    -------
    result : ExperimentResult

    Raises
    ------
    ValueError
        For bad settings or an output folder holding other settings.

    Examples
    --------
    >>> cfg = ExperimentConfig(methods=("one-hot", "ts"), epochs=1, ood=False)
    >>> res = run_experiment(cfg, "out")  # doctest: +SKIP
    >>> print(res.table)  # doctest: +SKIP
    """
    if log is None:
        def log(line):
            print(line, file=sys.stderr, flush=True)

    if not config.seeds:
        raise ValueError("seeds is empty")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    main, sweeps, order = _plan(config)
    _check_config(out, config)
    started = time.monotonic()
    log(f"loading {config.dataset} ...")
    data = load_experiment_data(
        config.dataset, config.data_dir, max_classes=config.max_classes,
        max_train_per_class=config.max_train_per_class, holdout=config.holdout,
        verbose=not config.quiet,
    )
    log(f"{config.dataset}: {len(data.y_train)} train / {len(data.y_holdout)} held-out / "
        f"{len(data.y_test)} test images of shape {data.image_shape}, {data.n_classes} classes; "
        f"device {resolve_device(config.device)}")
    ood = _ood_sets(config, data)
    _preflight(order, config, data, log)

    done = {}
    n_trained = n_skipped = 0
    for i, run in enumerate(order, 1):
        folder = run.folder(out)
        prefix = f"[{i}/{len(order)}] {_describe(run)}, seed {run.seed}"
        found = _load_result(folder)
        if found is not None:
            done[(run.name, run.seed)] = found
            n_skipped += 1
            log(f"{prefix}: finished before, skipped")
            continue
        resumed = (folder / "checkpoint.pt").is_file()
        log(f"{prefix}: {'resuming from its checkpoint' if resumed else 'starting'}")
        t0 = time.monotonic()
        if run.posthoc:
            found = _calibrate(run, config, data, ood, out, log)
        else:
            found = _train(run, config, data, ood, folder, callbacks, log)
        done[(run.name, run.seed)] = found
        n_trained += 1
        res = found[0]
        log(f"{prefix}: done in {time.monotonic() - t0:.1f} s -- accuracy "
            f"{100 * res['accuracy']:.2f}%, Hist ECE P {100 * res['hist_ece_p']:.2f}%")

    records = [dict(done[(r.name, r.seed)][0], method=r.method) for r in main]
    summary = summarize([{k: v for k, v in rec.items() if k not in ("alpha", "beta")}
                         for rec in records])
    table = format_table(summary)
    files = {}
    files["csv"] = out / "results.csv"
    atomic_write_text(files["csv"], results_to_csv(records))

    # Figures from the first seed.
    seed0 = config.seeds[0]
    first = {r.method: done[(r.name, r.seed)][1] for r in main if r.seed == seed0}
    files.update(_figures(config, data, first, sweeps, done, ood, out, log))
    elapsed = time.monotonic() - started
    files["markdown"] = out / "results.md"
    atomic_write_text(files["markdown"], _markdown(
        config, summary, sweeps, done, first, ood, command, elapsed, files, data))
    log(f"wrote {files['markdown']} and {files['csv']} ({elapsed:.1f} s)")
    return ExperimentResult(records, summary, table, files, n_trained, n_skipped)


def _preflight(order, config, data, log):
    """Fail before any training when the word vectors lack a class name."""
    if any(r.targets == "we" for r in order):
        from simcalib.experiments._train import make_similarity

        sim = make_similarity("we", config, data, 0)
        sim.fit(None, np.arange(data.n_classes))
        log(f"word vectors: every class name found in {config.word_vectors}")


def _sweep_points(sweeps, done, which):
    points = {}
    for run in sweeps[which]:
        value = run.alpha if which == "alpha" else run.beta
        points.setdefault(run.method, []).append((value, done[(run.name, run.seed)][0]))
    return points


def _figures(config, data, first, sweeps, done, ood, out, log):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("matplotlib is not installed: no figures (pip install simcalib[plot])")
        return {}
    from simcalib.experiments._figures import (
        plot_ood_confidence,
        plot_reliability_grid,
        plot_sweeps,
    )

    files = {}
    title = f"{config.dataset}, {config.model}, seed {config.seeds[0]}"
    files["fig1"] = out / "fig1_reliability.png"
    plot_reliability_grid({k: _probabilities(v, "test") for k, v in first.items()},
                          data.y_test, files["fig1"], suptitle=title)
    if sweeps["alpha"] or sweeps["beta"]:
        files["fig2"] = out / "fig2_sweeps.png"
        plot_sweeps(_sweep_points(sweeps, done, "alpha"), _sweep_points(sweeps, done, "beta"),
                    files["fig2"])
    if ood:
        shown = [k for k in first if k in ("one-hot", "uniform", "mixup", "l1", "l2", "ae", "we")]
        conf = {kind: {k: _probabilities(first[k], f"ood{i}").max(axis=1) for k in shown}
                for i, kind in enumerate(ood)}
        files["fig3"] = out / "fig3_ood.png"
        plot_ood_confidence(conf, files["fig3"])
    return files


def _markdown(config, summary, sweeps, done, first, ood, command, elapsed, files, data):
    from simcalib.experiments._tables import TABLE_ROWS

    lines = [f"# simcalib results: {config.dataset}, {config.model}", ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    lines += [
        f"- data: {len(data.y_train)} training / {len(data.y_holdout)} held-out "
        f"(post-hoc calibration) / {len(data.y_test)} test images, {data.n_classes} classes, "
        f"shape {data.image_shape}",
        f"- training: {config.epochs} epochs, batch {config.batch_size}, lr {config.lr:g}, "
        f"alpha {config.alpha:g}, beta {config.beta:g}, mixup alpha {config.mixup_alpha:g}",
        f"- seeds: {', '.join(map(str, config.seeds))}; entries are mean ± std over seeds",
        f"- device: {_device_name(config)}; python {platform.python_version()}, "
        f"{platform.machine()}",
        f"- time: {_run_seconds(done):.0f} s of training and calibration summed over the "
        f"{len(done)} runs (also those finished by earlier invocations); this invocation "
        f"took {elapsed:.0f} s",
        "",
        "ECE and accuracy in %, NLL in nats (15 bins; KDE: triweight kernel).",
        "",
        format_table(summary, style="markdown", rows=TABLE_ROWS),
        "",
    ]
    for which in ("alpha", "beta"):
        points = _sweep_points(sweeps, done, which)
        if not points:
            continue
        lines += [f"## Sweep over {which} (seed {config.seeds[0]})", "",
                  f"| method | {which} | Hist P | Hist O | KDE P | KDE O | Accuracy |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for key, pts in points.items():
            for value, rep in sorted(pts, key=lambda t: t[0]):
                lines.append(
                    f"| {_LABELS.get(key, key)} | {value:g} | " + " | ".join(
                        f"{100 * rep[m]:.2f}" for m in
                        ("hist_ece_p", "hist_ece_o", "kde_ece_p", "kde_ece_o", "accuracy")) + " |")
        lines.append("")
    if ood:
        lines += [f"## Mean confidence on out-of-distribution inputs (seed {config.seeds[0]})", "",
                  "| method | " + " | ".join(ood) + " |", "|---|" + "---:|" * len(ood)]
        for key, outputs in first.items():
            cells = [f"{_probabilities(outputs, f'ood{i}').max(axis=1).mean():.3f}"
                     for i in range(len(ood))]
            lines.append(f"| {_LABELS.get(key, key)} | " + " | ".join(cells) + " |")
        lines.append("")
    figs = [(k, files[k]) for k in ("fig1", "fig2", "fig3") if k in files]
    if figs:
        lines += ["## Figures", ""] + [f"![{k}]({p.name})" for k, p in figs] + [""]
    return "\n".join(lines)


def _run_seconds(done):
    return sum(float(res.get("train_seconds") or res.get("fit_seconds") or 0.0)
               for res, _ in done.values())


def _device_name(config):
    device = resolve_device(config.device)
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(0)})"
    return f"{device} ({platform.processor() or platform.machine()})"


def config_from_dict(values):
    """Build an :class:`ExperimentConfig` from a dict, ignoring unknown keys.

    Examples
    --------
    >>> config_from_dict({"epochs": 3, "nonsense": 1}).epochs
    3
    """
    names = {f.name for f in fields(ExperimentConfig)}
    return ExperimentConfig(**{k: v for k, v in values.items() if k in names})


def config_as_dict(config):
    """The settings as a plain dict (tuples kept)."""
    return asdict(config)
