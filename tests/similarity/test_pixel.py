"""PixelDistanceSimilarity: exact mean pairwise distances vs a brute-force loop."""

import doctest

import numpy as np
import pytest
from sklearn.base import clone

from simcalib.similarity import (
    PixelDistanceSimilarity,
    _pixel,
    mean_pairwise_class_distances,
)

try:
    import torch

    DEVICES = ["numpy", "cpu"]
except ImportError:  # the numpy path must work without torch
    DEVICES = ["numpy"]
needs_torch = pytest.mark.skipif(len(DEVICES) == 1, reason="torch is not installed")


def brute_force(X, y, p):
    """Mean over all ordered pairs of ||x - x'||_p, one Python loop per pair."""
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y)
    classes = np.unique(y)
    K = len(classes)
    sums, counts = np.zeros((K, K)), np.zeros((K, K))
    for a in range(len(X)):
        for b in range(len(X)):
            ka = np.searchsorted(classes, y[a])
            kb = np.searchsorted(classes, y[b])
            sums[ka, kb] += np.sum(np.abs(X[a] - X[b]) ** p) ** (1.0 / p)
            counts[ka, kb] += 1
    return sums / counts


def uneven_data(rng, labels, sizes, shape=(5,)):
    y = np.repeat(labels, sizes)
    rng.shuffle(y)
    X = rng.normal(loc=3.0, scale=2.0, size=(len(y), *shape))
    return X, y


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("metric,p", [("l1", 1), ("l2", 2)])
@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1, 2, 3]),
        np.array(["cat", "dog", "ant", "emu"]),
        np.array([3, 10, 42, -7]),
    ],
    ids=["int", "str", "noncontiguous"],
)
def test_matches_brute_force(rng, device, metric, p, labels):
    X, y = uneven_data(rng, labels, [1, 4, 7, 11])
    expected = brute_force(X, y, p)
    # batch sizes that do not divide n = 23
    for batch_size in (3, 7, 64):
        sim = PixelDistanceSimilarity(metric, device=device, batch_size=batch_size).fit(
            X, y
        )
        np.testing.assert_array_equal(sim.classes_, np.unique(labels))
        off = ~np.eye(4, dtype=bool)
        np.testing.assert_allclose(sim.distances_[off], expected[off], rtol=1e-6)
        np.testing.assert_allclose(
            sim.within_class_distances_, np.diag(expected), rtol=1e-6
        )
        np.testing.assert_array_equal(np.diag(sim.distances_), 0.0)
        np.testing.assert_array_equal(sim.distances_, sim.distances_.T)
        assert sim.distances_.dtype == np.float64
        np.testing.assert_array_equal(
            sim.class_counts_, np.bincount(np.searchsorted(np.unique(y), y))
        )


@needs_torch
@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_numpy_path_equals_torch_path(rng, metric):
    X = rng.integers(0, 256, size=(50, 3, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 5, size=50)
    a = PixelDistanceSimilarity(metric, device="numpy", batch_size=16).fit(X, y)
    b = PixelDistanceSimilarity(metric, device="cpu", batch_size=13).fit(X, y)
    np.testing.assert_allclose(a.distances_, b.distances_, rtol=1e-12)
    # the torch kernels themselves (L1 on a CPU device is routed to scipy, but
    # the torch.cdist kernel runs on GPUs)
    y_idx = np.unique(y, return_inverse=True)[1]
    K = len(np.unique(y))
    sums_np = _pixel._pairwise_class_sums_numpy(X.reshape(50, -1), y_idx, K, metric, 16)
    sums_t = _pixel._pairwise_class_sums_torch(
        torch, torch.device("cpu"), X.reshape(50, -1), y_idx, K, metric, 13
    )
    np.testing.assert_allclose(sums_t, sums_np, rtol=1e-12)


def test_uint8_images_equal_flattened_float(rng):
    X = rng.integers(0, 256, size=(30, 1, 3, 3), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 10)
    a = PixelDistanceSimilarity().fit(X, y).distances_
    b = (
        PixelDistanceSimilarity()
        .fit(X.reshape(30, -1).astype(np.float64), y)
        .distances_
    )
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(a, brute_force(X, y, 2) * (1 - np.eye(3)), rtol=1e-9)


@pytest.mark.parametrize("device", DEVICES)
def test_read_only_input(rng, device):
    # e.g. a memory-mapped image cache: no copy of all of X, no torch warning
    X = rng.integers(0, 256, size=(20, 1, 4, 4), dtype=np.uint8)
    X.setflags(write=False)
    y = np.repeat([0, 1], 10)
    sim = PixelDistanceSimilarity(device=device, batch_size=7).fit(X, y)
    np.testing.assert_allclose(
        sim.distances_, brute_force(X, y, 2) * (1 - np.eye(2)), rtol=1e-9
    )


def test_l2_accurate_for_large_offsets(rng):
    # |a|^2 + |b|^2 - 2ab loses digits when the data sit far from 0; centring fixes it
    X = 1e6 + rng.normal(size=(20, 8))
    y = np.repeat([0, 1], 10)
    sim = PixelDistanceSimilarity("l2", device=DEVICES[-1]).fit(X, y)
    np.testing.assert_allclose(
        sim.distances_[0, 1], brute_force(X, y, 2)[0, 1], rtol=1e-7
    )


def test_subsample_per_class(rng):
    X, y = uneven_data(rng, [0, 1, 2], [3, 9, 20])
    sim = PixelDistanceSimilarity(max_samples_per_class=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(sim.class_counts_, [3, 5, 5])
    keep = _pixel._subsample_per_class(np.searchsorted([0, 1, 2], y), 3, 5, 0)
    expected = brute_force(X[keep], y[keep], 2)
    np.testing.assert_allclose(sim.distances_[0, 1:], expected[0, 1:], rtol=1e-9)
    again = PixelDistanceSimilarity(max_samples_per_class=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(sim.distances_, again.distances_)
    other = PixelDistanceSimilarity(max_samples_per_class=5, random_state=1).fit(X, y)
    assert not np.array_equal(sim.distances_, other.distances_)
    full = PixelDistanceSimilarity(max_samples_per_class=20).fit(X, y)
    np.testing.assert_allclose(
        full.distances_, PixelDistanceSimilarity().fit(X, y).distances_
    )


def test_mean_pairwise_class_distances_function(rng):
    X, y = uneven_data(rng, [5, 9], [4, 6])
    np.testing.assert_allclose(
        mean_pairwise_class_distances(X, y, metric="l1", batch_size=3),
        brute_force(X, y, 1),
        rtol=1e-9,
    )


def test_bad_inputs(rng):
    X = rng.normal(size=(6, 2))
    y = [0, 0, 1, 1, 2, 2]
    Xn = X.copy()
    Xn[2, 1] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        PixelDistanceSimilarity().fit(Xn, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        PixelDistanceSimilarity().fit(X, [1] * 6)
    with pytest.raises(ValueError, match="different numbers of samples"):
        PixelDistanceSimilarity().fit(X, y[:5])
    with pytest.raises(ValueError, match="metric must be one of"):
        PixelDistanceSimilarity("cosine").fit(X, y)
    with pytest.raises(ValueError, match="X is required"):
        PixelDistanceSimilarity().fit(None, y)
    with pytest.raises(ValueError, match="batch_size"):
        PixelDistanceSimilarity(batch_size=0).fit(X, y)
    with pytest.raises(ValueError, match="max_samples_per_class"):
        PixelDistanceSimilarity(max_samples_per_class=0).fit(X, y)
    with pytest.raises(ValueError, match="device"):
        PixelDistanceSimilarity(device="nonsense").fit(X, y)
    with pytest.raises(ValueError, match="numeric"):
        PixelDistanceSimilarity().fit(np.array([["a"]] * 6), y)


def test_params_clone_and_most_similar(rng):
    sim = PixelDistanceSimilarity("l1", max_samples_per_class=3, batch_size=7)
    assert clone(sim).get_params() == sim.get_params()
    X = np.array([[0.0], [0.1], [1.0], [1.2], [9.0], [9.5]])
    sim = PixelDistanceSimilarity().fit(X, ["a", "a", "b", "b", "c", "c"])
    assert [c for c, _ in sim.most_similar("a", n=5)] == ["b", "c"]
    assert sim.most_similar("c", n=1)[0][0] == "b"
    with pytest.raises(ValueError, match="not one of the fitted classes_"):
        sim.most_similar("z")


def test_docstring_examples():
    assert doctest.testmod(_pixel, raise_on_error=False).failed == 0


def test_numpy_fallback_without_torch():
    """With torch unimportable, device=None uses numpy and nothing imports torch."""
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ModuleNotFoundError(name)
        sys.meta_path.insert(0, Block())
        import numpy as np
        from simcalib.similarity import PixelDistanceSimilarity
        from simcalib.smoothing import SimilaritySmoother
        X = np.array([[0.0], [1.0], [4.0], [6.0]])
        s = SimilaritySmoother(PixelDistanceSimilarity("l1")).fit(X, [0, 0, 1, 1])
        assert s.similarity_.distances_[0, 1] == 4.5, s.similarity_.distances_
        assert "torch" not in sys.modules
        print("ok")
        """
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# -- exact integer fast paths (uint8 images) ---------------------------------


def _general(X, y, metric, device="numpy", batch_size=64):
    y_idx = np.unique(y, return_inverse=True)[1].reshape(-1)
    means, _ = _pixel._mean_pairwise(
        X,
        y_idx,
        int(y_idx.max()) + 1,
        metric=metric,
        batch_size=batch_size,
        device=device,
        integer_paths=False,
    )
    return means


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("metric,p", [("l1", 1), ("l2", 2)])
@pytest.mark.parametrize(
    "dtype,lo,hi",
    [
        (np.uint8, 0, 256),  # the full byte range, 0 and 255 both present
        (np.int16, -300, -44),  # 256 levels, negative offset
        (np.int64, 7, 10),  # few levels
        (np.uint8, 1, 2),  # one level: every distance is 0
    ],
)
def test_integer_fast_paths_equal_general_path_and_brute_force(
    rng, device, metric, p, dtype, lo, hi
):
    sizes = [1, 4, 9, 17]
    y = np.repeat([0, 1, 2, 3], sizes)
    rng.shuffle(y)
    X = rng.integers(lo, hi, size=(len(y), 3, 2, 2)).astype(dtype)
    X.reshape(len(y), -1)[0, :2] = [lo, hi - 1]
    expected = brute_force(X, y, p)
    general = _general(X, y, metric)
    for batch_size in (5, 64):  # blocks that do not divide n = 31
        sim = PixelDistanceSimilarity(metric, device=device, batch_size=batch_size)
        sim.fit(X, y)
        off = ~np.eye(4, dtype=bool)
        if hi - lo == 1:
            np.testing.assert_array_equal(sim.distances_, 0.0)
            np.testing.assert_array_equal(sim.within_class_distances_, 0.0)
            continue
        np.testing.assert_allclose(sim.distances_[off], expected[off], rtol=1e-12)
        np.testing.assert_allclose(sim.distances_[off], general[off], rtol=1e-12)
        np.testing.assert_allclose(
            sim.within_class_distances_, np.diag(expected), rtol=1e-12
        )


def test_l1_histogram_is_exact_in_integers(rng):
    # the histogram sums are integers: equal to the brute-force integer sums
    X = rng.integers(0, 256, size=(40, 12), dtype=np.uint8)
    y = rng.integers(0, 3, size=40)
    sums = _pixel._l1_class_sums_histogram_numpy(X, 0, y, 3)
    Xi = X.astype(np.int64)
    D = np.abs(Xi[:, None, :] - Xi[None, :, :]).sum(axis=2)
    onehot = np.eye(3, dtype=np.int64)[y]
    np.testing.assert_array_equal(sums, onehot.T @ D @ onehot)


def test_l1_histogram_int64_fallback(rng, monkeypatch):
    # more than ~4 million samples in one class would exceed float64's exact
    # integers; the int64 branch must give the same sums
    X = rng.integers(0, 256, size=(60, 10), dtype=np.uint8)
    y = rng.integers(0, 4, size=60)
    expected = _pixel._l1_class_sums_histogram_numpy(X, 0, y, 4)
    monkeypatch.setattr(_pixel, "_histogram_chunk", lambda *a: (3, False))
    np.testing.assert_array_equal(
        _pixel._l1_class_sums_histogram_numpy(X, 0, y, 4), expected
    )
    if len(DEVICES) > 1:
        got = _pixel._l1_class_sums_histogram_torch(
            torch, torch.device("cpu"), X, 0, y, 4
        )
        np.testing.assert_array_equal(got, expected)


def test_histogram_chunks_bound_memory_and_stay_exact():
    chunk, exact = _pixel._histogram_chunk(100000, 200, 3072, 256, 500)
    assert 1 <= chunk <= 3072 and exact
    assert chunk * 100000 <= _pixel._HISTOGRAM_CHUNK_ENTRIES
    assert chunk * 255 * 500**2 <= 2**53
    # a class of 6 million samples: not even one coordinate fits float64
    assert _pixel._histogram_chunk(10**7, 2, 10, 256, 6 * 10**6) == (1, False)


@needs_torch
def test_torch_histogram_equals_numpy_histogram(rng):
    # the torch variant runs on GPUs; on the CPU it must give the same sums
    X = rng.integers(20, 90, size=(70, 3, 4, 4), dtype=np.uint8).reshape(70, -1)
    y = rng.integers(0, 6, size=70)
    np.testing.assert_array_equal(
        _pixel._l1_class_sums_histogram_torch(torch, torch.device("cpu"), X, 20, y, 6),
        _pixel._l1_class_sums_histogram_numpy(X, 20, y, 6),
    )


def _byte_l2_sums(X, y, batch_size, torch_module):
    y_idx = np.unique(y, return_inverse=True)[1].reshape(-1)
    K = int(y_idx.max()) + 1
    X2 = X.reshape(len(X), -1)
    return _pixel._l2_class_sums_bytes(torch_module, X2, 0, y_idx, K, batch_size)


@pytest.fixture
def fresh_int_mm_verdicts(monkeypatch):
    """Each test re-checks torch._int_mm (the verdicts are cached per function)."""
    monkeypatch.setattr(_pixel, "_INT_MM_VERDICTS", {})


@needs_torch
def test_byte_l2_equals_float64_path(rng, fresh_int_mm_verdicts):
    X = rng.integers(0, 256, size=(90, 3, 5, 5), dtype=np.uint8)
    y = rng.integers(0, 7, size=90)
    X.reshape(90, -1)[:3] = [[0], [255], [0]]  # extreme rows: largest |a|^2
    y_idx = np.unique(y, return_inverse=True)[1]
    K = int(y_idx.max()) + 1
    got = _byte_l2_sums(X, y, 16, torch)
    ref = _pixel._pairwise_class_sums_numpy(X.reshape(90, -1), y_idx, K, "l2", 16)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert torch.get_num_threads() >= 1  # the worker setting was restored


class _Counting:
    """Wraps a stand-in for torch._int_mm and counts the calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, a, b):
        self.calls += 1
        return self.fn(a, b)


def _wrong_int_mm(a, b):  # int32, right shape, numbers off by one somewhere
    out = (a.to(torch.int64) @ b.to(torch.int64)).to(torch.int32)
    out[0, 0] += 1
    return out


def _raising_int_mm(a, b):
    raise RuntimeError("_int_mm: not supported on this CPU")


@needs_torch
@pytest.mark.parametrize("variant", ["missing", "wrong", "raises", "float-result"])
def test_byte_l2_without_a_usable_int_mm_is_exact_and_identical(
    rng, monkeypatch, fresh_int_mm_verdicts, variant
):
    """torch._int_mm is private: a torch without it, or where it gives other
    numbers, fails or returns floats, must take the exact float64 products
    and give bit for bit the same distances."""
    X = rng.integers(0, 256, size=(70, 3, 4, 4), dtype=np.uint8)
    X.reshape(70, -1)[:2] = [[0], [255]]
    y = rng.integers(0, 5, size=70)
    expected = brute_force(X, y, 2)
    with_int_mm = _byte_l2_sums(X, y, 16, torch)
    assert _pixel._exact_int_mm(torch, 48) is torch._int_mm  # used where it works
    numpy_only = _byte_l2_sums(X, y, 16, None)  # no torch at all: float64 products
    np.testing.assert_array_equal(numpy_only, with_int_mm)
    if variant == "missing":
        monkeypatch.delattr(torch, "_int_mm")
    else:
        fn = {
            "wrong": _wrong_int_mm,
            "raises": _raising_int_mm,
            "float-result": lambda a, b: (a.double() @ b.double()),
        }[variant]
        monkeypatch.setattr(torch, "_int_mm", _Counting(fn))
    assert _pixel._exact_int_mm(torch, 48) is None
    got = _byte_l2_sums(X, y, 16, torch)
    np.testing.assert_array_equal(got, with_int_mm)
    if variant != "missing":
        assert torch._int_mm.calls == 1  # the check only; never used after it
    sim = PixelDistanceSimilarity("l2", device="cpu", batch_size=16).fit(X, y)
    off = ~np.eye(len(expected), dtype=bool)
    np.testing.assert_allclose(sim.distances_[off], expected[off], rtol=1e-12)


@needs_torch
def test_byte_l2_survives_an_int_mm_that_fails_later(rng, monkeypatch, fresh_int_mm_verdicts):
    """An _int_mm that passes the check but refuses a later block shape: that
    block takes the float64 products, with the same result."""
    X = rng.integers(0, 256, size=(50, 48), dtype=np.uint8)
    y = rng.integers(0, 4, size=50)
    expected = _byte_l2_sums(X, y, 16, None)
    real = torch._int_mm

    def picky(a, b):
        if a.shape[0] != 33 and a.shape[0] < 16:  # the last, short block
            raise RuntimeError("shape not supported")
        return real(a, b)

    monkeypatch.setattr(torch, "_int_mm", picky)
    np.testing.assert_array_equal(_byte_l2_sums(X, y, 16, torch), expected)


def test_fast_paths_only_for_small_integer_ranges(rng, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("fast path taken")

    monkeypatch.setattr(_pixel, "_l1_class_sums_histogram_numpy", refuse)
    monkeypatch.setattr(_pixel, "_l2_class_sums_bytes", refuse)
    y = np.repeat([0, 1], 6)
    X = rng.integers(0, 256, size=(12, 4)).astype(np.float64)  # floats: general
    for metric in ("l1", "l2"):
        PixelDistanceSimilarity(metric, device=DEVICES[-1]).fit(X, y)
        # integers spanning more than 256 levels: general
        wide = rng.integers(0, 1000, size=(12, 4))
        wide[0, 0], wide[1, 0] = 0, 999
        PixelDistanceSimilarity(metric, device=DEVICES[-1]).fit(wide, y)


def test_byte_l2_path_only_up_to_its_feature_limit(rng, monkeypatch):
    X = rng.integers(0, 256, size=(30, 8), dtype=np.uint8)
    y = np.repeat([0, 1, 2], 10)
    expected = brute_force(X, y, 2)
    off = ~np.eye(3, dtype=bool)
    taken = []
    real = _pixel._l2_class_sums_bytes
    monkeypatch.setattr(
        _pixel, "_l2_class_sums_bytes", lambda *a: taken.append(1) or real(*a)
    )
    for limit, used in ((8, True), (7, False)):  # 7: too many features
        taken.clear()
        monkeypatch.setattr(_pixel, "_BYTE_L2_MAX_FEATURES", limit)
        for device in DEVICES:
            sim = PixelDistanceSimilarity("l2", device=device).fit(X, y)
            np.testing.assert_allclose(sim.distances_[off], expected[off], rtol=1e-12)
        assert bool(taken) == used
