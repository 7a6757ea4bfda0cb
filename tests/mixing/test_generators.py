"""The generator interface and the pixel-space generators (mixup, CutMix)."""

import numpy as np
import pytest

from simcalib.mixing import (
    PixelMixGenerator,
    SemanticMixer,
    check_class_weights,
    generate_images,
)


def _constant_images(values, shape=(1, 6, 6)):
    return np.stack([np.full(shape, v, dtype=np.float32) for v in values])


# ---------------------------------------------------------------- interface
def test_check_class_weights_accepts_and_renormalises():
    W = check_class_weights([[0.2, 0.8 + 1e-6], [1.0, 0.0]])
    np.testing.assert_allclose(W.sum(1), 1.0, atol=1e-15)


@pytest.mark.parametrize(
    "weights, match",
    [
        ([0.5, 0.5], "shape"),
        ([[1.0]], "shape"),
        (np.zeros((0, 3)), "shape"),
        ([[0.5, np.nan]], "finite"),
        ([[1.5, -0.5]], "non-negative"),
        ([[0.5, 0.6]], "sum to 1"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_check_class_weights_rejects(weights, match):
    with pytest.raises(ValueError, match=match):
        check_class_weights(weights)


def test_check_class_weights_column_count():
    with pytest.raises(ValueError, match="must have 3 columns"):
        check_class_weights([[0.5, 0.5]], 3)


class _ObjectGenerator:
    def generate(self, class_weights, random_state):
        return np.ones((len(class_weights), 1, 2, 2)) * class_weights[:, :1, None, None]


def _torch_generator(class_weights, random_state):
    import torch

    return torch.as_tensor(class_weights[:, :1, None, None]).expand(-1, 1, 2, 2)


@pytest.mark.parametrize(
    "generator",
    [
        lambda w, rs: np.ones((len(w), 1, 2, 2)) * w[:, :1, None, None],
        _ObjectGenerator(),
        _torch_generator,
    ],
    ids=["lambda", "object-with-generate", "returns-torch"],
)
def test_any_callable_of_the_documented_shape_is_a_generator(generator):
    if generator is _torch_generator:
        pytest.importorskip("torch")
    W = np.array([[0.25, 0.75], [1.0, 0.0]])
    images = generate_images(generator, W, 0)
    assert images.dtype == np.float32 and images.shape == (2, 1, 2, 2)
    np.testing.assert_allclose(images[:, 0, 0, 0], [0.25, 1.0])
    # and the mixer drives it
    mixer = SemanticMixer(generator, labels="lambda").fit(None, ["x", "y"])
    imgs, targets = mixer.mix("x", "y", [0.25], random_state=0)
    assert imgs.shape == (1, 1, 2, 2) and targets.tolist() == [[0.25, 0.75]]


@pytest.mark.parametrize(
    "generator, match",
    [
        (42, "generate"),
        (lambda w, rs: np.ones((len(w), 2, 2)), "shape"),
        (lambda w, rs: np.ones((len(w) + 1, 1, 2, 2)), "shape"),
        (lambda w, rs: np.full((len(w), 1, 2, 2), np.nan), "NaN"),
        (lambda w, rs: "no images", "array of images"),
    ],
)
def test_bad_generators_are_named(generator, match):
    with pytest.raises(ValueError, match=match):
        generate_images(generator, np.array([[0.5, 0.5]]), 0)


def test_generated_shape_must_match_training_images():
    with pytest.raises(ValueError, match="training images have shape"):
        generate_images(lambda w, rs: np.zeros((len(w), 1, 2, 2)), np.array([[1.0, 0.0]]),
                        image_shape=(3, 2, 2))


# ---------------------------------------------------------------- mixup
def test_mixup_is_the_weighted_sum_of_one_image_per_class():
    X = _constant_images([0.0, 10.0, 100.0])
    gen = PixelMixGenerator("mixup").fit(X, [0, 1, 2])
    W = np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    out = gen.generate(W, random_state=0)
    np.testing.assert_allclose(out[:, 0, 0, 0], W @ [0.0, 10.0, 100.0], rtol=1e-6)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 0.0, atol=1e-5)


def test_same_seed_same_source_images_at_every_ratio(rng):
    X = rng.random((40, 1, 5, 5)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    gen = PixelMixGenerator("mixup").fit(X, y)
    a = gen.generate(np.tile([1.0, 0.0], (6, 1)), 3)
    b = gen.generate(np.tile([0.0, 1.0], (6, 1)), 3)
    mid = gen.generate(np.tile([0.5, 0.5], (6, 1)), 3)
    np.testing.assert_allclose(mid, 0.5 * a + 0.5 * b, rtol=1e-6)
    # the sources are real images of the right class
    flat = X.reshape(40, -1)
    for img in a.reshape(6, -1):
        assert y[np.argmin(((flat - img) ** 2).sum(1))] == 0


def test_uint8_images_mix_in_float():
    X = np.array([np.zeros((1, 4, 4)), np.full((1, 4, 4), 255)], dtype=np.uint8)
    out = PixelMixGenerator().fit(X, [0, 1]).generate([[0.5, 0.5]], 0)
    assert out.dtype == np.float32 and out.max() == pytest.approx(127.5)


# ---------------------------------------------------------------- cutmix
@pytest.mark.parametrize("w_second", [0.0, 0.25, 0.36, 1.0])
def test_cutmix_pastes_a_box_of_the_second_class_with_that_area(w_second):
    X = _constant_images([0.0, 1.0], shape=(2, 10, 10))
    gen = PixelMixGenerator("cutmix").fit(X, ["a", "b"])
    out = gen.generate(np.tile([1.0 - w_second, w_second], (50, 1)), 1)
    side = round(np.sqrt(w_second) * 10)
    # exactly a side x side square of ones, equal across channels
    np.testing.assert_array_equal(out.sum(axis=(2, 3))[:, 0], side * side)
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    rows = out[:, 0].any(axis=2).sum(1)
    cols = out[:, 0].any(axis=1).sum(1)
    np.testing.assert_array_equal(rows, side)
    np.testing.assert_array_equal(cols, side)
    if 0 < side < 10:  # random placement: not always the same corner
        assert len({tuple(np.argwhere(o[0])[0]) for o in out}) > 1


def test_cutmix_refuses_three_classes():
    X = _constant_images([0.0, 1.0, 2.0])
    gen = PixelMixGenerator("cutmix").fit(X, [0, 1, 2])
    with pytest.raises(ValueError, match="at most two classes.*row 1"):
        gen.generate([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]], 0)


def test_pixel_generator_bad_inputs():
    X = _constant_images([0.0, 1.0])
    with pytest.raises(ValueError, match="kind must be one of"):
        PixelMixGenerator("blend").fit(X, [0, 1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        PixelMixGenerator().fit(X, [0, 0])
    with pytest.raises(ValueError, match="X has 2 samples but y has 3"):
        PixelMixGenerator().fit(X, [0, 1, 1])
    gen = PixelMixGenerator().fit(X, [0, 1])
    with pytest.raises(ValueError, match="must have 2 columns"):
        gen.generate([[0.2, 0.3, 0.5]], 0)
    with pytest.raises(ValueError, match="random_state"):
        gen.generate([[0.5, 0.5]], -1)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PixelMixGenerator().generate([[0.5, 0.5]])


def test_mixing_imports_without_torch_skorch_or_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, simcalib.mixing as m; m.SemanticMixer; m.PixelMixGenerator; "
        "bad = [k for k in ('torch', 'skorch', 'matplotlib', 'diffusers') if k in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
