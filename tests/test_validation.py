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


# -- the one label encoder ------------------------------------------------------

@pytest.mark.parametrize(
    "y",
    [[3, 1, 2, 3, 1], ["b", "a", "c", "a"], [2.0, 0.0, 2.0], [True, False, True],
     np.array(["x", "y", "x"], dtype=object)],
    ids=["int", "str", "float", "bool", "object"],
)
def test_encode_labels_matches_label_encoder(y):
    from sklearn.preprocessing import LabelEncoder

    from simcalib._validation import encode_labels

    classes, codes = encode_labels(y)
    ref = LabelEncoder().fit(y)
    np.testing.assert_array_equal(classes, ref.classes_)
    np.testing.assert_array_equal(codes, ref.transform(y))
    assert codes.dtype == np.int64


def test_encode_labels_keeps_the_order_of_given_classes():
    from simcalib._validation import encode_labels

    rng = np.random.default_rng(0)
    classes = np.array(["dog", "ant", "cat", "bee"])  # unsorted
    y = classes[rng.integers(0, 4, 50)]
    got, codes = encode_labels(y, classes)
    np.testing.assert_array_equal(got, classes)
    np.testing.assert_array_equal(classes[codes], y)  # the brute-force definition
    # torch tensors and (n, 1) columns are labels too
    torch = pytest.importorskip("torch")
    _, codes = encode_labels(torch.tensor([[30], [10]]), [10, 30])
    assert codes.tolist() == [1, 0]


@pytest.mark.parametrize(
    "y, classes, kwargs, match",
    [([0, 3], [0, 1, 2], {}, r"labels \[3\] that are not in classes"),
     (np.array(["a", 1], dtype=object), None, {}, "comparable"),
     ([1, 2], ["1", "2"], {}, "not in classes"),
     ([0.5, 1.0], None, {}, "continuous"),
     ([0.0, np.nan], None, {}, "NaN"),
     (np.array(["a", None], dtype=object), None, {}, "missing"),
     (None, None, {}, "requires y"),
     ([], None, {}, "empty"),
     ([[0, 1]], None, {}, "1-D"),
     ([0, 1], [0, 0, 1], {}, "duplicates"),
     ([0, 1], [[0, 1]], {}, "1-D"),
     ([0, 0], None, {"min_classes": 2}, "at least 2 classes"),
     ([0, 0], [0], {"min_classes": 2}, "classes must hold at least 2")],
)
def test_encode_labels_errors(y, classes, kwargs, match):
    from simcalib._validation import encode_labels

    with pytest.raises(ValueError, match=match):
        encode_labels(y, classes, **kwargs)


# -- the one image check ----------------------------------------------------------

@pytest.mark.parametrize(
    "shape, ok",
    [((2, 3, 32, 32), True), ((2, 1, 28, 28), True), ((2, 16, 8, 8), True),
     ((2, 4, 4, 3), True),  # ambiguous: read as channels-first
     ((2, 32, 32, 3), False), ((2, 32, 32, 1), False), ((2, 64, 48, 4), False),
     ((2, 28, 28), True), ((32, 32, 3), False)],
)
def test_check_images_channels_last_rule(shape, ok):
    from simcalib._validation import check_images

    X = np.zeros(shape, np.uint8)
    if ok:
        out = check_images(X)
        assert out.ndim == 4 and out.dtype == np.uint8
        assert np.shares_memory(out, X)  # a view, never a copy
    else:
        with pytest.raises(ValueError, match="channels-last"):
            check_images(X)


def test_check_images_tensors_and_errors():
    from simcalib._validation import check_images

    torch = pytest.importorskip("torch")
    t = torch.zeros(2, 8, 8)
    assert check_images(t).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="permute"):
        check_images(torch.zeros(2, 8, 8, 3))
    with pytest.raises(ValueError, match="NaN"):
        check_images(torch.full((1, 1, 2, 2), float("nan")))
    with pytest.raises(ValueError, match="real numbers"):
        check_images(torch.zeros(1, 1, 2, 2, dtype=torch.bool))
    assert check_images(np.zeros((2, 12)), input_shape=(3, 2, 2)).shape == (2, 3, 2, 2)
    with pytest.raises(ValueError, match="does not fold"):
        check_images(np.zeros((2, 12)), input_shape=(3, 2, 3))
    with pytest.raises(ValueError, match=r"input_shape\[1\] must be an integer"):
        check_images(np.zeros((2, 12)), input_shape=(3, 2.0, 2))


def test_docstring_examples():
    import doctest

    from simcalib import _validation

    assert doctest.testmod(_validation, raise_on_error=False).failed == 0
