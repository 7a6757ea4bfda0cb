"""Scorers inside GridSearchCV and cross_val_score."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from simcalib.metrics import (
    classwise_calibration_error,
    classwise_ece_scorer,
    ece_output_scorer,
    ece_scorer,
    expected_calibration_error,
    kde_calibration_error,
    kde_ece_output_scorer,
    kde_ece_scorer,
    make_calibration_scorer,
)

SCORERS = {
    "ece": (ece_scorer, expected_calibration_error, {}),
    "ece_o": (ece_output_scorer, expected_calibration_error, {"mode": "output"}),
    "kde": (kde_ece_scorer, kde_calibration_error, {}),
    "kde_o": (kde_ece_output_scorer, kde_calibration_error, {"mode": "output"}),
    "classwise": (classwise_ece_scorer, classwise_calibration_error, {}),
}


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=240, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    return X, y


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_scorer_is_negated_metric(multiclass, name):
    scorer, metric, kwargs = SCORERS[name]
    X, y = multiclass
    model = LogisticRegression(max_iter=1000).fit(X[:150], y[:150])
    expected = metric(y[150:], model.predict_proba(X[150:]), **kwargs)
    assert scorer(model, X[150:], y[150:]) == pytest.approx(-expected, rel=1e-12)
    assert expected > 0


@pytest.mark.parametrize("name", sorted(SCORERS))
def test_binary_string_labels_in_cross_val_score(name):
    scorer, metric, kwargs = SCORERS[name]
    X, y01 = make_classification(n_samples=160, n_features=6, random_state=1)
    y = np.array(["no", "yes"])[y01]
    scores = cross_val_score(LogisticRegression(), X, y, scoring=scorer, cv=3)
    assert scores.shape == (3,)
    assert np.all(scores <= 0) and np.all(np.isfinite(scores))
    # same value as the metric on the full probability matrix of one fold
    model = LogisticRegression().fit(X[:100], y[:100])
    expected = metric(y[100:], model.predict_proba(X[100:]), labels=model.classes_, **kwargs)
    assert scorer(model, X[100:], y[100:]) == pytest.approx(-expected, rel=1e-12)


def test_fold_missing_a_class_uses_estimator_classes():
    X, y = make_classification(
        n_samples=90, n_features=6, n_informative=4, n_classes=3, random_state=2
    )
    model = LogisticRegression(max_iter=1000).fit(X, y)
    keep = y != 2  # evaluation set without class 2, probabilities still have 3 columns
    score = ece_scorer(model, X[keep], y[keep])
    assert score == pytest.approx(
        -expected_calibration_error(y[keep], model.predict_proba(X[keep])), rel=1e-12
    )


def test_grid_search_selects_by_ece(multiclass):
    X, y = multiclass
    search = GridSearchCV(
        LogisticRegression(max_iter=1000),
        {"C": [0.01, 1.0, 100.0]},
        scoring={"ece": ece_scorer, "kde": kde_ece_scorer},
        refit="ece",
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X, y)
    means = search.cv_results_["mean_test_ece"]
    assert search.best_index_ == int(np.argmax(means))
    assert np.all(means < 0)
    assert np.all(search.cv_results_["mean_test_kde"] < 0)


def test_make_calibration_scorer_with_fixed_options(multiclass):
    X, y = multiclass
    model = LogisticRegression(max_iter=1000).fit(X, y)
    scorer = make_calibration_scorer(expected_calibration_error, n_bins=5, norm="max")
    expected = expected_calibration_error(y, model.predict_proba(X), n_bins=5, norm="max")
    assert scorer(model, X, y) == pytest.approx(-expected)
    assert repr(scorer) == (
        "make_calibration_scorer(expected_calibration_error, n_bins=5, norm='max')"
    )
    assert scorer.greater_is_better is False
    assert scorer.response_method == "predict_proba"


def test_scorers_are_plain_callables_not_sklearn_private_classes():
    """No runtime class swap of sklearn's private _Scorer: a documented
    (estimator, X, y) callable that sklearn's check_scoring accepts as is."""
    from sklearn.metrics import check_scoring

    from simcalib.metrics import CalibrationScorer

    for scorer, _, _ in SCORERS.values():
        assert type(scorer) is CalibrationScorer
        assert not any(c.__module__.startswith("sklearn") for c in type(scorer).__mro__)
        assert check_scoring(LogisticRegression(), scoring=scorer) is scorer


def test_fixed_labels_are_not_overridden(multiclass):
    X, y = multiclass
    model = LogisticRegression(max_iter=1000).fit(X, y)
    names = np.array(["a", "b", "c"])
    scorer = make_calibration_scorer(expected_calibration_error, labels=names)
    expected = expected_calibration_error(names[y], model.predict_proba(X), labels=names)
    assert scorer(model, X, names[y]) == pytest.approx(-expected)


def test_custom_metric_with_extra_keyword(multiclass):
    X, y = multiclass
    model = LogisticRegression(max_iter=1000).fit(X, y)

    def top_confidence_gap(y_true, y_prob, *, labels=None, power=1):
        return float(np.mean(np.max(y_prob, axis=1)) ** power)

    scorer = make_calibration_scorer(top_confidence_gap, power=2)
    expected = np.mean(model.predict_proba(X).max(1)) ** 2
    assert scorer(model, X, y) == pytest.approx(-expected)
