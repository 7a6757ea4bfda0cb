"""ConvAutoencoder: shapes for the image sizes of the paper and of digits."""

import pytest

torch = pytest.importorskip("torch")

from simcalib.nn.autoencoder import ConvAutoencoder  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize(
    "channels,size,latent,code_hw",
    [
        (1, 8, 16, (4, 4)),
        (3, 32, 256, (4, 4)),
        (3, 64, 1024, (4, 4)),
        (1, 28, 8, (7, 7)),
        (3, (32, 16), 8, (8, 4)),
        (1, 5, 2, (5, 5)),
    ],
)
def test_shapes(channels, size, latent, code_hw):
    ae = ConvAutoencoder(channels, size, latent)
    hw = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, channels, *hw)
    assert ae.encode(x).shape == (2, latent)
    assert ae(x).shape == x.shape
    assert ae._code_shape[1:] == code_hw


def test_learns_to_reconstruct():
    torch.manual_seed(0)
    ae = ConvAutoencoder(1, 8, 16)
    # rank-4 data: a 16-d code can hold it
    x = (torch.randn(32, 4) @ torch.randn(4, 64)).reshape(32, 1, 8, 8)
    opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(ae(x), x)
        first = first if first is not None else float(loss.detach())
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.5 * first


def test_bad_sizes():
    with pytest.raises(ValueError, match="in_channels must be >= 1"):
        ConvAutoencoder(0, 8, 4)
    with pytest.raises(ValueError, match="latent_dim must be an integer"):
        ConvAutoencoder(1, 8, float("nan"))
    with pytest.raises(ValueError, match=r"image_size\[1\]"):
        ConvAutoencoder(1, (8, 0), 4)
