"""Histogram ECE, MCE and classwise ECE against independent implementations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcalib.metrics import (
    classwise_calibration_error,
    expected_calibration_error,
    maximum_calibration_error,
)
from simcalib.metrics._histogram import bin_statistics


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _data(rng, n=500, k=5, scale=3.0):
    p = _softmax(rng.normal(size=(n, k)) * scale)
    y = rng.integers(0, k, size=n)
    return y, p


def brute_force_ece(values, hits, n_bins, denominator, norm="l1"):
    """Plain loops, (lo, hi] bins on linspace edges, 0 in the first bin."""
    edges = np.linspace(0, 1, n_bins + 1)
    total, worst, squares = 0.0, 0.0, 0.0
    for m in range(n_bins):
        lo, hi = edges[m], edges[m + 1]
        members = [
            i for i in range(len(values))
            if (lo < values[i] <= hi) or (m == 0 and values[i] == 0.0)
        ]
        if not members:
            continue
        acc = sum(hits[i] for i in members) / len(members)
        conf = sum(values[i] for i in members) / len(members)
        total += len(members) / denominator * abs(acc - conf)
        squares += len(members) / denominator * (acc - conf) ** 2
        worst = max(worst, abs(acc - conf))
    return {"l1": total, "l2": np.sqrt(squares), "max": worst}[norm]


# ---------------------------------------------------------------- references


def test_prediction_ece_matches_netcal(rng):
    netcal = pytest.importorskip("netcal.metrics")
    y, p = _data(rng, n=1000, k=10)
    expected = netcal.ECE(bins=15).measure(p, y)
    assert expected > 0.05
    assert expected_calibration_error(y, p) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("k", [3, 10])
def test_output_ece_matches_netcal_on_flattened_one_hot(rng, k):
    netcal = pytest.importorskip("netcal.metrics")
    y, p = _data(rng, n=400, k=k)
    onehot = np.eye(k, dtype=int)[y]
    # netcal switches to binary semantics for 0/1 labels: the pooled ECE / (nK)
    expected = netcal.ECE(bins=15).measure(p.ravel(), onehot.ravel())
    got_nk = expected_calibration_error(y, p, mode="output", output_normalization="nK")
    assert got_nk == pytest.approx(expected, rel=1e-10)
    # the paper's tables scale is K times larger
    assert expected_calibration_error(y, p, mode="output") == pytest.approx(k * expected, rel=1e-10)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_prediction_ece_matches_torchmetrics(rng, norm):
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.functional.classification")
    y, p = _data(rng, n=800, k=6)
    expected = tm.multiclass_calibration_error(
        torch.tensor(p), torch.tensor(y), num_classes=6, n_bins=15, norm=norm
    ).item()
    got = expected_calibration_error(y, p, norm=norm)
    # torchmetrics bins and averages in float32
    assert got == pytest.approx(expected, rel=1e-6)
    if norm == "max":
        assert maximum_calibration_error(y, p) == got
    else:
        assert got > 0.1


def test_torchmetrics_differs_only_on_edges():
    """torchmetrics puts a value equal to an edge in the upper bin; we do not."""
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.functional.classification")
    # confidences exactly 0.6 = edge 3/5 of 5 bins: (0.4, 0.6] for us, [0.6, 0.8) for torchmetrics
    p = np.array([[0.6, 0.4], [0.6, 0.4], [0.7, 0.3], [0.7, 0.3]])
    y = np.array([0, 1, 0, 0])
    ours = expected_calibration_error(y, p, n_bins=5)
    theirs = tm.multiclass_calibration_error(
        torch.tensor(p), torch.tensor(y), num_classes=2, n_bins=5
    ).item()
    assert ours == pytest.approx(brute_force_ece(p.max(1), p.argmax(1) == y, 5, 4))
    assert ours == pytest.approx(0.5 * 0.1 + 0.5 * 0.3)
    assert theirs == pytest.approx(abs(0.75 - 0.65))


# ---------------------------------------------------------- (lo, hi] edges


def test_edges_and_exact_one_match_brute_force():
    n_bins = 10
    edges = np.linspace(0, 1, n_bins + 1)
    # top-label confidences exactly on edges, and exactly 1.0
    conf = np.array([1.0, 1.0, 1.0, edges[9], edges[9], edges[7], edges[5], 0.55, 0.95, 0.999])
    k = 3
    p = np.empty((conf.size, k))
    p[:, 0] = conf
    p[:, 1:] = ((1 - conf) / 2)[:, None]
    y = np.array([0, 0, 1, 0, 2, 0, 1, 0, 0, 1])
    hits = p.argmax(1) == y
    expected = brute_force_ece(conf, hits, n_bins, conf.size)
    assert expected_calibration_error(y, p, n_bins=n_bins) == pytest.approx(expected, abs=1e-15)
    stats = bin_statistics(y, p, n_bins=n_bins)
    assert stats.counts[-1] == 5  # 1.0 three times, 0.95 and 0.999
    assert stats.counts[8] == 2  # 0.9 exactly lies in (0.8, 0.9]


def test_output_mode_edges_and_zeros_match_brute_force():
    # exact zeros (certain predictions) and exact edges among the class outputs
    p = np.array([[1.0, 0.0, 0.0], [0.2, 0.8, 0.0], [0.4, 0.4, 0.2], [0.5, 0.25, 0.25]])
    y = np.array([0, 0, 2, 1])
    values = p.ravel()
    hits = np.eye(3)[y].ravel()
    for n_bins in (4, 5, 15):
        expected = brute_force_ece(values, hits, n_bins, p.shape[0])
        got = expected_calibration_error(y, p, n_bins=n_bins, mode="output")
        assert got == pytest.approx(expected, abs=1e-15)
    stats = bin_statistics(y, p, n_bins=5, mode="output")
    assert stats.counts[0] == 5  # three zeros and two 0.2 (on the first upper edge)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("mode", ["prediction", "output"])
def test_random_inputs_match_brute_force(rng, norm, mode):
    y, p = _data(rng, n=60, k=4)
    p = np.round(p, 2)  # many values on the edges of 10 bins
    p[:, -1] = 1 - p[:, :-1].sum(1)
    p = np.clip(p, 0, 1)
    p /= p.sum(1, keepdims=True)
    if mode == "prediction":
        values, hits, denominator = p.max(1), p.argmax(1) == y, len(y)
    else:
        values, hits, denominator = p.ravel(), np.eye(4)[y].ravel(), len(y) * 4
    expected = brute_force_ece(values, hits, 10, denominator, norm)
    got = expected_calibration_error(
        y, p, n_bins=10, mode=mode, norm=norm, output_normalization="nK"
    )
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_output_chunking_gives_same_result(rng, monkeypatch):
    import simcalib.metrics._histogram as hist

    y, p = _data(rng, n=300, k=7)
    whole = expected_calibration_error(y, p, mode="output")
    monkeypatch.setattr(hist, "_CHUNK_PAIRS", 50)
    assert expected_calibration_error(y, p, mode="output") == pytest.approx(whole, rel=1e-12)


# ----------------------------------------------------------- other variants


def test_quantile_bins_are_equal_mass(rng):
    y, p = _data(rng, n=1500, k=4)
    stats = bin_statistics(y, p, n_bins=10, strategy="quantile")
    assert np.all(np.abs(stats.counts - 150) <= 1)
    value = expected_calibration_error(y, p, n_bins=10, strategy="quantile")
    # brute force on the same edges
    conf, hits = p.max(1), p.argmax(1) == y
    idx = np.array([np.sum(c > stats.edges[1:-1]) for c in conf])
    expected = sum(
        abs(hits[idx == m].sum() - conf[idx == m].sum()) / len(y) for m in range(10)
    )
    assert value == pytest.approx(expected, rel=1e-12)


def test_classwise_matches_per_class_brute_force(rng):
    y, p = _data(rng, n=120, k=4)
    expected = np.mean(
        [brute_force_ece(p[:, j], (y == j).astype(float), 15, len(y)) for j in range(4)]
    )
    assert classwise_calibration_error(y, p) == pytest.approx(expected, rel=1e-12)


def test_classwise_matches_netcal_per_class(rng):
    netcal = pytest.importorskip("netcal.metrics")
    y, p = _data(rng, n=500, k=3)
    per_class = [netcal.ECE(bins=15).measure(p[:, j], (y == j).astype(int)) for j in range(3)]
    assert classwise_calibration_error(y, p) == pytest.approx(np.mean(per_class), rel=1e-10)


def test_string_labels_and_binary_vector(rng):
    p1 = rng.uniform(size=200)
    y01 = (rng.uniform(size=200) < p1).astype(int)
    words = np.array(["cat", "dog"])[y01]
    base = expected_calibration_error(y01, np.column_stack([1 - p1, p1]))
    assert expected_calibration_error(y01, p1) == base
    assert expected_calibration_error(words, p1, labels=["cat", "dog"]) == base
    # column order given by labels, not by sorting
    flipped = expected_calibration_error(words, 1 - p1, labels=["dog", "cat"])
    assert flipped == pytest.approx(base, rel=1e-12)


# ------------------------------------------------------------------- errors


GOOD_P = [[0.6, 0.4], [0.3, 0.7]]


@pytest.mark.parametrize(
    "y_true, y_prob, kwargs, match",
    [
        ([0, 1], [[np.nan, 0.4], [0.3, 0.7]], {}, "NaN"),
        ([0, 1], [[np.inf, 0.4], [0.3, 0.7]], {}, "NaN or infinity"),
        ([0, 1], [[0.6, 0.6], [0.3, 0.7]], {}, "sum to 1"),
        ([0, 2], GOOD_P, {}, r"class indices in \[0, 2\)"),
        ([0, -1], GOOD_P, {}, r"class indices"),
        ([0, 1, 1], GOOD_P, {}, "different numbers of samples"),
        ([], np.empty((0, 2)), {}, "empty"),
        ([0, 1], [[1.5, -0.5], [0.3, 0.7]], {}, r"\[0, 1\]"),
        ([0, 1], [[[0.6, 0.4]], [[0.3, 0.7]]], {}, "2-D"),
        (["a", "b"], GOOD_P, {}, "labels="),
        (["a", "c"], GOOD_P, {"labels": ["a", "b"]}, "not in labels"),
        ([0, 1], GOOD_P, {"labels": [0, 1, 2]}, "labels must be 1-D"),
        ([0, 1], GOOD_P, {"n_bins": 0}, "n_bins"),
        ([0, 1], GOOD_P, {"n_bins": 2.5}, "n_bins"),
        ([0, 1], GOOD_P, {"mode": "top"}, "mode"),
        ([0, 1], GOOD_P, {"strategy": "kmeans"}, "strategy"),
        ([0, 1], GOOD_P, {"norm": "l3"}, "norm"),
        ([0, 1], GOOD_P, {"output_normalization": "K"}, "output_normalization"),
    ],
)
def test_bad_inputs_raise_value_error(y_true, y_prob, kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(y_true, y_prob, **kwargs)


@pytest.mark.parametrize("func", [classwise_calibration_error, maximum_calibration_error])
def test_other_metrics_validate(func):
    with pytest.raises(ValueError, match="sum to 1"):
        func([0, 1], [[0.6, 0.6], [0.3, 0.7]])
    with pytest.raises(ValueError, match="n_bins"):
        func([0, 1], GOOD_P, n_bins=-3)


# ------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 80),
    k=st.integers(2, 8),
    n_bins=st.integers(1, 20),
    mode=st.sampled_from(["prediction", "output"]),
    strategy=st.sampled_from(["uniform", "quantile"]),
    norm=st.sampled_from(["l1", "l2", "max"]),
)
def test_bounds_and_sample_order_invariance(seed, n, k, n_bins, mode, strategy, norm):
    rng = np.random.default_rng(seed)
    y, p = _data(rng, n=n, k=k, scale=rng.uniform(0, 6))
    kw = dict(n_bins=n_bins, mode=mode, strategy=strategy, norm=norm)
    nk = expected_calibration_error(y, p, output_normalization="nK", **kw)
    table = expected_calibration_error(y, p, **kw)
    assert 0.0 <= nk <= 1.0 + 1e-12
    # tables' scale: K (l1), sqrt(K) (l2) or 1 (max) times the per-pair value
    factor = {"l1": k, "l2": np.sqrt(k), "max": 1.0}[norm] if mode == "output" else 1.0
    assert table == pytest.approx(factor * nk, rel=1e-12, abs=1e-15)
    assert table <= 2.0 + 1e-12
    perm = rng.permutation(n)
    shuffled = expected_calibration_error(y[perm], p[perm], output_normalization="nK", **kw)
    assert shuffled == pytest.approx(nk, rel=1e-9, abs=1e-15)
    cw = classwise_calibration_error(y, p, n_bins=n_bins, strategy=strategy, norm=norm)
    assert 0.0 <= cw <= 1.0 + 1e-12


def test_calibrated_sampler_small_ece_that_shrinks(rng):
    """Labels drawn from the predicted distribution: ECE -> 0 as n grows."""
    values = {}
    for n in (300, 30000):
        p = _softmax(rng.normal(size=(n, 5)) * 2)
        cum = p.cumsum(1)
        y = (rng.uniform(size=(n, 1)) > cum).sum(1)
        values[n] = (
            expected_calibration_error(y, p),
            expected_calibration_error(y, p, mode="output"),
        )
    assert values[30000][0] < values[300][0]
    assert values[30000][1] < values[300][1]
    assert values[30000][0] < 0.02
    assert values[30000][1] < 0.05


def test_overconfident_model_has_large_output_ece(rng):
    """Paper's observation: one-hot-trained nets have Hist O well above Hist P."""
    n, k = 2000, 20
    logits = rng.normal(size=(n, k)) * 2
    true_p = _softmax(logits)
    y = (rng.uniform(size=(n, 1)) > true_p.cumsum(1)).sum(1)
    p = _softmax(logits * 3)  # overconfident
    pe = expected_calibration_error(y, p)
    oe = expected_calibration_error(y, p, mode="output")
    assert pe > 0.1
    assert oe > pe
