"""The paper's figures: reliability diagrams (Fig. 1), parameter sweeps
(Fig. 2) and confidence distributions on out-of-distribution inputs (Fig. 3).

matplotlib is imported inside the functions, and only its object-oriented
:class:`~matplotlib.figure.Figure` is used (no pyplot state).
"""

from __future__ import annotations

import math

import numpy as np

from simcalib.experiments._methods import METHODS

__all__ = ["plot_reliability_grid", "plot_sweeps", "plot_ood_confidence"]

_LABELS = {m.key: m.label for m in METHODS}


def _figure(**kwargs):
    # A bare Figure (no pyplot): no global backend or figure-manager state.
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _reliability_axes(ax, y_true, y_prob, title, n_bins):
    from simcalib.plotting import ReliabilityDisplay

    ReliabilityDisplay.from_predictions(y_true, y_prob, n_bins=n_bins, ax=ax, name=title)
    ax.set_title(title)


def plot_reliability_grid(predictions, y_true, path, *, n_bins=15, suptitle=None):
    """Fig. 1: one reliability diagram per method, side by side.

    Parameters
    ----------
    predictions : dict of str -> ndarray of shape (n_samples, n_classes)
        Test probabilities of each method (key: method key or any title).
    y_true : ndarray of shape (n_samples,)
        Test labels.
    path : str or os.PathLike
        PNG file to write.
    n_bins : int, default=15
        Bins of the diagrams.
    suptitle : str, default=None
        Title of the figure.

    Returns
    -------
    path : str or os.PathLike

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    >>> f = os.path.join(tempfile.mkdtemp(), "fig1.png")
    >>> plot_reliability_grid({"one-hot": p}, np.array([0, 1, 1]), f) == f
    True
    """
    keys = list(predictions)
    ncols = min(5, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = _figure(figsize=(2.6 * ncols, 2.7 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    for ax, key in zip(axes.flat, keys):
        _reliability_axes(ax, y_true, predictions[key], _LABELS.get(key, key), n_bins)
        # A full legend per panel hides the bars: keep only its ECE, as text.
        _, texts = ax.get_legend_handles_labels()
        ece = next((t[t.index("ECE"):].rstrip(")") for t in texts if "ECE" in t), None)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        if ece:
            ax.text(0.97, 0.04, ece, transform=ax.transAxes, ha="right", fontsize=8,
                    bbox={"facecolor": "white", "alpha": 0.85, "lw": 0})
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    for ax in axes.flat:
        ax.label_outer()
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def plot_sweeps(alpha_sweep, beta_sweep, path, *, metrics=("hist_ece_p", "hist_ece_o")):
    """Fig. 2: ECE against alpha (per method) and against beta.

    Parameters
    ----------
    alpha_sweep : dict of str -> list of (alpha, report)
        For each method key (e.g. ``"uniform"``, ``"we"``), the reports of
        :func:`simcalib.metrics.calibration_report` at each alpha.
    beta_sweep : dict of str -> list of (beta, report)
        Same against beta (similarity methods only).
    path : str or os.PathLike
        PNG file to write.
    metrics : tuple of str, default=("hist_ece_p", "hist_ece_o")
        Report keys drawn in the alpha panels (one panel each); the beta panel
        draws the first.

    Returns
    -------
    path : str or os.PathLike

    Examples
    --------
    >>> import tempfile, os
    >>> r = lambda e: {"hist_ece_p": e, "hist_ece_o": 2 * e}
    >>> f = os.path.join(tempfile.mkdtemp(), "fig2.png")
    >>> plot_sweeps({"uniform": [(0.1, r(0.03)), (0.2, r(0.05))]},
    ...             {"we": [(1.0, r(0.02)), (2.0, r(0.01))]}, f) == f
    True
    """
    names = {"hist_ece_p": "Hist ECE P (%)", "hist_ece_o": "Hist ECE O (%)",
             "kde_ece_p": "KDE ECE P (%)", "kde_ece_o": "KDE ECE O (%)"}
    n_panels = len(metrics) + 1
    fig = _figure(figsize=(3.6 * n_panels, 3.0))
    axes = fig.subplots(1, n_panels)
    for ax, metric in zip(axes, metrics):
        for key, points in alpha_sweep.items():
            points = sorted(points, key=lambda t: t[0])
            ax.plot([a for a, _ in points], [100 * r[metric] for _, r in points],
                    "o-", label=_LABELS.get(key, key))
        ax.set_xlabel("alpha")
        ax.set_ylabel(names.get(metric, metric))
        ax.legend(fontsize=8)
        ax.set_title(f"{names.get(metric, metric).split(' (')[0]} vs alpha")
    ax = axes[-1]
    for key, points in beta_sweep.items():
        points = sorted(points, key=lambda t: t[0])
        ax.plot([b for b, _ in points], [100 * r[metrics[0]] for _, r in points],
                "s-", label=_LABELS.get(key, key))
    ax.set_xlabel("beta")
    ax.set_ylabel(names.get(metrics[0], metrics[0]))
    ax.set_title(f"{names.get(metrics[0], metrics[0]).split(' (')[0]} vs beta")
    if beta_sweep:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path


def plot_ood_confidence(confidences, path, *, bins=20):
    """Fig. 3: distribution of the top-label confidence on OOD inputs.

    Parameters
    ----------
    confidences : dict of str -> dict of str -> ndarray of shape (n,)
        ``confidences[kind][method]``: the max probability of each input of
        one OOD kind (``"other dataset"``, ``"uniform noise"``) under one method.
    path : str or os.PathLike
        PNG file to write.
    bins : int, default=20
        Histogram bins on [0, 1].

    Returns
    -------
    path : str or os.PathLike

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "fig3.png")
    >>> c = {"uniform noise": {"one-hot": np.array([0.9, 0.95]), "we": np.array([0.3, 0.5])}}
    >>> plot_ood_confidence(c, f) == f
    True
    """
    kinds = list(confidences)
    fig = _figure(figsize=(4.2 * len(kinds), 3.0))
    axes = fig.subplots(1, len(kinds), squeeze=False)
    edges = np.linspace(0.0, 1.0, bins + 1)
    for ax, kind in zip(axes.flat, kinds):
        for key, conf in confidences[kind].items():
            ax.hist(conf, bins=edges, histtype="step", density=True, lw=1.5,
                    label=f"{_LABELS.get(key, key)} (mean {np.mean(conf):.2f})")
        ax.set_xlim(0, 1)
        ax.set_xlabel("confidence")
        ax.set_ylabel("density")
        ax.set_title(kind)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path
