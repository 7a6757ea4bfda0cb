"""BaseSimilarity: label encoding, validation and the finalised distance matrix."""

import doctest

import numpy as np
import pytest

from simcalib.similarity import BaseSimilarity, _base


class Asymmetric(BaseSimilarity):
    _requires_X = False

    def _class_distances(self, X, y_idx):
        K = len(self.classes_)
        return np.arange(K * K, dtype=float).reshape(K, K) + 1.0


class Negative(Asymmetric):
    def _class_distances(self, X, y_idx):
        return -super()._class_distances(X, y_idx)


def test_labels_sorted_and_matrix_finalised():
    sim = Asymmetric().fit(None, ["b", "c", "a", "b"])
    np.testing.assert_array_equal(sim.classes_, ["a", "b", "c"])
    np.testing.assert_array_equal(np.diag(sim.distances_), 0.0)
    np.testing.assert_array_equal(sim.distances_, sim.distances_.T)
    assert sim.distances_[0, 1] == 0.5 * (2.0 + 4.0)


def test_bad_labels():
    with pytest.raises(ValueError, match="at least 2 classes"):
        Asymmetric().fit(None, ["a", "a"])
    with pytest.raises(ValueError, match="requires y to be passed"):
        Asymmetric().fit(None, None)
    with pytest.raises(ValueError, match="1-D"):
        Asymmetric().fit(None, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        Asymmetric().fit(None, [0.0, np.nan])
    with pytest.raises(ValueError, match="empty"):
        Asymmetric().fit(None, [])


def test_negative_distances_rejected():
    with pytest.raises(ValueError, match="negative class distances"):
        Negative().fit(None, [0, 1, 2])


def test_docstring_examples():
    assert doctest.testmod(_base, raise_on_error=False).failed == 0
