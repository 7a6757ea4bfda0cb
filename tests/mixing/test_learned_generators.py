"""The class-conditional VAE and the autoencoder-latent generator (tiny, CPU)."""

import numpy as np
import pytest

pytest.importorskip("torch")

from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

from simcalib.mixing import (
    AutoencoderLatentGenerator,
    ConditionalVAEGenerator,
    SemanticMixer,
)
from simcalib.similarity import AutoencoderSimilarity


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:300] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32), y[:300]


@pytest.fixture(scope="module")
def vae(digits):
    X, y = digits
    return ConditionalVAEGenerator(latent_dim=4, width=8, epochs=3, aux_weight=1.0,
                                   random_state=0).fit(X, y)


def test_vae_generates_in_the_data_range_reproducibly(vae, digits):
    X, _ = digits
    W = np.eye(10)[[0, 3, 8]]
    a = vae.generate(W, random_state=1)
    assert a.shape == (3, 1, 8, 8) and a.dtype == np.float32
    assert a.min() >= X.min() and a.max() <= X.max()
    np.testing.assert_array_equal(a, vae.generate(W, random_state=1))
    assert not np.array_equal(a, vae.generate(W, random_state=2))
    assert len(vae.loss_curve_) == 3 and np.all(np.isfinite(vae.loss_curve_))


def test_vae_same_noise_mixed_conditioning(vae):
    # decoding is linear in the class vector up to the first nonlinearity:
    # a 50/50 mixture differs from both pure renders of the same noise
    pure_a = vae.generate(np.eye(10)[[1]], 0)
    pure_b = vae.generate(np.eye(10)[[7]], 0)
    mid = vae.generate(0.5 * np.eye(10)[[1]] + 0.5 * np.eye(10)[[7]], 0)
    assert np.abs(mid - pure_a).mean() > 0 and np.abs(mid - pure_b).mean() > 0


def test_vae_fit_is_reproducible_and_leaves_global_rng(digits):
    import torch

    X, y = digits
    state = torch.random.get_rng_state()
    g1 = ConditionalVAEGenerator(latent_dim=2, width=4, epochs=1, random_state=3).fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())
    g2 = ConditionalVAEGenerator(latent_dim=2, width=4, epochs=1, random_state=3).fit(X, y)
    assert g1.loss_curve_ == g2.loss_curve_
    W = np.eye(10)[:2]
    np.testing.assert_array_equal(g1.generate(W, 0), g2.generate(W, 0))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"epochs": -1}, "epochs"),
        ({"lr": 0.0}, "lr"),
        ({"kl_weight": float("nan")}, "kl_weight"),
        ({"aux_weight": -1.0}, "aux_weight"),
        ({"batch_size": 1}, "batch_size"),
        ({"device": "cuda:99"}, "device"),
    ],
)
def test_vae_bad_parameters(kwargs, match, digits):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        ConditionalVAEGenerator(**kwargs).fit(X[:20], y[:20])


def test_vae_not_fitted():
    with pytest.raises(NotFittedError):
        ConditionalVAEGenerator().generate(np.eye(2))


def test_latent_generator_decodes_interpolated_class_means(digits):
    import torch

    X, y = digits
    ae = AutoencoderSimilarity(latent_dim=6, epochs=2, random_state=0, verbose=0).fit(X, y)
    gen = AutoencoderLatentGenerator(FrozenEstimator(ae), noise_scale=0.0).fit(X, y)
    assert gen.autoencoder_ is ae  # the frozen one is reused, not refitted
    codes = ae.encode(X)
    np.testing.assert_allclose(gen.latent_means_[2], codes[y == 2].mean(0), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(gen.latent_stds_[2], codes[y == 2].std(0), rtol=1e-3,
                               atol=1e-5)
    W = np.zeros((1, 10))
    W[0, [2, 5]] = [0.3, 0.7]
    z = 0.3 * gen.latent_means_[2] + 0.7 * gen.latent_means_[5]
    with torch.no_grad():
        ref = ae.autoencoder_.decoder(torch.from_numpy(z[None])).numpy()
    ref = np.clip(ref * ae.input_std_ + ae.input_mean_, X.min(), X.max())
    np.testing.assert_allclose(gen.generate(W, 0), ref, rtol=1e-5, atol=1e-5)


def test_latent_generator_fits_a_clone_and_rejects_other_sources(digits):
    X, y = digits
    ae = AutoencoderSimilarity(latent_dim=4, epochs=1, random_state=0, verbose=0)
    gen = AutoencoderLatentGenerator(ae).fit(X, y)
    assert not hasattr(ae, "autoencoder_") and hasattr(gen.autoencoder_, "autoencoder_")
    assert gen.generate(np.eye(10)[:4], 0).shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match="autoencoder must be an AutoencoderSimilarity"):
        AutoencoderLatentGenerator("ae").fit(X, y)
    with pytest.raises(ValueError, match="noise_scale"):
        AutoencoderLatentGenerator(ae, noise_scale=-1).fit(X, y)


def test_learned_generator_drives_the_mixer(vae, digits):
    X, y = digits
    mixer = SemanticMixer(vae, labels="lambda").fit(X, y)
    images, targets = mixer.sample(16, random_state=0)
    assert images.shape == (16, 1, 8, 8) and targets.shape == (16, 10)
