"""Vector and matrix scaling; per-class miscalibration."""

import numpy as np
import pytest
from scipy.special import log_softmax, softmax
from sklearn.linear_model import LogisticRegression

from simcalib.calibration import (
    DirichletCalibrator,
    MatrixScaling,
    TemperatureScaling,
    VectorScaling,
)

from ._helpers import nll


def classwise_miscalibrated(n, seed):
    """Labels drawn from softmax(z*), observed logits a_k * z*_k: class 0 is
    underconfident, class 3 strongly overconfident -- no single temperature
    fixes both."""
    rng = np.random.default_rng(seed)
    z_true = 1.5 * rng.normal(size=(n, 4))
    cum = np.cumsum(softmax(z_true, axis=1), axis=1)
    y = (rng.random(n)[:, None] > cum).sum(axis=1)
    return z_true * np.array([0.3, 1.0, 3.0, 6.0]), y


@pytest.mark.parametrize(
    "cal",
    [
        VectorScaling(),
        MatrixScaling(reg_lambda=0.01),
        DirichletCalibrator(reg_lambda=0.01),
    ],
    ids=repr,
)
def test_classwise_calibrators_beat_a_single_temperature(cal):
    Z, y = classwise_miscalibrated(3000, seed=20)
    Zt, yt = classwise_miscalibrated(3000, seed=21)
    ts = TemperatureScaling().fit(Z, y)
    cal.fit(Z, y)
    assert nll(cal.predict_proba(Zt), yt) < nll(ts.predict_proba(Zt), yt) - 0.02


def test_vector_scaling_recovers_the_per_class_scales():
    Z, y = classwise_miscalibrated(20000, seed=22)
    vs = VectorScaling().fit(Z, y)
    np.testing.assert_allclose(vs.coef_, 1.0 / np.array([0.3, 1.0, 3.0, 6.0]), rtol=0.1)
    # the biases are only defined up to a common shift
    assert np.ptp(vs.intercept_) < 0.1


def test_vector_scaling_matches_a_direct_minimisation_of_the_nll():
    # independent reference: BFGS with numerical gradients on
    # the written-out objective mean(-log softmax(a * z + b)[y])
    from scipy.optimize import minimize

    Z, y = classwise_miscalibrated(600, seed=25)
    k = Z.shape[1]

    def objective(theta):
        logp = log_softmax(Z * theta[:k] + theta[k:], axis=1)
        return -logp[np.arange(len(y)), y].mean()

    ref = minimize(objective, np.r_[np.ones(k), np.zeros(k)], method="BFGS",
                   options={"gtol": 1e-9})
    ref_proba = softmax(Z * ref.x[:k] + ref.x[k:], axis=1)
    vs = VectorScaling(tol=1e-12).fit(Z, y)
    np.testing.assert_allclose(vs.coef_, ref.x[:k], rtol=1e-4)
    np.testing.assert_allclose(vs.predict_proba(Z), ref_proba, atol=1e-5)
    # the default tolerance stops on the same flat minimum of the objective
    default = VectorScaling().fit(Z, y)
    assert objective(np.r_[default.coef_, default.intercept_]) < ref.fun + 1e-8


def _lr_proba(F, y, Ft):
    lr = LogisticRegression(C=1e8, tol=1e-12, max_iter=20000).fit(F, y)
    return lr.predict_proba(Ft)


def test_unregularised_dirichlet_is_logistic_regression_on_log_probabilities():
    Z, y = classwise_miscalibrated(800, seed=23)
    Zt, _ = classwise_miscalibrated(200, seed=24)
    dc = DirichletCalibrator(reg="none", tol=1e-12).fit(Z, y)
    expected = _lr_proba(log_softmax(Z, axis=1), y, log_softmax(Zt, axis=1))
    np.testing.assert_allclose(dc.predict_proba(Zt), expected, atol=1e-4)


def test_unregularised_matrix_scaling_is_logistic_regression_on_logits():
    Z, y = classwise_miscalibrated(800, seed=25)
    Zt, _ = classwise_miscalibrated(200, seed=26)
    ms = MatrixScaling(reg="none", tol=1e-12).fit(Z, y)
    np.testing.assert_allclose(ms.predict_proba(Zt), _lr_proba(Z, y, Zt), atol=1e-4)
    # decision_function gives the calibrated logits (as log-probabilities)
    np.testing.assert_allclose(
        softmax(ms.decision_function(Zt), axis=1), ms.predict_proba(Zt), atol=1e-12
    )


def test_reg_parameter_checks():
    Z, y = classwise_miscalibrated(100, seed=27)
    with pytest.raises(ValueError, match="reg must be"):
        MatrixScaling(reg="l1").fit(Z, y)
    with pytest.raises(ValueError, match="reg_lambda"):
        MatrixScaling(reg_lambda=-1.0).fit(Z, y)
    with pytest.raises(ValueError, match="tol"):
        VectorScaling(tol=0.0).fit(Z, y)
