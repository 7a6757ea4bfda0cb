"""CalibratedClassifier: frozen and cross-validated modes."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB

from simcalib.calibration import (
    CalibratedClassifier,
    DirichletCalibrator,
    TemperatureScaling,
)


def _data(n_classes=3, seed=0):
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_classes=n_classes,
        random_state=seed,
    )
    return X[:200], y[:200], X[200:], y[200:]


def test_frozen_estimator_calibrates_its_decision_function():
    X, y, Xc, yc = _data()
    lr = LogisticRegression().fit(X, y)
    clf = CalibratedClassifier(FrozenEstimator(lr), TemperatureScaling()).fit(Xc, yc)
    ts = TemperatureScaling().fit(lr.decision_function(Xc), yc)
    np.testing.assert_allclose(
        clf.predict_proba(Xc), ts.predict_proba(lr.decision_function(Xc)), atol=1e-12
    )
    assert clf.calibrated_classifiers_[0][0] is clf.estimator  # not refitted
    np.testing.assert_array_equal(clf.classes_, lr.classes_)
    assert clf.n_features_in_ == 6


def test_frozen_binary_decision_function_is_stacked_symmetrically():
    X, y, Xc, yc = _data(n_classes=2)
    lr = LogisticRegression().fit(X, y)
    clf = CalibratedClassifier(FrozenEstimator(lr), TemperatureScaling()).fit(Xc, yc)
    z = lr.decision_function(Xc)
    t = clf.calibrated_classifiers_[0][1].temperature_
    expected = 1.0 / (1.0 + np.exp(-z / t))  # sigmoid(z / T)
    np.testing.assert_allclose(clf.predict_proba(Xc)[:, 1], expected, atol=1e-12)


def test_predict_proba_only_estimator_uses_log_probabilities():
    X, y, Xc, yc = _data()
    nb = GaussianNB().fit(X, y)
    clf = CalibratedClassifier(FrozenEstimator(nb), TemperatureScaling()).fit(Xc, yc)
    ts = TemperatureScaling(input_type="probabilities").fit(nb.predict_proba(Xc), yc)
    np.testing.assert_allclose(
        clf.predict_proba(Xc), ts.predict_proba(nb.predict_proba(Xc)), atol=1e-8
    )


def test_probability_calibrator_receives_softmax():
    X, y, Xc, yc = _data()
    lr = LogisticRegression().fit(X, y)
    cal = TemperatureScaling(input_type="probabilities")
    clf = CalibratedClassifier(FrozenEstimator(lr), cal).fit(Xc, yc)
    ref = TemperatureScaling().fit(lr.decision_function(Xc), yc)
    np.testing.assert_allclose(
        clf.predict_proba(Xc), ref.predict_proba(lr.decision_function(Xc)), atol=1e-6
    )


def test_cv_ensemble_is_the_mean_of_fold_pairs():
    X, y, _, _ = _data()
    cv = StratifiedKFold(3, shuffle=True, random_state=1)
    clf = CalibratedClassifier(LogisticRegression(), TemperatureScaling(), cv=cv)
    clf.fit(X, y)
    assert len(clf.calibrated_classifiers_) == 3
    probas = []
    for train, test in cv.split(X, y):
        lr = LogisticRegression().fit(X[train], y[train])
        ts = TemperatureScaling().fit(lr.decision_function(X[test]), y[test])
        probas.append(ts.predict_proba(lr.decision_function(X)))
    np.testing.assert_allclose(
        clf.predict_proba(X), np.mean(probas, axis=0), atol=1e-10
    )


def test_cv_without_ensemble_fits_one_pair_on_out_of_fold_logits():
    X, y, _, _ = _data()
    cv = StratifiedKFold(3, shuffle=True, random_state=2)
    clf = CalibratedClassifier(
        LogisticRegression(), TemperatureScaling(), cv=cv, ensemble=False
    ).fit(X, y)
    oof = np.empty((len(y), 3))
    for train, test in cv.split(X, y):
        oof[test] = (
            LogisticRegression().fit(X[train], y[train]).decision_function(X[test])
        )
    ts = TemperatureScaling().fit(oof, y)
    lr = LogisticRegression().fit(X, y)
    np.testing.assert_allclose(
        clf.predict_proba(X), ts.predict_proba(lr.decision_function(X)), atol=1e-10
    )


def test_string_labels_and_defaults():
    X, y, Xc, yc = _data()
    names = np.array(["a", "b", "c"])
    clf = CalibratedClassifier(cv=3).fit(X, names[y])
    np.testing.assert_array_equal(clf.classes_, names)
    assert set(clf.predict(Xc)) <= set(names)
    np.testing.assert_allclose(clf.predict_proba(Xc).sum(axis=1), 1.0)


def test_errors():
    X, y, Xc, yc = _data()
    lr = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="not in the classes_ of the frozen estimator"):
        CalibratedClassifier(FrozenEstimator(lr)).fit(Xc, np.where(yc == 2, 9, yc))
    with pytest.raises(ValueError, match="only one class"):
        CalibratedClassifier(cv=2).fit(X, np.zeros(len(y)))
    y_rare = y.copy()
    y_rare[:] = np.where(np.arange(len(y)) < 3, 3, y)  # class 3 has 3 samples
    with pytest.raises(ValueError, match="5 folds.*3 samples"):
        CalibratedClassifier(cv=5).fit(X, y_rare)
    with pytest.raises(ValueError, match="response_method"):
        CalibratedClassifier(response_method="predict").fit(X, y)
    with pytest.raises(ValueError, match="calibrator must have"):
        CalibratedClassifier(calibrator="temperature", cv=2).fit(X, y)


def test_clone_pickle_and_nested_params():
    X, y, Xc, _ = _data()
    clf = CalibratedClassifier(
        LogisticRegression(), DirichletCalibrator(reg_lambda=0.1), cv=3
    )
    clf.set_params(calibrator__reg_lambda=1.0, estimator__C=0.5)
    assert clf.get_params()["calibrator__reg_lambda"] == 1.0
    fitted = clone(clf).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict_proba(Xc), fitted.predict_proba(Xc))
    # the calibrator got the column indices, whatever it was given
    assert list(fitted.calibrated_classifiers_[0][1].classes_) == [0, 1, 2]
    p = fitted.predict_proba(Xc)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1.0)
