"""Behaviour every calibrator shares: input checks, robustness, API."""

import pickle

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.base import clone

from simcalib.calibration import (
    DirichletCalibrator,
    DirichletCalibratorCV,
    EnsembleTemperatureScaling,
    MatrixScaling,
    NetcalCalibrator,
    TemperatureScaling,
    VectorScaling,
)

from ._helpers import nll, overconfident_logits, raw_nll

SMALL_GRID = {"reg_lambda": [0.1, 1.0], "reg_mu": [1.0]}

# the calibrators fitted by simcalib's own optimisers
OWN = [
    TemperatureScaling(),
    EnsembleTemperatureScaling(),
    EnsembleTemperatureScaling(loss="nll"),
    VectorScaling(),
    MatrixScaling(),
    DirichletCalibrator(),
    DirichletCalibratorCV(param_grid=SMALL_GRID, cv=3),
]
ALL = [*OWN, NetcalCalibrator("histogram")]


def _id(est):
    return repr(est)


@pytest.mark.parametrize("cal", OWN, ids=_id)
def test_lowers_heldout_nll_on_overconfident_logits(cal):
    Z, y = overconfident_logits(1500, 4, scale=5.0, seed=10)
    Zt, yt = overconfident_logits(1500, 4, scale=5.0, seed=11)
    cal = clone(cal).fit(Z, y)
    assert nll(cal.predict_proba(Zt), yt) < raw_nll(Zt, yt) - 0.1


@pytest.mark.parametrize("cal", ALL, ids=_id)
def test_extreme_logits_stay_finite_and_normalised(cal):
    Z, y = overconfident_logits(300, 4, scale=300.0, seed=12)  # |z| ~ 1e3
    assert np.abs(Z).max() > 900
    cal = clone(cal).fit(Z, y)
    for X in (Z, 3.0 * Z, -Z):
        p = cal.predict_proba(X)
        assert np.all(np.isfinite(p))
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-10)
        assert np.all(np.isfinite(cal.decision_function(X)))
    assert np.all(np.isin(cal.predict(Z), cal.classes_))


@pytest.mark.parametrize("cal", ALL, ids=_id)
@pytest.mark.parametrize(
    "bad, match",
    [(np.nan, "NaN"), (np.inf, "infinity")],
)
def test_non_finite_logits_rejected(cal, bad, match):
    Z, y = overconfident_logits(60, 3)
    Zb = Z.copy()
    Zb[3, 1] = bad
    with pytest.raises(ValueError, match=match):
        clone(cal).fit(Zb, y)
    fitted = clone(cal).fit(Z, y)
    with pytest.raises(ValueError, match=match):
        fitted.predict_proba(Zb)


@pytest.mark.parametrize("cal", ALL, ids=_id)
def test_bad_shapes_and_labels(cal):
    Z, y = overconfident_logits(60, 3)
    fitted = clone(cal).fit(Z, y)
    with pytest.raises(ValueError, match="X has 4 features.*expecting 3"):
        fitted.predict_proba(np.hstack([Z, Z[:, :1]]))
    y_extra = y.copy()
    y_extra[0] = 7  # a label without a column
    with pytest.raises(ValueError, match="3 columns but y has 4 classes"):
        clone(cal).fit(Z, y_extra)
    with pytest.raises(ValueError, match="only one class"):
        clone(cal).set_params(classes=[0, 1, 2]).fit(Z, np.zeros(60, dtype=int))
    with pytest.raises(ValueError, match="2 samples but X has 3 columns"):
        clone(cal).fit(Z[:2], y[:2])
    with pytest.raises(ValueError, match="not in classes"):
        clone(cal).set_params(classes=[0, 1, 5]).fit(Z, y)


@pytest.mark.parametrize("cal", [TemperatureScaling(), DirichletCalibrator()], ids=_id)
def test_probability_mode_rejects_logits(cal):
    Z, y = overconfident_logits(60, 3)
    with pytest.raises(ValueError, match="probabilities"):
        clone(cal).set_params(input_type="probabilities").fit(Z, y)
    with pytest.raises(ValueError, match="input_type"):
        clone(cal).set_params(input_type="logit").fit(Z, y)


@pytest.mark.parametrize("cal", ALL, ids=_id)
def test_string_labels_and_classes_parameter(cal):
    Z, y = overconfident_logits(120, 3, seed=13)
    names = np.array(["cat", "dog", "emu"])
    a = clone(cal).fit(Z, y)
    b = clone(cal).fit(Z, names[y])
    np.testing.assert_array_equal(b.classes_, names)
    np.testing.assert_allclose(a.predict_proba(Z), b.predict_proba(Z), atol=1e-6)
    np.testing.assert_array_equal(b.predict(Z), names[a.predict(Z)])
    # columns in a non-sorted order, and a class absent from the calibration set
    order = np.array(["emu", "cat", "dog"])
    c = clone(cal).set_params(classes=order).fit(Z, order[y])
    np.testing.assert_array_equal(c.classes_, order)
    np.testing.assert_allclose(c.predict_proba(Z), a.predict_proba(Z), atol=1e-6)
    keep = y != 2
    d = clone(cal).set_params(classes=[0, 1, 2]).fit(Z[keep], y[keep])
    assert d.predict_proba(Z).shape == (120, 3)


@pytest.mark.parametrize("cal", ALL, ids=_id)
def test_binary_single_column(cal):
    rng = np.random.default_rng(14)
    y = rng.integers(0, 2, size=400)
    z = 4.0 * (rng.normal(size=400) + 1.5 * (2 * y - 1))
    one = clone(cal).fit(z[:, None], y)
    p = one.predict_proba(z[:, None])
    assert p.shape == (400, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert one.decision_function(z[:, None]).shape == (400,)
    two = clone(cal).fit(np.column_stack([-z / 2, z / 2]), y)
    np.testing.assert_allclose(
        two.predict_proba(np.column_stack([-z / 2, z / 2])), p, atol=1e-5
    )
    proba = softmax(np.column_stack([-z / 2, z / 2]), axis=1)
    three = clone(cal).set_params(input_type="probabilities").fit(proba[:, 1:], y)
    assert three.predict_proba(proba[:, 1:]).shape == (400, 2)


@pytest.mark.parametrize("cal", ALL, ids=_id)
def test_clone_params_pickle(cal):
    Z, y = overconfident_logits(90, 3, seed=15)
    params = cal.get_params()
    c = clone(cal)
    assert c.get_params() == params
    c.set_params(input_type="probabilities")
    assert c.get_params()["input_type"] == "probabilities"
    fitted = clone(cal).fit(Z, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(Z), fitted.predict_proba(Z))
    assert fitted.n_features_in_ == 3


def test_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TemperatureScaling().predict_proba(np.zeros((2, 3)))
