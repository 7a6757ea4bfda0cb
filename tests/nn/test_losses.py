import numpy as np
import pytest

torch = pytest.importorskip("torch")

from simcalib.nn import SoftTargetCrossEntropy, soft_target_cross_entropy  # noqa: E402


def _reference(z, q):
    # brute force in float64 numpy: -(q * log softmax(z)).sum(1).mean()
    z = z.astype(np.float64)
    logp = z - z.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    return -(q * logp).sum(1).mean()


def test_matches_brute_force():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(16, 5)) * 3
    q = rng.dirichlet(np.ones(5), size=16)
    got = soft_target_cross_entropy(torch.tensor(z, dtype=torch.float32), torch.tensor(q))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(float(got), _reference(z, q), rtol=1e-5)


def test_one_hot_and_index_targets_equal_cross_entropy():
    torch.manual_seed(0)
    z = torch.randn(8, 4)
    y = torch.randint(0, 4, (8,))
    ref = torch.nn.functional.cross_entropy(z, y)
    torch.testing.assert_close(soft_target_cross_entropy(z, y), ref)
    onehot = torch.nn.functional.one_hot(y, 4).float()
    torch.testing.assert_close(SoftTargetCrossEntropy()(z, onehot), ref)


def test_bf16_logits_are_upcast():
    z = torch.randn(4, 3).to(torch.bfloat16)
    q = torch.full((4, 3), 1 / 3)
    assert soft_target_cross_entropy(z, q).dtype == torch.float32


def test_shape_mismatch():
    with pytest.raises(ValueError, match="targets must have the shape"):
        soft_target_cross_entropy(torch.zeros(2, 3), torch.zeros(2, 4))
