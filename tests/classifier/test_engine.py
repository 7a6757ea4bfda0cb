import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import Subset  # noqa: E402

from simcalib.classifier import DeviceBatchIterator, ImageTensorDataset  # noqa: E402
from simcalib.classifier.engine import place_images  # noqa: E402


def _dataset(n=10):
    X = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    return ImageTensorDataset(X, torch.arange(n))


def test_sequential_batches_cover_the_data():
    batches = list(DeviceBatchIterator(_dataset(10), batch_size=4))
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    assert torch.cat([yb for _, yb in batches]).tolist() == list(range(10))
    assert batches[0][0].dtype == torch.uint8


def test_each_pass_draws_a_new_permutation_from_the_generator():
    g = torch.Generator().manual_seed(0)
    it = DeviceBatchIterator(_dataset(10), batch_size=4, shuffle=True, generator=g,
                             training=True)
    first = torch.cat([yb for _, yb in it])
    second = torch.cat([yb for _, yb in it])
    assert sorted(first.tolist()) == list(range(10)) == sorted(second.tolist())
    assert not torch.equal(first, second)
    # images and labels stay paired
    xb, yb = next(iter(it))
    assert torch.equal(xb[:, 0, 0, 0].long(), yb)
    g2 = torch.Generator().manual_seed(0)
    again = DeviceBatchIterator(_dataset(10), batch_size=4, shuffle=True, generator=g2,
                                training=True)
    assert torch.equal(torch.cat([yb for _, yb in again]), first)


def test_subsets_and_size_one_last_batch():
    ds = Subset(Subset(_dataset(10), [1, 3, 5, 7, 9]), [0, 2, 4])
    it = DeviceBatchIterator(ds, batch_size=2)
    assert torch.cat([yb for _, yb in it]).tolist() == [1, 5, 9]
    # training drops a single-sample last batch (batch norm cannot use it)
    train = DeviceBatchIterator(ds, batch_size=2, training=True)
    assert len(train) == 1 and [len(yb) for _, yb in train] == [2]


def test_augment_is_applied_per_batch():
    calls = []

    def augment(xb, generator):
        calls.append(len(xb))
        return xb + 1

    it = DeviceBatchIterator(_dataset(4), batch_size=2, augment=augment)
    xb, _ = next(iter(it))
    assert calls == [2] and xb[0, 0, 0, 0].item() == 1


def test_place_images_keeps_uint8_and_converts_the_rest():
    import numpy as np

    assert place_images(np.zeros((1, 1, 2, 2), np.uint8), "cpu").dtype == torch.uint8
    assert place_images(np.zeros((1, 1, 2, 2), np.float64), "cpu").dtype == torch.float32


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        DeviceBatchIterator(_dataset(), batch_size=0)
    with pytest.raises(ValueError, match="generator"):
        DeviceBatchIterator(_dataset(), shuffle=True)
    with pytest.raises(ValueError, match="ImageTensorDataset"):
        DeviceBatchIterator(torch.utils.data.TensorDataset(torch.zeros(2)))


def test_read_only_memmap_trains_without_a_torch_warning(tmp_path):
    # a memory-mapped dataset cache is read-only; torch warns when it is
    # shared without a copy (and warnings are errors in this suite)
    import numpy as np

    from simcalib import SimilarityLSClassifier

    rng = np.random.default_rng(0)
    path = tmp_path / "x.npy"
    np.save(path, rng.integers(0, 256, size=(40, 1, 8, 8), dtype=np.uint8))
    X = np.load(path, mmap_mode="r")
    y = np.arange(40) % 2
    clf = SimilarityLSClassifier(
        module="small_cnn", similarity="uniform", max_epochs=1, batch_size=16,
        random_state=0, verbose=0,
    )
    clf.fit(X, y)
    assert clf.predict_proba(X).shape == (40, 2)


def test_per_sample_soft_targets_stay_paired_through_shuffle_subsets_and_augment():
    n = 12
    X = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 2, 2).contiguous()
    # row i of the targets encodes i, so pairing is checkable
    T = torch.stack([torch.full((3,), float(i)) for i in range(n)])
    ds = ImageTensorDataset(X, torch.arange(n), soft_targets=T)
    sample, label = ds[5]
    assert torch.equal(sample["X"], X[5]) and torch.equal(sample["soft_targets"], T[5])
    assert label.item() == 5
    g = torch.Generator().manual_seed(0)
    it = DeviceBatchIterator(
        Subset(ds, [0, 2, 4, 6, 8, 10, 11]), batch_size=3, shuffle=True, generator=g,
        augment=lambda images, gen: images,
    )
    seen = []
    for xb, yb in it:
        assert set(xb) == {"X", "soft_targets"}
        assert torch.equal(xb["X"][:, 0, 0, 0].long(), yb)
        assert torch.equal(xb["soft_targets"][:, 0].long(), yb)
        seen += yb.tolist()
    assert sorted(seen) == [0, 2, 4, 6, 8, 10, 11]


def test_soft_targets_of_the_wrong_shape_are_refused_by_the_dataset():
    with pytest.raises(ValueError, match=r"soft_targets must have shape \(4, n_classes\)"):
        ImageTensorDataset(torch.zeros(4, 1, 2, 2), torch.arange(4), torch.zeros(3, 2))
