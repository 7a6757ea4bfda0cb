"""Temperature scaling and ensemble temperature scaling."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from simcalib.calibration import EnsembleTemperatureScaling, TemperatureScaling

from ._helpers import LogitsAsFeatures, nll, overconfident_logits, raw_nll


@pytest.mark.parametrize("scale", [0.3, 1.0, 5.0])
def test_temperature_matches_sklearn(scale):
    Z, y = overconfident_logits(600, 5, scale=scale, seed=1)
    Zt, _ = overconfident_logits(200, 5, scale=scale, seed=2)
    ours = TemperatureScaling().fit(Z, y)
    est = FrozenEstimator(LogitsAsFeatures().fit(Z, y))
    ref = CalibratedClassifierCV(est, method="temperature").fit(Z, y)
    np.testing.assert_allclose(ours.predict_proba(Zt), ref.predict_proba(Zt), atol=1e-4)
    beta = float(ref.calibrated_classifiers_[0].calibrators[0].beta_)
    assert ours.temperature_ == pytest.approx(1.0 / beta, rel=1e-3)


def test_temperature_direction_and_nll():
    Z, y = overconfident_logits(2000, 4, scale=5.0, seed=3)
    Zt, yt = overconfident_logits(2000, 4, scale=5.0, seed=4)
    ts = TemperatureScaling().fit(Z, y)
    assert ts.temperature_ > 1.5  # the logits are overconfident
    assert nll(ts.predict_proba(Zt), yt) < raw_nll(Zt, yt) - 0.1
    under = TemperatureScaling().fit(Z / 25.0, y)
    assert under.temperature_ < 1.0


def test_temperature_probability_input_equals_logit_input():
    Z, y = overconfident_logits(500, 3, seed=5)
    a = TemperatureScaling().fit(Z, y)
    b = TemperatureScaling(input_type="probabilities").fit(softmax(Z, axis=1), y)
    assert a.temperature_ == pytest.approx(b.temperature_, rel=1e-5)
    np.testing.assert_allclose(
        a.predict_proba(Z), b.predict_proba(softmax(Z, axis=1)), atol=1e-8
    )


# -- an independent ETS, written like the reference code (Zhang et al. 2020):
# numerical derivatives, T bounded to [0.05, 5], SLSQP for the weights.


def _reference_ets(logits, y, loss):
    k = logits.shape[1]
    label = np.eye(k)[y]

    def t_loss(t):
        p = softmax(logits / t[0], axis=1)
        if loss == "mse":
            return np.mean((p - label) ** 2)
        return -np.sum(label * np.log(p)) / len(y)

    t = minimize(t_loss, 1.0, method="L-BFGS-B", bounds=((0.05, 5.0),), tol=1e-12).x[0]
    p0, p1 = softmax(logits / t, axis=1), softmax(logits, axis=1)
    p2 = np.full_like(p0, 1.0 / k)

    def w_loss(w):
        p = w[0] * p0 + w[1] * p1 + w[2] * p2
        if loss == "mse":
            return np.mean((p - label) ** 2)
        return -np.sum(label * np.log(p)) / len(y)

    w = minimize(
        w_loss,
        (1.0, 0.0, 0.0),
        method="SLSQP",
        bounds=((0.0, 1.0),) * 3,
        constraints={"type": "eq", "fun": lambda w: np.sum(w) - 1},
        tol=1e-12,
    ).x
    return t, w


@pytest.mark.parametrize("loss", ["mse", "nll"])
def test_ets_matches_reference_implementation(loss):
    # mixed confidence: overconfident logits with a noisy half, so that all
    # three mixture components get weight
    Z, y = overconfident_logits(800, 4, scale=2.5, margin=1.5, seed=6)
    Z[::3] = np.random.default_rng(7).normal(size=Z[::3].shape) * 2.5
    ets = EnsembleTemperatureScaling(loss=loss).fit(Z, y)
    t_ref, w_ref = _reference_ets(Z, y, loss)
    assert ets.temperature_ == pytest.approx(t_ref, rel=1e-3)
    np.testing.assert_allclose(ets.weights_, w_ref, atol=2e-3)
    assert ets.weights_.min() >= 0.0
    assert ets.weights_.sum() == pytest.approx(1.0)


def test_ets_probabilities_are_the_mixture():
    Z, y = overconfident_logits(300, 3, seed=8)
    ets = EnsembleTemperatureScaling().fit(Z, y)
    w, t = ets.weights_, ets.temperature_
    expected = w[0] * softmax(Z / t, axis=1) + w[1] * softmax(Z, axis=1) + w[2] / 3
    np.testing.assert_allclose(ets.predict_proba(Z), expected, atol=1e-12)
    np.testing.assert_allclose(
        softmax(ets.decision_function(Z), axis=1), expected, atol=1e-12
    )


def test_ets_bad_loss():
    Z, y = overconfident_logits(50, 3)
    with pytest.raises(ValueError, match="loss"):
        EnsembleTemperatureScaling(loss="ce").fit(Z, y)
