"""Bad inputs to the scaling calibrators and the netcal adapter.

TemperatureScaling, EnsembleTemperatureScaling, VectorScaling, MatrixScaling,
DirichletCalibrator (both solvers), DirichletCalibratorCV and
NetcalCalibrator: every bad parameter or input is a ValueError naming it
(NotFittedError before fit), raised before any fitted attribute changes -- a
failed refit leaves the earlier fit predicting bit for bit as before.
"""

import warnings
from functools import partial

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from simcalib.calibration import (
    DirichletCalibrator,
    DirichletCalibratorCV,
    EnsembleTemperatureScaling,
    MatrixScaling,
    NetcalCalibrator,
    TemperatureScaling,
    VectorScaling,
)

from ._helpers import overconfident_logits

CALIBRATORS = {
    "TemperatureScaling": TemperatureScaling,
    "EnsembleTemperatureScaling": EnsembleTemperatureScaling,
    "VectorScaling": VectorScaling,
    "MatrixScaling": MatrixScaling,
    "NetcalCalibrator": NetcalCalibrator,
    "DirichletCalibrator": DirichletCalibrator,
    "DirichletCalibrator-lbfgs": partial(DirichletCalibrator, solver="lbfgs"),
    "DirichletCalibratorCV": partial(
        DirichletCalibratorCV, param_grid={"reg_lambda": [0.1, 1.0], "reg_mu": [1.0]}, cv=3
    ),
}
ITERATIVE = ["TemperatureScaling", "EnsembleTemperatureScaling", "VectorScaling", "MatrixScaling",
             "DirichletCalibrator", "DirichletCalibrator-lbfgs", "DirichletCalibratorCV"]
PENALISED = ["MatrixScaling", "DirichletCalibrator", "DirichletCalibrator-lbfgs"]

Z, Y = overconfident_logits(90, 3, seed=1)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function"])
@pytest.mark.parametrize("name", sorted(CALIBRATORS))
def test_every_method_before_fit(name, method):
    with pytest.raises(NotFittedError):
        getattr(CALIBRATORS[name](), method)(Z)


@pytest.mark.parametrize("value", [0, -1, 1.5, np.nan, np.inf, True, None, "100"])
@pytest.mark.parametrize("name", ITERATIVE)
def test_bad_max_iter(name, value):
    with pytest.raises(ValueError, match="max_iter must be"):
        CALIBRATORS[name](max_iter=value).fit(Z, Y)


@pytest.mark.parametrize("value", [0.0, -1.0, 1.0, 10.0, np.nan, np.inf, True, "1e-6"])
@pytest.mark.parametrize("name", ["VectorScaling", "MatrixScaling", "DirichletCalibrator",
                                  "DirichletCalibrator-lbfgs", "DirichletCalibratorCV"])
def test_bad_tol(name, value):
    with pytest.raises(ValueError, match="tol must be"):
        CALIBRATORS[name](tol=value).fit(Z, Y)


@pytest.mark.parametrize("param", ["reg_lambda", "reg_mu"])
@pytest.mark.parametrize("value", [-1.0, np.nan, np.inf, -np.inf, 1e300, True, "1"])
@pytest.mark.parametrize("name", PENALISED)
def test_bad_matrix_penalty(name, param, value):
    with pytest.raises(ValueError, match=f"{param} must be"):
        CALIBRATORS[name](**{param: value}).fit(Z, Y)


@pytest.mark.parametrize(
    "est, message",
    [
        (MatrixScaling(reg="l1"), "reg must be one of"),
        (MatrixScaling(reg=None), "reg must be one of"),
        (EnsembleTemperatureScaling(loss="ce"), "loss must be 'mse' or 'nll'"),
        (EnsembleTemperatureScaling(loss=["mse"]), "loss must be 'mse' or 'nll'"),
        (NetcalCalibrator("platt"), "method must be one of"),
        (NetcalCalibrator(["histogram"]), "method must be one of"),
        (NetcalCalibrator(method_params=[("bins", 5)]), "method_params must be a dict"),
        (NetcalCalibrator(method_params={"binz": 5}), r"method_params has keys \['binz'\]"),
        (NetcalCalibrator(method_params={"bins": 0}), r"method_params\['bins'\] must be"),
        (NetcalCalibrator(method_params={"bins": 2.5}), r"method_params\['bins'\] must be"),
        (NetcalCalibrator("beta", method_params={"method": "nope"}),
         "could not be fitted with method_params"),
    ],
    ids=repr,
)
def test_bad_options(est, message):
    with pytest.raises(ValueError, match=message):
        est.fit(Z, Y)


@pytest.mark.parametrize(
    "X, y, kwargs, message",
    [
        (np.where(Z > 2, np.nan, Z), Y, {}, "NaN"),
        (np.where(Z > 2, np.inf, Z), Y, {}, "nfinity"),
        (Z * 1e200, Y, {}, "X holds values up to"),
        (Z[:, 0], Y, {}, "2D"),
        (Z[:, :2], Y, {}, "columns"),
        (Z, np.zeros(90, int), {"classes": [0, 1, 2]}, "y has only one class"),
        (Z, Y[:50], {}, "samples"),
        (Z, Y, {"input_type": "logit"}, "input_type must be one of"),
        (np.abs(Z) / 100, Y, {"input_type": "probabilities"}, "rows of X must sum to 1"),
        (np.abs(Z), Y, {"input_type": "probabilities"}, r"X must hold probabilities in \[0, 1\]"),
        (Z, Y, {"classes": [0, 1, 1]}, "classes must .*(distinct|duplicates)"),
        (Z, Y, {"classes": [0, 1]}, "y (contains|has) labels .*not in classes"),
    ],
)
@pytest.mark.parametrize("name", sorted(CALIBRATORS))
def test_bad_fit_data(name, X, y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        CALIBRATORS[name](**kwargs).fit(X, y)


@pytest.mark.parametrize("name", sorted(CALIBRATORS))
def test_bad_predict_data(name):
    est = CALIBRATORS[name]().fit(Z, Y)
    with pytest.raises(ValueError, match="features"):
        est.predict_proba(Z[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        est.predict(np.where(Z > 2, np.nan, Z))


def _failed_refits():
    rng = np.random.default_rng(5)
    return {
        "more-columns": lambda e: e.fit(rng.normal(size=(90, 4)), Y),
        "nan": lambda e: e.fit(np.where(Z > 2, np.nan, Z), Y),
        "one-class": lambda e: e.fit(Z, np.zeros(90, int)),
        "classes-param": lambda e: e.set_params(classes=[0, 1]).fit(Z, Y),
        "string-labels-unseen": lambda e: e.set_params(classes=["a", "b", "c"]).fit(
            Z, np.array(list("abd" * 30))),
        "huge": lambda e: e.fit(Z * 1e200, Y),
    }


@pytest.mark.parametrize("case", sorted(_failed_refits()))
@pytest.mark.parametrize("name", sorted(CALIBRATORS))
def test_failed_refit_leaves_the_fit_intact(name, case):
    est = CALIBRATORS[name]().fit(Z, Y)
    before = {k: v for k, v in vars(est).items() if k.endswith("_")}
    proba = est.predict_proba(Z)
    with pytest.raises(ValueError):
        _failed_refits()[case](est)
    est.set_params(classes=None)
    np.testing.assert_array_equal(est.predict_proba(Z), proba)  # bit for bit
    assert sorted(k for k in vars(est) if k.endswith("_")) == sorted(before)
    assert est.n_features_in_ == 3


@pytest.mark.parametrize("name", ITERATIVE)
def test_failed_parameter_check_leaves_the_fit_intact(name):
    est = CALIBRATORS[name]().fit(Z, Y)
    proba = est.predict_proba(Z)
    with pytest.raises(ValueError, match="max_iter"):
        est.set_params(max_iter=np.nan).fit(Z[:50], Y[:50])
    np.testing.assert_array_equal(est.predict_proba(Z), proba)


@pytest.mark.parametrize("name", ["VectorScaling", "MatrixScaling", "DirichletCalibrator",
                                  "DirichletCalibrator-lbfgs"])
def test_iteration_limit_warns(name):
    with pytest.warns(ConvergenceWarning, match="did not converge after 1 iterations"):
        CALIBRATORS[name](max_iter=1).fit(Z, Y)


def test_temperature_iteration_limit_warns():
    with pytest.warns(ConvergenceWarning, match="temperature scaling did not converge"):
        TemperatureScaling(max_iter=1).fit(Z, Y)


def test_ets_on_saturated_logits_fits_its_temperature():
    """With one-hot softmax outputs the squared error is flat at T = 1: the
    search used to stop there after 0 iterations; it now starts at the NLL
    temperature."""
    big = Z * 1000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ets = EnsembleTemperatureScaling().fit(big, Y)
        ts = TemperatureScaling().fit(big, Y)
    assert ets.temperature_ > 100
    assert ets.temperature_ == pytest.approx(ts.temperature_, rel=0.5)


def test_temperature_on_separable_logits_is_optimal():
    """Perfectly separated logits: the loss falls towards T -> 0 and vanishes in
    float64; the fit must reach that flat optimum, not stop half-way with a
    larger loss."""
    from scipy.special import log_softmax

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    z = np.eye(3)[y] * 5.0 + rng.normal(size=(90, 3)) * 0.1
    t = TemperatureScaling().fit(z, y).temperature_

    def nll(temperature):
        return -log_softmax(z / temperature, axis=1)[np.arange(90), y].mean()

    assert nll(t) <= nll(np.exp(-10.0)) + 1e-12
    assert nll(t) < nll(1.0) * 1e-6


@pytest.mark.parametrize(
    "name, target",
    [
        ("TemperatureScaling", "simcalib.calibration._temperature._nll_beta_derivatives"),
        ("EnsembleTemperatureScaling", "simcalib.calibration._temperature.minimize"),
        ("VectorScaling", "simcalib.calibration._linear.minimize"),
        ("MatrixScaling", "simcalib.calibration._linear.minimize"),
        ("NetcalCalibrator", "simcalib.calibration._netcal.softmax"),
        ("DirichletCalibrator", "simcalib.calibration._dirichlet.fit_linear_newton"),
        ("DirichletCalibrator-lbfgs", "simcalib.calibration._dirichlet.fit_full_linear"),
        ("DirichletCalibratorCV", "simcalib.calibration._dirichlet._fold_path"),
    ],
)
def test_interrupted_refit_leaves_the_fit_intact(monkeypatch, name, target):
    """Ctrl-C (or any failure) inside the optimiser of a refit: nothing changes."""
    est = CALIBRATORS[name]().fit(Z, Y)
    proba = est.predict_proba(Z)
    state = {k: v for k, v in vars(est).items() if k.endswith("_")}

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupt)
    with pytest.raises(KeyboardInterrupt):  # new labels: classes_ would change
        est.fit(Z[::-1] * 2.0, np.array(["a", "b", "c"])[Y[::-1]])
    monkeypatch.undo()
    assert {k: v for k, v in vars(est).items() if k.endswith("_")}.keys() == state.keys()
    np.testing.assert_array_equal(est.classes_, [0, 1, 2])
    np.testing.assert_array_equal(est.predict_proba(Z), proba)
    np.testing.assert_array_equal(est.predict(Z), np.argmax(proba, axis=1))
