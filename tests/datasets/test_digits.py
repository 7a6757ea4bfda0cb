"""Tests of load_digits_images against scikit-learn's load_digits."""

import numpy as np
import pytest
from sklearn.datasets import load_digits

from simcalib.datasets import load_digits_images


def test_images_match_sklearn_digits():
    ref = load_digits()
    data = load_digits_images()
    assert data.images.shape == (1797, 1, 8, 8)
    assert data.images.dtype == np.float32
    np.testing.assert_allclose(data.images[:, 0] * 16, ref.images, atol=1e-5)
    np.testing.assert_array_equal(data.target, ref.target)
    assert data.class_names == [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"
    ]
    assert "digits" in data.DESCR


def test_split_is_stratified_disjoint_and_complete():
    data = load_digits_images(test_size=0.2, random_state=3)
    assert len(data.y_train) + len(data.y_test) == 1797
    assert len(data.y_test) == 360
    counts_test = np.bincount(data.y_test, minlength=10) / len(data.y_test)
    counts_all = np.bincount(data.target) / len(data.target)
    np.testing.assert_allclose(counts_test, counts_all, atol=0.01)
    # The split is a permutation of the originals: same multiset of rows.
    flat_all = data.images.reshape(1797, -1)
    both = np.concatenate([data.X_train, data.X_test]).reshape(1797, -1)
    np.testing.assert_array_equal(
        flat_all[np.lexsort(flat_all.T)], both[np.lexsort(both.T)]
    )


def test_uint8_variant():
    data = load_digits_images(dtype="uint8")
    assert data.images.dtype == np.uint8
    assert data.images.max() == 255 and data.images.min() == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"dtype": "int16"}, "dtype"),
    ({"test_size": 1.5}, "test_size"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_digits_images(**kwargs)
