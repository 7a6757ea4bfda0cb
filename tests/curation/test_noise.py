import numpy as np
import pytest

from simcalib.curation import make_noisy_labels

Y = np.repeat(np.arange(5), 400)  # 2000 labels, 5 classes


@pytest.mark.parametrize("kind", ["symmetric", "pairflip"])
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_exactly_rate_of_the_labels_change(kind, rate):
    noisy = make_noisy_labels(Y, rate, kind, random_state=0)
    assert noisy.shape == Y.shape and noisy.dtype == Y.dtype
    assert np.sum(noisy != Y) == round(rate * len(Y))


def test_symmetric_flips_spread_evenly_over_the_other_classes():
    noisy = make_noisy_labels(Y, 0.8, random_state=0)
    for k in range(5):
        went = noisy[(Y == k) & (noisy != Y)]
        counts = np.bincount(went, minlength=5)
        assert counts[k] == 0
        share = counts[np.arange(5) != k] / len(went)
        # 320 flips per class: each of 4 targets ~ 0.25 (binomial sd ~ 0.024)
        np.testing.assert_allclose(share, 0.25, atol=0.08)


def test_pairflip_goes_to_the_next_class_in_classes_order():
    y = np.array(["b", "a", "c"] * 100)
    noisy = make_noisy_labels(y, 0.5, "pairflip", random_state=1)
    nxt = {"a": "b", "b": "c", "c": "a"}
    flipped = noisy != y
    assert all(nxt[t] == n for t, n in zip(y[flipped], noisy[flipped]))
    # with classes given, the cycle follows that order
    noisy = make_noisy_labels(y, 1.0, "pairflip", classes=["c", "b", "a"], random_state=1)
    assert all({"c": "b", "b": "a", "a": "c"}[t] == n for t, n in zip(y, noisy))


def test_similarity_flips_follow_the_matrix_rows():
    S = np.array([
        [1.0, 3.0, 1.0, 0.0],
        [0.0, 1.0, 1.0, 0.0],
        [0.0, 0.0, 1.0, 2.0],
        [5.0, 0.0, 0.0, 1.0],
    ])  # diagonal ignored; rows renormalised off the diagonal
    y = np.repeat(np.arange(4), 1000)
    noisy = make_noisy_labels(y, 1.0, "similarity", similarity=S, random_state=0)
    assert np.all(noisy[y == 1] == 2) and np.all(noisy[y == 2] == 3)
    assert np.all(noisy[y == 3] == 0)
    share = np.bincount(noisy[y == 0], minlength=4) / 1000
    np.testing.assert_allclose(share, [0, 0.75, 0.25, 0], atol=0.05)


def test_flips_can_reach_classes_only_listed_in_classes():
    y = np.zeros(50, dtype=int)
    noisy = make_noisy_labels(y, 1.0, classes=[0, 7], random_state=0)
    assert np.all(noisy == 7)


def test_seeded():
    a = make_noisy_labels(Y, 0.5, random_state=3)
    assert np.array_equal(a, make_noisy_labels(Y, 0.5, random_state=3))
    assert not np.array_equal(a, make_noisy_labels(Y, 0.5, random_state=4))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rate=1.5), r"rate must be <= 1.0; got 1.5"),
        (dict(rate=float("nan")), r"rate must be a finite real number"),
        (dict(rate=True), r"rate must be a real number; got True"),
        (dict(rate=0.1, kind="uniform"), r"kind must be one of \('symmetric'"),
        (dict(rate=0.1, kind="similarity"), r"kind='similarity' needs similarity="),
        (dict(rate=0.1, kind="similarity", similarity=np.ones((3, 3))),
         r"similarity must have shape \(5, 5\)"),
        (dict(rate=0.1, kind="similarity", similarity=-np.ones((5, 5))),
         r"similarity must be non-negative"),
        (dict(rate=0.1, kind="similarity", similarity=np.eye(5)),
         r"similarity row 0 has no off-diagonal mass"),
        (dict(rate=0.1, kind="similarity", similarity=np.full((5, 5), np.nan)),
         r"similarity contains NaN or infinity"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_noisy_labels(Y, **kwargs)


def test_one_class_cannot_be_corrupted():
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_noisy_labels(np.zeros(5), 0.5)
