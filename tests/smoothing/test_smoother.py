"""SimilaritySmoother: fit a similarity clone, soft targets, sklearn parameter API."""

import doctest

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid

from simcalib.similarity import PixelDistanceSimilarity, PrecomputedSimilarity
from simcalib.smoothing import (
    SimilaritySmoother,
    _smoother,
    smooth_labels_from_distances,
)


@pytest.fixture
def data(rng):
    y = np.repeat(["cat", "dog", "emu", "fox"], [3, 5, 4, 6])
    X = rng.normal(size=(len(y), 4)) + np.searchsorted(np.unique(y), y)[:, None] ** 1.5
    return X, y


def test_fit_and_transform(data):
    X, y = data
    sim = PixelDistanceSimilarity(device="numpy")
    smoother = SimilaritySmoother(sim, alpha=0.2, beta=2.0).fit(X, y)
    assert smoother.similarity is sim and not hasattr(
        sim, "distances_"
    )  # a clone was fitted
    np.testing.assert_array_equal(smoother.classes_, ["cat", "dog", "emu", "fox"])
    expected = smooth_labels_from_distances(
        PixelDistanceSimilarity(device="numpy").fit(X, y).distances_, 0.2, 2.0
    )
    np.testing.assert_allclose(smoother.soft_labels_, expected)
    T = smoother.transform(["fox", "cat", "fox"])
    np.testing.assert_array_equal(T, expected[[3, 0, 3]])
    np.testing.assert_array_equal(
        smoother.fit_transform(X, y), expected[np.searchsorted(smoother.classes_, y)]
    )
    # classes laid out on a line: cat's nearest other class is dog
    assert np.argmax(np.where(np.eye(4, dtype=bool), 0, smoother.soft_labels_)[0]) == 1


def test_limits_through_the_estimator(data):
    X, y = data
    one_hot = SimilaritySmoother(PixelDistanceSimilarity(), alpha=0.0).fit(X, y)
    np.testing.assert_array_equal(one_hot.soft_labels_, np.eye(4))
    flat = SimilaritySmoother(PixelDistanceSimilarity(), alpha=0.3, beta=0.0).fit(X, y)
    np.testing.assert_allclose(flat.soft_labels_[0], [0.7, 0.1, 0.1, 0.1])


def test_unseen_labels_rejected(data):
    X, y = data
    smoother = SimilaritySmoother(PixelDistanceSimilarity()).fit(X, y)
    with pytest.raises(ValueError, match="not in labels"):
        smoother.transform(["cat", "gnu"])


def test_matrix_shorthand_and_name_only_sources():
    D = [[0, 1, 3], [1, 0, 2], [3, 2, 0]]
    a = SimilaritySmoother(D, alpha=0.1).fit(None, [0, 1, 2])
    b = SimilaritySmoother(PrecomputedSimilarity(D), alpha=0.1).fit(None, [0, 1, 2])
    np.testing.assert_array_equal(a.soft_labels_, b.soft_labels_)
    np.testing.assert_allclose(
        a.soft_labels_, smooth_labels_from_distances(D, 0.1, 1.0)
    )


def test_nested_params_clone_and_grid(data):
    X, y = data
    smoother = SimilaritySmoother(PixelDistanceSimilarity("l2"), alpha=0.1, beta=1.0)
    params = smoother.get_params(deep=True)
    assert params["similarity__metric"] == "l2"
    smoother.set_params(similarity__metric="l1", beta=3.0)
    assert smoother.similarity.metric == "l1"
    cloned = clone(smoother)
    assert cloned.get_params(deep=False)["beta"] == 3.0
    assert (
        cloned.similarity.metric == "l1"
        and cloned.similarity is not smoother.similarity
    )
    # what GridSearchCV does with a grid over a nested parameter
    seen = {}
    for grid in ParameterGrid({"similarity__metric": ["l1", "l2"], "alpha": [0.1]}):
        est = clone(smoother).set_params(**grid).fit(X, y)
        seen[grid["similarity__metric"]] = est.soft_labels_
    l1 = (
        SimilaritySmoother(PixelDistanceSimilarity("l1"), 0.1, 3.0)
        .fit(X, y)
        .soft_labels_
    )
    np.testing.assert_allclose(seen["l1"], l1)
    assert not np.allclose(seen["l1"], seen["l2"])


def test_bad_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match="alpha"):
        SimilaritySmoother(PixelDistanceSimilarity(), alpha=-0.1).fit(X, y)
    with pytest.raises(ValueError, match="beta"):
        SimilaritySmoother(PixelDistanceSimilarity(), beta="high").fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SimilaritySmoother(PixelDistanceSimilarity()).fit(X, ["cat"] * len(y))
    with pytest.raises(
        ValueError, match="similarity must be a similarity source.*'uniform'"
    ):
        SimilaritySmoother("uniform").fit(X, y)


def test_transform_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SimilaritySmoother(PixelDistanceSimilarity()).transform([0])


def test_docstring_examples():
    assert doctest.testmod(_smoother, raise_on_error=False).failed == 0
