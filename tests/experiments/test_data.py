"""Tests of the experiment data preparation and OOD inputs."""

import numpy as np
import pytest

from simcalib.experiments import load_experiment_data, ood_inputs


def test_digits_split_is_disjoint_and_stratified():
    d = load_experiment_data("digits", holdout=0.2, random_state=1)
    assert d.image_shape == (1, 8, 8) and d.n_classes == 10
    assert len(d.y_train) + len(d.y_holdout) + len(d.y_test) == 1797
    np.testing.assert_allclose(np.bincount(d.y_holdout) / len(d.y_holdout),
                               np.bincount(d.y_train) / len(d.y_train), atol=0.02)
    rows = {x.tobytes() for x in d.X_train}
    assert not any(x.tobytes() in rows for x in d.X_holdout)
    assert d.word_names == d.class_names == ["zero", "one", "two", "three", "four", "five",
                                             "six", "seven", "eight", "nine"]


def test_reduction():
    d = load_experiment_data("digits", max_classes=4, max_train_per_class=20, holdout=0.25)
    assert set(np.unique(d.y_train)) == {0, 1, 2, 3}
    assert np.bincount(np.concatenate([d.y_train, d.y_holdout])).tolist() == [20] * 4
    assert set(np.unique(d.y_test)) == {0, 1, 2, 3}
    assert d.class_names == ["zero", "one", "two", "three"]


def test_holdout_from_test_splits_the_test_images_per_class():
    from sklearn.datasets import load_digits

    n_images = int(np.sum(load_digits().target < 4))
    d = load_experiment_data("digits", max_classes=4, max_train_per_class=5, holdout=0.5,
                             holdout_from="test", random_state=3)
    assert d.holdout_from == "test"
    # every training image trains; on digits the images left out join the test pool
    assert np.bincount(d.y_train).tolist() == [5] * 4
    pool = np.concatenate([d.y_holdout, d.y_test])
    assert len(pool) == n_images - 20
    # calibration and test halves: disjoint, each class split in half
    test_rows = {x.tobytes() for x in d.X_test}
    assert not any(x.tobytes() in test_rows for x in d.X_holdout)
    assert not any(x.tobytes() in test_rows for x in d.X_train)
    np.testing.assert_allclose(np.bincount(d.y_holdout), np.bincount(d.y_test), atol=1)
    # seeded: the same split again, another with another seed
    again = load_experiment_data("digits", max_classes=4, max_train_per_class=5, holdout=0.5,
                                 holdout_from="test", random_state=3)
    np.testing.assert_array_equal(again.X_holdout, d.X_holdout)
    other = load_experiment_data("digits", max_classes=4, max_train_per_class=5, holdout=0.5,
                                 holdout_from="test", random_state=4)
    assert not np.array_equal(other.X_holdout, d.X_holdout)


def test_holdout_from_is_checked():
    with pytest.raises(ValueError, match="holdout_from must be 'train' or 'test'; got 'val'"):
        load_experiment_data("digits", holdout_from="val")


def test_first_per_class_keeps_order():
    from simcalib.experiments._data import _first_per_class

    y = np.array([2, 0, 2, 1, 0, 2, 0])
    np.testing.assert_array_equal(_first_per_class(y, 2), [0, 1, 2, 3, 4])


@pytest.mark.parametrize("kwargs, match", [
    ({"dataset": "mnist"}, "unknown dataset"),
    ({"dataset": "cifar100"}, "data_dir is required"),
    ({"dataset": "digits", "holdout": 1.5}, "holdout"),
    ({"dataset": "digits", "max_classes": 1}, "max_classes"),
])
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_experiment_data(**kwargs)


def test_ood_inputs_shapes_and_ranges():
    d = load_experiment_data("digits")
    ood = ood_inputs(d, n=7)
    assert list(ood) == ["sample photo crops", "uniform noise"]
    for x in ood.values():
        assert x.shape == (7, 1, 8, 8) and x.dtype == np.float32
        assert 0.0 <= x.min() and x.max() <= 1.0
    other = np.random.default_rng(0).integers(0, 256, (10, 3, 32, 32), dtype=np.uint8)
    ood = ood_inputs(d, n=5, other=other, other_name="x images")
    x = ood["x images"]
    assert x.shape == (5, 1, 8, 8)
    # nearest-neighbour resize then channel mean, scaled to digits' [0, 1]
    picked = [i for i in range(10) if np.allclose(
        other[i].astype(np.float32)[:, ::4, ::4].mean(0) / 255.0, x[0, 0])]
    assert len(picked) == 1


def test_ood_uint8_images():
    rng = np.random.default_rng(0)
    from simcalib.experiments import ExperimentData

    X = rng.integers(0, 256, (6, 3, 16, 16), dtype=np.uint8)
    y = np.arange(6) % 2
    d = ExperimentData(X, y, X, y, X, y, ["a", "b"], ["a", "b"], "fake")
    ood = ood_inputs(d, n=3)
    assert all(v.dtype == np.uint8 and v.shape == (3, 3, 16, 16) for v in ood.values())
