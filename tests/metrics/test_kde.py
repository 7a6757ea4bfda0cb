"""KDE ECE against an independent transcription of the reference procedure.

The oracle below follows REFERENCE.md section 3 (Mix-n-Match
``ece_kde_binary``) line by line, with KDEpy's FFTKDE for the densities and
the per-grid-point Python loop of the original code.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcalib.metrics import expected_calibration_error, kde_calibration_error
from simcalib.metrics._kde import GRID, select_bandwidth

KDEpy = pytest.importorskip("KDEpy")


def _mirror(d):
    return np.concatenate((-d[d < 0.5], d, 2.0 - d[d >= 0.5]))


def _fftkde(data, bw, x_int):
    pp = KDEpy.FFTKDE(bw=bw, kernel="triweight").fit(_mirror(data)).evaluate(x_int)
    pp[x_int <= 0] = 0
    pp[x_int >= 1] = 0
    return pp * 2


def reference_kde_ece(conf, hit, bw):
    """The reference code's loop, on (confidence, 0/1) pairs and a given bandwidth."""
    x_int = np.linspace(-0.6, 1.6, num=2**14)
    pp1 = _fftkde(conf[hit == 1], bw, x_int)
    pp2 = _fftkde(conf, bw, x_int)
    perc = np.mean(hit)
    integral = np.zeros(x_int.shape)
    for i in range(x_int.shape[0]):
        if max(pp1[i], pp2[i]) > 1e-6:
            accu = min(perc * pp1[i] / pp2[i], 1.0)
            if not np.isnan(accu):
                integral[i] = abs(x_int[i] - accu) * pp2[i]
        elif i > 1:
            integral[i] = integral[i - 1]
    ind = np.where((x_int >= 0) & (x_int <= 1))
    from scipy.integrate import trapezoid as trapz
    return trapz(integral[ind], x_int[ind]) / trapz(pp2[ind], x_int[ind])


def reference_bandwidth(conf, hit, rule):
    sigma = np.std(conf[hit == 1])
    n = conf.shape[0]
    return sigma * (2 * n) ** -0.2 if rule == "reference" else 1.06 * sigma * n**-0.2


def _overconfident(rng, n, k, temperature=0.5):
    logits = rng.normal(size=(n, k)) * 2.0
    y = np.array([rng.choice(k, p=row) for row in _softmax(logits)])
    return y, _softmax(logits / temperature)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("rule", ["reference", "paper"])
@pytest.mark.parametrize("k", [3, 10])
def test_prediction_mode_matches_reference_code(rng, rule, k):
    y, p = _overconfident(rng, 400, k)
    pred = p.argmax(1)
    conf, hit = p.max(1), (pred == y).astype(int)
    bw = reference_bandwidth(conf, hit, rule)
    expected = reference_kde_ece(conf, hit, bw)
    got = kde_calibration_error(y, p, bandwidth=rule)
    assert got == pytest.approx(expected, rel=1e-6)
    assert got > 0.05  # an overconfident model is visibly miscalibrated


def brute_force_output_kde(p, y, bw):
    """The output estimator written out pair by pair (no FFT, no shared code).

    Each pair (p_ik, 1[y_i = k]) splits its signed weight p_ik - 1[y_i = k]
    linearly between its two grid neighbours on linspace(0, 1, 2**13 + 1);
    each grid mass is spread by the triweight samples (normalised to sum 1)
    and what falls outside [0, 1] is reflected back in. The error is the
    total absolute signed mass over n*K.
    """
    size = 2**13 + 1
    dx = 1.0 / (size - 1)
    half = int(np.floor(3 * bw / dx))
    t = np.arange(-half, half + 1) * dx / (3 * bw)
    kern = np.clip(1 - t * t, 0, None) ** 3
    kern /= kern.sum()
    offsets = np.arange(-half, half + 1)
    signed = np.zeros(size)
    n, k = p.shape
    for i in range(n):
        for j in range(k):
            v = p[i, j]
            d = v - (1.0 if y[i] == j else 0.0)
            left = min(int(v / dx), size - 2)
            frac = v / dx - left
            for g, m in ((left, 1 - frac), (left + 1, frac)):
                idx = g + offsets
                while np.any((idx < 0) | (idx > size - 1)):
                    idx = np.where(idx < 0, -idx, idx)
                    idx = np.where(idx > size - 1, 2 * (size - 1) - idx, idx)
                np.add.at(signed, idx, d * m * kern)
    return np.abs(signed).sum() / (n * k)


@pytest.mark.parametrize("normalization", ["n", "nK"])
def test_output_mode_matches_pairwise_brute_force(rng, normalization):
    n, k = 60, 4
    y, p = _overconfident(rng, n, k)
    conf, hit = p.ravel(), np.eye(k, dtype=int)[y].ravel()
    bw = reference_bandwidth(conf, hit, "reference")
    assert bw > 0.01  # a kernel of many grid points: the folding matters
    expected = brute_force_output_kde(p, y, bw)
    if normalization == "n":
        expected *= k
    got = kde_calibration_error(y, p, mode="output", output_normalization=normalization)
    assert got == pytest.approx(expected, rel=1e-9)


def test_output_mode_equals_histogram_on_separated_values():
    """Pairs at a few values far apart: kernel and histogram estimates coincide."""
    rng = np.random.default_rng(3)
    # one-hot predictions: pairs at exactly 0 and 1
    y = rng.integers(0, 5, size=300)
    pred = np.where(rng.uniform(size=300) < 0.7, y, (y + 1) % 5)
    p = np.eye(5)[pred]
    for mode in ("prediction", "output"):
        hist = expected_calibration_error(y, p, mode=mode)
        assert kde_calibration_error(y, p, mode=mode) == pytest.approx(hist, abs=1e-3)
    # every prediction wrong: the output error reaches its maximum, 2
    wrong = np.eye(5)[(y + 1) % 5]
    assert kde_calibration_error(y, wrong, mode="output") == pytest.approx(2.0, rel=1e-12)
    # constant predictions (0.7, 0.2, 0.1) with 30 % accuracy
    p = np.tile([0.7, 0.2, 0.1], (100, 1))
    y = np.r_[np.zeros(30, int), np.ones(40, int), np.full(30, 2)]
    for mode in ("prediction", "output"):
        hist = expected_calibration_error(y, p, mode=mode)
        assert kde_calibration_error(y, p, mode=mode) == pytest.approx(hist, abs=1e-3)


def test_output_mode_stays_near_histogram_for_a_calibrated_200_class_model():
    """The reference procedure fed the pooled pairs scores a perfectly calibrated
    200-class model at 177-350 % (above the 200 % maximum); the kernel analogue
    of the pooled histogram stays next to the histogram's value."""
    rng = np.random.default_rng(0)
    n, k = 2000, 200
    z = rng.normal(size=(n, k)) * 5
    p = _softmax(z)
    y = np.minimum((rng.uniform(size=(n, 1)) > p.cumsum(1)).sum(1), k - 1)
    hist = expected_calibration_error(y, p, mode="output")
    kde = kde_calibration_error(y, p, mode="output")
    assert hist < 0.1
    assert abs(kde - hist) < 0.05
    onehot = np.eye(k, dtype=int)[y]
    conf, hit = p.ravel(), onehot.ravel()
    reference = k * reference_kde_ece(conf, hit, reference_bandwidth(conf, hit, "reference"))
    assert reference > 2.0  # the out-of-range value this estimator replaces


def test_float_bandwidth_matches_reference(rng):
    y, p = _overconfident(rng, 300, 4)
    pred = p.argmax(1)
    conf, hit = p.max(1), (pred == y).astype(int)
    expected = reference_kde_ece(conf, hit, 0.05)
    assert kde_calibration_error(y, p, bandwidth=0.05) == pytest.approx(expected, rel=1e-6)


def test_bandwidth_rules():
    conf = np.array([0.2, 0.4, 0.6, 0.9])
    hits = np.array([True, False, True, True])
    sigma = np.std(conf[hits])
    assert select_bandwidth(conf, conf[hits], "reference") == pytest.approx(sigma * 8**-0.2)
    assert select_bandwidth(conf, conf[hits], "paper") == pytest.approx(1.06 * sigma * 4**-0.2)
    # one hit: fall back to the spread of all confidences
    assert select_bandwidth(conf, conf[:1], "reference") == pytest.approx(np.std(conf) * 8**-0.2)
    assert select_bandwidth(conf, conf[hits], 0.2) == 0.2


def test_degenerate_inputs_give_finite_values():
    # every prediction certain and correct: no spread at all
    p = np.eye(3)[[0, 1, 2, 0]]
    assert kde_calibration_error([0, 1, 2, 0], p) == pytest.approx(0.0, abs=1e-3)
    # every prediction certain and wrong: error close to 1
    assert kde_calibration_error([1, 2, 0, 1], p) == pytest.approx(1.0, abs=1e-2)


def test_chunked_binning_equals_one_block(rng, monkeypatch):
    import simcalib.metrics._kde as kde

    y, p = _overconfident(rng, 200, 6)
    whole = kde_calibration_error(y, p, mode="output")
    monkeypatch.setattr(kde, "_CHUNK", 37)
    assert kde_calibration_error(y, p, mode="output") == pytest.approx(whole, rel=1e-10)


def test_grid_is_the_reference_grid():
    np.testing.assert_array_equal(GRID, np.linspace(-0.6, 1.6, 2**14))


def test_binary_one_dimensional_input_equals_two_columns(rng):
    p1 = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p1).astype(int)
    two = np.column_stack([1 - p1, p1])
    assert kde_calibration_error(y, p1) == kde_calibration_error(y, two)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"bandwidth": "scott"}, "bandwidth"),
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"bandwidth": -1.0}, "bandwidth"),
        ({"mode": "top"}, "mode"),
        ({"output_normalization": "K"}, "output_normalization"),
    ],
)
def test_bad_options_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kde_calibration_error([0, 1], [[0.6, 0.4], [0.3, 0.7]], **kwargs)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(20, 200),
    k=st.integers(2, 6),
    mode=st.sampled_from(["prediction", "output"]),
)
def test_bounds_and_order_invariance(seed, n, k, mode):
    rng = np.random.default_rng(seed)
    p = _softmax(rng.normal(size=(n, k)) * 3)
    y = rng.integers(0, k, size=n)
    value = kde_calibration_error(y, p, mode=mode, output_normalization="nK")
    assert 0.0 <= value <= 1.0 + 1e-9
    perm = rng.permutation(n)
    shuffled = kde_calibration_error(y[perm], p[perm], mode=mode, output_normalization="nK")
    assert shuffled == pytest.approx(value, rel=1e-9, abs=1e-12)


def test_calibrated_sampler_error_shrinks_with_n():
    rng = np.random.default_rng(1)
    values = []
    for n in (200, 20000):
        p1 = rng.beta(2, 2, size=n)
        y = (rng.uniform(size=n) < p1).astype(int)
        values.append(kde_calibration_error(y, np.column_stack([1 - p1, p1])))
    assert values[1] < values[0]
    assert values[1] < 0.02


def test_density_gaps_keep_previous_integrand_like_reference(rng):
    """Between separated clusters both densities vanish: the forward fill matters."""
    n = 300
    p1 = np.where(rng.uniform(size=n) < 0.5, 0.3, 0.9) + rng.normal(size=n) * 0.01
    y = (rng.uniform(size=n) < 0.6).astype(int)
    two = np.column_stack([1 - p1, p1])
    pred = two.argmax(1)
    conf, hit = two.max(1), (pred == y).astype(int)
    expected = reference_kde_ece(conf, hit, 0.01)
    assert kde_calibration_error(y, two, bandwidth=0.01) == pytest.approx(expected, rel=1e-6)
