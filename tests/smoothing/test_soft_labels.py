"""smooth_labels_from_distances: the paper's steps, limits and invariants."""

import doctest

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from simcalib.smoothing import _soft_labels, smooth_labels_from_distances


def paper_reference(D, alpha, beta):
    """Eq. 17-18 step by step, one row at a time: z-normalise over the other
    classes, softmax over ALL K entries, then s_k(k) = 0 and renormalise."""
    D = np.asarray(D, dtype=float)
    K = len(D)
    out = np.zeros((K, K))
    for k in range(K):
        others = [j for j in range(K) if j != k]
        mu, sd = D[k, others].mean(), D[k, others].std()
        z = (D[k] - mu) / sd if sd > 0 else np.zeros(K)
        e = np.exp(-beta * z)
        s = e / e.sum()
        s[k] = 0.0
        s /= s.sum()
        out[k] = alpha * s
        out[k, k] = 1 - alpha
    return out


def distance_matrices(min_k=2, max_k=8):
    return st.integers(min_k, max_k).flatmap(
        lambda k: arrays(
            np.float64, (k, k), elements=st.floats(0, 100, allow_subnormal=False)
        )
    )


alphas = st.floats(0.0, 1.0)
betas = st.floats(0.0, 10.0)


@settings(max_examples=60, deadline=None)
@given(D=distance_matrices(3), alpha=alphas, beta=betas)
def test_matches_paper_reference(D, alpha, beta):
    D = D + D.T + 1e-3 * np.arange(D.size).reshape(D.shape)  # distinct off-diagonals
    np.fill_diagonal(D, 0.0)
    # the naive reference overflows exp() when the diagonal's z is huge
    off = D[~np.eye(len(D), dtype=bool)].reshape(len(D), -1)
    z_diag = off.mean(1) / off.std(1)
    assume(np.all(beta * z_diag < 600))
    np.testing.assert_allclose(
        smooth_labels_from_distances(D, alpha, beta),
        paper_reference(D, alpha, beta),
        rtol=1e-9,
        atol=1e-12,
    )


@settings(max_examples=80, deadline=None)
@given(D=distance_matrices(), alpha=alphas, beta=betas)
def test_invariants(D, alpha, beta):
    Y = smooth_labels_from_distances(D, alpha, beta)
    K = len(D)
    np.testing.assert_allclose(Y.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.diag(Y), 1.0 - alpha)  # exactly
    assert np.all(Y >= 0)
    off = ~np.eye(K, dtype=bool)
    # mass decreases (weakly) with distance, row by row
    for k in range(K):
        d, m = D[k][off[k]], Y[k][off[k]]
        order = np.argsort(d, kind="stable")
        assert np.all(np.diff(m[order]) <= 1e-12)


@settings(max_examples=30, deadline=None)
@given(D=distance_matrices(), beta=betas)
def test_alpha_zero_is_one_hot(D, beta):
    np.testing.assert_array_equal(
        smooth_labels_from_distances(D, 0.0, beta), np.eye(len(D))
    )


@settings(max_examples=30, deadline=None)
@given(D=distance_matrices(), alpha=alphas)
def test_beta_zero_is_uniform_over_other_classes(D, alpha):
    K = len(D)
    Y = smooth_labels_from_distances(D, alpha, 0.0)
    expected = np.full((K, K), alpha / (K - 1))
    np.fill_diagonal(expected, 1 - alpha)
    np.testing.assert_allclose(Y, expected, rtol=1e-12, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(D=distance_matrices(3), alpha=alphas, beta=betas, diag=st.floats(0, 1e3))
def test_diagonal_does_not_enter(D, alpha, beta, diag):
    # Documented: the z-normalisation uses only the K - 1 other classes.
    D2 = D.copy()
    np.fill_diagonal(D2, diag)
    np.testing.assert_array_equal(
        smooth_labels_from_distances(D, alpha, beta),
        smooth_labels_from_distances(D2, alpha, beta),
    )


def test_diagonal_in_z_normalisation_would_differ():
    # guards the test above: including the diagonal changes the result here
    D = np.array([[0.0, 1.0, 2.0, 4.0], [1, 0, 1, 1], [2, 1, 0, 1], [4, 1, 1, 0]])
    Y = smooth_labels_from_distances(D, 1.0, 1.0)
    row = D[0]
    z_all = (row - row.mean()) / row.std()
    s = np.exp(-z_all[1:])
    np.testing.assert_allclose(paper_reference(D, 1.0, 1.0)[0], Y[0])
    assert not np.allclose(Y[0, 1:], s / s.sum())


def test_scale_and_shift_invariance():
    rng = np.random.default_rng(1)
    D = rng.uniform(size=(6, 6))
    np.testing.assert_allclose(
        smooth_labels_from_distances(D, 0.3, 2.0),
        smooth_labels_from_distances(7 * D + 3, 0.3, 2.0),
    )


def test_two_classes_and_constant_rows():
    np.testing.assert_array_equal(
        smooth_labels_from_distances([[0, 5.0], [5.0, 0]], 0.2, 3.0),
        [[0.8, 0.2], [0.2, 0.8]],
    )
    D = np.ones((4, 4))
    D[0, 3] = D[3, 0] = 2.0
    Y = smooth_labels_from_distances(D, 0.3, 4.0)
    np.testing.assert_allclose(Y[1, [0, 2, 3]], 0.1)  # row 1: all others equally far
    assert Y[0, 1] > Y[0, 3]


def test_large_beta_is_stable():
    D = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
    Y = smooth_labels_from_distances(D, 0.1, 1e6)
    assert np.all(np.isfinite(Y))
    np.testing.assert_allclose(Y[0], [0.9, 0.1, 0.0], atol=1e-12)


def test_bad_arguments():
    D = np.ones((3, 3))
    with pytest.raises(ValueError, match="alpha"):
        smooth_labels_from_distances(D, alpha=1.5)
    with pytest.raises(ValueError, match="beta"):
        smooth_labels_from_distances(D, beta=-1.0)
    with pytest.raises(ValueError, match="square"):
        smooth_labels_from_distances(np.ones((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        smooth_labels_from_distances([[0, np.nan], [1, 0]])
    with pytest.raises(ValueError, match="at least 2 columns"):
        smooth_labels_from_distances([[0.0]])


def test_docstring_examples():
    assert doctest.testmod(_soft_labels, raise_on_error=False).failed == 0
