"""The columns of the comparison tables: the paper's ten, in its order, and extras.

:data:`METHODS` are the ten columns of the paper's Tables 1-2.
:data:`EXTRA_METHODS` are columns the paper does not have: temperature
scaling stacked on a similarity-smoothed network ("L2 + TS", "WE + TS") and
similarity smoothing whose alpha and beta are chosen by cross-validation on
the training data ("L2 (CV)", "WE (CV)", the paper's tuning protocol made
explicit). ``"all"`` selects the paper's ten; extras are named.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Method", "METHODS", "EXTRA_METHODS", "ALL_METHODS", "get_methods"]


@dataclass(frozen=True)
class Method:
    """One column of the paper's Tables 1-2.

    Parameters
    ----------
    key : str
        Name on the command line (``"one-hot"``, ``"dir-odir"``, ``"we"``, ...).
    label : str
        Column heading (``"One-hot"``, ``"Dir-ODIR"``, ``"WE"``, ...).
    stage : {"train", "posthoc"}
        ``"train"``: a network trained with these targets. ``"posthoc"``: a
        calibrator fitted on the held-out logits of the one-hot network.
    targets : str or None
        For training methods, the soft targets: ``"one-hot"``, ``"uniform"``,
        ``"mixup"`` (one-hot targets, mixup training) or a similarity source
        ``"l1"``, ``"l2"``, ``"ae"``, ``"we"``.
    description : str
        One line for ``--help`` and the docs.
    base : str, default=None
        Post-hoc methods: the key of the training method whose network is
        calibrated (None: ``"one-hot"``). A "+ TS" column is
        ``Method("we+ts", "WE + TS", "posthoc", None, "...", base="we",
        calibrator="ts")``.
    calibrator : str, default=None
        Post-hoc methods: the calibrator (see
        :func:`~simcalib.experiments._train.make_calibrator`); None: ``key``.
    search : bool, default=False
        Training methods with similarity targets: alpha and beta are not the
        run's settings but chosen by
        :class:`~sklearn.model_selection.GridSearchCV` with
        :data:`~simcalib.metrics.ece_scorer` on the training data (the grid
        and folds are ``cv_alphas``, ``cv_betas``, ``cv_folds`` of
        :class:`~simcalib.experiments.ExperimentConfig`); the network is then
        trained on all training data with the chosen pair.

    Examples
    --------
    >>> [m.label for m in get_methods("one-hot,we,ts")]
    ['One-hot', 'TS', 'WE']
    """

    key: str
    label: str
    stage: str
    targets: str | None
    description: str
    base: str | None = None
    calibrator: str | None = None
    search: bool = False

    @property
    def base_method(self):
        """Post-hoc methods: key of the calibrated training method (None for training methods)."""
        if self.stage != "posthoc":
            return None
        return self.base or "one-hot"

    @property
    def calibrator_key(self):
        """Post-hoc methods: key of the calibrator (None for training methods)."""
        if self.stage != "posthoc":
            return None
        return self.calibrator or self.key

    @property
    def is_similarity(self):
        """Whether the targets come from a class-similarity source."""
        return self.targets in ("l1", "l2", "ae", "we")


#: The paper's columns, in its order.
METHODS = (
    Method("one-hot", "One-hot", "train", "one-hot", "cross-entropy on one-hot labels"),
    Method("ts", "TS", "posthoc", None, "temperature scaling of the one-hot network"),
    Method("uniform", "Uniform", "train", "uniform", "uniform label smoothing"),
    Method("mixup", "Mixup", "train", "mixup", "mixup training"),
    Method("dir-odir", "Dir-ODIR", "posthoc", None,
           "Dirichlet calibration with ODIR regularisation (lambda, mu by 5-fold CV)"),
    Method("ets", "ETS", "posthoc", None, "ensemble temperature scaling"),
    Method("l1", "L1", "train", "l1", "similarity label smoothing, pixel L1 distances"),
    Method("l2", "L2", "train", "l2", "similarity label smoothing, pixel L2 distances"),
    Method("ae", "AE", "train", "ae", "similarity label smoothing, autoencoder latents"),
    Method("we", "WE", "train", "we", "similarity label smoothing, word embeddings"),
)

#: Columns beyond the paper's, shown after its ten in this order.
EXTRA_METHODS = (
    Method("l2+ts", "L2 + TS", "posthoc", None,
           "temperature scaling of the L2-smoothed network", base="l2", calibrator="ts"),
    Method("we+ts", "WE + TS", "posthoc", None,
           "temperature scaling of the WE-smoothed network", base="we", calibrator="ts"),
    Method("l2-cv", "L2 (CV)", "train", "l2",
           "L2 similarity smoothing, alpha and beta by GridSearchCV with ece_scorer "
           "on the training data", search=True),
    Method("we-cv", "WE (CV)", "train", "we",
           "WE similarity smoothing, alpha and beta by GridSearchCV with ece_scorer "
           "on the training data", search=True),
)
#: Every column, in table order.
ALL_METHODS = METHODS + EXTRA_METHODS

_BY_KEY = {m.key: m for m in ALL_METHODS}
_ALIASES = {
    "onehot": "one-hot", "one_hot": "one-hot", "ce": "one-hot",
    "dirodir": "dir-odir", "dir_odir": "dir-odir", "dir": "dir-odir",
    "temperature": "ts", "ls": "uniform",
    "l2-ts": "l2+ts", "we-ts": "we+ts", "l2cv": "l2-cv", "wecv": "we-cv",
}


def get_methods(names="all"):
    """Return the methods named in ``names``, in table column order.

    Parameters
    ----------
    names : str or iterable of str, default="all"
        Comma-separated keys (case-insensitive; ``"all"`` for the paper's
        ten, which combines with extras: ``"all,we+ts,we-cv"``) or a list of
        keys.

    Returns
    -------
    methods : list of Method

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.

    Examples
    --------
    >>> [m.key for m in get_methods("WE, uniform")]
    ['uniform', 'we']
    >>> [m.label for m in get_methods("we-cv,we+ts,we")]
    ['WE', 'WE + TS', 'WE (CV)']
    """
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    wanted = set()
    for raw in names:
        name = str(raw).strip().lower()
        if not name:
            continue
        if name == "all":
            wanted.update(m.key for m in METHODS)
            continue
        name = _ALIASES.get(name, name)
        if name not in _BY_KEY:
            raise ValueError(
                f"unknown method {raw!r}; choose from {', '.join(_BY_KEY)} or 'all'"
            )
        wanted.add(name)
    if not wanted:
        raise ValueError("methods is empty; choose from " + ", ".join(_BY_KEY))
    return [m for m in ALL_METHODS if m.key in wanted]
