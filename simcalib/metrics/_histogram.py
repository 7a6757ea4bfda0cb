"""Histogram (binned) calibration errors: ECE, MCE and classwise ECE.

All binned metrics share one convention, the one of Guo et al.'s code and of
the evaluation code of the paper's baselines: bin ``m`` holds the values in
``(edges[m], edges[m + 1]]``, a confidence of exactly 1.0 falls in the last
bin and a value of exactly 0.0 (which only occurs in ``mode="output"`` and in
the classwise ECE) falls in the first bin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simcalib._validation import check_scalar_in_range
from simcalib.metrics._blocks import ProbabilityBlocks, prediction_inputs, scan
from simcalib.metrics._common import (
    MODES,
    OUTPUT_NORMALIZATIONS,
    check_option,
    output_scale,
)

__all__ = [
    "expected_calibration_error",
    "maximum_calibration_error",
    "classwise_calibration_error",
]

STRATEGIES = ("uniform", "quantile")
NORMS = ("l1", "l2", "max")

#: Number of (probability, indicator) pairs binned at once; bounds the
#: temporary bin-index array to about 2 MiB.
_CHUNK_PAIRS = 2**18


@dataclass
class BinStatistics:
    """Per-bin sums behind a histogram calibration error.

    Attributes
    ----------
    edges : ndarray of shape (n_bins + 1,)
        Bin edges; bin ``m`` is ``(edges[m], edges[m + 1]]``.
    counts : ndarray of shape (n_bins,)
        Number of pairs in each bin, as float64.
    confidence_sums : ndarray of shape (n_bins,)
        Sum of the probabilities (confidences) in each bin.
    hit_sums : ndarray of shape (n_bins,)
        Number of pairs in each bin whose indicator is 1 (correct prediction
        in prediction mode, true class in output mode).
    n_samples : int
        Number of samples ``n``.
    n_classes : int
        Number of classes ``K``.
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence_sums: np.ndarray
    hit_sums: np.ndarray
    n_samples: int
    n_classes: int

    @property
    def accuracy(self):
        """Fraction of hits per bin (NaN for an empty bin)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.hit_sums / self.counts, np.nan)

    @property
    def confidence(self):
        """Mean probability per bin (NaN for an empty bin)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.counts > 0, self.confidence_sums / self.counts, np.nan)

    def error(self, norm="l1", scale=1.0):
        """Reduce the bins to one calibration error.

        ``scale`` multiplies the bin weights ``|B_m| / n_pairs`` (K for the
        table scale of the output ECE, see :func:`expected_calibration_error`).
        """
        nonempty = self.counts > 0
        if not np.any(nonempty):  # pragma: no cover - inputs are never empty
            return 0.0
        counts = self.counts[nonempty]
        gaps = np.abs(self.hit_sums[nonempty] - self.confidence_sums[nonempty]) / counts
        if norm == "max":
            return float(gaps.max())
        weights = scale * counts / self.counts.sum()
        if norm == "l1":
            return float(np.sum(weights * gaps))
        return float(np.sqrt(np.sum(weights * gaps**2)))


def _bin_edges(values, n_bins, strategy, *, overwrite=False):
    """Uniform edges on [0, 1], or equal-mass edges at the quantiles of ``values``."""
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    edges = np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1), overwrite_input=overwrite)
    edges[0], edges[-1] = 0.0, 1.0
    return edges


def _assign(values, edges):
    """Bin index of each value for (lo, hi] bins; 0.0 goes to the first bin."""
    # side="left" counts the interior edges strictly below the value, which
    # is exactly the (lo, hi] convention; values at or below edges[1] get 0
    # and values above edges[-2] (1.0 included) get n_bins - 1.
    return np.searchsorted(edges[1:-1], values, side="left")


def _bin_pairs(values, hits, edges):
    """Bin statistics of explicit (value, indicator) pairs, in bounded chunks."""
    n_bins = len(edges) - 1
    counts = np.zeros(n_bins)
    conf = np.zeros(n_bins)
    hit = np.zeros(n_bins)
    for start in range(0, values.shape[0], _CHUNK_PAIRS):
        v = values[start : start + _CHUNK_PAIRS]
        idx = _assign(v, edges)
        counts += np.bincount(idx, minlength=n_bins)
        conf += np.bincount(idx, weights=v, minlength=n_bins)
        hit += np.bincount(idx, weights=hits[start : start + _CHUNK_PAIRS], minlength=n_bins)
    return counts, conf, hit


class PooledBins:
    """Bin sums of the ``n * K`` pooled pairs ``(p_ik, 1[y_i = k])``, block by block.

    The hits are the pairs ``(i, y_i)``, so the hit count of a bin is a
    bincount of the true-class values alone: no one-hot matrix is built.
    """

    def __init__(self, edges):
        self.edges = edges
        n_bins = len(edges) - 1
        self.counts = np.zeros(n_bins)
        self.conf_sums = np.zeros(n_bins)

    def add(self, start, block, true_value):
        values = block.reshape(-1)
        n_bins = self.counts.shape[0]
        for s in range(0, values.shape[0], _CHUNK_PAIRS):
            v = values[s : s + _CHUNK_PAIRS]
            idx = _assign(v, self.edges)
            self.counts += np.bincount(idx, minlength=n_bins)
            self.conf_sums += np.bincount(idx, weights=v, minlength=n_bins)

    def statistics(self, true_value, n_classes):
        n_bins = self.counts.shape[0]
        hit_sums = np.zeros(n_bins)
        for s in range(0, true_value.shape[0], _CHUNK_PAIRS):
            idx = _assign(true_value[s : s + _CHUNK_PAIRS], self.edges)
            hit_sums += np.bincount(idx, minlength=n_bins)
        return BinStatistics(
            self.edges, self.counts, self.conf_sums, hit_sums, true_value.shape[0], n_classes
        )


class ClasswiseBins:
    """Per-class bin sums on shared uniform edges, block by block.

    Each entry ``p_ik`` goes to bin ``k * n_bins + m``: one bincount per
    block covers all classes.
    """

    def __init__(self, edges, n_classes):
        self.edges = edges
        self.n_bins = len(edges) - 1
        size = n_classes * self.n_bins
        self.counts = np.zeros(size)
        self.conf_sums = np.zeros(size)
        self.hit_sums = np.zeros(size)
        self._offsets = np.arange(n_classes) * self.n_bins

    def add(self, start, block, true_value):
        size = self.counts.shape[0]
        idx = _assign(block, self.edges)
        idx += self._offsets
        flat = idx.reshape(-1)
        self.counts += np.bincount(flat, minlength=size)
        self.conf_sums += np.bincount(flat, weights=block.reshape(-1), minlength=size)

    def add_hits(self, y, true_value):
        size = self.counts.shape[0]
        idx = _assign(true_value, self.edges) + self._offsets[y]
        self.hit_sums += np.bincount(idx, minlength=size)

    def error(self, norm, n_samples):
        k = self._offsets.shape[0]
        shape = (k, self.n_bins)
        return _classwise_reduce(
            self.counts.reshape(shape), self.conf_sums.reshape(shape),
            self.hit_sums.reshape(shape), norm, n_samples,
        )


def _classwise_reduce(counts, conf_sums, hit_sums, norm, n_samples):
    """Mean over classes of the per-class error of (K, n_bins) bin sums."""
    nonempty = counts > 0
    safe = np.where(nonempty, counts, 1.0)
    gaps = np.where(nonempty, np.abs(hit_sums - conf_sums) / safe, 0.0)
    if norm == "max":
        per_class = gaps.max(axis=1)
    elif norm == "l1":
        per_class = (counts / n_samples * gaps).sum(axis=1)
    else:
        per_class = np.sqrt((counts / n_samples * gaps**2).sum(axis=1))
    return float(per_class.mean())


def _as_blocks(y_prob):
    return y_prob if isinstance(y_prob, ProbabilityBlocks) else ProbabilityBlocks(y_prob)


def bin_statistics(y, y_prob, *, n_bins=15, mode="prediction", strategy="uniform"):
    """Bin the pairs of one mode; the common core of the histogram metrics.

    Parameters
    ----------
    y : ndarray of shape (n_samples,), dtype=int64
        Validated class indices.
    y_prob : ProbabilityBlocks or array-like of shape (n_samples, n_classes)
        The probabilities; validated during the pass over them.
    n_bins : int
        Number of bins.
    mode : {"prediction", "output"}
        Top-label pairs or all ``n * K`` pooled pairs.
    strategy : {"uniform", "quantile"}
        Equal-width or equal-mass bins.

    Returns
    -------
    stats : BinStatistics
    """
    probs = _as_blocks(y_prob)
    k = probs.n_classes
    if mode == "prediction":
        top = scan(y, probs)
        return _top_label_statistics(top, n_bins, strategy, k)
    if strategy == "uniform":
        edges = _bin_edges(None, n_bins, strategy)
    else:
        # Equal-mass edges need all n*K values at once. np.quantile
        # partitions a copy; when the values are already a private float64
        # copy (float32 input, clipping) it may partition that one instead.
        values, is_copy = probs.to_array()
        edges = _bin_edges(values.reshape(-1), n_bins, strategy, overwrite=is_copy)
        del values
    pooled = PooledBins(edges)
    top = scan(y, probs, [pooled])
    return pooled.statistics(top.true_value, k)


def _top_label_statistics(top, n_bins, strategy, n_classes):
    edges = _bin_edges(top.confidence, n_bins, strategy)
    counts, conf_sums, hit_sums = _bin_pairs(top.confidence, top.hit, edges)
    return BinStatistics(
        edges, counts, conf_sums, hit_sums, top.confidence.shape[0], n_classes
    )


def _check_histogram_options(n_bins, mode, strategy, norm, output_normalization):
    check_scalar_in_range(n_bins, "n_bins", lo=1, integer=True)
    check_option(mode, "mode", MODES)
    check_option(strategy, "strategy", STRATEGIES)
    check_option(norm, "norm", NORMS)
    check_option(output_normalization, "output_normalization", OUTPUT_NORMALIZATIONS)


def _ece(y, probs, *, n_bins, mode, strategy, norm, output_normalization):
    stats = bin_statistics(y, probs, n_bins=n_bins, mode=mode, strategy=strategy)
    scale = output_scale(mode, output_normalization, probs.n_classes)
    return stats.error(norm, scale)


def expected_calibration_error(
    y_true,
    y_prob,
    *,
    n_bins=15,
    mode="prediction",
    strategy="uniform",
    norm="l1",
    output_normalization="n",
    labels=None,
):
    r"""Histogram-based expected calibration error (ECE).

    The probabilities are grouped into ``n_bins`` bins and the error is the
    bin-size weighted mean absolute gap between the frequency of the event
    and the mean probability in each bin (paper eq. 3-4, Guo et al. 2017)::

        ECE = sum_m w_m |acc(B_m) - conf(B_m)|

    Two sets of (probability, event) pairs can be binned:

    ``mode="prediction"`` (the paper's *P* rows)
        one pair per sample: the top-label confidence ``max_k p_ik`` and
        whether the arg-max class is the true class. Ties in the arg-max go
        to the first class. ``w_m = |B_m| / n``.
    ``mode="output"`` (the paper's *O* rows)
        all ``n * K`` pairs ``(p_ik, 1[y_i = k])`` pooled in one histogram,
        which also measures the calibration of the non-top classes.

    **Normalisation of the output ECE.** Eq. 4 of the paper, as printed,
    weights bin ``m`` by ``|B_m| / (nK)``. The values in the paper's tables
    are only consistent with ``|B_m| / n`` (a one-hot ResNet has Hist O =
    50.07 % next to Hist P = 22.96 %; divided by ``nK`` the output error of a
    100-class model is below 1 %). ``output_normalization="n"`` (default)
    reproduces the tables' scale, ``"nK"`` is eq. 4 as printed; the first is
    ``K`` times the second. The value with ``"nK"`` is what netcal's ``ECE``
    returns on the flattened probabilities and one-hot labels. In the table
    scale the output ECE lies in [0, 2] rather than [0, 1].

    **Bins.** Bin ``m`` is ``(edges[m], edges[m + 1]]``: a confidence equal to
    an upper edge belongs to that bin, 1.0 lies in the last bin and 0.0 (only
    possible in output mode) in the first bin. This is the convention of Guo
    et al.'s and the paper's baselines' code; netcal uses ``[lo, hi)`` and
    torchmetrics ``[lo, hi)`` with an extra slot for 1.0, so the three agree
    except for values that lie exactly on an edge.

    The binned ECE is that of Naeini et al. [1]_ as used by Guo et al. [2]_; the output variant is the paper's eq. 4 [3]_.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels: integer class indices in ``[0, n_classes)``, or entries
        of ``labels``.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities; rows must sum to 1. A 1-D array is the
        probability of the positive class (column 1) of a binary problem,
        as scikit-learn scorers pass it.
    n_bins : int, default=15
        Number of bins ``M`` (the paper uses 15).
    mode : {"prediction", "output"}, default="prediction"
        Which pairs are binned, see above.
    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: equal-width bins on [0, 1]. ``"quantile"``: equal-mass
        bins whose inner edges are quantiles of the binned probabilities
        (sometimes called adaptive ECE); ties can leave bins empty.
    norm : {"l1", "l2", "max"}, default="l1"
        ``"l1"``: the ECE. ``"l2"``: ``sqrt(sum_m w_m gap_m**2)`` (the RMS
        calibration error, as torchmetrics' ``norm="l2"``). ``"max"``: the
        largest gap over non-empty bins, the maximum calibration error (MCE).
    output_normalization : {"n", "nK"}, default="n"
        Divisor of the bin sizes in output mode, see above; ignored in
        prediction mode. It scales the weights ``w_m``, so ``"n"`` multiplies
        the L1 error by ``K``, the L2 error by ``sqrt(K)`` and leaves the max
        norm unchanged.
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``, when ``y_true`` does not
        hold column indices (strings, for example).

    Returns
    -------
    ece : float
        The calibration error, as a fraction (multiply by 100 for the
        percentages of the paper's tables): in [0, 1] in prediction mode and
        for the max norm; in output mode on the tables' scale in [0, 2] (L1)
        or [0, sqrt(2)] (L2), and ``K`` (L2: ``sqrt(K)``) times less with
        ``"nK"``. The output bound is ``(sum of all p + n) / n``, 2 up to the
        row-sum tolerance; one-hot predictions that are all wrong reach it.

    Raises
    ------
    ValueError
        On NaN or infinite probabilities, rows that do not sum to 1, labels
        outside the classes, a length mismatch, empty input or an unknown
        option value.

    See Also
    --------
    kde_calibration_error : The kernel density estimate of the same quantity.
    classwise_calibration_error : One histogram per class, averaged.

    References
    ----------
    .. [1] M. P. Naeini, G. F. Cooper and M. Hauskrecht, "Obtaining well calibrated probabilities using Bayesian binning", *AAAI*, 2015.
    .. [2] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of modern neural networks", *ICML*, PMLR 70, pp. 1321-1330, 2017.
    .. [3] C. Liu and J. JaJa, "Class-similarity based label smoothing for confidence calibration", *ICANN*, 2021. arXiv:2006.14028.

    Examples
    --------
    >>> from simcalib.metrics import expected_calibration_error
    >>> y_true = [0, 1, 1, 0]
    >>> y_prob = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
    >>> round(expected_calibration_error(y_true, y_prob, n_bins=5), 4)
    0.25
    >>> round(expected_calibration_error(y_true, y_prob, n_bins=5, mode="output"), 4)
    0.4
    >>> round(expected_calibration_error(
    ...     y_true, y_prob, n_bins=5, mode="output", output_normalization="nK"), 4)
    0.2
    """
    _check_histogram_options(n_bins, mode, strategy, norm, output_normalization)
    y, probs = prediction_inputs(y_true, y_prob, labels=labels)
    return _ece(
        y, probs, n_bins=n_bins, mode=mode, strategy=strategy, norm=norm,
        output_normalization=output_normalization,
    )


def maximum_calibration_error(
    y_true, y_prob, *, n_bins=15, mode="prediction", strategy="uniform", labels=None
):
    """Maximum calibration error (MCE): the largest per-bin gap.

    Equal to :func:`expected_calibration_error` with ``norm="max"``: the
    maximum over non-empty bins of ``|acc(B_m) - conf(B_m)|``, with the same
    ``(lo, hi]`` bins. It does not depend on the bin weights, so there is no
    output normalisation to choose.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (class indices, or entries of ``labels``).
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities (1-D: positive class of a binary problem).
    n_bins : int, default=15
        Number of bins.
    mode : {"prediction", "output"}, default="prediction"
        Top-label pairs or all pooled class outputs.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width or equal-mass bins.
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``.

    Returns
    -------
    mce : float
        In [0, 1].

    Examples
    --------
    >>> from simcalib.metrics import maximum_calibration_error
    >>> y_prob = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
    >>> round(maximum_calibration_error([0, 1, 1, 0], y_prob, n_bins=5), 4)
    0.4
    """
    return expected_calibration_error(
        y_true, y_prob, n_bins=n_bins, mode=mode, strategy=strategy, norm="max",
        labels=labels,
    )


def _classwise_ece(y, probs, *, n_bins, strategy, norm):
    k = probs.n_classes
    if strategy == "uniform":
        bins = ClasswiseBins(_bin_edges(None, n_bins, "uniform"), k)
        top = scan(y, probs, [bins])
        bins.add_hits(y, top.true_value)
        return bins.error(norm, probs.n_samples)
    # Equal-mass bins differ per class: one histogram per column, each
    # vectorised over the n samples; one column is copied at a time.
    probs.validate()
    counts = np.empty((k, n_bins))
    conf = np.empty((k, n_bins))
    hit = np.empty((k, n_bins))
    for j in range(k):
        column = probs.column(j)
        edges = _bin_edges(column, n_bins, strategy)
        counts[j], conf[j], hit[j] = _bin_pairs(column, y == j, edges)
    return _classwise_reduce(counts, conf, hit, norm, probs.n_samples)


def classwise_calibration_error(
    y_true, y_prob, *, n_bins=15, strategy="uniform", norm="l1", labels=None
):
    r"""Classwise ECE: the mean over classes of the one-vs-rest ECE.

    For each class ``k`` the pairs ``(p_ik, 1[y_i = k])`` of all samples are
    binned separately, and the class errors are averaged (Kull et al. 2019)::

        classwise-ECE = 1/K sum_k sum_m |B_mk| / n |acc(B_mk) - conf(B_mk)|

    Unlike the pooled output ECE (``mode="output"`` of
    :func:`expected_calibration_error`), errors of different classes cannot
    cancel inside a shared bin. Bins are ``(lo, hi]`` with 0.0 in the first
    and 1.0 in the last bin.

    The classwise ECE is defined by Kull et al. [1]_.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (class indices, or entries of ``labels``).
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities (1-D: positive class of a binary problem).
    n_bins : int, default=15
        Number of bins per class.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins, or equal-mass bins at the quantiles of each
        class's probabilities.
    norm : {"l1", "l2", "max"}, default="l1"
        Per-class reduction, as in :func:`expected_calibration_error`.
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``.

    Returns
    -------
    error : float
        In [0, 1].

    References
    ----------
    .. [1] M. Kull, M. Perello-Nieto, M. Kängsepp, T. Silva Filho, H. Song and P. Flach, "Beyond temperature scaling: obtaining well-calibrated multi-class probabilities with Dirichlet calibration", *NeurIPS*, 2019.

    Examples
    --------
    >>> from simcalib.metrics import classwise_calibration_error
    >>> y_prob = [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]
    >>> round(classwise_calibration_error([0, 1, 1, 0], y_prob, n_bins=5), 4)
    0.2
    """
    _check_histogram_options(n_bins, "prediction", strategy, norm, "n")
    y, probs = prediction_inputs(y_true, y_prob, labels=labels)
    return _classwise_ece(y, probs, n_bins=n_bins, strategy=strategy, norm=norm)
