"""Annotators and the pair evidence."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

from simcalib.calibration import CalibratedClassifier, TemperatureScaling
from simcalib.mixing import PrototypeAnnotator, annotate, pair_evidence


def test_pair_evidence_brute_force(rng):
    P = rng.dirichlet(np.ones(5), size=50)
    a, b = rng.integers(0, 5, 50), (rng.integers(1, 5, 50) + np.arange(50)) % 5
    expected = [P[i, a[i]] / (P[i, a[i]] + P[i, b[i]]) for i in range(50)]
    np.testing.assert_allclose(pair_evidence(P, a, b), expected)
    assert pair_evidence(np.zeros((1, 3)), np.array([0]), np.array([1])).tolist() == [0.5]


def test_prototype_annotator_matches_the_definition(rng):
    F = rng.normal(size=(60, 4))
    y = np.repeat(["a", "b", "c"], 20)
    ann = PrototypeAnnotator(embed=lambda x: 3.0 * x, temperature=0.5).fit(F, y)
    U = F / np.linalg.norm(F, axis=1, keepdims=True)
    protos = np.stack([U[y == c].mean(0) for c in "abc"])
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    np.testing.assert_allclose(ann.prototypes_, protos)
    logits = U @ protos.T / 0.5
    np.testing.assert_allclose(ann.decision_function(F), logits)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(ann.predict_proba(F), p)
    np.testing.assert_array_equal(ann.predict(F), np.array(list("abc"))[logits.argmax(1)])


def test_prototype_annotator_calibrated_by_temperature_scaling(rng):
    centres = rng.normal(size=(3, 8)) * 0.4
    y = rng.integers(0, 3, 300)
    F = centres[y] + rng.normal(size=(300, 8))
    ann = PrototypeAnnotator(embed=lambda x: x, temperature=0.01).fit(F[:150], y[:150])
    cal = CalibratedClassifier(FrozenEstimator(ann), TemperatureScaling()).fit(F[150:], y[150:])
    proba = annotate(cal, F[150:], np.arange(3))
    # temperature 0.01 is far too sharp for overlapping classes; TS softens it
    assert cal.calibrated_classifiers_[0][1].temperature_ > 1
    assert proba.max(1).mean() < ann.predict_proba(F[150:]).max(1).mean()


def test_annotator_errors():
    with pytest.raises(ValueError, match="embed must be callable"):
        PrototypeAnnotator(embed=None).fit(np.zeros((2, 2)), [0, 1])
    with pytest.raises(ValueError, match="temperature"):
        PrototypeAnnotator(embed=lambda x: x, temperature=0).fit(np.eye(2), [0, 1])
    with pytest.raises(ValueError, match=r"shape \(n_samples=2, D\)"):
        PrototypeAnnotator(embed=lambda x: x[:1]).fit(np.eye(2), [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        PrototypeAnnotator(embed=lambda x: x * np.nan).fit(np.eye(2), [0, 1])
    with pytest.raises(NotFittedError):
        PrototypeAnnotator(embed=lambda x: x).predict_proba(np.eye(2))
    with pytest.raises(ValueError, match="finite, non-negative"):
        annotate(lambda x: np.full((len(x), 2), np.inf), np.zeros((1, 1, 1, 1)), np.arange(2))
