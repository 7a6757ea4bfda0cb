"""Brier score and NLL against scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, log_loss

from simcalib.metrics import brier_score, negative_log_likelihood


def _probs(rng, n, k):
    z = rng.normal(size=(n, k)) * 2
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_brier_matches_sklearn_multiclass(rng):
    p = _probs(rng, 200, 5)
    y = rng.integers(0, 5, 200)
    expected = brier_score_loss(y, p, labels=np.arange(5), scale_by_half=False)
    assert brier_score(y, p) == pytest.approx(expected, rel=1e-12)
    # brute force
    onehot = np.eye(5)[y]
    assert brier_score(y, p) == pytest.approx(np.mean(np.sum((p - onehot) ** 2, 1)), rel=1e-12)


def test_brier_binary_is_twice_sklearn_default(rng):
    p1 = rng.uniform(size=100)
    y = rng.integers(0, 2, 100)
    assert brier_score(y, p1) == pytest.approx(2 * brier_score_loss(y, p1), rel=1e-12)


def test_nll_matches_sklearn_and_tolerates_float32_rows(rng):
    p = _probs(rng, 150, 4)
    y = rng.integers(0, 4, 150)
    assert negative_log_likelihood(y, p) == pytest.approx(log_loss(y, p), rel=1e-12)
    p32 = p.astype(np.float32)  # rows off 1 by ~1e-7: log_loss alone would refuse
    assert negative_log_likelihood(y, p32) == pytest.approx(log_loss(y, p), rel=1e-5)


def test_string_labels(rng):
    p = _probs(rng, 50, 3)
    y = rng.integers(0, 3, 50)
    names = np.array(["ant", "bee", "cat"])
    assert brier_score(names[y], p, labels=names) == brier_score(y, p)
    assert negative_log_likelihood(names[y], p, labels=names) == negative_log_likelihood(y, p)


@pytest.mark.parametrize("func", [brier_score, negative_log_likelihood])
def test_bad_inputs(func):
    with pytest.raises(ValueError, match="sum to 1"):
        func([0, 1], [[0.9, 0.9], [0.5, 0.5]])
    with pytest.raises(ValueError, match="different numbers of samples"):
        func([0, 1, 0], [[0.9, 0.1], [0.5, 0.5]])
