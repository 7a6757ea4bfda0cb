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


# ------------------------------------------------------------ CE + L2 (CSM)
from simcalib.nn import CrossEntropyL2, cross_entropy_l2  # noqa: E402


def _ce_l2_reference(z, q, w):
    # hand-written in float64 numpy: CE(q, softmax z) + w * ||softmax z - q||^2, batch means
    z = z.astype(np.float64)
    e = np.exp(z - z.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    ce = -(q * np.log(p)).sum(1).mean()
    return ce + w * ((p - q) ** 2).sum(1).mean()


@pytest.mark.parametrize("w", [0.0, 0.5, 1.0, 7.0])
def test_ce_l2_matches_the_formula(w):
    rng = np.random.default_rng(1)
    z = rng.normal(size=(32, 6)) * 3
    q = rng.dirichlet(np.ones(6) * 0.3, size=32)
    zt, qt = torch.tensor(z, dtype=torch.float32), torch.tensor(q, dtype=torch.float32)
    np.testing.assert_allclose(float(cross_entropy_l2(zt, qt, w)), _ce_l2_reference(z, q, w),
                               rtol=1e-5)
    np.testing.assert_allclose(float(CrossEntropyL2(w)(zt, qt)), _ce_l2_reference(z, q, w),
                               rtol=1e-5)


def test_ce_l2_gradient_matches_the_formula():
    # d/dz of the L2 term: 2 * J_softmax (p - q), J = diag(p) - p p^T
    z = torch.tensor([[1.0, -0.5, 0.3]], requires_grad=True)
    q = torch.tensor([[0.6, 0.3, 0.1]])
    (cross_entropy_l2(z, q, 2.0) - soft_target_cross_entropy(z, q)).backward()
    p = torch.softmax(z.detach(), 1)[0]
    J = torch.diag(p) - torch.outer(p, p)
    torch.testing.assert_close(z.grad[0], 2.0 * 2 * J @ (p - q[0]))


def test_ce_l2_index_targets_and_zero_weight():
    torch.manual_seed(0)
    z, y = torch.randn(8, 4), torch.randint(0, 4, (8,))
    onehot = torch.nn.functional.one_hot(y, 4).float()
    torch.testing.assert_close(cross_entropy_l2(z, y, 0.3), cross_entropy_l2(z, onehot, 0.3))
    torch.testing.assert_close(cross_entropy_l2(z, onehot, 0.0),
                               soft_target_cross_entropy(z, onehot))


@pytest.mark.parametrize("w", [-1.0, float("nan"), True, "1"])
def test_ce_l2_bad_weight(w):
    with pytest.raises(ValueError, match="l2_weight"):
        CrossEntropyL2(w)
    with pytest.raises(ValueError, match="l2_weight"):
        cross_entropy_l2(torch.zeros(1, 2), torch.tensor([[0.5, 0.5]]), w)


def test_ce_l2_as_the_classifier_criterion():
    from sklearn.datasets import load_digits

    from simcalib.classifier import SimilarityLSClassifier

    X, y = load_digits(return_X_y=True)
    X = X[:120].reshape(-1, 1, 8, 8).astype(np.float32)
    clf = SimilarityLSClassifier("small_cnn", similarity="uniform", alpha=0.1,
                                 criterion=CrossEntropyL2, criterion__l2_weight=0.5,
                                 module__width=4, max_epochs=1, random_state=0, verbose=0)
    clf.fit(X, y[:120])
    assert isinstance(clf.criterion_, CrossEntropyL2) and clf.criterion_.l2_weight == 0.5
    logits = torch.tensor(clf.decision_function(X[:16]), dtype=torch.float32)
    Q = torch.tensor(clf.soft_labels_)[torch.tensor(y[:16])]
    loss = clf.get_loss(logits, torch.tensor(y[:16]))
    torch.testing.assert_close(loss, cross_entropy_l2(logits, Q, 0.5))
