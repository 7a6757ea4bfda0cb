"""Reliability diagrams (matplotlib is imported only when drawing)."""

from __future__ import annotations

import numpy as np

from simcalib._validation import check_scalar_in_range
from simcalib.metrics._blocks import prediction_inputs
from simcalib.metrics._common import (
    MODES,
    OUTPUT_NORMALIZATIONS,
    check_option,
    output_scale,
)
from simcalib.metrics._histogram import STRATEGIES, bin_statistics

__all__ = ["ReliabilityDisplay"]


class ReliabilityDisplay:
    """Reliability diagram: per-bin accuracy against confidence.

    Follows scikit-learn's ``CalibrationDisplay`` pattern: build it with
    :meth:`from_predictions` or :meth:`from_estimator` (which also draw it),
    or construct it from precomputed bins and call :meth:`plot`. The bins
    are exactly those of :func:`simcalib.metrics.expected_calibration_error`
    (``(lo, hi]``, 1.0 in the last bin), and the ECE in the legend is that
    function's value for the same options.

    The drawing shows the accuracy (observed frequency) of each bin as a
    bar, the gap between accuracy and mean confidence as a shaded bar on top
    of or inside it, the diagonal of perfect calibration, and an inset
    histogram of the fraction of pairs in each bin.

    Parameters
    ----------
    bin_edges : ndarray of shape (n_bins + 1,)
        Bin edges.
    bin_accuracy : ndarray of shape (n_bins,)
        Fraction of hits per bin (NaN for an empty bin).
    bin_confidence : ndarray of shape (n_bins,)
        Mean probability per bin (NaN for an empty bin).
    bin_counts : ndarray of shape (n_bins,)
        Number of (probability, event) pairs per bin.
    ece : float
        Expected calibration error shown in the legend (a fraction).
    mode : {"prediction", "output"}, default="prediction"
        Which pairs were binned; sets the axis labels.
    name : str, default=None
        Name of the model or method, shown in the legend and title.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the diagram.
    figure_ : matplotlib Figure
        Figure holding ``ax_``.
    accuracy_bars_ : matplotlib BarContainer
        The per-bin accuracy bars.
    gap_bars_ : matplotlib BarContainer
        The shaded bars between accuracy and confidence.
    line_ : matplotlib Line2D
        The diagonal of perfect calibration.
    hist_ax_ : matplotlib Axes or None
        Inset axes with the fraction of pairs per bin.

    See Also
    --------
    simcalib.metrics.expected_calibration_error : The metric behind the bins.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from simcalib.plotting import ReliabilityDisplay
    >>> y_prob = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
    >>> disp = ReliabilityDisplay.from_predictions([0, 1, 1, 0], y_prob, n_bins=5)
    >>> round(disp.ece, 4)
    0.25
    >>> disp.ax_.get_xlabel()
    'Confidence'
    """

    def __init__(
        self, bin_edges, bin_accuracy, bin_confidence, bin_counts, ece, *,
        mode="prediction", name=None,
    ):
        self.bin_edges = bin_edges
        self.bin_accuracy = bin_accuracy
        self.bin_confidence = bin_confidence
        self.bin_counts = bin_counts
        self.ece = ece
        self.mode = mode
        self.name = name

    def plot(self, *, ax=None, name=None, show_histogram=True, color="C0", gap_color="C3"):
        """Draw the diagram.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created when None.
        name : str, default=None
            Overrides the name given at construction.
        show_histogram : bool, default=True
            Draw the inset histogram of the pairs per bin.
        color : str, default="C0"
            Colour of the accuracy bars.
        gap_color : str, default="C3"
            Colour of the shaded gap.

        Returns
        -------
        display : ReliabilityDisplay
            ``self``, with the ``ax_``, ``figure_``, ... attributes set.
        """
        import matplotlib.pyplot as plt
        from matplotlib.axes import Axes

        edges, acc, conf, counts = self._checked_bins()
        name = self.name if name is None else name
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a string or None; got {name!r}")
        if ax is not None and not isinstance(ax, Axes):
            raise ValueError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4.5))
        widths = np.diff(edges)
        acc = np.nan_to_num(acc)
        nonempty = counts > 0
        conf = np.where(nonempty, conf, acc)  # empty bins: no gap

        label = f"ECE = {100 * self.ece:.2f}%"
        if name:
            label = f"{name} ({label})"
        self.accuracy_bars_ = ax.bar(
            edges[:-1], acc, width=widths, align="edge", color=color,
            edgecolor="black", linewidth=0.5, label=label,
        )
        self.gap_bars_ = ax.bar(
            edges[:-1], np.abs(conf - acc), bottom=np.minimum(conf, acc), width=widths,
            align="edge", color=gap_color, alpha=0.3, edgecolor=gap_color,
            hatch="//", linewidth=0.5, label="Gap",
        )
        (self.line_,) = ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="Perfect calibration")
        ax.set(
            xlim=(0, 1), ylim=(0, 1),
            xlabel="Confidence" if self.mode == "prediction" else "Predicted probability",
            ylabel="Accuracy" if self.mode == "prediction" else "Observed frequency",
        )
        if name:
            ax.set_title(f"{name} ({'P' if self.mode == 'prediction' else 'O'})")
        ax.legend(loc="lower right", fontsize="small")

        self.hist_ax_ = None
        if show_histogram:
            # upper left: empty for over-confident models; title kept inside
            self.hist_ax_ = ax.inset_axes([0.07, 0.6, 0.3, 0.28])
            self.hist_ax_.bar(
                edges[:-1], counts / counts.sum(), width=widths, align="edge",
                color="0.5", edgecolor="black", linewidth=0.3,
            )
            self.hist_ax_.set_xlim(0, 1)
            self.hist_ax_.set_ylim(0, 1)
            self.hist_ax_.set_title("fraction per bin", fontsize="xx-small", pad=2)
            self.hist_ax_.set_xticks([0, 0.5, 1])
            self.hist_ax_.set_yticks([0, 0.5, 1])
            self.hist_ax_.tick_params(labelsize="xx-small")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    def _checked_bins(self):
        """The bin arrays as float arrays, after checking shapes and values.

        A display built by hand is checked when it is drawn (the constructor
        only stores, as scikit-learn's displays do).
        """
        check_option(self.mode, "mode", MODES)
        check_scalar_in_range(self.ece, "ece", lo=0)
        arrays = {}
        for attr in ("bin_edges", "bin_accuracy", "bin_confidence", "bin_counts"):
            try:
                value = np.asarray(getattr(self, attr), dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"{attr} must be a numeric 1-D array") from None
            if value.ndim != 1:
                raise ValueError(f"{attr} must be 1-D; got shape {value.shape}")
            arrays[attr] = value
        edges = arrays["bin_edges"]
        n_bins = edges.shape[0] - 1
        if n_bins < 1:
            raise ValueError(f"bin_edges must hold at least 2 edges; got {edges.shape[0]}")
        if not (np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0)
                and edges[0] >= 0 and edges[-1] <= 1):
            raise ValueError(
                f"bin_edges must increase strictly inside [0, 1]; got {edges.tolist()}"
            )
        for attr in ("bin_accuracy", "bin_confidence", "bin_counts"):
            if arrays[attr].shape[0] != n_bins:
                raise ValueError(
                    f"{attr} must have one entry per bin ({n_bins}, from bin_edges); "
                    f"got {arrays[attr].shape[0]}"
                )
        counts = arrays["bin_counts"]
        if not (np.all(np.isfinite(counts)) and np.all(counts >= 0)):
            raise ValueError(f"bin_counts must be finite and >= 0; got {counts.tolist()}")
        for attr in ("bin_accuracy", "bin_confidence"):
            filled = arrays[attr][counts > 0]
            if not (np.all(np.isfinite(filled)) and np.all((filled >= 0) & (filled <= 1))):
                raise ValueError(
                    f"{attr} must lie in [0, 1] in every non-empty bin; got "
                    f"{arrays[attr].tolist()}"
                )
        return edges, arrays["bin_accuracy"], arrays["bin_confidence"], counts

    @classmethod
    def from_predictions(
        cls, y_true, y_prob, *, mode="prediction", n_bins=15, strategy="uniform",
        output_normalization="n", labels=None, name=None, ax=None, **kwargs,
    ):
        """Bin predicted probabilities and draw their reliability diagram.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels (class indices, or entries of ``labels``).
        y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
            Predicted probabilities (1-D: positive class of a binary problem).
        mode : {"prediction", "output"}, default="prediction"
            Top-label confidence or all pooled class outputs.
        n_bins : int, default=15
            Number of bins.
        strategy : {"uniform", "quantile"}, default="uniform"
            Equal-width or equal-mass bins.
        output_normalization : {"n", "nK"}, default="n"
            Scale of the output-mode ECE in the legend.
        labels : array-like of shape (n_classes,), default=None
            Class label of each column of ``y_prob``.
        name : str, default=None
            Legend and title name.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : ReliabilityDisplay
        """
        check_scalar_in_range(n_bins, "n_bins", lo=1, integer=True)
        check_option(mode, "mode", MODES)
        check_option(strategy, "strategy", STRATEGIES)
        check_option(output_normalization, "output_normalization", OUTPUT_NORMALIZATIONS)
        y, probs = prediction_inputs(y_true, y_prob, labels=labels)
        stats = bin_statistics(y, probs, n_bins=n_bins, mode=mode, strategy=strategy)
        ece = stats.error("l1", output_scale(mode, output_normalization, probs.n_classes))
        display = cls(
            stats.edges, stats.accuracy, stats.confidence, stats.counts, ece,
            mode=mode, name=name,
        )
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, y, *, name=None, **kwargs):
        """Draw the reliability diagram of a fitted classifier on ``(X, y)``.

        Parameters
        ----------
        estimator : fitted classifier
            Must have ``predict_proba`` and ``classes_``.
        X : array-like of shape (n_samples, n_features)
            Input data.
        y : array-like of shape (n_samples,)
            True labels, in the estimator's label space.
        name : str, default=None
            Legend name; the estimator's class name when None.
        **kwargs
            Passed to :meth:`from_predictions` (``mode``, ``n_bins``, ``ax``...).

        Returns
        -------
        display : ReliabilityDisplay
        """
        if not hasattr(estimator, "predict_proba"):
            raise ValueError(
                f"estimator must have predict_proba; got {type(estimator).__name__}"
            )
        y_prob = estimator.predict_proba(X)
        labels = getattr(estimator, "classes_", None)
        name = type(estimator).__name__ if name is None else name
        return cls.from_predictions(y, y_prob, labels=labels, name=name, **kwargs)

    @staticmethod
    def plot_grid(displays, *, ncols=None, figsize=None, **kwargs):
        """Draw several diagrams side by side (the paper's Fig. 1 layout).

        Parameters
        ----------
        displays : sequence of ReliabilityDisplay
            One panel per display, in order (for example one-hot, uniform
            LS and similarity LS of the same network).
        ncols : int, default=None
            Panels per row; all in one row when None.
        figsize : tuple of float, default=None
            Figure size; 3.6 inches per panel when None.
        **kwargs
            Passed to each display's :meth:`plot`.

        Returns
        -------
        figure : matplotlib Figure
        axes : ndarray of matplotlib Axes, shape (n_rows, ncols)
        """
        import matplotlib.pyplot as plt

        displays = list(displays)
        if not displays:
            raise ValueError("displays must contain at least one ReliabilityDisplay")
        for i, display in enumerate(displays):
            if not isinstance(display, ReliabilityDisplay):
                raise ValueError(
                    f"displays must hold ReliabilityDisplay objects; entry {i} is a "
                    f"{type(display).__name__}"
                )
        ncols = len(displays) if ncols is None else ncols
        check_scalar_in_range(ncols, "ncols", lo=1, integer=True)
        if figsize is not None:
            if np.ndim(figsize) != 1 or len(figsize) != 2:
                raise ValueError(f"figsize must be (width, height) in inches; got {figsize!r}")
            for value in figsize:
                check_scalar_in_range(value, "figsize", lo=0, lo_open=True)
        nrows = -(-len(displays) // ncols)
        if figsize is None:
            figsize = (3.6 * ncols, 3.6 * nrows)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=figsize, squeeze=False, layout="constrained"
        )
        for display, ax in zip(displays, axes.ravel()):
            display.plot(ax=ax, **kwargs)
        for ax in axes.ravel()[len(displays):]:
            ax.set_visible(False)
        return fig, axes
