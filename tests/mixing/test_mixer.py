"""SemanticMixer: pair sampling, re-annotation, soft targets."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcalib.mixing import PixelMixGenerator, SemanticMixer


def weight_images(class_weights, random_state=None):
    """A generator whose image *is* its class weights (1 x 1 x K)."""
    return np.asarray(class_weights, dtype=np.float32)[:, None, None, :]


def read_weights(images):
    """An annotator that reads the class weights back: evidence = lambda exactly."""
    return np.asarray(images)[:, 0, 0, :]


def test_annotator_returning_lambda_gives_labels_equal_to_lambda():
    mixer = SemanticMixer(weight_images, read_weights, n_calibration=500, random_state=0)
    mixer.fit(None, list("abcd"))
    grid = np.linspace(0, 1, 41)
    np.testing.assert_allclose(mixer.confidence(grid), grid, atol=1e-12)
    images, targets, (a, b, lam) = mixer.sample(300, random_state=1, return_pairs=True)
    rows = np.arange(300)
    np.testing.assert_allclose(targets[rows, a], lam, atol=1e-6)
    np.testing.assert_allclose(targets[rows, b], 1 - lam, atol=1e-6)
    # and equal to the raw-lambda ablation
    raw = SemanticMixer(weight_images, labels="lambda").fit(None, list("abcd"))
    _, raw_targets = raw.sample(300, random_state=1)
    np.testing.assert_allclose(targets, raw_targets, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    power=st.floats(0.2, 5.0),
    noise=st.floats(0.0, 0.4),
    seed=st.integers(0, 2**16),
    symmetric=st.booleans(),
)
def test_reannotation_map_is_monotone_and_in_unit_interval(power, noise, seed, symmetric):
    # a distorted, noisy annotator: the fitted map must still be non-decreasing
    noise_rng = np.random.default_rng(seed)

    def annotator(images):
        w = read_weights(images) ** power
        w = w * np.exp(noise * noise_rng.normal(size=w.shape))
        return w / w.sum(1, keepdims=True)

    mixer = SemanticMixer(weight_images, annotator, n_calibration=200,
                          symmetric=symmetric, random_state=seed).fit(None, [0, 1, 2])
    g = mixer.confidence(np.linspace(0, 1, 201))
    assert np.all(np.diff(g) >= -1e-12)
    assert g.min() >= 0 and g.max() <= 1
    if symmetric:
        np.testing.assert_allclose(g + g[::-1], 1.0, atol=1e-9)


def test_reannotation_recovers_a_known_distortion():
    # evidence = lam^3 / (lam^3 + (1 - lam)^3): g must follow it
    def annotator(images):
        w = read_weights(images) ** 3
        return w / w.sum(1, keepdims=True)

    mixer = SemanticMixer(weight_images, annotator, n_calibration=2000, random_state=0)
    mixer.fit(None, [0, 1, 2])
    lam = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    np.testing.assert_allclose(mixer.confidence(lam), lam**3 / (lam**3 + (1 - lam) ** 3),
                               atol=0.01)
    assert mixer.calibration_lambdas_.shape == (2000,)
    assert mixer.calibration_evidence_.shape == (2000,)


def test_uniform_pairs_are_distinct_and_uniform():
    mixer = SemanticMixer(weight_images, labels="lambda").fit(None, [0, 1, 2, 3])
    expected = (1 - np.eye(4)) / 12
    np.testing.assert_allclose(mixer.pair_probabilities_, expected)
    _, _, (a, b, _) = mixer.sample(6000, random_state=0, return_pairs=True)
    assert np.all(a != b)
    counts = np.zeros((4, 4))
    np.add.at(counts, (a, b), 1)
    np.testing.assert_allclose(counts / 6000, expected, atol=0.015)


def test_similarity_pairs_mix_near_classes_more_often():
    from simcalib.similarity import PrecomputedSimilarity
    from simcalib.smoothing import smooth_labels_from_distances

    D = np.array([[0, 1, 4, 4], [1, 0, 4, 4], [4, 4, 0, 1], [4, 4, 1, 0]], dtype=float)
    sim = PrecomputedSimilarity(D)
    mixer = SemanticMixer(weight_images, labels="lambda", pairs=sim, pair_beta=2.0)
    mixer.fit(None, [0, 1, 2, 3])
    np.testing.assert_allclose(
        mixer.pair_probabilities_, smooth_labels_from_distances(D, alpha=1.0, beta=2.0) / 4
    )
    _, _, (a, b, _) = mixer.sample(4000, random_state=0, return_pairs=True)
    near = np.isin(a + b, [1, 5]) & (np.abs(a - b) == 1)
    assert near.mean() > 0.8  # 0/1 and 2/3 pairs dominate
    # beta = 0: uniform again
    flat = SemanticMixer(weight_images, labels="lambda", pairs=sim, pair_beta=0.0)
    np.testing.assert_allclose(flat.fit(None, [0, 1, 2, 3]).pair_probabilities_,
                               (1 - np.eye(4)) / 12)


def test_pair_weight_matrix():
    P = np.array([[5.0, 1.0, 0.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    mixer = SemanticMixer(weight_images, labels="lambda", pairs=P).fit(None, [0, 1, 2])
    expected = np.array([[0, 1, 0], [0, 0, 3], [0, 0, 0]]) / 4
    np.testing.assert_allclose(mixer.pair_probabilities_, expected)


def test_discrete_lambdas():
    mixer = SemanticMixer(weight_images, labels="lambda", lam=[0.25, 0.75])
    _, _, (_, _, lam) = mixer.fit(None, [0, 1]).sample(100, 0, return_pairs=True)
    assert set(np.unique(lam)) == {0.25, 0.75}


def test_mix_renders_given_pairs_with_same_noise():
    X = np.random.default_rng(0).random((20, 1, 4, 4)).astype(np.float32)
    y = np.repeat(["cat", "dog"], 10)
    mixer = SemanticMixer(PixelMixGenerator().fit(X, y), labels="lambda").fit(X, y)
    pure_a, t_a = mixer.mix("cat", "dog", [1.0, 1.0], random_state=5)
    pure_b, _ = mixer.mix("cat", "dog", [0.0, 0.0], random_state=5)
    half, t_half = mixer.mix("cat", "dog", [0.5, 0.5], random_state=5)
    np.testing.assert_allclose(half, 0.5 * (pure_a + pure_b), rtol=1e-6)
    assert t_a.tolist() == [[1.0, 0.0], [1.0, 0.0]] and t_half[0].tolist() == [0.5, 0.5]


def test_uint8_training_images_give_uint8_mixes():
    X = np.random.default_rng(0).integers(0, 256, (20, 1, 4, 4)).astype(np.uint8)
    y = np.repeat([0, 1], 10)
    mixer = SemanticMixer(PixelMixGenerator().fit(X, y), labels="lambda").fit(X, y)
    images, _ = mixer.sample(5, 0)
    assert images.dtype == np.uint8
    X_all, y_all, T = mixer.augment(X, y, 7, random_state=0)
    assert X_all.dtype == np.uint8 and X_all.shape == (27, 1, 4, 4)
    np.testing.assert_array_equal(X_all[:20], X)
    np.testing.assert_array_equal(T[:20], np.eye(2)[y])
    np.testing.assert_allclose(T.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(y_all[20:], T[20:].argmax(1))
    assert mixer.augment(X, y, 0)[0].shape == X.shape


def test_annotator_classes_must_match():
    class Annotator:
        classes_ = np.array([0, 2, 1])

        def predict_proba(self, images):
            return read_weights(images)

    with pytest.raises(ValueError, match="annotator's classes_"):
        SemanticMixer(weight_images, Annotator()).fit(None, [0, 1, 2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"labels": "raw"}, "labels must be one of"),
        ({"labels": "calibrated", "annotator": None}, "needs an annotator"),
        ({"pairs": "nearest"}, "pairs must be 'uniform'"),
        ({"pairs": np.ones((2, 2))}, r"shape \(n_classes, n_classes\)"),
        ({"pairs": -np.ones((3, 3))}, "non-negative"),
        ({"pairs": np.eye(3)}, "zero weight"),
        ({"pair_beta": -1.0}, "pair_beta"),
        ({"lam": 0.0}, "lam must be > 0"),
        ({"lam": [0.5, 1.5]}, r"lam values must lie in \[0, 1\]"),
        ({"n_calibration": 1}, "n_calibration"),
        ({"symmetric": "yes"}, "symmetric must be True or False"),
        ({"generator": 3}, "generator must have a generate"),
    ],
)
def test_bad_parameters_are_named(kwargs, match):
    params = {"generator": weight_images, "annotator": read_weights, "labels": "calibrated"}
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        SemanticMixer(**params).fit(None, [0, 1, 2])


def test_bad_annotator_outputs():
    with pytest.raises(ValueError, match="shape"):
        SemanticMixer(weight_images, lambda x: np.ones((len(x), 2))).fit(None, [0, 1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        SemanticMixer(weight_images, lambda x: -read_weights(x)).fit(None, [0, 1, 2])
    with pytest.raises(ValueError, match="predict_proba or be a callable"):
        SemanticMixer(weight_images, annotator=3).fit(None, [0, 1, 2])


def test_bad_sample_and_mix_arguments():
    mixer = SemanticMixer(weight_images, labels="lambda").fit(None, ["a", "b", "c"])
    with pytest.raises(ValueError, match="n_samples"):
        mixer.sample(0)
    with pytest.raises(ValueError, match="different classes"):
        mixer.mix("a", "a", [0.5])
    with pytest.raises(ValueError, match="not in classes_"):
        mixer.mix("a", "z", [0.5])
    with pytest.raises(ValueError, match=r"lam must be a 1-D array of ratios in \[0, 1\]"):
        mixer.mix("a", "b", [1.5])
    with pytest.raises(ValueError, match="b has 2 labels but lam has 1"):
        mixer.mix("a", ["b", "c"], [0.5])
    with pytest.raises(ValueError, match="n_mixed"):
        mixer.augment(np.zeros((3, 1, 1, 3)), ["a", "b", "c"], -1)


def test_generator_classes_must_match_y():
    X = np.zeros((4, 1, 2, 2), dtype=np.float32)
    gen = PixelMixGenerator().fit(X, [0, 0, 1, 1])
    with pytest.raises(ValueError, match="generator was fitted on classes"):
        SemanticMixer(gen, labels="lambda").fit(None, [0, 1, 2])
    with pytest.raises(ValueError, match="X has 4 samples but y has 2"):
        SemanticMixer(gen, labels="lambda").fit(X, [0, 1])


def test_failed_fit_leaves_fitted_mixer_unchanged():
    mixer = SemanticMixer(weight_images, read_weights, n_calibration=50, random_state=0)
    mixer.fit(None, [0, 1, 2])
    before = mixer.confidence(np.linspace(0, 1, 11))
    mixer.set_params(annotator=lambda x: np.ones((len(x), 5)))
    with pytest.raises(ValueError):
        mixer.fit(None, [0, 1, 2])
    np.testing.assert_array_equal(mixer.confidence(np.linspace(0, 1, 11)), before)
