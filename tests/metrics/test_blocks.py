"""The fused, cache-blocked validation pass against the exact, unfused path.

The exact path is what the metrics did before: ``check_probabilities`` on the
whole array (finite, range with clipping, row sums), then an arg-max. The
fused pass must accept and refuse exactly the same inputs, with the same
message, and give bit-identical confidences, hits and true-class values.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import simcalib.metrics._blocks as blocks_module
from simcalib._validation import check_probabilities
from simcalib.metrics import expected_calibration_error
from simcalib.metrics._blocks import ProbabilityBlocks, scan


def exact_path(y, y_prob):
    p = check_probabilities(y_prob)
    pred = p.argmax(1)
    rows = np.arange(p.shape[0])
    return p[rows, pred], pred == y, p[rows, y]


def fused_path(y, y_prob):
    top = scan(y, ProbabilityBlocks(y_prob), true_values=True)
    return top.confidence, top.hit, top.true_value


@pytest.fixture(params=[8, 200, 2**20], ids=["1-row-blocks", "small-blocks", "default"])
def block_bytes(request, monkeypatch):
    monkeypatch.setattr(blocks_module, "BLOCK_BYTES", request.param)
    return request.param


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _assert_same(y, y_prob):
    try:
        expected = exact_path(y, y_prob)
    except ValueError as exc:
        with pytest.raises(ValueError) as info:
            fused_path(y, y_prob)
        assert str(info.value) == str(exc)
        return
    got = fused_path(y, y_prob)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "layout",
    ["float64", "float32", "fortran", "strided", "int-one-hot", "bool-one-hot", "binary-1d"],
)
def test_layouts_match_exact_path(rng, block_bytes, layout):
    n, k = 37, 5
    p = _softmax(rng.normal(size=(n, k)) * 3)
    y = rng.integers(0, k, n)
    if layout == "float32":
        p = p.astype(np.float32)  # rows off 1 by ~1e-7, entries may round above 1
    elif layout == "fortran":
        p = np.asfortranarray(p)
    elif layout == "strided":
        p = np.repeat(p, 2, axis=0)[::2]
    elif layout == "int-one-hot":
        p = np.eye(k, dtype=np.int64)[rng.integers(0, k, n)]
    elif layout == "bool-one-hot":
        p = np.eye(k, dtype=bool)[rng.integers(0, k, n)]
    elif layout == "binary-1d":
        p = rng.uniform(size=n)
        y = rng.integers(0, 2, n)
    _assert_same(y, p)


@pytest.mark.parametrize(
    "row, value",
    [
        (0, np.nan), (17, np.nan), (36, np.nan),
        (5, np.inf), (36, -np.inf),
        (20, -0.3), (20, 1.3),  # out of range
        (9, -5e-5), (9, 1 + 5e-5),  # within the tolerance: clipped
        (30, -0.0),  # a sign bit without a negative value
        (3, 1e308),
    ],
)
def test_bad_or_borderline_entries_anywhere(rng, block_bytes, row, value):
    n, k = 37, 4
    p = _softmax(rng.normal(size=(n, k)))
    y = rng.integers(0, k, n)
    p[row, 1] = value
    if np.isfinite(value) and abs(value) < 2:
        p[row, 0] = 1.0 - p[row, 1:].sum()  # keep the row sum when possible
    _assert_same(y, p)


def test_row_sums_checked_in_every_block(rng, block_bytes):
    n, k = 37, 6
    p = _softmax(rng.normal(size=(n, k)))
    y = rng.integers(0, k, n)
    for row in (0, 18, 36):
        bad = p.copy()
        bad[row] *= 1.01
        _assert_same(y, bad)
    logits = rng.normal(size=(n, k))
    _assert_same(y, logits)


def test_ties_go_to_the_first_class(block_bytes):
    p = np.array([[0.4, 0.4, 0.2], [0.0, 0.5, 0.5], [1 / 3] * 3, [-0.0, 0.5, 0.5]])
    y = np.array([1, 1, 0, 1])
    _assert_same(y, p)
    conf, hit, _ = fused_path(y, p)
    np.testing.assert_array_equal(hit, [False, True, True, True])


@settings(max_examples=150, deadline=None)
@given(
    p=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9),
        elements=st.one_of(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.floats(-1e-4, 1 + 1e-4),
            st.sampled_from([0.0, -0.0, 1.0, 0.5, 0.25]),
        ),
    ),
    data=st.data(),
)
def test_arbitrary_matrices_accepted_and_refused_alike(p, data):
    y = np.asarray(
        data.draw(st.lists(st.integers(0, max(p.shape[1] - 1, 0)),
                           min_size=p.shape[0], max_size=p.shape[0]))
    )
    if p.shape[1] < 2:
        with pytest.raises(ValueError, match="at least 2 columns"):
            ProbabilityBlocks(p)
        return
    _assert_same(y, p)
    # and rows renormalised into valid probabilities
    q = np.abs(np.clip(np.nan_to_num(p, nan=0.5, posinf=1.0, neginf=0.0), -1, 1)) + 1e-3
    q /= q.sum(1, keepdims=True)
    _assert_same(y, q)


def test_top_label_ece_matches_exact_path_and_torchmetrics(rng, monkeypatch):
    """A multi-block input: the fused ECE equals the unfused computation and
    torchmetrics (which bins in float32)."""
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.functional.classification")
    monkeypatch.setattr(blocks_module, "BLOCK_BYTES", 4096)
    n, k = 3000, 20
    p = _softmax(rng.normal(size=(n, k)) * 4)
    y = rng.integers(0, k, n)
    conf, hit, _ = exact_path(y, p)
    edges = np.linspace(0, 1, 16)
    idx = np.searchsorted(edges[1:-1], conf, side="left")
    exact = sum(
        abs(hit[idx == m].sum() - conf[idx == m].sum()) / n for m in range(15)
    )
    got = expected_calibration_error(y, p)
    assert got == pytest.approx(exact, rel=1e-12)
    theirs = tm.multiclass_calibration_error(
        torch.tensor(p), torch.tensor(y), num_classes=k, n_bins=15
    ).item()
    assert got == pytest.approx(theirs, rel=1e-6)
