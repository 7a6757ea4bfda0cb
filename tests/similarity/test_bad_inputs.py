"""Bad inputs to the similarity sources: a clear error naming the argument, state kept.

Covers the shared base (labels, samples, refits, ``most_similar``) through
PixelDistanceSimilarity, and the parameters and images of
AutoencoderSimilarity, PrecomputedSimilarity and WordNetSimilarity.
"""

import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from simcalib.similarity import (
    PixelDistanceSimilarity,
    PrecomputedSimilarity,
    WordNetSimilarity,
)

NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, size=(24, 1, 8, 8)).astype(np.float32)
    X[12:] += 40.0  # two well separated classes ...
    X[18:] += 80.0  # ... and a third
    return X, np.repeat([0, 1, 2], 8)


def _nan_at(X, value=NAN):
    X = X.copy()
    X.reshape(-1)[7] = value
    return X


# -- the shared base, through the pixel source --------------------------------

BAD_FIT = [
    ("X nan", lambda X, y: (_nan_at(X), y), "X contains NaN"),
    ("X inf", lambda X, y: (_nan_at(X, INF), y), "X contains NaN or infinity"),
    ("X None", lambda X, y: (None, y), "X is required"),
    ("X strings", lambda X, y: (X.astype(str), y), "X must hold real numbers"),
    ("X complex", lambda X, y: (X.astype(complex), y), "X must hold real numbers"),
    ("X 1-D", lambda X, y: (X[:, 0, 0, 0], y), "one row per sample"),
    ("X ragged", lambda X, y: ([[1.0], [2.0, 3.0]] * 12, y), "X must be a numeric array"),
    ("X no features", lambda X, y: (np.zeros((24, 0)), y), "X is empty"),
    ("X and y lengths", lambda X, y: (X[:20], y), "different numbers of samples"),
    ("y None", lambda X, y: (X, None), "requires y"),
    ("y nan", lambda X, y: (X, np.where(y == 2, NAN, y)), "y contains NaN"),
    ("y one class", lambda X, y: (X, np.zeros_like(y)), "at least 2 classes"),
    ("y 2-D", lambda X, y: (X, np.stack([y, y], 1)), "1-D"),
    ("y empty", lambda X, y: (X[:0], y[:0]), "y is empty"),
    ("y continuous", lambda X, y: (X, y + 0.25), "continuous"),
    ("y mixed types", lambda X, y: (X, np.array([1, "a"] * 12, dtype=object)), "comparable"),
]


@pytest.mark.parametrize("name, make, match", BAD_FIT, ids=[c[0] for c in BAD_FIT])
def test_bad_samples_and_labels(images, name, make, match):
    X, y = make(*images)
    with pytest.raises(ValueError, match=match):
        PixelDistanceSimilarity(device="numpy").fit(X, y)


def test_sparse_input_is_refused(images):
    sparse = pytest.importorskip("scipy.sparse")
    X, y = images
    with pytest.raises(ValueError, match="sparse"):
        PixelDistanceSimilarity(device="numpy").fit(sparse.csr_matrix(X.reshape(24, -1)), y)


BAD_PIXEL_PARAMS = [
    (dict(metric="l3"), "metric"),
    (dict(metric=None), "metric"),
    (dict(max_samples_per_class=0), "max_samples_per_class"),
    (dict(max_samples_per_class=NAN), "max_samples_per_class"),
    (dict(max_samples_per_class=2.5), "max_samples_per_class"),
    (dict(max_samples_per_class=True), "max_samples_per_class"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=NAN), "batch_size"),
    (dict(batch_size=True), "batch_size"),
    (dict(device="tpu"), "device"),
    (dict(max_samples_per_class=3, random_state="x"), "random_state"),
]


@pytest.mark.parametrize("params, match", BAD_PIXEL_PARAMS, ids=lambda v: repr(v)[:40])
def test_bad_pixel_parameters(images, params, match):
    with pytest.raises(ValueError, match=match):
        PixelDistanceSimilarity(**params).fit(*images)


def test_pixel_distances_do_not_depend_on_the_layout(images):
    """Channels-last input is fine here: a distance between flattened images
    is the same for any fixed ordering of the pixels."""
    X, y = images
    rgb = np.repeat(X, 3, axis=1) + np.arange(3)[None, :, None, None]
    first = PixelDistanceSimilarity(device="numpy").fit(rgb, y).distances_
    last = PixelDistanceSimilarity(device="numpy").fit(rgb.transpose(0, 2, 3, 1), y).distances_
    np.testing.assert_allclose(last, first, rtol=1e-12)


def _state(sim):
    return {k: (v.copy() if isinstance(v, np.ndarray) else v)
            for k, v in vars(sim).items() if k.endswith("_")}


def _assert_same_state(sim, before):
    after = _state(sim)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value, err_msg=key)
        else:
            assert after[key] is value or after[key] == value, key


@pytest.mark.parametrize("name, make, match", BAD_FIT[:8] + BAD_FIT[9:], ids=lambda v: str(v)[:30])
def test_failed_refit_keeps_the_fitted_pixel_source(images, name, make, match):
    sim = PixelDistanceSimilarity(device="numpy").fit(*images)
    before = _state(sim)
    X, y = make(*images)
    with pytest.raises(ValueError):
        sim.fit(X, y)
    _assert_same_state(sim, before)


def test_failed_refit_with_a_bad_parameter_keeps_the_fit(images):
    sim = PixelDistanceSimilarity(device="numpy").fit(*images)
    before = _state(sim)
    with pytest.raises(ValueError, match="max_samples_per_class"):
        sim.set_params(max_samples_per_class=0).fit(*images)
    _assert_same_state(sim, before)


@pytest.mark.parametrize(
    "label, n, match",
    [("z", 2, "not one of the fitted"), (0, 0, "n must be >= 1"), (0, NAN, "n must be an integer"),
     (0, True, "n must be an integer"), ([0, 1], 2, "single class label")],
)
def test_bad_most_similar_queries(images, label, n, match):
    sim = PixelDistanceSimilarity(device="numpy").fit(*images)
    with pytest.raises(ValueError, match=match):
        sim.most_similar(label, n=n)


def test_most_similar_needs_fit():
    with pytest.raises(NotFittedError):
        PixelDistanceSimilarity().most_similar(0)


# -- AutoencoderSimilarity -------------------------------------------------------

BAD_AE_PARAMS = [
    (dict(latent_dim=0), "latent_dim"),
    (dict(latent_dim=-1), "latent_dim"),
    (dict(latent_dim=NAN), "latent_dim"),
    (dict(latent_dim=2.5), "latent_dim"),
    (dict(latent_dim=True), "latent_dim"),
    (dict(latent_dim="big"), "latent_dim"),
    (dict(epochs=-1), "epochs"),
    (dict(epochs=NAN), "epochs"),
    (dict(epochs=True), "epochs"),
    (dict(batch_size=0), "batch_size"),
    (dict(lr=0.0), "lr"),
    (dict(lr=-1.0), "lr"),
    (dict(lr=NAN), "lr"),
    (dict(lr=INF), "lr"),
    (dict(lr="x"), "lr"),
    (dict(random_state="x"), "random_state"),
    (dict(device="numpy"), "device"),
    (dict(device="tpu"), "device"),
]


@pytest.mark.parametrize("params, match", BAD_AE_PARAMS, ids=lambda v: repr(v)[:40])
def test_bad_autoencoder_parameters(images, params, match):
    pytest.importorskip("torch")
    from simcalib.similarity import AutoencoderSimilarity

    with pytest.raises(ValueError, match=match):
        AutoencoderSimilarity(**{"epochs": 1, "verbose": 0, **params}).fit(*images)


BAD_AE_X = [
    ("channels-last", lambda X: np.repeat(X, 3, 1).transpose(0, 2, 3, 1), "channels-last"),
    ("flat", lambda X: X.reshape(len(X), -1), r"\(n, C, H, W\)"),
    ("bool", lambda X: X > 100, "real numbers"),
    ("5-D", lambda X: X[:, None], "5-D"),
    ("nan", _nan_at, "NaN"),
]


@pytest.mark.parametrize("name, make, match", BAD_AE_X, ids=[c[0] for c in BAD_AE_X])
def test_bad_autoencoder_images(images, name, make, match):
    pytest.importorskip("torch")
    from simcalib.similarity import AutoencoderSimilarity

    X, y = images
    with pytest.raises(ValueError, match=match):
        AutoencoderSimilarity(epochs=1, verbose=0).fit(make(X), y)


@pytest.fixture(scope="module")
def autoencoder(images):
    pytest.importorskip("torch")
    from simcalib.similarity import AutoencoderSimilarity

    return AutoencoderSimilarity(epochs=1, random_state=0, verbose=0).fit(*images)


@pytest.mark.parametrize(
    "make, match",
    [(lambda X: np.zeros((2, 1, 4, 4)), r"images of shape \(1, 8, 8\)"),
     (lambda X: np.repeat(X[:2], 3, 1).transpose(0, 2, 3, 1), "channels-last"),
     (lambda X: _nan_at(X[:2]), "NaN"),
     (lambda X: X[:0], "at least one non-empty image")],
)
def test_bad_images_to_encode(images, autoencoder, make, match):
    with pytest.raises(ValueError, match=match):
        autoencoder.encode(make(images[0]))


def test_encode_changes_nothing_and_needs_fit(images, autoencoder):
    pytest.importorskip("torch")
    from simcalib.similarity import AutoencoderSimilarity

    X, _ = images
    before = _state(autoencoder)
    with pytest.raises(ValueError):
        autoencoder.encode(np.zeros((2, 1, 4, 4)))
    autoencoder.encode(X[:3])
    _assert_same_state(autoencoder, before)
    assert autoencoder.n_features_in_ == 64
    with pytest.raises(NotFittedError):
        AutoencoderSimilarity().encode(X[:2])


def test_failed_autoencoder_refit_keeps_the_fit(images, autoencoder):
    X, y = images
    sim = pickle.loads(pickle.dumps(autoencoder))
    before = _state(sim)
    codes = sim.encode(X[:4])
    for bad in (dict(lr=NAN), dict(latent_dim=0)):
        with pytest.raises(ValueError):
            sim.set_params(**bad).fit(X, y)
    sim.set_params(lr=1e-3, latent_dim="auto")
    with pytest.raises(ValueError, match="channels-last"):
        sim.fit(np.zeros((24, 16, 16, 3), np.float32), y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        sim.fit(np.zeros((24, 1, 16, 16), np.float32), np.zeros(24))
    _assert_same_state(sim, before)  # the network is the very same object
    np.testing.assert_array_equal(sim.encode(X[:4]), codes)


# -- PrecomputedSimilarity ------------------------------------------------------

_S = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]])

BAD_MATRIX = [
    ("nan", dict(matrix=np.where(_S == 2.0, NAN, _S)), "NaN"),
    ("not square", dict(matrix=_S[:2]), "square"),
    ("asymmetric", dict(matrix=_S + np.triu(np.ones((3, 3)), 1)), "symmetric"),
    ("negative", dict(matrix=-_S), "negative"),
    ("kind", dict(matrix=_S, kind="cosine"), "kind"),
    ("1x1", dict(matrix=[[0.0]]), "at least 2 columns"),
    ("strings", dict(matrix=[["a", "b"], ["b", "a"]]), "numeric"),
    ("3-D", dict(matrix=_S[None]), "2-D"),
    ("None", dict(matrix=None), "2-D"),
    ("duplicate classes", dict(matrix=_S, classes=["a", "a", "b"]), "duplicates"),
    ("classes length", dict(matrix=_S, classes=["a", "b"]), "one label per matrix row"),
]


@pytest.mark.parametrize("name, params, match", BAD_MATRIX, ids=[c[0] for c in BAD_MATRIX])
def test_bad_precomputed_matrix(name, params, match):
    with pytest.raises(ValueError, match=match):
        PrecomputedSimilarity(**params).fit()


@pytest.mark.parametrize(
    "y, match",
    [(["a", "b"], "do not match the 3 rows"), (["a", "b", "z"], "do not match"),
     ([0.0, 1.0, NAN], "NaN")],
)
def test_precomputed_labels_must_match(y, match):
    sim = PrecomputedSimilarity(_S, classes=["a", "b", "c"]).fit()
    before = _state(sim)
    with pytest.raises(ValueError, match=match):
        sim.fit(None, y)
    _assert_same_state(sim, before)


# -- WordNetSimilarity (checks that need no corpus) -------------------------------

@pytest.mark.parametrize(
    "params, y, match",
    [(dict(metric="jcn"), ["dog.n.01", "cat.n.01"], "metric"),
     (dict(metric=None), ["dog.n.01", "cat.n.01"], "metric"),
     (dict(synsets=["dog.n.01"]), ["a", "b"], "one synset per class"),
     (dict(synsets={"a": "dog.n.01"}), ["a", "b"], "no synset for the labels"),
     (dict(synsets=[1, 2]), ["a", "b"], "synset names"),
     (dict(nltk_data="/nonexistent/folder"), ["dog.n.01", "cat.n.01"], "nltk_data"),
     ({}, ["dog.n.01"], "at least 2 classes")],
)
def test_bad_wordnet_inputs(params, y, match):
    pytest.importorskip("nltk")
    with pytest.raises(ValueError, match=match):
        WordNetSimilarity(**params).fit(None, y)
