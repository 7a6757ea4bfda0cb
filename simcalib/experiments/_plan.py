"""The run plan: which networks to train and which calibrators to fit, in order.

A :class:`Run` is one unit of work with its own folder. Training runs are
named after their targets and smoothing parameters, so a network shared by
several columns or sweeps (the one-hot network calibrated by TS, the sweep
point at the main alpha) is trained once. A post-hoc run names the training
run it calibrates (its ``base``); the plan puts every training run before
the post-hoc runs.

Adding a column is adding a :class:`~simcalib.experiments.Method`: a
training method with new ``targets`` (see ``_train.make_similarity``), or a
post-hoc one with a ``base`` and a ``calibrator`` (a "+ TS" column). A
training method with ``search=True`` is a cross-validated run: its ``grid``
(alphas, betas, folds) replaces alpha and beta in its identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from simcalib.experiments._methods import ALL_METHODS, get_methods

__all__ = ["Run", "Plan", "plan_runs", "describe"]

_LABELS = {m.key: m.label for m in ALL_METHODS}
_BY_KEY = {m.key: m for m in ALL_METHODS}
#: Targets whose runs do not depend on alpha / beta.
_PLAIN_TARGETS = ("one-hot", "mixup")


@dataclass(frozen=True)
class Run:
    """One network to train or one calibrator to fit, for one seed.

    Attributes
    ----------
    method : str
        Column key (training runs: the targets).
    seed : int
        Seed of the network (and of its data order / augmentation).
    targets : str or None
        Training runs: the soft targets. None for post-hoc runs.
    alpha, beta : float
        Smoothing mass and similarity sharpness of a training run.
    calibrator : str or None
        Post-hoc runs: the calibrator key.
    base : Run or None
        Post-hoc runs: the training run whose network is calibrated.
    grid : tuple or None
        Cross-validated training runs: ``(alphas, betas, folds)`` of the
        search that chooses alpha and beta (``alpha`` and ``beta`` are then
        unused). None for every other run.
    """

    method: str
    seed: int
    targets: str | None = None
    alpha: float = 0.0
    beta: float = 0.0
    calibrator: str | None = None
    base: Run | None = None
    grid: tuple | None = None

    @property
    def search(self):
        """Whether alpha and beta are chosen by cross-validation."""
        return self.grid is not None

    @property
    def posthoc(self):
        """Whether this run fits a calibrator (rather than training a network)."""
        return self.calibrator is not None

    @property
    def name(self):
        """Folder name under ``runs/``: the targets and the parameters they use."""
        if self.posthoc or self.targets in _PLAIN_TARGETS:
            return self.method
        if self.search:
            return f"{self.targets}-cv"
        if self.targets == "uniform":
            return f"{self.targets}-a{self.alpha:g}"
        return f"{self.targets}-a{self.alpha:g}-b{self.beta:g}"

    @property
    def key(self):
        """``(name, seed)``: identifies the run within a plan."""
        return (self.name, self.seed)

    def folder(self, out):
        """The run's folder in the output folder ``out``."""
        return Path(out) / "runs" / self.name / f"seed{self.seed}"

    def identity(self):
        """What distinguishes this run within one output folder (JSON-ready)."""
        ident = {"name": self.name, "method": self.method, "seed": int(self.seed)}
        if self.posthoc:
            ident.update(calibrator=self.calibrator, base=self.base.name)
        elif self.search:
            alphas, betas, folds = self.grid
            ident.update(targets=self.targets, search={
                "alphas": [float(a) for a in alphas], "betas": [float(b) for b in betas],
                "folds": int(folds), "scoring": "ece_scorer"})
        else:
            ident.update(targets=self.targets, alpha=float(self.alpha), beta=float(self.beta))
        return ident


@dataclass(frozen=True)
class Plan:
    """The runs of one invocation.

    Attributes
    ----------
    main : list of Run
        One per (method, seed) of the main table, in column order per seed.
    sweeps : dict of str -> list of Run
        ``"alpha"`` and ``"beta"``: the runs of Fig. 2 (first seed).
    order : list of Run
        Every distinct run, training runs first (post-hoc runs need them).
    """

    main: list
    sweeps: dict
    order: list


def training_run(key, config, seed, alpha=None, beta=None):
    """The training run of method ``key`` at the config's (or the given) alpha / beta."""
    return Run(key, int(seed), targets=key,
               alpha=float(config.alpha if alpha is None else alpha),
               beta=float(config.beta if beta is None else beta))


def plan_runs(config):
    """Main runs (method, seed) and sweep runs, deduplicated, in execution order.

    Parameters
    ----------
    config : ExperimentConfig
        Validated settings.

    Returns
    -------
    plan : Plan
    """
    main, extra = [], []
    for seed in config.seeds:
        for m in get_methods(config.methods):
            if m.stage == "posthoc":
                base_method = _BY_KEY[m.base_method]
                base = training_run(base_method.targets, config, seed)
                main.append(Run(m.key, int(seed), calibrator=m.calibrator_key, base=base))
                extra.append(base)
            elif m.search:
                grid = (tuple(config.cv_alphas), tuple(config.cv_betas), int(config.cv_folds))
                main.append(Run(m.key, int(seed), targets=m.targets, grid=grid))
            else:
                main.append(training_run(m.targets, config, seed))
    sweeps = {"alpha": [], "beta": []}
    if config.sweep_alphas or config.sweep_betas:
        sim = config.sweep_method or ("we" if config.word_vectors else "l2")
        seed = config.seeds[0]
        for a in config.sweep_alphas:
            for key in ("uniform", sim):
                sweeps["alpha"].append(training_run(key, config, seed, alpha=a))
        for b in config.sweep_betas:
            sweeps["beta"].append(training_run(sim, config, seed, beta=b))
    order, seen = [], set()
    for run in extra + main + sweeps["alpha"] + sweeps["beta"]:
        if run.key not in seen:
            seen.add(run.key)
            order.append(run)
    order.sort(key=lambda r: r.posthoc)  # networks first, calibrators after
    return Plan(main, sweeps, order)


def describe(run):
    """A short description of a run for the progress log."""
    label = _LABELS.get(run.method, run.method)
    if run.posthoc:
        return f"{label} on the {run.base.method} network"
    if run.targets in _PLAIN_TARGETS:
        return label
    if run.search:
        alphas, betas, folds = run.grid
        return (f"{label} (alpha in {{{', '.join(f'{a:g}' for a in alphas)}}}, beta in "
                f"{{{', '.join(f'{b:g}' for b in betas)}}}, {folds}-fold CV)")
    if run.targets == "uniform":
        return f"{label} (alpha={run.alpha:g})"
    return f"{label} (alpha={run.alpha:g}, beta={run.beta:g})"
