"""Bad inputs to the scorers and make_calibration_scorer: clear errors, early."""

import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from simcalib.metrics import (
    classwise_ece_scorer,
    ece_output_scorer,
    ece_scorer,
    expected_calibration_error,
    kde_calibration_error,
    kde_ece_output_scorer,
    kde_ece_scorer,
    make_calibration_scorer,
)

SCORERS = [ece_scorer, ece_output_scorer, kde_ece_scorer, kde_ece_output_scorer,
           classwise_ece_scorer]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 3, 60)
    return X, y, LogisticRegression().fit(X, y)


@pytest.mark.parametrize("scorer", SCORERS, ids=repr)
def test_unfitted_estimator(data, scorer):
    X, y, _ = data
    with pytest.raises(NotFittedError):
        scorer(LogisticRegression(), X, y)


@pytest.mark.parametrize("scorer", SCORERS, ids=repr)
def test_estimator_without_predict_proba(data, scorer):
    X, y, _ = data
    with pytest.raises(ValueError, match="estimator must have predict_proba"):
        scorer(DummyRegressor().fit(X, y), X, y)


@pytest.mark.parametrize("scorer", SCORERS, ids=repr)
def test_labels_outside_the_estimator_classes(data, scorer):
    X, y, model = data
    with pytest.raises(ValueError, match="y_true (contains|has) labels .*not in labels"):
        scorer(model, X, np.r_[y[:-1], 7])


@pytest.mark.parametrize("scorer", SCORERS, ids=repr)
def test_sample_weight_is_refused(data, scorer):
    X, y, model = data
    with pytest.raises(ValueError, match="sample weights"):
        scorer(model, X, y, sample_weight=np.ones(len(y)))


@pytest.mark.parametrize(
    "metric, kwargs, message",
    [
        ("ece", {}, "metric must be a callable"),
        (None, {}, "metric must be a callable"),
        (expected_calibration_error, {"n_binz": 10}, r"has no parameter\(s\) \['n_binz'\]"),
        (expected_calibration_error, {"n_bins": np.nan}, "n_bins must be"),
        (expected_calibration_error, {"n_bins": 0}, "n_bins must be"),
        (expected_calibration_error, {"mode": "P"}, "mode must be one of"),
        (expected_calibration_error, {"norm": "l3"}, "norm must be one of"),
        (kde_calibration_error, {"bandwidth": -1.0}, "bandwidth must be one of"),
        (kde_calibration_error, {"bandwidth": np.inf}, "bandwidth must be one of"),
        (kde_calibration_error, {"output_normalization": "K"}, "output_normalization"),
    ],
)
def test_make_calibration_scorer_refuses_up_front(metric, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_calibration_scorer(metric, **kwargs)


def test_grid_search_with_a_bad_option_fails_before_fitting():
    """The error comes from make_calibration_scorer, not as NaN scores after a search."""
    with pytest.raises(ValueError, match="n_bins"):
        GridSearchCV(LogisticRegression(), {"C": [1.0]},
                     scoring=make_calibration_scorer(expected_calibration_error, n_bins=-3))
