"""Bad inputs to CalibratedClassifier (and the calibrators' label mapping):
a clear error naming the argument, nothing changed by a failed refit."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from simcalib.calibration import CalibratedClassifier, TemperatureScaling

NAN = float("nan")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    X = rng.normal(size=(120, 4)) + y[:, None]
    return X, y


BAD_FIT = [
    ("response_method", dict(response_method="predict"), None, "response_method"),
    ("response_method list", dict(response_method=["auto"]), None, "response_method"),
    ("ensemble", dict(ensemble="yes"), None, "ensemble"),
    ("cv string", dict(cv="five"), None, "cv"),
    ("cv 1", dict(cv=1), None, "n_splits"),
    ("cv too many folds", dict(cv=50), None, "50 folds"),
    ("calibrator string", dict(calibrator="temperature"), None, "calibrator must have"),
    ("calibrator class", dict(calibrator=TemperatureScaling), None, "calibrator must be an"),
    ("estimator class", dict(estimator=LogisticRegression), None, "estimator must be an"),
    ("y None", {}, lambda X, y: (X, None), "requires y"),
    ("y nan", {}, lambda X, y: (X, np.where(y == 2, NAN, y)), "NaN"),
    ("y one class", {}, lambda X, y: (X, np.zeros_like(y)), "only one class"),
    ("y continuous", {}, lambda X, y: (X, y + 0.5), "continuous"),
    ("y length", {}, lambda X, y: (X, y[:-3]), "inconsistent numbers of samples"),
    ("y 2-D", {}, lambda X, y: (X, np.stack([y, y], 1)), "y should be a 1d array"),
]


@pytest.mark.parametrize("name, params, make, match", BAD_FIT, ids=[c[0] for c in BAD_FIT])
def test_bad_fit_inputs(data, name, params, make, match):
    X, y = make(*data) if make else data
    with pytest.raises(ValueError, match=match):
        CalibratedClassifier(**{"cv": 3, **params}).fit(X, y)


def test_frozen_estimator_checks(data):
    X, y = data
    with pytest.raises(NotFittedError):
        CalibratedClassifier(FrozenEstimator(LogisticRegression())).fit(X, y)
    lr = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=r"labels \[7\] that are not in the classes_ of the frozen"):
        CalibratedClassifier(FrozenEstimator(lr)).fit(X, np.where(y == 2, 7, y))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_every_method_needs_fit(data, method):
    X, y = data
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(CalibratedClassifier(), method)(*args)


@pytest.mark.parametrize(
    "params, make",
    [(dict(response_method="predict"), None),
     ({}, lambda X, y: (X, np.zeros_like(y))),
     ({}, lambda X, y: (X[:, :2], np.where(y == 2, NAN, y))),
     (dict(cv=50), None),
     (dict(calibrator=TemperatureScaling(max_iter=0)), None)],
)
def test_failed_refit_keeps_the_fitted_model(data, params, make):
    X, y = data
    clf = CalibratedClassifier(cv=3).fit(X, y)
    before = clf.predict_proba(X)
    pairs, classes = clf.calibrated_classifiers_, clf.classes_
    X_bad, y_bad = make(X, y) if make else (X, y)
    with pytest.raises(ValueError):
        clf.set_params(**params).fit(X_bad, y_bad)
    assert clf.calibrated_classifiers_ is pairs and clf.classes_ is classes
    assert clf.n_features_in_ == 4
    np.testing.assert_array_equal(clf.predict_proba(X), before)


class _Unsorted(ClassifierMixin, BaseEstimator):
    """A logistic regression whose columns follow a given, unsorted class order
    (like a skorch net with ``classes=["c", "a", "b"]``)."""

    def __init__(self, order=("c", "a", "b")):
        self.order = order

    def fit(self, X, y):
        self.lr_ = LogisticRegression().fit(X, y)
        self.perm_ = np.searchsorted(self.lr_.classes_, list(self.order))
        self.classes_ = np.array(self.order)
        return self

    def decision_function(self, X):
        return self.lr_.decision_function(X)[:, self.perm_]

    def predict_proba(self, X):
        return self.lr_.predict_proba(X)[:, self.perm_]

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "cross-validated"])
def test_unsorted_classes_map_to_their_own_columns(data, frozen):
    X, y = data
    names = np.array(["a", "b", "c"])
    labels = names[y]
    est = _Unsorted().fit(X, labels)
    assert est.classes_.tolist() == ["c", "a", "b"]
    clf = CalibratedClassifier(FrozenEstimator(est) if frozen else _Unsorted(), cv=3,
                               ensemble=False).fit(X, labels)
    # temperature scaling keeps each model's argmax, so predictions are the model's
    np.testing.assert_array_equal(clf.predict(X), est.predict(X))
    assert clf.score(X, labels) == est.score(X, labels) > 0.6
    proba = clf.predict_proba(X)
    cols = {c: k for k, c in enumerate(clf.classes_)}
    ref = est.predict_proba(X)
    for k, c in enumerate(est.classes_):  # same ranking of the classes in each row
        np.testing.assert_array_equal(np.argsort(proba, 1)[:, -1] == cols[c],
                                      np.argsort(ref, 1)[:, -1] == k)


def test_calibrator_label_mapping():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(60, 3))
    y = np.array(["c", "a", "b"])[rng.integers(0, 3, 60)]
    Z[np.arange(60), np.searchsorted(["c", "a", "b"], y, sorter=[1, 2, 0])] += 3.0
    ts = TemperatureScaling(classes=["c", "a", "b"]).fit(Z, y)
    assert ts.classes_.tolist() == ["c", "a", "b"]
    order = {"c": 0, "a": 1, "b": 2}
    ref = TemperatureScaling().fit(Z, np.array([order[v] for v in y]))
    assert ts.temperature_ == pytest.approx(ref.temperature_, rel=1e-9)
    with pytest.raises(ValueError, match="duplicates"):
        TemperatureScaling(classes=["a", "a", "b"]).fit(Z, y)
    with pytest.raises(ValueError, match=r"labels \['z'\] that are not in classes"):
        TemperatureScaling(classes=["c", "a", "b"]).fit(Z, np.where(y == "b", "z", y))


def test_failed_calibrator_refit_keeps_its_fit():
    rng = np.random.default_rng(2)
    Z, y = rng.normal(size=(60, 3)), rng.integers(0, 3, 60)
    ts = TemperatureScaling().fit(Z, y)
    before = ts.predict_proba(Z)
    with pytest.raises(ValueError, match="4 columns but y has 3 classes"):
        ts.fit(np.hstack([Z, Z[:, :1]]), y)
    with pytest.raises(ValueError, match="3 columns but y has 1 classes"):
        ts.fit(Z, np.zeros(60, int))
    assert ts.n_features_in_ == 3 and ts.classes_.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(ts.predict_proba(Z), before)
