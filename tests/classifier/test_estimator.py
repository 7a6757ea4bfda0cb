import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402
from skorch import NeuralNetClassifier  # noqa: E402

from simcalib.classifier import SimilarityLSClassifier  # noqa: E402
from simcalib.metrics import ece_scorer  # noqa: E402
from simcalib.nn import SmallCNN  # noqa: E402
from simcalib.similarity import PixelDistanceSimilarity  # noqa: E402


def _weights(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    "ours, criterion",
    [
        (dict(alpha=0.0), torch.nn.CrossEntropyLoss()),
        (dict(similarity="onehot"), torch.nn.CrossEntropyLoss()),
        (dict(similarity="uniform", alpha=0.2), torch.nn.CrossEntropyLoss(label_smoothing=0.2)),
    ],
    ids=["alpha0", "onehot", "uniform"],
)
def test_training_matches_plain_skorch(digits, ours, criterion):
    """Same seed, same batches: our engine == skorch with torch's criterion."""
    X, y = digits[0][:300], digits[1][:300]  # 300 = 4 batches of 64 + 44
    common = dict(
        optimizer=torch.optim.SGD, optimizer__momentum=0.9, lr=0.05, max_epochs=2,
        batch_size=64, train_split=None, iterator_train__shuffle=False, verbose=0,
    )
    ref = NeuralNetClassifier(
        SmallCNN, module__in_channels=1, module__n_classes=10, module__width=8,
        criterion=criterion, **common,
    )
    torch.manual_seed(7)
    ref.fit(X, y)
    ours = SimilarityLSClassifier(
        "small_cnn", module__width=8, random_state=7, standardize=False,
        lr_schedule=None, **ours, **common,
    ).fit(X, y)
    got, want = _weights(ours.module_), _weights(ref.module_)
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-5, atol=1e-6, msg=key)
    # and something was learnt, so the comparison is not between two inits
    assert not torch.equal(got["fc.weight"], SmallCNN(1, 10, width=8).fc.weight)
    np.testing.assert_allclose(ours.predict_proba(X[:20]), ref.predict_proba(X[:20]), atol=1e-5)


def test_loss_is_soft_target_cross_entropy_of_the_smoother_matrix(digits, tiny):
    X, y = digits
    clf = tiny(similarity=PixelDistanceSimilarity(metric="l2"), alpha=0.3, beta=2.0,
               max_epochs=1).fit(X[:200], y[:200])
    Q = clf.soft_labels_
    np.testing.assert_allclose(Q, clf.smoother_.soft_labels_, rtol=1e-6)
    np.testing.assert_allclose(np.diag(Q), 0.7, rtol=1e-6)
    assert not np.allclose(Q[0, 1:], Q[0, 1])  # not uniform
    g = torch.Generator().manual_seed(0)
    z = torch.randn(12, 10, generator=g)
    yb = torch.randint(0, 10, (12,), generator=g)
    expected = -(torch.as_tensor(Q)[yb] * torch.log_softmax(z, 1)).sum(1).mean()
    torch.testing.assert_close(clf.get_loss(z, yb), expected)


def test_uniform_loss_equals_torch_label_smoothing(digits, tiny):
    X, y = digits
    clf = tiny(similarity="uniform", alpha=0.15, max_epochs=1).fit(X[:100], y[:100])
    z = torch.randn(9, 10, generator=torch.Generator().manual_seed(1))
    yb = torch.arange(9)
    ref = torch.nn.CrossEntropyLoss(label_smoothing=0.15)(z, yb)
    torch.testing.assert_close(clf.get_loss(z, yb), ref)


def test_precomputed_soft_labels_are_used(digits, tiny):
    X, y = digits
    K = 10
    Q = np.full((K, K), 0.02) + np.eye(K) * (1 - 0.02 * K)
    clf = tiny(similarity=Q, max_epochs=1).fit(X[:100], y[:100])
    np.testing.assert_allclose(clf.soft_labels_, Q, rtol=1e-6)
    with pytest.raises(ValueError, match="shape \\(10, 10\\)"):
        tiny(similarity=np.eye(3)).fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="rows summing to 1"):
        tiny(similarity=np.ones((K, K))).fit(X[:100], y[:100])


def test_grid_over_alpha_and_beta_on_digits(digits, tiny):
    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    grid = GridSearchCV(
        tiny(similarity=PixelDistanceSimilarity(), max_epochs=4),
        {"alpha": [0.05, 0.2], "beta": [0.5, 4.0]},
        scoring=ece_scorer, cv=2,
    ).fit(X_tr, y_tr)
    assert set(grid.cv_results_["param_alpha"]) == {0.05, 0.2}
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_score_ <= 0  # a loss: greater_is_better=False
    accuracy = grid.best_estimator_.score(X_te, y_te)
    assert accuracy > 0.5, accuracy  # chance is 0.1


def test_nested_similarity_parameter_in_a_grid(digits, tiny):
    X, y = digits
    grid = GridSearchCV(
        tiny(similarity=PixelDistanceSimilarity(), max_epochs=1),
        {"similarity__metric": ["l1", "l2"]}, scoring=ece_scorer, cv=2,
    ).fit(X[:300], y[:300])
    assert list(grid.cv_results_["param_similarity__metric"]) == ["l1", "l2"]
    assert grid.best_estimator_.smoother_.similarity_.metric == grid.best_params_[
        "similarity__metric"]


def test_pipeline_with_flat_features(digits, tiny):
    X, y = digits
    flat = X.reshape(len(X), -1)
    pipe = Pipeline([("scale", MinMaxScaler()),
                     ("clf", tiny(input_shape=(1, 8, 8), similarity="uniform", max_epochs=4))])
    pipe.fit(flat[:1200], y[:1200])
    assert pipe.score(flat[1200:], y[1200:]) > 0.5
    assert pipe.predict_proba(flat[:5]).shape == (5, 10)
    grid = GridSearchCV(pipe, {"clf__alpha": [0.0, 0.1]}, scoring=ece_scorer, cv=2)
    grid.fit(flat[:300], y[:300])
    assert grid.best_params_["clf__alpha"] in (0.0, 0.1)


def test_string_labels_and_uint8_input(digits, tiny):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])
    X8 = (X * 255 / 16).astype(np.uint8)[:, 0]  # (n, 8, 8) uint8, one channel
    clf = tiny(max_epochs=4, similarity="uniform").fit(X8[:1000], names[y[:1000]])
    assert clf.classes_.tolist() == sorted(names.tolist())
    pred = clf.predict(X8[1000:])
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    assert clf.score(X8[1000:], names[y[1000:]]) > 0.5
    np.testing.assert_allclose(clf.input_mean_, [X8[:1000].mean() / 255], rtol=1e-4)


def test_decision_function_and_predict_proba_agree(digits, tiny):
    X, y = digits
    clf = tiny(max_epochs=1, similarity="uniform").fit(X[:200], y[:200])
    logits = clf.decision_function(X[:50])
    proba = clf.predict_proba(X[:50])
    assert logits.shape == proba.shape == (50, 10)
    assert logits.dtype == np.float64 and proba.dtype == np.float32
    soft = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(soft / soft.sum(1, keepdims=True), proba, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X[:50]), clf.classes_[logits.argmax(1)])


def test_wrong_shapes_raise(digits, tiny):
    X, y = digits
    with pytest.raises(ValueError, match="input_shape"):
        tiny().fit(X.reshape(len(X), -1), y)
    with pytest.raises(ValueError, match="5-D"):
        tiny().fit(X[:, None], y)
    with pytest.raises(ValueError, match="does not fold"):
        tiny(input_shape=(3, 8, 8)).fit(X.reshape(len(X), -1), y)
    with pytest.raises(ValueError, match="y has 5"):
        tiny().fit(X[:10], y[:5])
    clf = tiny(max_epochs=1, similarity="uniform").fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="3 channels but .* fitted on 1-channel"):
        clf.predict(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="size 16x16 but .* fitted on 8x8"):
        clf.predict_proba(np.zeros((2, 1, 16, 16), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        clf.decision_function(np.full((2, 1, 8, 8), np.nan, np.float32))


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(alpha=1.5), "alpha"),
        (dict(similarity="cosine"), "similarity='cosine'"),
        (dict(augment="rotate"), "augment"),
        (dict(mixup_alpha=-1.0), "mixup_alpha"),
        (dict(lr_schedule="step"), "lr_schedule"),
        (dict(random_state="x"), "random_state"),
        (dict(amp="yes"), "amp"),
    ],
)
def test_bad_parameters_raise_in_fit(digits, params, match, tiny):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        tiny(**params).fit(X[:50], y[:50])


def test_params_clone_and_nested_similarity():
    clf = SimilarityLSClassifier(similarity=PixelDistanceSimilarity(metric="l1"), alpha=0.3)
    params = clf.get_params()
    assert params["similarity__metric"] == "l1" and params["alpha"] == 0.3
    clf.set_params(similarity__metric="l2", beta=4.0)
    assert clf.similarity.metric == "l2" and clf.beta == 4.0
    twin = clone(clf)
    assert twin.similarity is not clf.similarity
    assert twin.get_params()["similarity__metric"] == "l2" and twin.beta == 4.0
    twin.set_params(similarity=PixelDistanceSimilarity(), similarity__metric="l1")
    assert twin.similarity.metric == "l1" and clf.similarity.metric == "l2"
    with pytest.raises(ValueError, match="similarity='uniform' has no parameters"):
        SimilarityLSClassifier(similarity="uniform").set_params(similarity__metric="l1")


def test_seeded_fit_is_reproducible_and_leaves_global_rng_alone(digits, tiny):
    X, y = digits
    torch.manual_seed(123)
    before = torch.get_rng_state()
    kw = dict(similarity="uniform", augment="crop_flip", mixup_alpha=0.4, max_epochs=2)
    a = tiny(**kw).fit(X[:300], y[:300])
    assert torch.equal(torch.get_rng_state(), before)
    b = tiny(**kw).fit(X[:300], y[:300])
    for (k, v), w in zip(_weights(a.module_).items(), _weights(b.module_).values()):
        assert torch.equal(v, w), k
    c = tiny(**{**kw, "random_state": 1}).fit(X[:300], y[:300])
    assert not torch.equal(c.module_.fc.weight, a.module_.fc.weight)


def test_mixup_and_augmentation_change_training(digits, tiny):
    X, y = digits
    base = tiny(similarity="uniform", max_epochs=2).fit(X[:300], y[:300])
    mix = tiny(similarity="uniform", max_epochs=2, mixup_alpha=1.0).fit(X[:300], y[:300])
    aug = tiny(similarity="uniform", max_epochs=2, augment="crop").fit(X[:300], y[:300])
    assert not torch.equal(base.module_.fc.weight, mix.module_.fc.weight)
    assert not torch.equal(base.module_.fc.weight, aug.module_.fc.weight)


def test_module_as_class_gets_channels_and_classes(digits, tiny):
    X, y = digits
    clf = tiny(module=SmallCNN, similarity="uniform", max_epochs=1).fit(X[:100], y[:100])
    assert clf.module_.fc.out_features == 10
    assert clf.module_.features[0].in_channels == 1


def test_pickle_round_trip(digits, tiny):
    X, y = digits
    clf = tiny(max_epochs=1, similarity="uniform").fit(X[:200], y[:200])
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X[:30]), clf.predict_proba(X[:30]))
    assert back.device is None and back.device_ == clf.device_
    back.partial_fit(X[:200], y[:200])  # training continues after loading
    assert len(back.history) == 2


def test_unfitted_pickle_round_trip_is_silent(tiny):
    # no skorch DeviceWarning for device=None (warnings are errors here, and
    # joblib forwards the filters to its workers)
    clf = pickle.loads(pickle.dumps(tiny(similarity="uniform")))
    assert clf.device is None and clf.get_params()["alpha"] == 0.1


def test_post_hoc_temperature_scaling_stacks_on_the_logits(digits, tiny):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.metrics import log_loss

    X, y = digits
    clf = tiny(similarity="uniform", alpha=0.3, max_epochs=4).fit(X[:800], y[:800])
    cal = CalibratedClassifierCV(FrozenEstimator(clf), method="temperature")
    cal.fit(X[800:1300], y[800:1300])
    before = log_loss(y[1300:], clf.predict_proba(X[1300:]), labels=clf.classes_)
    after = log_loss(y[1300:], cal.predict_proba(X[1300:]), labels=clf.classes_)
    assert after < before  # alpha=0.3 smoothing leaves the net underconfident
    np.testing.assert_array_equal(cal.predict(X[1300:]), clf.predict(X[1300:]))
