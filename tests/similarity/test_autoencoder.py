"""AutoencoderSimilarity: training, latent distances vs brute force, defaults."""

import doctest

import numpy as np
import pytest
from sklearn.base import clone

from simcalib.similarity import AutoencoderSimilarity, _autoencoder, default_latent_dim

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def one_thread():
    # tiny networks: thread start-up costs more than it saves on a shared CPU
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def images(rng):
    y = np.repeat([3, 7, 9], [10, 14, 12])
    X = (
        rng.normal(size=(len(y), 1, 8, 8)).astype(np.float32)
        + 3 * (y == 7)[:, None, None, None]
    )
    return X, y


def test_latent_distances_equal_brute_force_on_encoded_inputs(images):
    X, y = images
    sim = AutoencoderSimilarity(epochs=2, batch_size=16, random_state=0).fit(X, y)
    assert sim.latent_dim_ == 16 and len(sim.loss_curve_) == 2
    Z = sim.encode(X).astype(np.float64)
    assert Z.shape == (36, 16)
    expected = np.zeros((3, 3))
    for a, ka in enumerate(sim.classes_):
        for b, kb in enumerate(sim.classes_):
            Za, Zb = Z[y == ka], Z[y == kb]
            expected[a, b] = np.mean([np.linalg.norm(u - v) for u in Za for v in Zb])
    np.testing.assert_allclose(
        sim.distances_[~np.eye(3, dtype=bool)],
        expected[~np.eye(3, dtype=bool)],
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        sim.within_class_distances_, np.diag(expected), rtol=1e-5
    )
    # class 7 is shifted away from 3 and 9
    assert sim.distances_[0, 2] < sim.distances_[0, 1]


def test_reproducible_and_training_reduces_loss(images):
    X, y = images
    X.setflags(write=False)  # read-only input (a memory-mapped cache) works
    a = AutoencoderSimilarity(epochs=4, batch_size=8, random_state=1).fit(X, y)
    b = AutoencoderSimilarity(epochs=4, batch_size=8, random_state=1).fit(X, y)
    np.testing.assert_array_equal(a.distances_, b.distances_)
    assert a.loss_curve_[-1] < a.loss_curve_[0]
    c = AutoencoderSimilarity(epochs=1, batch_size=8, random_state=2).fit(X, y)
    assert not np.allclose(a.distances_, c.distances_)


def test_default_latent_dim_rule_and_shapes(rng):
    assert default_latent_dim((3, 32, 32)) == 256  # paper, CIFAR-100
    assert default_latent_dim((3, 64, 64)) == 1024  # paper, Tiny-ImageNet
    assert default_latent_dim((1, 8, 8)) == 16
    # (n, H, W) grayscale is accepted; explicit latent_dim; progress on stderr
    X = rng.normal(size=(12, 6, 6))
    sim = AutoencoderSimilarity(latent_dim=3, epochs=1, random_state=0).fit(
        X, [0, 1, 2] * 4
    )
    assert sim.latent_dim_ == 3 and sim.autoencoder_.in_channels == 1
    assert next(sim.autoencoder_.parameters()).device.type == "cpu"


def test_progress_printed_by_default(images, capsys):
    X, y = images
    AutoencoderSimilarity(epochs=2, random_state=0).fit(X, y)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "loss" in err
    AutoencoderSimilarity(epochs=1, random_state=0, verbose=0).fit(X, y)
    assert capsys.readouterr().err == ""


def test_bad_inputs(images):
    X, y = images
    with pytest.raises(ValueError, match=r"\(n, C, H, W\)"):
        AutoencoderSimilarity(epochs=1).fit(X.reshape(len(X), -1), y)
    Xn = X.copy()
    Xn[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AutoencoderSimilarity(epochs=1).fit(Xn, y)
    with pytest.raises(ValueError, match="latent_dim"):
        AutoencoderSimilarity(latent_dim=0, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="epochs"):
        AutoencoderSimilarity(epochs=-1).fit(X, y)
    with pytest.raises(ValueError, match="device"):
        AutoencoderSimilarity(epochs=1, device="numpy").fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        AutoencoderSimilarity(epochs=1).fit(X, np.zeros(len(X)))
    sim = AutoencoderSimilarity(epochs=0, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="images of shape"):
        sim.encode(np.zeros((2, 1, 4, 4)))


def test_clone_keeps_params():
    sim = AutoencoderSimilarity(
        latent_dim=8, epochs=3, lr=0.01, device="cpu", random_state=4
    )
    assert clone(sim).get_params() == sim.get_params()


def test_docstring_examples():
    assert doctest.testmod(_autoencoder, raise_on_error=False).failed == 0
