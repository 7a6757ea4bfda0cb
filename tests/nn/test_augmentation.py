import numpy as np
import pytest

torch = pytest.importorskip("torch")

from simcalib.nn import random_crop_flip  # noqa: E402


def _loop_reference(x, offsets_y, offsets_x, mirror, p):
    # per-sample crop/flip with numpy, the obvious way
    x = x.numpy()
    padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.empty_like(x)
    h, w = x.shape[2:]
    for i in range(len(x)):
        crop = padded[i, :, offsets_y[i]:offsets_y[i] + h, offsets_x[i]:offsets_x[i] + w]
        out[i] = crop[:, :, ::-1] if mirror[i] else crop
    return out


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_matches_per_sample_loop(dtype):
    n, c, h, w, p = 6, 3, 8, 7, 2
    x = torch.randint(0, 255, (n, c, h, w)).to(dtype)
    out = random_crop_flip(x, padding=p, generator=torch.Generator().manual_seed(1))
    # replay the generator: offsets (2, n) first, then the flip draws
    g = torch.Generator().manual_seed(1)
    offsets = torch.randint(0, 2 * p + 1, (2, n), generator=g)
    mirror = torch.rand(n, generator=g) < 0.5
    ref = _loop_reference(x, offsets[0].numpy(), offsets[1].numpy(), mirror.numpy(), p)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_array_equal(out.numpy(), ref)
    assert 0 < int(mirror.sum()) < n  # the seed exercises both branches


def test_no_op_and_flip_only():
    x = torch.arange(2 * 1 * 3 * 3, dtype=torch.float32).reshape(2, 1, 3, 3)
    assert random_crop_flip(x, padding=0, flip=False) is x
    out = random_crop_flip(x, padding=0, flip=True, generator=torch.Generator().manual_seed(0))
    for i in range(2):
        assert torch.equal(out[i], x[i]) or torch.equal(out[i], x[i].flip(-1))


def test_reproducible_with_generator():
    x = torch.randint(0, 255, (16, 3, 8, 8), dtype=torch.uint8)
    a = random_crop_flip(x, generator=torch.Generator().manual_seed(3))
    b = random_crop_flip(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_bad_input():
    with pytest.raises(ValueError, match="4-D"):
        random_crop_flip(torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="padding"):
        random_crop_flip(torch.zeros(1, 1, 8, 8), padding=-1)
