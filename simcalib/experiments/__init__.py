"""The code behind ``simcalib demo`` and ``simcalib reproduce``.

``METHODS`` / :func:`get_methods`
    The paper's ten columns (one-hot, TS, uniform, mixup, Dir-ODIR, ETS, L1,
    L2, AE, WE) in its order; ``EXTRA_METHODS`` adds "L2 + TS", "WE + TS"
    and the cross-validated "L2 (CV)", "WE (CV)" (``ALL_METHODS``: both).
:class:`ExperimentConfig`, :func:`run_experiment`
    Train every training-time method, fit every post-hoc method on a
    held-out split, evaluate on the test split; resumable; tables and figures.
:func:`load_experiment_data`, :func:`ood_inputs`
    The data of a run and the out-of-distribution inputs of Fig. 3.
:func:`summarize`, :func:`format_table`, :func:`results_to_csv`
    Tables in the layout of the paper (methods as columns, mean ± std).
:func:`plot_reliability_grid`, :func:`plot_sweeps`, :func:`plot_ood_confidence`
    Figs. 1-3.

Training needs torch (``pip install simcalib[torch]``); it is imported only
when a network is trained.
"""

from simcalib.experiments._data import (
    DATASETS,
    ExperimentData,
    load_experiment_data,
    ood_inputs,
)
from simcalib.experiments._figures import (
    plot_ood_confidence,
    plot_reliability_grid,
    plot_sweeps,
)
from simcalib.experiments._methods import (
    ALL_METHODS,
    EXTRA_METHODS,
    METHODS,
    Method,
    get_methods,
)
from simcalib.experiments._runner import (
    ExperimentConfig,
    ExperimentResult,
    run_experiment,
)
from simcalib.experiments._tables import (
    TABLE_ROWS,
    format_table,
    results_to_csv,
    summarize,
)

__all__ = [
    "ALL_METHODS",
    "DATASETS",
    "EXTRA_METHODS",
    "METHODS",
    "TABLE_ROWS",
    "ExperimentConfig",
    "ExperimentData",
    "ExperimentResult",
    "Method",
    "format_table",
    "get_methods",
    "load_experiment_data",
    "ood_inputs",
    "plot_ood_confidence",
    "plot_reliability_grid",
    "plot_sweeps",
    "results_to_csv",
    "run_experiment",
    "summarize",
]
