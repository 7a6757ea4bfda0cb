"""The paper's figures: reliability diagrams (Fig. 1), parameter sweeps
(Fig. 2) and confidence distributions on out-of-distribution inputs (Fig. 3).

matplotlib is imported inside the functions, and only its object-oriented
:class:`~matplotlib.figure.Figure` is used (no pyplot state).
"""

from __future__ import annotations

import math

import numpy as np

from simcalib.experiments._methods import ALL_METHODS

__all__ = ["plot_reliability_grid", "plot_sweeps", "plot_ood_confidence"]

_LABELS = {m.key: m.label for m in ALL_METHODS}


def _figure(**kwargs):
    # A bare Figure (no pyplot): no global backend or figure-manager state.
    from matplotlib.figure import Figure

    return Figure(**kwargs)


#: Resolution of the saved figures (dots per inch).
DPI = 150


def _legend_handles():
    """Handles for the three kinds of bar of a reliability panel and the diagonal."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        Patch(facecolor="C0", edgecolor="black", lw=0.5, label="accuracy in the bin"),
        Patch(facecolor="C3", alpha=0.3, edgecolor="C3", hatch="//", lw=0.5,
              label="gap to the bin's mean confidence"),
        Patch(facecolor="0.55", edgecolor="black", lw=0.3,
              label="share of test images in the bin (strip below)"),
        Line2D([0], [0], color="k", ls="--", lw=1, label="perfect calibration"),
    ]


def plot_reliability_grid(predictions, y_true, path, *, n_bins=15, suptitle=None, ncols=5):
    """Fig. 1: one reliability diagram per method, side by side.

    Each panel shows the accuracy of every confidence bin (bars), the gap
    to the bin's mean confidence (hatched) and the diagonal of perfect
    calibration; a strip below it shows the share of the test images in
    each bin. The panel title names the method and its histogram ECE of the
    prediction (Hist ECE P, the first row of the tables); one legend below
    the panels explains the three kinds of bar.

    Parameters
    ----------
    predictions : dict of str -> ndarray of shape (n_samples, n_classes)
        Test probabilities of each method (key: method key or any title).
    y_true : ndarray of shape (n_samples,)
        Test labels.
    path : str or os.PathLike
        PNG file to write (150 dpi).
    n_bins : int, default=15
        Bins of the diagrams.
    suptitle : str, default=None
        Title of the figure.
    ncols : int, default=5
        Panels per row.

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
    from simcalib.plotting import ReliabilityDisplay

    keys = list(predictions)
    ncols = min(ncols, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = _figure(figsize=(2.5 * ncols + 0.4, 3.35 * nrows + 0.9), layout="constrained")
    grid = fig.add_gridspec(2 * nrows, ncols, height_ratios=[3.0, 0.8] * nrows)
    for i, key in enumerate(keys):
        r, c = divmod(i, ncols)
        ax = fig.add_subplot(grid[2 * r, c])
        strip = fig.add_subplot(grid[2 * r + 1, c], sharex=ax)
        disp = ReliabilityDisplay.from_predictions(
            y_true, predictions[key], n_bins=n_bins, ax=ax, show_histogram=False)
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.set_title(f"{_LABELS.get(key, key)}\nHist ECE P = {100 * disp.ece:.2f} %",
                     fontsize=9)
        ax.set_xlabel("")
        ax.tick_params(labelbottom=False, labelsize=7)
        ax.set_yticks([0, 0.5, 1])
        if c > 0:
            ax.set_ylabel("")
            ax.tick_params(labelleft=False)
        else:
            ax.set_ylabel("accuracy", fontsize=8)
        counts = np.asarray(disp.bin_counts, dtype=float)
        edges = np.asarray(disp.bin_edges, dtype=float)
        strip.bar(edges[:-1], counts / max(counts.sum(), 1.0), width=np.diff(edges),
                  align="edge", color="0.55", edgecolor="black", linewidth=0.3)
        strip.set_xlim(0, 1)
        strip.set_ylim(0, 1)
        strip.set_yticks([0, 1])
        strip.set_xticks([0, 0.5, 1])
        strip.tick_params(labelsize=7)
        strip.set_xlabel("confidence", fontsize=8)
        if c > 0:
            strip.tick_params(labelleft=False)
        else:
            strip.set_ylabel("share", fontsize=8)
    fig.legend(handles=_legend_handles(), loc="outside lower center", ncols=4, fontsize=8,
               frameon=False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.savefig(path, dpi=DPI)
    return path


def _sweep_curve(ax, points, metric, style, label):
    """One sweep curve; its lowest point ringed, so that the optimum is read off."""
    points = sorted(points, key=lambda t: t[0])
    x = [v for v, _ in points]
    y = [100 * r[metric] for _, r in points]
    (line,) = ax.plot(x, y, style, label=label)
    i = int(np.argmin(y))
    ax.plot([x[i]], [y[i]], "o", ms=11, mfc="none", mec=line.get_color(), mew=1.5)


def plot_sweeps(alpha_sweep, beta_sweep, path, *, metrics=("hist_ece_p", "hist_ece_o")):
    """Fig. 2: ECE against alpha (per method) and against beta.

    The lowest point of every curve is ringed.

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
            _sweep_curve(ax, points, metric, "o-", _LABELS.get(key, key))
        ax.set_xlabel("alpha")
        ax.set_ylabel(names.get(metric, metric))
        ax.legend(fontsize=8)
        ax.set_title(f"{names.get(metric, metric).split(' (')[0]} vs alpha")
    ax = axes[-1]
    for key, points in beta_sweep.items():
        _sweep_curve(ax, points, metrics[0], "s-", _LABELS.get(key, key))
    ax.set_xlabel("beta")
    ax.set_ylabel(names.get(metrics[0], metrics[0]))
    ax.set_title(f"{names.get(metrics[0], metrics[0]).split(' (')[0]} vs beta")
    if beta_sweep:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
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
    fig.savefig(path, dpi=DPI)
    return path
