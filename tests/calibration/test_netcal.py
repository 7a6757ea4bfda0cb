"""The netcal adapter agrees with calling netcal directly."""

import numpy as np
import pytest
from scipy.special import softmax

from simcalib.calibration import NetcalCalibrator

from ._helpers import overconfident_logits

netcal_binning = pytest.importorskip("netcal.binning")
netcal_scaling = pytest.importorskip("netcal.scaling")


@pytest.mark.parametrize(
    "method, make",
    [
        ("histogram", lambda: netcal_binning.HistogramBinning(bins=7)),
        ("isotonic", lambda: netcal_binning.IsotonicRegression()),
    ],
)
def test_equals_netcal_on_probabilities(method, make):
    Z, y = overconfident_logits(400, 3, scale=2.0, seed=40)
    Zt, _ = overconfident_logits(100, 3, scale=2.0, seed=41)
    P, Pt = softmax(Z, axis=1), softmax(Zt, axis=1)
    params = {"bins": 7} if method == "histogram" else None
    ours = NetcalCalibrator(method, method_params=params, input_type="probabilities")
    ours.fit(P, y)
    ref = make()
    ref.fit(P, y)
    expected = ref.transform(Pt)
    expected = expected / expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ours.predict_proba(Pt), expected, atol=1e-9)
    # logit input: the adapter applies the softmax itself
    from_logits = NetcalCalibrator(method, method_params=params).fit(Z, y)
    np.testing.assert_allclose(from_logits.predict_proba(Zt), expected, atol=1e-9)


def test_binary_beta_calibration_equals_netcal():
    rng = np.random.default_rng(42)
    y = rng.integers(0, 2, size=300)
    p = 1.0 / (1.0 + np.exp(-3.0 * (rng.normal(size=300) + (2 * y - 1))))
    ours = NetcalCalibrator("beta", input_type="probabilities").fit(p[:, None], y)
    ref = netcal_scaling.BetaCalibration()
    ref.fit(p, y)
    np.testing.assert_allclose(
        ours.predict_proba(p[:, None])[:, 1], ref.transform(p), atol=1e-6
    )


@pytest.mark.parametrize("method", ["bbq", "enir"])
def test_bayesian_binning_smoke(method):
    Z, y = overconfident_logits(150, 2, scale=3.0, seed=43)
    cal = NetcalCalibrator(method).fit(Z, y)
    p = cal.predict_proba(Z)
    assert p.shape == (150, 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_bad_method():
    Z, y = overconfident_logits(50, 3)
    with pytest.raises(ValueError, match="method must be one of"):
        NetcalCalibrator("platt").fit(Z, y)
    with pytest.raises(ValueError, match="method_params"):
        NetcalCalibrator(method_params=[("bins", 3)]).fit(Z, y)
