"""KDE-based expected calibration error (paper eq. 5-6, Zhang et al. 2020).

Prediction mode follows the reference procedure of the Mix-n-Match code
(``ece_kde_binary``), re-implemented with numpy so that it costs
``O(n K + grid)``: linear binning of the data onto a fixed grid followed by an
FFT convolution with the sampled triweight kernel, which is what KDEpy's
``FFTKDE`` does. Output mode pools the ``n * K`` pairs and uses the kernel
analogue of the pooled histogram (see :func:`kde_calibration_error`).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import trapezoid as _trapezoid
from scipy.signal import convolve, fftconvolve

from simcalib._validation import check_scalar_in_range
from simcalib.metrics._blocks import prediction_inputs, scan
from simcalib.metrics._common import (
    MODES,
    OUTPUT_NORMALIZATIONS,
    check_option,
    output_scale,
)

__all__ = ["kde_calibration_error"]

BANDWIDTHS = ("reference", "paper")

#: Evaluation grid of the reference code: wide enough to hold the data
#: mirrored about 0 and 1 (which lies in [-0.5, 1.5]).
GRID = np.linspace(-0.6, 1.6, 2**14)
_DX = (GRID[-1] - GRID[0]) / (GRID.size - 1)
#: Below this density (of both pp1 and pp2) the reference code keeps the
#: previous integrand value.
_DENSITY_FLOOR = 1e-6

#: Smallest kernel standard deviation: the step of the reference grid. A
#: narrower kernel is not resolved by the grid (it would cover fewer than
#: seven grid points), so a bandwidth rule that gives less (no spread in the
#: confidences) is raised to it, and a smaller given bandwidth is refused.
MIN_BANDWIDTH = float(_DX)
#: Largest accepted given bandwidth: a kernel wider than the unit interval
#: no longer estimates anything local.
MAX_BANDWIDTH = 1.0

#: Grid of the pooled output estimator: 0 and 1 are grid points, so the
#: reflection at the boundaries is an exact fold of the kernel mass.
OUTPUT_GRID = np.linspace(0.0, 1.0, 2**13 + 1)
_ODX = 1.0 / (OUTPUT_GRID.size - 1)

#: Values binned per step: keeps the temporaries of the linear binning small
#: (a few hundred KiB each) whatever ``n * K`` is.
_CHUNK = 2**16


def _triweight(u, bw):
    """Triweight kernel with standard deviation ``bw`` (support ``+-3 bw``)."""
    h = 3.0 * bw  # the unit triweight 35/32 (1 - t^2)^3 has variance 1/9
    t = u / h
    return np.where(np.abs(t) < 1.0, 35.0 / 32.0 * np.clip(1.0 - t * t, 0.0, None) ** 3, 0.0) / h


# --------------------------------------------------------------------------
# Prediction mode: the reference procedure


def _linear_binning_with_mirror(x):
    """Linear-binning weights of ``x`` and of its mirror images on :data:`GRID`.

    Each point spreads a unit mass over its two neighbouring grid points
    (as KDEpy's ``linear_binning``); its mirror image (about 0 below 0.5,
    about 1 otherwise) does too. Chunked: O(len(x)) time, O(chunk + grid)
    memory.
    """
    count = np.zeros(GRID.size)
    frac_sum = np.zeros(GRID.size)
    for start in range(0, x.size, _CHUNK):
        block = x[start : start + _CHUNK]
        for values in (block, np.where(block < 0.5, -block, 2.0 - block)):
            pos = (values - GRID[0]) / _DX
            left = pos.astype(np.intp)  # floor: every position is positive
            pos -= left  # fractional part
            # grid point j gets 1 - frac from the points whose left neighbour
            # is j and frac from those whose left neighbour is j - 1
            count += np.bincount(left, minlength=GRID.size)
            frac_sum += np.bincount(left, weights=pos, minlength=GRID.size)
    out = count - frac_sum
    out[1:] += frac_sum[:-1]
    return out


def reflected_density(x, bw):
    """Density of ``x`` on :data:`GRID` with reflection about 0 and 1.

    Points below 0.5 are mirrored about 0 and the others about 1; the KDE of
    the ``2 len(x)`` points is set to 0 outside (0, 1) and doubled, as in the
    reference code.

    Parameters
    ----------
    x : ndarray of shape (n_points,)
        Values in [0, 1].
    bw : float
        Kernel standard deviation.

    Returns
    -------
    density : ndarray of shape (GRID.size,)
    """
    if x.size == 0:
        return np.zeros(GRID.size)
    grid_counts = _linear_binning_with_mirror(x) / (2 * x.size)
    half_width = int(min(np.floor(3.0 * bw / _DX), GRID.size))
    kernel = _triweight(np.linspace(-_DX * half_width, _DX * half_width, 2 * half_width + 1), bw)
    density = fftconvolve(grid_counts, kernel, mode="same")
    # FFT round-off leaves values of order -1e-18 where the density is 0
    np.maximum(density, 0.0, out=density)
    density[(GRID <= 0.0) | (GRID >= 1.0)] = 0.0
    return 2.0 * density


def _std(values):
    return float(np.std(values)) if values.size > 1 else 0.0


def bandwidth_from_rule(sigma, fallback_sigma, n_pairs, bandwidth):
    """Kernel standard deviation of a named rule (or a given float).

    ``sigma`` is the spread of the confidences of the hits; when it is 0
    (fewer than two hits, or all at one value) ``fallback_sigma``, the
    spread of all confidences, is used. The result is never below
    :data:`MIN_BANDWIDTH`.
    """
    if not isinstance(bandwidth, str):
        return float(bandwidth)
    if sigma <= 0.0:
        sigma = fallback_sigma
    if bandwidth == "reference":
        bw = sigma * (2.0 * n_pairs) ** -0.2
    else:
        bw = 1.06 * sigma * n_pairs**-0.2
    return max(bw, MIN_BANDWIDTH)


def select_bandwidth(confidences, hit_confidences, bandwidth):
    """Kernel standard deviation for the named rule or a given float.

    ``sigma`` is the standard deviation of ``hit_confidences`` (the
    confidences of the correctly classified samples, or the true-class
    outputs), falling back to that of all ``confidences`` when it is 0 or
    undefined; ``N`` is the number of pairs. The bandwidth is never below
    :data:`MIN_BANDWIDTH`, the grid step.
    """
    return bandwidth_from_rule(
        _std(hit_confidences), _std(confidences), confidences.size, bandwidth
    )


def _kde_ece_pairs(confidences, hit_confidences, bw):
    """KDE calibration error of pairs given as all confidences and those of the hits.

    Follows the reference code (``ece_kde_binary``) on the densities, with
    one bound added: where the reference carries the previous integrand
    value across a gap of (almost) zero density, the carried value is capped
    by the density there. The integrand ``|x - acc(x)| f(x)`` can never
    exceed ``f(x)``; without the cap a narrow kernel (no spread in the
    confidences) carries a spike of ``f`` across the whole gap and the
    "error" reaches 10-50.
    """
    pp1 = reflected_density(hit_confidences, bw)  # density of the hits
    pp2 = reflected_density(confidences, bw)  # density of all pairs
    hit_rate = hit_confidences.size / confidences.size
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(pp2 > 0.0, np.minimum(hit_rate * pp1 / pp2, 1.0), 1.0)
    integrand = np.abs(GRID - acc) * pp2
    # Where both densities vanish the reference code keeps the previous
    # integrand value: a forward fill (0 before the first valid point).
    valid = np.maximum(pp1, pp2) > _DENSITY_FLOOR
    integrand = np.where(valid, integrand, 0.0)
    last_valid = np.maximum.accumulate(np.where(valid, np.arange(GRID.size), 0))
    integrand = np.minimum(integrand[last_valid], pp2)
    inside = (GRID >= 0.0) & (GRID <= 1.0)
    return float(_trapezoid(integrand[inside], GRID[inside]) / _trapezoid(pp2[inside], GRID[inside]))


# --------------------------------------------------------------------------
# Output mode: the kernel analogue of the pooled histogram


def _linear_binning_unit(values, weights=None):
    """Linear-binning masses of ``values`` in [0, 1] on :data:`OUTPUT_GRID`.

    Each value spreads its weight (1 by default) over its two neighbouring
    grid points; the total mass is the total weight.
    """
    size = OUTPUT_GRID.size
    out = np.zeros(size)
    for start in range(0, values.size, _CHUNK):
        v = values[start : start + _CHUNK]
        w = None if weights is None else weights[start : start + _CHUNK]
        pos = v / _ODX
        left = np.minimum(pos.astype(np.intp), size - 2)
        frac = pos - left
        upper = frac if w is None else frac * w
        lower = (1.0 - frac) if w is None else w - upper
        out += np.bincount(left, weights=lower, minlength=size)
        out += np.bincount(left + 1, weights=upper, minlength=size)
    return out


def _fold_smooth(masses, bw):
    """Convolve grid masses with the triweight kernel, folding at 0 and 1.

    The kernel samples are normalised to sum 1 and the mass that falls
    outside [0, 1] is reflected back in (folded, as often as needed), so
    every pair keeps exactly its mass: that is what bounds the estimator.
    """
    size = OUTPUT_GRID.size
    half_width = int(np.floor(3.0 * bw / _ODX))
    if half_width == 0:
        return masses.copy()
    t = np.arange(-half_width, half_width + 1) * (_ODX / (3.0 * bw))
    kernel = np.clip(1.0 - t * t, 0.0, None) ** 3
    kernel /= kernel.sum()
    extended = convolve(masses, kernel, mode="full")  # grid index -half_width ...
    index = np.arange(-half_width, size + half_width)
    period = 2 * (size - 1)
    index = np.mod(index, period)
    index = np.where(index <= size - 1, index, period - index)
    return np.bincount(index, weights=extended, minlength=size)


class PooledKDEMasses:
    """Grid masses of the ``n * K`` pooled probabilities, block by block.

    Accumulates, on :data:`OUTPUT_GRID`, the linear-binning mass of every
    ``p_ik`` weighted by ``p_ik`` (the "confidence mass"), and the mean and
    spread of all values (the fallback of the bandwidth rule).
    """

    def __init__(self):
        self.confidence_mass = np.zeros(OUTPUT_GRID.size)
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, start, block, true_value):
        values = block.reshape(-1)
        self.confidence_mass += _linear_binning_unit(values, values)
        # Chan et al.'s pairwise update of the mean and the sum of squared
        # deviations: exact enough for a constant input to give 0.
        count, mean = values.size, float(values.mean())
        m2 = float(np.sum((values - mean) ** 2))
        total = self.count + count
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * self.count * count / total
        self.mean += delta * count / total
        self.count = total

    def std(self):
        return float(np.sqrt(self.m2 / self.count)) if self.count > 1 else 0.0

    def error(self, true_value, bw):
        """Per-pair (``nK``-normalised) error for the given bandwidth."""
        # signed mass: confidence minus hits; smoothing is linear, so one
        # convolution of the difference gives the difference of the two
        # smoothed masses
        signed = self.confidence_mass - _linear_binning_unit(true_value)
        smoothed = _fold_smooth(signed, bw)
        return float(np.abs(smoothed).sum() / self.count)


# --------------------------------------------------------------------------


def _prediction_error(top, bandwidth):
    confidences = top.confidence
    hit_confidences = confidences[top.hit]
    bw = select_bandwidth(confidences, hit_confidences, bandwidth)
    return _kde_ece_pairs(confidences, hit_confidences, bw)


def _output_error(masses, top, bandwidth):
    bw = bandwidth_from_rule(
        _std(top.true_value), masses.std(), masses.count, bandwidth
    )
    return masses.error(top.true_value, bw)


def _kde_ece(y, probs, *, mode, bandwidth, output_normalization):
    scale = output_scale(mode, output_normalization, probs.n_classes)
    if mode == "prediction":
        return _prediction_error(scan(y, probs), bandwidth)
    masses = PooledKDEMasses()
    top = scan(y, probs, [masses])
    return scale * _output_error(masses, top, bandwidth)


def _check_bandwidth(bandwidth):
    if isinstance(bandwidth, str):
        check_option(bandwidth, "bandwidth", BANDWIDTHS)
    else:
        try:
            check_scalar_in_range(bandwidth, "bandwidth", lo=MIN_BANDWIDTH, hi=MAX_BANDWIDTH)
        except ValueError:
            raise ValueError(
                f"bandwidth must be one of {list(BANDWIDTHS)} or a float in "
                f"[{MIN_BANDWIDTH:.4g}, {MAX_BANDWIDTH:g}] (the grid step and the unit "
                f"interval); got {bandwidth!r}"
            ) from None


def kde_calibration_error(
    y_true,
    y_prob,
    *,
    mode="prediction",
    bandwidth="reference",
    output_normalization="n",
    labels=None,
):
    r"""KDE-based expected calibration error with the triweight kernel.

    The histogram of :func:`expected_calibration_error` is replaced by
    kernel density estimates (paper eq. 5-6; Zhang et al. 2020): with ``f``
    the density of the confidences and ``f_1`` that of the confidences of
    the hits, the calibration curve is ``acc(x) = min(r f_1(x) / f(x), 1)``
    (``r`` the hit rate) and::

        KDE ECE = int_0^1 |x - acc(x)| f(x) dx / int_0^1 f(x) dx

    **Prediction mode** (``mode="prediction"``, top-label confidence and
    correctness) follows the reference code (Mix-n-Match,
    ``ece_kde_binary``) step by step: triweight kernel whose bandwidth is its
    standard deviation (support ``+-3 bw``), evaluated on
    ``linspace(-0.6, 1.6, 2**14)`` by linear binning and an FFT convolution;
    boundary reflection (points below 0.5 mirrored about 0, the others about
    1), densities set to 0 outside (0, 1) and doubled; where both densities
    are below 1e-6 the previous integrand value is kept; trapezoidal
    integration over [0, 1]. One bound is added: a value carried across a
    gap is capped by the density there, so the integrand never exceeds
    ``f(x)`` and the result lies in [0, 1]. On ordinary inputs the cap
    changes the result by less than 1e-6 (relative); it matters when the
    confidences have no spread, where the reference procedure returns 10 to
    50 (1000-5000 %).

    **Output mode** (``mode="output"``) pools the ``n * K`` pairs
    ``(p_ik, 1[y_i = k])``. Near 0, where ``(K - 1) / K`` of them lie, the
    kernel moves the grid position ``x`` away from the probabilities it
    stands for by about one bandwidth; the reference integrand
    ``|x - acc(x)|`` turns that shift into an error, which the tables'
    scale multiplies by ``K`` (a perfectly calibrated 200-class model
    scored 177-350 %, above the 200 % that the output ECE can reach). The
    output estimator therefore compares the kernel-smoothed *mean
    probability* with the kernel-smoothed frequency, exactly as the pooled
    histogram compares the mean probability of a bin with its frequency::

        KDE ECE O = int_0^1 |conf(x) - acc(x)| f(x) dx
                  = 1/(nK) sum_x | sum_ik (p_ik - 1[y_i = k]) w_ik(x) |

    where ``w_ik(x)`` is the kernel weight of pair ``ik`` at grid point
    ``x`` (triweight, reflected at 0 and 1 so that each pair's weights sum
    to 1; grid ``linspace(0, 1, 2**13 + 1)``). It is at most
    ``(sum p + n) / (nK)``, i.e. 2 on the tables' scale like the
    histogram, and equals the histogram's value when the pairs sit at a few
    well-separated values (constant or one-hot predictions).
    ``output_normalization`` rescales it exactly as for the histogram ECE:
    ``"n"`` (default) multiplies the per-pair average by ``K`` to match the
    scale of the paper's tables, ``"nK"`` keeps it.

    **Bandwidth.** ``sigma`` is the standard deviation of the confidences of
    the hits (correct predictions, or true-class outputs) and ``N`` the
    number of pairs (``n``, or ``n K`` in output mode).

    ``"reference"`` (default)
        ``sigma * (2N)**(-1/5)``, what the reference code computes. It is
        the default because the published KDE ECE numbers, including the
        paper's, were produced with that code.
    ``"paper"``
        ``1.06 * sigma * N**(-1/5)``, the rule written in the paper
        (Silverman's rule of thumb); about 1.22 times the reference value.
    float
        A fixed kernel standard deviation in ``[1.343e-4, 1]``.

    When the hits have no spread (fewer than two hits, or all at one
    value; the reference code then divides by a zero bandwidth) ``sigma``
    is the standard deviation of all confidences; when that is 0 too
    (constant predictions), or the rule gives less than the step of the
    evaluation grid (1.343e-4), the bandwidth is that step. A kernel
    narrower than the grid step is not represented by the grid.

    The KDE-based ECE is that of Zhang et al. [1]_, used for the paper's tables [2]_.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (class indices, or entries of ``labels``).
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities; rows must sum to 1. A 1-D array is the
        positive-class probability of a binary problem.
    mode : {"prediction", "output"}, default="prediction"
        Top-label confidence or all pooled class outputs.
    bandwidth : {"reference", "paper"} or float, default="reference"
        Bandwidth rule (see above) or kernel standard deviation.
    output_normalization : {"n", "nK"}, default="n"
        Scale of the output-mode error; ignored in prediction mode.
    labels : array-like of shape (n_classes,), default=None
        Class label of each column of ``y_prob``.

    Returns
    -------
    ece : float
        The KDE calibration error, as a fraction: in [0, 1] in prediction
        mode; in [0, 2] in output mode on the tables' scale (``"n"``), in
        [0, 2 / K] with ``"nK"``.

    Raises
    ------
    ValueError
        On invalid inputs (see :func:`expected_calibration_error`), an
        unknown bandwidth rule, or a bandwidth that is not a finite number
        in ``[1.343e-4, 1]``.

    Notes
    -----
    For a two-column input the reference code switches to a binary branch
    (the positive-class probability against the label). Here
    ``mode="prediction"`` is the top-label error for every ``K``, with the
    same meaning as in :func:`expected_calibration_error`, so for ``K = 2``
    it differs from the reference code's binary branch.

    References
    ----------
    .. [1] J. Zhang, B. Kailkhura and T. Y.-J. Han, "Mix-n-Match: ensemble and compositional methods for uncertainty calibration in deep learning", *ICML*, PMLR 119, 2020.
    .. [2] C. Liu and J. JaJa, "Class-similarity based label smoothing for confidence calibration", *ICANN*, 2021. arXiv:2006.14028.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.metrics import kde_calibration_error
    >>> rng = np.random.default_rng(0)
    >>> p1 = rng.uniform(size=2000)
    >>> y = (rng.uniform(size=2000) < p1).astype(int)  # calibrated by design
    >>> bool(kde_calibration_error(y, p1) < 0.05)
    True
    >>> bool(kde_calibration_error(y, p1 ** 3) > 0.1)  # miscalibrated
    True

    Constant predictions: the estimate is the histogram's ``|0.7 - 0.3|``.

    >>> y = [0] * 3 + [1] * 7
    >>> round(kde_calibration_error(y, [[0.7, 0.3]] * 10), 3)
    0.4
    """
    check_option(mode, "mode", MODES)
    check_option(output_normalization, "output_normalization", OUTPUT_NORMALIZATIONS)
    _check_bandwidth(bandwidth)
    y, probs = prediction_inputs(y_true, y_prob, labels=labels)
    return _kde_ece(
        y, probs, mode=mode, bandwidth=bandwidth, output_normalization=output_normalization
    )
