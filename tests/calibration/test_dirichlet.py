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


# -- the Newton-CG solver against the L-BFGS-B solver of simcalib 0.1 ------


def _objective_of(dc, Z, y):
    """(penalised objective, mean NLL) of a fitted ODIR calibrator."""
    F = log_softmax(Z, axis=1)
    theta = np.concatenate([dc.coef_.ravel(), dc.intercept_])
    mu = dc.reg_lambda if dc.reg_mu is None else dc.reg_mu
    obj = _odir_objective(theta, F, y, dc.reg_lambda, mu)
    logp = log_softmax(F @ dc.coef_.T + dc.intercept_, axis=1)
    return obj, -logp[np.arange(len(y)), y].mean()


@pytest.mark.parametrize("lam, mu", [(1.0, None), (0.05, 0.1), (100.0, 100.0)])
def test_newton_reaches_the_lbfgs_optimum(lam, mu):
    # 12 classes, 1200 samples: 156 parameters, quick for both solvers
    Z, y = overconfident_logits(1200, 12, scale=3.0, seed=40)
    new = DirichletCalibrator(reg_lambda=lam, reg_mu=mu).fit(Z, y)
    old = DirichletCalibrator(reg_lambda=lam, reg_mu=mu, solver="lbfgs").fit(Z, y)
    tight = DirichletCalibrator(
        reg_lambda=lam, reg_mu=mu, solver="lbfgs", tol=1e-15, max_iter=20000
    ).fit(Z, y)
    f_new, nll_new = _objective_of(new, Z, y)
    f_old, nll_old = _objective_of(old, Z, y)
    f_tight, nll_tight = _objective_of(tight, Z, y)
    # the default Newton fit is never worse than the default L-BFGS-B fit,
    # agrees with it to 1e-4 in NLL and objective, and with a tightly
    # converged L-BFGS-B run to 1e-7
    assert f_new <= f_old + 1e-10
    assert abs(nll_new - nll_old) < 1e-4 and abs(f_new - f_old) < 1e-4
    assert abs(f_new - f_tight) < 1e-7 and abs(nll_new - nll_tight) < 1e-5
    np.testing.assert_allclose(new.predict_proba(Z), tight.predict_proba(Z), atol=1e-3)
    assert new.n_iter_ < 50


def test_solvers_agree_with_probability_input_and_two_classes():
    Z, y = overconfident_logits(400, 2, scale=3.0, seed=41)
    z1 = Z[:, 1] - Z[:, 0]  # one decision column
    a = DirichletCalibrator(tol=1e-12).fit(z1[:, None], y)
    b = DirichletCalibrator(solver="lbfgs", tol=1e-14, max_iter=5000).fit(
        z1[:, None], y
    )
    np.testing.assert_allclose(
        a.predict_proba(z1[:, None]), b.predict_proba(z1[:, None]), atol=1e-5
    )


# -- parameter checks (issue 11) ----------------------------------------------


@pytest.mark.parametrize(
    "params, match",
    [
        ({"reg_lambda": np.nan}, "reg_lambda"),
        ({"reg_lambda": np.inf}, "reg_lambda"),
        ({"reg_lambda": -1.0}, "reg_lambda"),
        ({"reg_mu": np.nan}, "reg_mu"),
        ({"reg_mu": -np.inf}, "reg_mu"),
        ({"tol": np.nan}, "tol"),
        ({"tol": 0.0}, "tol"),
        ({"max_iter": 0}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"reg": "l1"}, "reg must be"),
        ({"solver": "sag"}, "solver must be"),
        ({"solver": np.array(["lbfgs"])}, "solver must be"),
    ],
)
def test_bad_parameters_are_refused_before_anything_changes(params, match):
    Z, y = overconfident_logits(200, 3, seed=42)
    dc = DirichletCalibrator().fit(Z, y)
    coef, intercept, n_iter = dc.coef_.copy(), dc.intercept_.copy(), dc.n_iter_
    with pytest.raises(ValueError, match=match):
        dc.set_params(**params).fit(Z[:50], y[:50])
    np.testing.assert_array_equal(dc.coef_, coef)
    np.testing.assert_array_equal(dc.intercept_, intercept)
    assert dc.n_iter_ == n_iter
    with pytest.raises(ValueError, match=match):
        DirichletCalibrator(**params).fit(Z, y)


@pytest.mark.parametrize(
    "grid, match",
    [
        ({"reg_lambda": [1.0, np.nan]}, "reg_lambda"),
        ({"reg_mu": [np.inf]}, "reg_mu"),
        ({"reg_lambda": [1.0], "alpha": [0.1]}, "not parameters"),
        ({"reg_lambda": []}, "non-empty"),
        ([], "no candidate"),
    ],
)
def test_cv_refuses_a_bad_grid_before_fitting(grid, match):
    Z, y = overconfident_logits(100, 3, seed=43)
    cv = DirichletCalibratorCV(param_grid=grid, cv=2)
    with pytest.raises(ValueError, match=match):
        cv.fit(Z, y)
    assert not hasattr(cv, "calibrator_")
    with pytest.raises(ValueError, match="tol"):
        DirichletCalibratorCV(tol=np.nan).fit(Z, y)
    with pytest.raises(ValueError, match="solver"):
        DirichletCalibratorCV(solver="x").fit(Z, y)
    with pytest.raises(ValueError, match="screen"):
        DirichletCalibratorCV(screen="yes").fit(Z, y)


@pytest.mark.parametrize(
    "est",
    [DirichletCalibrator(), DirichletCalibratorCV(param_grid={"reg_lambda": [1.0]})],
    ids=["DirichletCalibrator", "DirichletCalibratorCV"],
)
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function"]
)
def test_not_fitted_error_before_fit(est, method):
    from sklearn.exceptions import NotFittedError

    Z, _ = overconfident_logits(10, 3, seed=44)
    with pytest.raises(NotFittedError):
        getattr(clone(est), method)(Z)


# -- the warm-started cross-validation ----------------------------------------


def test_cv_results_match_grid_search_with_cold_fits():
    from sklearn.metrics import make_scorer

    Z, y = overconfident_logits(600, 4, scale=3.0, seed=45)
    grid = {"reg_lambda": [0.05, 1.0, 20.0], "reg_mu": [0.1, 10.0]}
    cv = DirichletCalibratorCV(param_grid=grid, cv=3, tol=1e-10).fit(Z, y)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(
        DirichletCalibrator(classes=np.arange(4), tol=1e-10),
        grid,
        cv=folds,
        scoring=make_scorer(
            log_loss,
            response_method="predict_proba",
            greater_is_better=False,
            labels=np.arange(4),
        ),
    ).fit(Z, y)
    for key in ["mean_test_score", "std_test_score", "split0_test_score"]:
        np.testing.assert_allclose(
            cv.cv_results_[key], search.cv_results_[key], atol=1e-7
        )
    np.testing.assert_array_equal(
        cv.cv_results_["rank_test_score"], search.cv_results_["rank_test_score"]
    )
    assert cv.cv_results_["params"] == search.cv_results_["params"]
    assert list(cv.cv_results_["param_reg_lambda"]) == list(
        search.cv_results_["param_reg_lambda"]
    )
    assert cv.best_params_ == search.best_params_
    assert cv.best_score_ == pytest.approx(search.best_score_, abs=1e-7)


def test_cv_parallel_folds_give_the_same_result():
    Z, y = overconfident_logits(300, 3, scale=3.0, seed=46)
    grid = {"reg_lambda": [0.1, 10.0], "reg_mu": [1.0]}
    a = DirichletCalibratorCV(param_grid=grid, cv=3).fit(Z, y)
    b = DirichletCalibratorCV(param_grid=grid, cv=3, n_jobs=2).fit(Z, y)
    np.testing.assert_allclose(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"], rtol=1e-12
    )
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_warm_start_secant_predictor():
    from simcalib.calibration._dirichlet import _warm_start

    class Fitted:
        def __init__(self, c):
            self.coef_, self.intercept_ = np.full((2, 2), c), np.full(2, c)

    ests = [Fitted(3.0), Fitted(2.0), Fitted(0.0)]
    pos = np.log([[4.0, 1.0], [2.0, 1.0], [1.0, 1.0]])
    others = [[], [], []]
    # on the line of the last two fits: linear extrapolation in log lambda
    W, b = _warm_start(ests, pos, others, [0, 1], 2)
    np.testing.assert_allclose(W, 1.0)
    # off that line (another mu): the nearest fit
    pos2 = np.vstack([pos[:2], np.log([[2.0, 10.0]])])
    W, b = _warm_start(ests, pos2, others, [0, 1], 2)
    np.testing.assert_allclose(W, 2.0)
    assert _warm_start(ests, pos, others, [], 0) is None


@pytest.mark.parametrize("scale", [1e10, 1e50, 1e90])
def test_huge_logits_are_calibrated(scale):
    # logits of 1e10 and more (accepted up to 1e100) left the Newton fit one
    # iteration from a saturated start, with an NLL 300x that of temperature
    # scaling, reported as converged; now no warning (pytest turns them into
    # errors), and no worse than temperature scaling on the same logits
    # (whose temperature range ends at e^10: it cannot undo such a scale)
    from simcalib.calibration import TemperatureScaling

    Z, y = overconfident_logits(300, 4, seed=1)
    dc = DirichletCalibrator().fit(Z * scale, y)
    f, nll = _objective_of(dc, Z * scale, y)
    ts = TemperatureScaling().fit(Z * scale, y)
    nll_ts = -ts.predict_log_proba(Z * scale)[np.arange(300), y].mean()
    assert np.isfinite(f) and f <= nll_ts
    assert nll < 0.7 < nll_ts  # the class-wise map beats one temperature


def test_newton_failure_warns(monkeypatch):
    from sklearn.exceptions import ConvergenceWarning

    from simcalib.calibration._newton import _Problem

    Z, y = overconfident_logits(200, 3, seed=2)
    monkeypatch.setattr(_Problem, "line_search", lambda self, *args: 1e6)
    with pytest.warns(ConvergenceWarning, match="Newton-CG.*line search found no decrease"):
        DirichletCalibrator().fit(Z, y)


# -- screening: loose fold fits, then the candidates within reach to tol -------


def _distorted_logits(n, k, seed):
    """Labels from softmax(z*), logits a_k z*_k + b_k (class-dependent scales)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k))
    z[np.arange(n), rng.integers(0, k, size=n)] += 4.0
    cum = np.cumsum(np.exp(log_softmax(z, axis=1)), axis=1)
    y = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), k - 1)
    a = np.exp(rng.uniform(np.log(0.3), np.log(4.0), size=k))
    return z * a + rng.normal(size=k), y


@pytest.mark.parametrize(
    "data",
    [
        lambda: overconfident_logits(400, 4, scale=3.0, seed=47),
        lambda: _distorted_logits(500, 6, seed=48),
        lambda: _distorted_logits(300, 5, seed=49),
    ],
    ids=["overconfident", "distorted-6", "distorted-5"],
)
def test_screened_cv_chooses_as_the_exhaustive_search(data):
    from sklearn.metrics import make_scorer

    Z, y = data()
    k = Z.shape[1]
    grid = dirichlet_reg_grid()  # the default 24 pairs
    fast = DirichletCalibratorCV(cv=3, tol=1e-10).fit(Z, y)
    slow = DirichletCalibratorCV(cv=3, tol=1e-10, screen=False).fit(Z, y)
    # the exhaustive reference: cold fits of every pair on every fold
    search = GridSearchCV(
        DirichletCalibrator(classes=np.arange(k), tol=1e-10),
        grid,
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring=make_scorer(
            log_loss,
            response_method="predict_proba",
            greater_is_better=False,
            labels=np.arange(k),
        ),
    ).fit(Z, y)
    assert fast.best_params_ == slow.best_params_ == search.best_params_
    assert fast.best_score_ == pytest.approx(search.best_score_, abs=1e-7)
    np.testing.assert_allclose(
        slow.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
        atol=1e-7,
    )
    # the refit is the same fit either way, at the reference optimum
    np.testing.assert_array_equal(fast.coef_, slow.coef_)
    np.testing.assert_array_equal(fast.intercept_, slow.intercept_)
    best = search.best_estimator_
    np.testing.assert_allclose(fast.coef_, best.coef_, atol=1e-6)
    np.testing.assert_allclose(fast.intercept_, best.intercept_, atol=1e-6)
    # the screened scores are close to the exact ones (the margin's premise)
    np.testing.assert_allclose(
        fast.cv_results_["mean_test_score"],
        search.cv_results_["mean_test_score"],
        atol=1e-3,
    )


def test_screened_cv_at_the_default_tolerance_matches_the_exhaustive_one():
    Z, y = _distorted_logits(600, 8, seed=50)
    fast = DirichletCalibratorCV(cv=3).fit(Z, y)
    slow = DirichletCalibratorCV(cv=3, screen=False).fit(Z, y)
    assert fast.best_params_ == slow.best_params_
    assert fast.best_score_ == pytest.approx(slow.best_score_, abs=1e-6)
    np.testing.assert_array_equal(fast.coef_, slow.coef_)


def test_screening_fits_loosely_then_refits_to_tol(monkeypatch):
    # the namespace the fits look the solver up in (a doctest run may import
    # the module a second time under the same name)
    namespace = DirichletCalibrator._fit_features.__globals__
    calls = []
    original = namespace["fit_linear_newton"]

    def recording(*args, confirm=True, **kwargs):
        calls.append(confirm)
        return original(*args, confirm=confirm, **kwargs)

    monkeypatch.setitem(namespace, "fit_linear_newton", recording)
    Z, y = _distorted_logits(300, 4, seed=51)
    grid = {"reg_lambda": [0.1, 1.0, 10.0], "reg_mu": [0.1, 10.0]}
    cv = DirichletCalibratorCV(param_grid=grid, cv=3).fit(Z, y)
    n_loose = calls.count(False)
    n_refits = calls.count(True) - 1  # the last one is the final refit
    assert n_loose == 6 * 3
    assert n_refits % 3 == 0 and 3 <= n_refits < 6 * 3
    calls.clear()
    DirichletCalibratorCV(param_grid=grid, cv=3, screen=False).fit(Z, y)
    assert calls == [True] * (6 * 3 + 1)
    assert np.all(np.isfinite(cv.cv_results_["mean_test_score"]))


def test_screen_then_refit_reaches_every_candidate_within_the_margin():
    from simcalib.calibration._dirichlet import _screen_then_refit

    # screened mean scores -1.000, -1.0005, -1.002, -1.05, -1.2 (2 splits)
    screened = np.array([[-1.0, -1.0005, -1.002, -1.05, -1.2]] * 2)
    exact = screened.copy()
    exact[:, 0] -= 0.01  # the screened leader is really worse ...
    exact[:, 2] += 0.0025  # ... and the third is really the best
    order = []

    def refit(idx):
        order.append(idx)
        return exact[:, idx]

    scores, refitted = _screen_then_refit(screened, refit)
    # the leader changed by 0.01: the margin grows to 0.04, which brings in
    # the candidates at -1.0005 and -1.002 but not -1.05 (best refitted
    # -1.0005)
    assert order == [0, 1, 2]
    np.testing.assert_array_equal(refitted, [True, True, True, False, False])
    np.testing.assert_array_equal(scores[:, :3], exact[:, :3])
    np.testing.assert_array_equal(scores[:, 3:], screened[:, 3:])
    assert int(np.argmax(scores.mean(axis=0))) == 2
    # exact screening: only the leader and those within the 1e-3 floor
    order.clear()
    scores, refitted = _screen_then_refit(screened, lambda i: screened[:, i])
    assert order == [] and refitted.tolist() == [True, True, False, False, False]


def test_newton_breakdown_falls_back_to_lbfgs(monkeypatch):
    """A non-finite Newton step (a numerical breakdown) refits with L-BFGS-B.

    Seen once on a cross-validation fold of nearly separable digits logits:
    the default solver must then give the robust solver's answer, not its
    starting point with a warning.
    """
    import warnings

    from simcalib.calibration import DirichletCalibrator

    rng = np.random.default_rng(0)
    y = np.arange(120) % 4
    Z = rng.normal(size=(120, 4))
    Z[np.arange(120), y] += 2.0
    namespace = DirichletCalibrator._fit_features.__globals__
    real = namespace["fit_linear_newton"]

    def broken(*args, **kwargs):
        res = real(*args, **kwargs)
        res.converged, res.message = False, "the Newton step is not finite"
        res.coef = np.full_like(res.coef, np.nan)
        return res

    monkeypatch.setitem(namespace, "fit_linear_newton", broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Newton warning: the fallback converged
        fell_back = DirichletCalibrator(reg_lambda=0.1, reg_mu=0.1).fit(Z, y)
    monkeypatch.setitem(namespace, "fit_linear_newton", real)
    lbfgs = DirichletCalibrator(reg_lambda=0.1, reg_mu=0.1, solver="lbfgs").fit(Z, y)
    np.testing.assert_array_equal(fell_back.coef_, lbfgs.coef_)
    np.testing.assert_array_equal(fell_back.intercept_, lbfgs.intercept_)
    assert np.all(np.isfinite(fell_back.predict_proba(Z)))
