"""Bad inputs to the smoothing stage: SimilaritySmoother, smooth_labels_from_distances
and soft_label_matrix refuse them by name, and a failed refit changes nothing."""

import doctest

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from simcalib.similarity import PixelDistanceSimilarity
from simcalib.smoothing import (
    SimilaritySmoother,
    _targets,
    smooth_labels_from_distances,
    soft_label_matrix,
)

NAN, INF = float("nan"), float("inf")
D = np.array([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])
X = np.array([[0.0], [0.2], [1.0], [1.1], [5.0], [5.3]])
Y = np.array(["a", "a", "b", "b", "c", "c"])

SCALARS = [
    (dict(alpha=NAN), "alpha"),
    (dict(alpha=INF), "alpha"),
    (dict(alpha=True), "alpha"),
    (dict(alpha="0.1"), "alpha"),
    (dict(alpha=-0.1), "alpha"),
    (dict(alpha=1.5), "alpha"),
    (dict(beta=NAN), "beta"),
    (dict(beta=INF), "beta"),
    (dict(beta=-1.0), "beta"),
    (dict(beta=None), "beta"),
]


@pytest.mark.parametrize("params, match", SCALARS, ids=lambda v: repr(v)[:30])
def test_bad_scalars_everywhere(params, match):
    with pytest.raises(ValueError, match=match):
        SimilaritySmoother(D, **params).fit(None, ["a", "b", "c"])
    with pytest.raises(ValueError, match=match):
        smooth_labels_from_distances(D, **params)
    with pytest.raises(ValueError, match=match):
        soft_label_matrix("uniform", None, [0, 1, 2], [0, 1, 2], **params)


BAD_SIMILARITY = [
    ("a string", "pixel", "similarity must be"),
    ("None", None, "similarity must be"),
    ("a class", PixelDistanceSimilarity, "instance"),
    ("no get_params", type("Fit", (), {"fit": lambda self, X, y: self})(), "get_params"),
    ("ragged", [[0.0, 1.0], [1.0]], "similarity must be"),
    ("bool matrix", D > 1, "similarity must be"),
    ("nan matrix", np.where(D == 3.0, NAN, D), "NaN"),
    ("not square", D[:2], "square"),
    ("1-D", D[0], "2-D"),
]


@pytest.mark.parametrize("name, similarity, match", BAD_SIMILARITY,
                         ids=[c[0] for c in BAD_SIMILARITY])
def test_bad_similarity_for_the_smoother(name, similarity, match):
    with pytest.raises(ValueError, match=match):
        SimilaritySmoother(similarity).fit(None, ["a", "b", "c"])


@pytest.mark.parametrize(
    "y, match",
    [(["a"], "do not match the 3 rows"), ([[0, 1], [1, 0]], "1-D"),
     ([0.0, NAN, 2.0], "NaN"), (["a", "b"], "do not match the 3 rows")],
)
def test_bad_labels_for_the_smoother(y, match):
    with pytest.raises(ValueError, match=match):
        SimilaritySmoother(D).fit(None, y)


@pytest.mark.parametrize(
    "y, match", [(None, "requires y"), (["a"] * 6, "at least 2 classes"), (Y[:4], "samples")]
)
def test_bad_labels_for_a_fitted_source(y, match):
    with pytest.raises(ValueError, match=match):
        SimilaritySmoother(PixelDistanceSimilarity(device="numpy")).fit(X, y)


@pytest.mark.parametrize(
    "distances, match",
    [(np.where(D == 3.0, INF, D), "NaN or infinity"), (D[:2], "square"), ([[0.0]], "2 columns"),
     (D[None], "2-D"), ([["a", "b"], ["b", "a"]], "numeric"), ([], "2-D")],
)
def test_bad_distances(distances, match):
    with pytest.raises(ValueError, match=match):
        smooth_labels_from_distances(distances)


def test_transform_checks():
    with pytest.raises(NotFittedError):
        SimilaritySmoother(D).transform(["a"])
    smoother = SimilaritySmoother(D).fit(None, ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"labels \['z'\] that are not in labels"):
        smoother.transform(["a", "z"])
    with pytest.raises(ValueError, match="empty"):
        smoother.transform([])
    with pytest.raises(ValueError, match="1-D"):
        smoother.transform([["a", "b"]])
    with pytest.raises(ValueError, match="missing"):
        smoother.transform(np.array(["a", None], dtype=object))


def test_failed_refit_keeps_the_smoother():
    smoother = SimilaritySmoother(PixelDistanceSimilarity(device="numpy"), alpha=0.2).fit(X, Y)
    Q, sim, classes = smoother.soft_labels_.copy(), smoother.similarity_, smoother.classes_
    for params, X_bad, y_bad in [
        (dict(alpha=NAN), X, Y),
        (dict(alpha=0.2), np.where(X == 5.0, NAN, X), Y),
        (dict(alpha=0.2), X, np.zeros(6)),
        (dict(similarity=PixelDistanceSimilarity(metric="l3")), X, Y),
    ]:
        with pytest.raises(ValueError):
            smoother.set_params(**params).fit(X_bad, y_bad)
        np.testing.assert_array_equal(smoother.soft_labels_, Q)
        assert smoother.similarity_ is sim and smoother.classes_ is classes


def _negative_rows():
    Q = np.full((3, 3), -0.01)
    np.fill_diagonal(Q, 1.02)
    return Q


BAD_TARGETS = [
    ("unknown string", dict(similarity="cosine"), "similarity='cosine'"),
    ("a class", dict(similarity=PixelDistanceSimilarity), "instance"),
    ("wrong shape", dict(similarity=np.eye(2)), r"shape \(3, 3\)"),
    ("nan matrix", dict(similarity=np.full((3, 3), NAN)), "NaN"),
    ("negative", dict(similarity=_negative_rows()), "non-negative"),
    ("rows not summing to 1", dict(similarity=np.ones((3, 3))), "summing to 1"),
    ("ragged", dict(similarity=[[1.0], [0.0, 1.0]]), "similarity must be"),
    ("labels outside classes", dict(y=["a", "z"]), "not in classes"),
    ("class without samples", dict(classes=["a", "b", "c", "d"]), r"\['d'\] have no samples"),
    ("duplicate classes", dict(classes=["a", "a", "b", "c"]), "duplicates"),
]


@pytest.mark.parametrize("name, override, match", BAD_TARGETS, ids=[c[0] for c in BAD_TARGETS])
def test_bad_soft_label_sources(name, override, match):
    args = dict(similarity=PixelDistanceSimilarity(device="numpy"), X=X, y=Y,
                classes=["a", "b", "c"])
    args.update(override)
    with pytest.raises(ValueError, match=match):
        soft_label_matrix(args.pop("similarity"), args.pop("X"), args.pop("y"),
                          args.pop("classes"), alpha=0.1)


def test_soft_label_matrix_follows_the_class_order():
    sim = PixelDistanceSimilarity(device="numpy")
    Q_sorted, _ = soft_label_matrix(sim, X, Y, ["a", "b", "c"], alpha=0.3, beta=2.0)
    order = [2, 0, 1]
    Q_perm, smoother = soft_label_matrix(sim, X, Y, ["c", "a", "b"], alpha=0.3, beta=2.0)
    np.testing.assert_allclose(Q_perm, Q_sorted[np.ix_(order, order)])
    np.testing.assert_allclose(np.diag(Q_perm), 0.7)
    assert smoother.classes_.tolist() == ["a", "b", "c"]


def test_docstring_examples():
    assert doctest.testmod(_targets, raise_on_error=False).failed == 0
