"""Bad inputs to SimilarityLSClassifier: each one a clear error naming the argument.

Also: a failed refit leaves the fitted model bit-identical, every method
refuses to run before fit, Ctrl-C is recorded, unsorted classes stay
correct through CalibratedClassifier, and pickles load where they can.
"""

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.frozen import FrozenEstimator  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from simcalib.calibration import CalibratedClassifier, TemperatureScaling  # noqa: E402
from simcalib.classifier import TrainingCheckpoint  # noqa: E402
from simcalib.similarity import PixelDistanceSimilarity  # noqa: E402

NAN, INF = float("nan"), float("inf")
K = 10


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 1, 8, 8).astype(np.float32)[:200], y[:200]


@pytest.fixture(scope="module")
def fitted(data):
    from simcalib.classifier import SimilarityLSClassifier

    X, y = data
    torch.set_num_threads(1)
    return SimilarityLSClassifier(
        "small_cnn", module__width=8, similarity="uniform", max_epochs=2, batch_size=64,
        random_state=0, verbose=0,
    ).fit(X, y)


def _negative_rows():
    Q = np.full((K, K), -0.01)
    np.fill_diagonal(Q, 1.09)
    return Q


BAD_PARAMS = [
    (dict(alpha=NAN), "alpha"),
    (dict(alpha=INF), "alpha"),
    (dict(alpha=True), "alpha"),
    (dict(alpha="0.1"), "alpha"),
    (dict(alpha=-0.1), "alpha"),
    (dict(beta=NAN), "beta"),
    (dict(beta=INF), "beta"),
    (dict(beta=-1.0), "beta"),
    (dict(beta="1"), "beta"),
    (dict(mixup_alpha=NAN), "mixup_alpha"),
    (dict(mixup_alpha=INF), "mixup_alpha"),
    (dict(mixup_alpha=True), "mixup_alpha"),
    (dict(lr=NAN), "lr"),
    (dict(lr=0.0), "lr"),
    (dict(lr=-1e-3), "lr"),
    (dict(lr=INF), "lr"),
    (dict(lr="fast"), "lr"),
    (dict(crop_padding=-1, augment="crop"), "crop_padding"),
    (dict(crop_padding=2.5, augment="crop"), "crop_padding"),
    (dict(crop_padding=True, augment="crop"), "crop_padding"),
    (dict(crop_padding=NAN, augment="crop"), "crop_padding"),
    (dict(max_epochs=-1), "max_epochs"),
    (dict(max_epochs=2.5), "max_epochs"),
    (dict(max_epochs=NAN), "max_epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=NAN), "batch_size"),
    (dict(batch_size=True), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(random_state=-1), "random_state"),
    (dict(random_state=1.5), "random_state"),
    (dict(random_state=True), "random_state"),
    (dict(random_state=2**70), "random_state"),
    (dict(standardize="yes"), "standardize"),
    (dict(channels_last="no"), "channels_last"),
    (dict(augment=1), "augment"),
    (dict(lr_schedule="step"), "lr_schedule"),
    (dict(input_shape=(1, 8)), "input_shape"),
    (dict(input_shape=(3, 8, 8)), "input_shape"),
    (dict(similarity="cosine"), "similarity"),
    (dict(similarity=PixelDistanceSimilarity), "similarity"),
    (dict(similarity=np.full((K, K), NAN)), "similarity"),
    (dict(similarity=_negative_rows()), "similarity"),
    (dict(similarity=np.ones((K, K, 1))), "similarity"),
    (dict(similarity=[[1.0, 0.0], [0.0]]), "similarity"),
    (dict(device="tpu"), "device"),
    (dict(module="resnet999"), "module"),
    (dict(classes=[0]), "classes"),
    (dict(classes=[0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), "classes"),
    (dict(classes=[0, 1]), "not in classes"),
]


@pytest.mark.parametrize("params, match", BAD_PARAMS, ids=lambda v: repr(v)[:40])
def test_bad_parameter_is_refused_in_fit(data, tiny, params, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        tiny(**{"similarity": "uniform", **params}).fit(X[:60], y[:60])


def test_missing_gpu_is_refused(data, tiny):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="device='cuda'.*no"):
        tiny(similarity="uniform", device="cuda").fit(*data)


def _rgb(X):
    return np.repeat(X, 3, axis=1)  # (n, 3, 8, 8)


BAD_X = [
    ("nan", lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, NAN, X), "NaN"),
    ("inf", lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, INF, X), "NaN or infinity"),
    ("5-D", lambda X: X[:, None], "5-D"),
    ("flat", lambda X: X.reshape(len(X), -1), "input_shape"),
    ("1-D", lambda X: X.reshape(-1)[: len(X)], "1-D"),
    ("ragged", lambda X: [[1.0, 2.0], [3.0]] * (len(X) // 2), "array of images"),
    ("strings", lambda X: X.astype(str), "real numbers"),
    ("bool", lambda X: X > 4, "real numbers"),
    ("complex", lambda X: X.astype(np.complex64), "real numbers"),
    ("channels-last rgb", lambda X: _rgb(X).transpose(0, 2, 3, 1), "channels-last"),
    ("channels-last grey", lambda X: X.transpose(0, 2, 3, 1), "channels-last"),
    ("channels-last tensor", lambda X: torch.from_numpy(_rgb(X)).permute(0, 2, 3, 1), "permute"),
    ("nan tensor", lambda X: torch.full(X.shape, NAN), "NaN"),
    ("dataset", lambda X: torch.utils.data.TensorDataset(torch.from_numpy(X)), "Dataset"),
]


@pytest.mark.parametrize("name, make, match", BAD_X, ids=[c[0] for c in BAD_X])
def test_bad_images_are_refused_in_fit(data, tiny, name, make, match):
    X, y = data
    X, y = X[:40], y[:40]
    with pytest.raises(ValueError, match=match):
        tiny(similarity="uniform").fit(make(X), y)


def test_sparse_and_empty_inputs(data, tiny):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = data
    flat = scipy_sparse.csr_matrix(X[:40].reshape(40, -1))
    with pytest.raises(ValueError, match="sparse"):
        tiny(similarity="uniform", input_shape=(1, 8, 8)).fit(flat, y[:40])
    with pytest.raises(ValueError, match="at least one non-empty image"):
        tiny(similarity="uniform").fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="channels-last image"):
        tiny(similarity="uniform").fit(np.zeros((16, 16, 3), np.float32), [0] * 16)


BAD_Y = [
    ("nan", lambda y: np.where(np.arange(len(y)) == 3, NAN, y.astype(float)), "NaN"),
    ("2-D", lambda y: np.stack([y, y], 1), "1-D"),
    ("short", lambda y: y[:-5], "samples"),
    ("one class", lambda y: np.zeros_like(y), "at least 2 classes"),
    ("continuous", lambda y: y + 0.5, "continuous"),
    ("mixed types", lambda y: np.array([1, "a"] * (len(y) // 2), dtype=object), "comparable"),
    ("None", lambda y: None, "requires y"),
    ("None entries", lambda y: np.array([None, "a"] * (len(y) // 2), dtype=object), "missing"),
]


@pytest.mark.parametrize("name, make, match", BAD_Y, ids=[c[0] for c in BAD_Y])
def test_bad_labels_are_refused_in_fit(data, tiny, name, make, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        tiny(similarity="uniform").fit(X[:40], make(y[:40]))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "score",
                                    "forward", "forward_iter", "infer", "get_loss"])
def test_every_method_needs_fit(data, tiny, method):
    X, y = data
    args = {"score": (X[:5], y[:5]), "get_loss": (torch.zeros(5, K), torch.zeros(5)),
            "infer": (torch.from_numpy(X[:5]),)}.get(method, (X[:5],))
    with pytest.raises(NotFittedError):
        out = getattr(tiny(similarity="uniform"), method)(*args)
        if method == "forward_iter":
            next(out)  # a generator runs on first use


BAD_PREDICT = [
    ("3 channels", lambda X: _rgb(X), "3 channels but .* 1-channel"),
    ("16x16", lambda X: np.zeros((2, 1, 16, 16), np.float32), "size 16x16"),
    ("nan", lambda X: np.full((2, 1, 8, 8), NAN, np.float32), "NaN"),
    ("channels-last", lambda X: X.transpose(0, 2, 3, 1), "channels-last"),
    ("no samples", lambda X: X[:0], "at least one non-empty image"),
    ("flat", lambda X: X.reshape(len(X), -1), "input_shape"),
    ("uint8 after float", lambda X: X.astype(np.uint8), "dtype uint8 .* float32"),
    ("strings", lambda X: X.astype(str), "real numbers"),
]


@pytest.mark.parametrize("name, make, match", BAD_PREDICT, ids=[c[0] for c in BAD_PREDICT])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
def test_bad_images_are_refused_after_fit(data, fitted, name, make, match, method):
    X, _ = data
    with pytest.raises(ValueError, match=match):
        getattr(fitted, method)(make(X[:4]))


def test_float_images_after_uint8_training(data, tiny):
    X, y = data
    X8 = (X * 255 / 16).astype(np.uint8)
    clf = tiny(similarity="uniform", max_epochs=1).fit(X8[:100], y[:100])
    assert clf.input_dtype_ == "uint8"
    with pytest.raises(ValueError, match="dtype float32 .* fitted on uint8"):
        clf.predict(X8[:4].astype(np.float32))
    with pytest.raises(ValueError, match="dtype float64"):
        clf.partial_fit(X8[:20].astype(np.float64), y[:20])
    # torch tensors and numpy arrays of the training dtype are one input
    np.testing.assert_array_equal(clf.predict_proba(torch.from_numpy(X8[:9])),
                                  clf.predict_proba(X8[:9]))


def test_partial_fit_refuses_what_fit_did_not_see(data, fitted):
    X, y = data
    clf = pickle.loads(pickle.dumps(fitted))
    with pytest.raises(ValueError, match=r"y has labels \[42\] that are not in classes_"):
        clf.partial_fit(X[:10], np.r_[y[:9], 42])
    with pytest.raises(ValueError, match="size 16x16"):
        clf.partial_fit(np.zeros((10, 1, 16, 16), np.float32), y[:10])
    with pytest.raises(ValueError, match="alpha"):
        clf.set_params(alpha=NAN).partial_fit(X[:10], y[:10])


def _snapshot(clf, X):
    return (clf.predict_proba(X).copy(), clf.classes_.copy(), clf.input_shape_,
            clf.soft_labels_.copy(), len(clf.history))


FAILING_REFITS = [
    ("alpha nan", dict(alpha=NAN), None),
    ("X nan", {}, lambda X, y: (np.full((20, 1, 8, 8), NAN, np.float32), y[:20])),
    ("one class", {}, lambda X, y: (X[:20], np.zeros(20, int))),
    ("16x16, one class", {}, lambda X, y: (np.zeros((20, 1, 16, 16), np.float32),
                                          np.zeros(20, int))),
    ("channels-last", {}, lambda X, y: (X.transpose(0, 2, 3, 1), y)),
    ("bad matrix", dict(similarity=np.eye(3)), None),
    ("unknown network", dict(module="resnet999"), None),
    ("bad callback", dict(callbacks=[("ckpt", TrainingCheckpoint("unused", every=0))]), None),
]


@pytest.mark.parametrize("name, params, make", FAILING_REFITS, ids=[c[0] for c in FAILING_REFITS])
def test_failed_refit_leaves_the_model_bit_identical(data, fitted, name, params, make):
    X, y = data
    clf = pickle.loads(pickle.dumps(fitted))
    before = _snapshot(clf, X[:30])
    try:
        clf.set_params(**params)
    except ValueError:
        pass  # skorch rebuilds a changed module/optimizer of a fitted net at once
    X_bad, y_bad = make(X, y) if make else (X, y)
    with pytest.raises(ValueError):
        clf.fit(X_bad, y_bad)
    after = _snapshot(clf, X[:30])
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2:3] == before[2:3] and after[4] == before[4]
    np.testing.assert_array_equal(after[3], before[3])
    np.testing.assert_array_equal(clf.predict(X[:30]), fitted.predict(X[:30]))


def test_set_params_classes_does_not_relabel_a_fitted_model(data, fitted):
    X, _ = data
    clf = pickle.loads(pickle.dumps(fitted))
    clf.set_params(classes=list("abcdefghij"))
    np.testing.assert_array_equal(clf.classes_, np.arange(K))
    np.testing.assert_array_equal(clf.predict(X[:20]), fitted.predict(X[:20]))


def test_warm_start_with_other_classes_is_refused(data, tiny):
    X, y = data
    clf = tiny(similarity="uniform", max_epochs=1, warm_start=True).fit(X[:100], y[:100])
    before = clf.predict_proba(X[:10])
    with pytest.raises(ValueError, match="warm_start=True"):
        clf.fit(X[:100], y[:100] % 5)
    np.testing.assert_array_equal(clf.predict_proba(X[:10]), before)


class _CtrlC(Callback):
    """Ctrl-C during the second epoch of a fit (after its first batch)."""

    def on_train_begin(self, net, **kwargs):
        self.epoch_ = 0

    def on_epoch_begin(self, net, **kwargs):
        self.epoch_ += 1

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.epoch_ == 2:
            raise KeyboardInterrupt


def test_ctrl_c_is_recorded_and_warned(data, tiny):
    from simcalib.exceptions import TrainingInterruptedWarning

    X, y = data
    clf = tiny(similarity="uniform", max_epochs=4, callbacks=[("stop", _CtrlC())])
    with pytest.warns(TrainingInterruptedWarning, match="after 1 of 4 epochs"):
        clf.fit(X, y)
    assert clf.interrupted_ is True and clf.completed_epochs_ == 1
    # the model is usable; a full fit clears the flag
    assert clf.predict(X[:5]).shape == (5,)
    clf.set_params(callbacks=[]).fit(X, y)
    assert clf.interrupted_ is False and clf.completed_epochs_ == 4
    # partial_fit too (the callback stops the second epoch of each call)
    clf = tiny(similarity="uniform", max_epochs=1, callbacks=[("stop", _CtrlC())]).fit(X, y)
    assert clf.interrupted_ is False
    with pytest.warns(TrainingInterruptedWarning, match=r"partial_fit .* after 1 of 2"):
        clf.set_params(max_epochs=2).partial_fit(X, y)
    assert clf.interrupted_ is True and clf.completed_epochs_ == 1


def test_unsorted_string_classes_end_to_end(data, tiny):
    X, y = data
    names = np.array(list("jihgfedcba"))  # unsorted: the order of the columns
    labels = names[y]
    clf = tiny(similarity="uniform", alpha=0.2, classes=names).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, names)
    # label names[k] is column k: the same training as integer labels k
    ref = tiny(similarity="uniform", alpha=0.2).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), names[ref.predict(X)])
    assert clf.score(X, labels) == ref.score(X, y)

    cal = CalibratedClassifier(FrozenEstimator(clf), TemperatureScaling()).fit(X, labels)
    np.testing.assert_array_equal(cal.classes_, names)
    # temperature scaling keeps the argmax: same predictions, same accuracy
    np.testing.assert_array_equal(cal.predict(X), clf.predict(X))
    assert cal.score(X, labels) == clf.score(X, labels)
    # and it was fitted with the right column of each label
    logits = clf.decision_function(X)
    ts = TemperatureScaling().fit(logits, y)
    np.testing.assert_allclose(cal.predict_proba(X), ts.predict_proba(logits), rtol=1e-9)


def test_unpickled_models(data, fitted, tiny):
    X, _ = data
    back = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(back.predict_proba(X[:10]), fitted.predict_proba(X[:10]))
    assert back.device is None and back.device_ == fitted.device_
    with pytest.raises(NotFittedError):
        pickle.loads(pickle.dumps(tiny(similarity="uniform"))).predict(X[:3])


def test_a_model_fitted_on_cuda_loads_on_this_machine(data, fitted):
    """A pickle whose device_ is a GPU this machine lacks loads on the CPU."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from simcalib.classifier.engine import _rebuild_generator

    X, _ = data
    state = fitted.__getstate__()
    state["device_"] = "cuda"
    clf = type(fitted).__new__(type(fitted))
    clf.__setstate__(state)
    assert clf.device is None and clf.device_ == "cpu"
    np.testing.assert_array_equal(clf.predict_proba(X[:10]), fitted.predict_proba(X[:10]))
    # a CUDA generator's state becomes a seeded CPU generator
    cuda_state = torch.zeros(16, dtype=torch.uint8)
    gen = _rebuild_generator("cuda", cuda_state)
    assert gen.device.type == "cpu"
    assert torch.equal(torch.randperm(9, generator=gen),
                       torch.randperm(9, generator=_rebuild_generator("cuda", cuda_state)))


def test_docstring_examples():
    import doctest

    from simcalib import exceptions
    from simcalib.classifier import _input, engine

    for module in (_input, engine, exceptions):
        assert doctest.testmod(module, raise_on_error=False).failed == 0, module.__name__
