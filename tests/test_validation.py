import numpy as np
import pytest

from simcalib._validation import (
    check_labels,
    check_prediction_inputs,
    check_probabilities,
    check_scalar_in_range,
)


def test_binary_vector_is_expanded():
    p = check_probabilities([0.25, 1.0])
    np.testing.assert_allclose(p, [[0.75, 0.25], [0.0, 1.0]])


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[0.5, np.nan]], "NaN"),
        ([[0.5, np.inf]], "NaN or infinity"),
        ([[0.5, 0.6]], "sum to 1"),
        ([[1.5, -0.5]], r"\[0, 1\]"),
        (np.zeros((0, 3)), "empty"),
        (np.zeros((2, 2, 2)), "2-D"),
        ([[1.0]], "at least 2 columns"),
        ([], "empty"),
    ],
)
def test_bad_probabilities(bad, match):
    with pytest.raises(ValueError, match=match):
        check_probabilities(bad)


def test_labels_by_value_and_by_name():
    assert check_labels([0, 2, 1], 3).tolist() == [0, 2, 1]
    assert check_labels([1.0, 0.0], 2).tolist() == [1, 0]
    assert check_labels(["cat", "dog", "cat"], 2, labels=["dog", "cat"]).tolist() == [1, 0, 1]
    assert check_labels([30, 10], 2, labels=[10, 30]).tolist() == [1, 0]


@pytest.mark.parametrize(
    "y, kwargs, match",
    [
        ([0, 3], {}, r"\[0, 3\)"),
        ([-1, 0], {}, r"\[0, 3\)"),
        ([0.5, 1], {}, "integer"),
        (["a", "b"], {}, "labels="),
        (["a", "z"], {"labels": ["a", "b", "c"]}, "not in labels"),
        ([], {}, "empty"),
        ([[0, 1], [1, 0]], {}, "1-D"),
        ([0], {"labels": ["a", "b"]}, "one entry per probability column"),
    ],
)
def test_bad_labels(y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        check_labels(y, 3, **kwargs)


def test_length_mismatch():
    with pytest.raises(ValueError, match="different numbers of samples"):
        check_prediction_inputs([0, 1, 1], [[0.5, 0.5], [0.2, 0.8]])


def test_scalar_range():
    assert check_scalar_in_range(0.5, "alpha", lo=0, hi=1) == 0.5
    with pytest.raises(ValueError, match="alpha must be <= 1"):
        check_scalar_in_range(2.0, "alpha", lo=0, hi=1)
    with pytest.raises(ValueError, match="n_bins must be an integer"):
        check_scalar_in_range(2.5, "n_bins", lo=1, integer=True)
    with pytest.raises(ValueError, match="n_bins must be > 0"):
        check_scalar_in_range(0, "n_bins", lo=0, lo_open=True, integer=True)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), np.nan,
                                   np.float32("nan")])
def test_scalar_check_refuses_nan_and_inf(value):
    from simcalib._validation import check_scalar_in_range

    with pytest.raises(ValueError, match="alpha must be a finite real number"):
        check_scalar_in_range(value, "alpha", lo=0.0, hi=1.0)


def test_scalar_check_types_and_open_bounds():
    from simcalib._validation import check_scalar_in_range

    assert check_scalar_in_range(np.float32(0.5), "a", lo=0, hi=1) == 0.5
    assert check_scalar_in_range(np.int64(3), "n", lo=1, integer=True) == 3
    assert check_scalar_in_range(float("inf"), "t", lo=0, allow_inf=True) == float("inf")
    for bad in (True, np.bool_(True), "1", None):
        with pytest.raises(ValueError, match="must be a real number"):
            check_scalar_in_range(bad, "a")
    with pytest.raises(ValueError, match="must be < 1"):
        check_scalar_in_range(1.0, "a", hi=1, hi_open=True)
    with pytest.raises(ValueError, match="must be an integer"):
        check_scalar_in_range(2.0, "n", integer=True)
