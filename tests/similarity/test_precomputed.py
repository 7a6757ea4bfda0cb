"""PrecomputedSimilarity: user matrices, similarity -> distance, label order."""

import doctest

import numpy as np
import pytest
from sklearn.base import clone

from simcalib.similarity import PrecomputedSimilarity, _precomputed

D = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 2.0], [4.0, 2.0, 0.0]])


def test_distance_matrix_kept_in_label_order():
    sim = PrecomputedSimilarity(D).fit()
    np.testing.assert_array_equal(sim.classes_, [0, 1, 2])
    np.testing.assert_array_equal(sim.distances_, D)
    sim = PrecomputedSimilarity(D).fit(None, ["x", "y", "z", "x"])
    np.testing.assert_array_equal(sim.classes_, ["x", "y", "z"])


def test_classes_reorder_rows():
    # rows given in the order c, a, b -> classes_ a, b, c
    sim = PrecomputedSimilarity(D, classes=["c", "a", "b"]).fit(None, ["a", "b", "c"])
    np.testing.assert_array_equal(sim.classes_, ["a", "b", "c"])
    # d(c, a) = 1, d(c, b) = 4, d(a, b) = 2
    assert sim.distances_[2, 0] == 1.0 and sim.distances_[2, 1] == 4.0
    assert sim.distances_[0, 1] == 2.0


def test_similarity_becomes_max_minus_s():
    S = np.array([[1.0, 0.8, -0.2], [0.8, 1.0, 0.5], [-0.2, 0.5, 1.0]])
    sim = PrecomputedSimilarity(S, kind="similarity").fit()
    np.testing.assert_allclose(sim.distances_, (1.0 - S) * (1 - np.eye(3)))


def test_diagonal_ignored_and_symmetrised():
    M = D + np.diag([5.0, 6.0, 7.0])
    M[0, 1] += 1e-9
    sim = PrecomputedSimilarity(M).fit()
    np.testing.assert_allclose(sim.distances_, D, atol=1e-8)
    np.testing.assert_array_equal(sim.distances_, sim.distances_.T)


def test_bad_matrices():
    with pytest.raises(ValueError, match="symmetric"):
        PrecomputedSimilarity([[0, 1], [2, 0]]).fit()
    with pytest.raises(ValueError, match="square"):
        PrecomputedSimilarity(np.zeros((2, 3))).fit()
    with pytest.raises(ValueError, match="negative"):
        PrecomputedSimilarity([[0, -1], [-1, 0]]).fit()
    with pytest.raises(ValueError, match="NaN"):
        PrecomputedSimilarity([[0, np.nan], [np.nan, 0]]).fit()
    with pytest.raises(ValueError, match="kind"):
        PrecomputedSimilarity(D, kind="affinity").fit()
    with pytest.raises(ValueError, match="one label per matrix row"):
        PrecomputedSimilarity(D, classes=["a", "b"]).fit()
    with pytest.raises(ValueError, match="duplicates"):
        PrecomputedSimilarity(D, classes=["a", "b", "a"]).fit()
    with pytest.raises(ValueError, match="do not match"):
        PrecomputedSimilarity(D).fit(None, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="do not match"):
        PrecomputedSimilarity(D, classes=["a", "b", "c"]).fit(None, ["a", "b", "d"])


def test_clone_and_fit_leave_matrix_unchanged():
    M = D + np.eye(3)
    sim = PrecomputedSimilarity(M, kind="distance", classes=None)
    np.testing.assert_array_equal(clone(sim).get_params()["matrix"], M)
    sim.fit()
    assert sim.matrix is M
    np.testing.assert_array_equal(M, D + np.eye(3))


def test_docstring_examples():
    assert doctest.testmod(_precomputed, raise_on_error=False).failed == 0
