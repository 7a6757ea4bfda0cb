"""Dirichlet calibration: ODIR penalty, cross-validation, grid search."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_softmax
from sklearn.base import clone
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from simcalib.calibration import (
    DirichletCalibrator,
    DirichletCalibratorCV,
    dirichlet_reg_grid,
)

from ._helpers import overconfident_logits


def _odir_objective(theta, F, y, lam, mu):
    """The penalised loss of Kull et al., written out independently."""
    k = F.shape[1]
    W, b = theta[: k * k].reshape(k, k), theta[k * k :]
    logp = log_softmax(F @ W.T + b, axis=1)
    off = W[~np.eye(k, dtype=bool)]
    return (
        -logp[np.arange(len(y)), y].mean()
        + lam / (k * (k - 1)) * np.sum(off**2)
        + mu / k * np.sum(b**2)
    )


@pytest.mark.parametrize("lam, mu", [(0.5, 0.5), (5.0, 0.1)])
def test_odir_minimises_the_reference_objective(lam, mu):
    Z, y = overconfident_logits(400, 3, scale=3.0, seed=30)
    dc = DirichletCalibrator(reg="odir", reg_lambda=lam, reg_mu=mu, tol=1e-12).fit(Z, y)
    F = log_softmax(Z, axis=1)
    theta0 = np.concatenate([np.eye(3).ravel(), np.zeros(3)])
    ref = minimize(
        _odir_objective,
        theta0,
        args=(F, y, lam, mu),
        method="BFGS",
        options={"gtol": 1e-9},
    )
    np.testing.assert_allclose(dc.coef_, ref.x[:9].reshape(3, 3), atol=2e-4)
    np.testing.assert_allclose(dc.intercept_, ref.x[9:], atol=2e-4)


def test_strong_odir_penalty_keeps_the_map_diagonal():
    Z, y = overconfident_logits(400, 4, scale=3.0, seed=31)
    dc = DirichletCalibrator(reg_lambda=1e6, reg_mu=1e6).fit(Z, y)
    off = dc.coef_[~np.eye(4, dtype=bool)]
    assert np.abs(off).max() < 1e-3
    assert np.abs(dc.intercept_).max() < 1e-3
    assert np.all(np.diag(dc.coef_) > 0.05)


def test_l2_penalty_shrinks_everything():
    Z, y = overconfident_logits(400, 3, scale=3.0, seed=32)
    weak = DirichletCalibrator(reg="l2", reg_lambda=1e-3).fit(Z, y)
    strong = DirichletCalibrator(reg="l2", reg_lambda=1e3).fit(Z, y)
    assert np.linalg.norm(strong.coef_) < 0.2 * np.linalg.norm(weak.coef_)


def test_probability_input_matches_logit_input():
    Z, y = overconfident_logits(300, 3, scale=2.0, seed=33)
    P = np.exp(log_softmax(Z, axis=1))
    a = DirichletCalibrator(tol=1e-12).fit(Z, y)
    b = DirichletCalibrator(input_type="probabilities", tol=1e-12).fit(P, y)
    np.testing.assert_allclose(a.predict_proba(Z), b.predict_proba(P), atol=1e-5)


def test_grid_search_over_regularisation():
    Z, y = overconfident_logits(300, 3, scale=3.0, seed=34)
    grid = {"reg_lambda": [0.01, 10.0], "reg_mu": [0.1, 10.0]}
    search = GridSearchCV(DirichletCalibrator(), grid, scoring="neg_log_loss", cv=3)
    search.fit(Z, y)
    assert search.best_params_["reg_lambda"] in grid["reg_lambda"]
    assert np.isfinite(search.best_score_)


def test_cv_picks_the_pair_with_the_lowest_mean_fold_log_loss():
    Z, y = overconfident_logits(300, 3, scale=3.0, seed=35)
    grid = {"reg_lambda": [0.01, 100.0], "reg_mu": [0.1, 100.0]}
    cv = DirichletCalibratorCV(param_grid=grid, cv=3).fit(Z, y)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = {}
    for lam in grid["reg_lambda"]:
        for mu in grid["reg_mu"]:
            est = DirichletCalibrator(reg_lambda=lam, reg_mu=mu)
            scores[lam, mu] = np.mean(
                [
                    log_loss(
                        y[te],
                        clone(est).fit(Z[tr], y[tr]).predict_proba(Z[te]),
                        labels=[0, 1, 2],
                    )
                    for tr, te in folds.split(Z, y)
                ]
            )
    best = min(scores, key=scores.get)
    assert (cv.best_params_["reg_lambda"], cv.best_params_["reg_mu"]) == best
    refit = DirichletCalibrator(reg_lambda=best[0], reg_mu=best[1]).fit(Z, y)
    np.testing.assert_allclose(cv.coef_, refit.coef_, atol=1e-8)
    np.testing.assert_allclose(cv.predict_proba(Z), refit.predict_proba(Z), atol=1e-8)


def test_default_grid_follows_the_reference():
    grid = dirichlet_reg_grid()
    assert grid["reg_lambda"][:3] == [0.025, 0.05, 0.1]
    assert grid["reg_lambda"][-1] == 100.0
    assert grid["reg_mu"] == [0.1, 10.0]
    with pytest.raises(ValueError, match="cv"):
        DirichletCalibratorCV(cv=1).fit(*overconfident_logits(50, 3))
