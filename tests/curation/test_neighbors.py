import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from simcalib.curation import normalize_rows, top_k_cosine

torch = pytest.importorskip("torch")


def _data(n=57, m=23, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(m, d))


@pytest.mark.parametrize("chunk_size", [None, 1, 7, 1000])
def test_matches_scikit_learn_cosine_neighbours(chunk_size):
    Q, R = _data()
    sims, idx = top_k_cosine(normalize_rows(Q), normalize_rows(R), 5, chunk_size=chunk_size)
    dist, ref = NearestNeighbors(n_neighbors=5, metric="cosine").fit(R).kneighbors(Q)
    np.testing.assert_array_equal(idx.numpy(), ref)
    np.testing.assert_allclose(sims.numpy(), 1 - dist, atol=1e-6)


def test_excluded_pairs_are_never_neighbours():
    Q, _ = _data(n=30)
    Z = normalize_rows(Q)
    sims, idx = top_k_cosine(Z, Z, 3, exclude=np.arange(30), chunk_size=4)
    assert not np.any(idx.numpy() == np.arange(30)[:, None])
    full = Z.numpy() @ Z.numpy().T
    np.fill_diagonal(full, -np.inf)
    np.testing.assert_array_equal(idx.numpy(), np.argsort(-full, axis=1)[:, :3])
    # -1 means "exclude nothing" for that row
    ex = np.full(30, -1)
    ex[0] = 5
    _, idx = top_k_cosine(Z, Z, 1, exclude=ex)
    assert idx[1, 0] == 1 and idx[0, 0] != 5


def test_an_excluded_slot_that_must_be_returned_is_marked():
    Z = normalize_rows(np.eye(3))
    sims, idx = top_k_cosine(Z, Z, 3, exclude=[0, -1, 2])
    assert idx[0, -1] == -1 and torch.isneginf(sims[0, -1])
    assert sorted(idx[1].tolist()) == [0, 1, 2]


def test_rows_are_unit_norm_and_zero_rows_stay_zero():
    Z = normalize_rows([[3.0, 4.0], [0.0, 0.0], [1e-30, 0.0]])
    np.testing.assert_allclose(torch.linalg.vector_norm(Z, dim=1).numpy(), [1, 0, 1], atol=1e-6)


@pytest.mark.parametrize("k", [0, 24, 2.5])
def test_k_out_of_range(k):
    Q, R = _data()
    with pytest.raises(ValueError, match="k must"):
        top_k_cosine(normalize_rows(Q), normalize_rows(R), k)
