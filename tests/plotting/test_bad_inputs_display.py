"""Bad inputs to ReliabilityDisplay: a ValueError (or NotFittedError) naming the argument."""

import matplotlib
import numpy as np
import pytest
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from simcalib.plotting import ReliabilityDisplay

matplotlib.use("Agg")

Y = np.array([0, 1, 2, 1, 0, 2, 1, 1])
P = np.array([
    [0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3],
    [0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.3, 0.6, 0.1], [0.2, 0.5, 0.3],
])


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_bins": np.nan}, "n_bins must be"),
        ({"n_bins": 0}, "n_bins must be"),
        ({"mode": "P"}, "mode must be one of"),
        ({"strategy": "equal"}, "strategy must be one of"),
        ({"output_normalization": "K"}, "output_normalization must be one of"),
        ({"name": 3}, "name must be a string"),
        ({"ax": "axes"}, "ax must be a matplotlib Axes"),
    ],
)
def test_from_predictions_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReliabilityDisplay.from_predictions(Y, P, **kwargs)


@pytest.mark.parametrize(
    "y, p, message",
    [
        (Y, np.where(P > 0.7, np.nan, P), "y_prob contains NaN"),
        (Y, P * 2, r"y_prob must hold probabilities in \[0, 1\]"),
        (Y[:5], P, "different numbers of samples"),
        (np.r_[Y[:-1], 5], P, "y_true must hold class indices"),
    ],
)
def test_from_predictions_bad_data(y, p, message):
    with pytest.raises(ValueError, match=message):
        ReliabilityDisplay.from_predictions(y, p)


def test_from_estimator_unfitted_and_without_predict_proba():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 2, 30)
    with pytest.raises(NotFittedError):
        ReliabilityDisplay.from_estimator(LogisticRegression(), X, y)
    with pytest.raises(ValueError, match="estimator must have predict_proba"):
        ReliabilityDisplay.from_estimator(DummyRegressor().fit(X, y), X, y)


EDGES = np.linspace(0, 1, 6)


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((EDGES, np.zeros(3), np.zeros(5), np.ones(5), 0.1), {}, "bin_accuracy must have one entry"),
        ((EDGES, np.zeros(5), np.zeros(5), np.ones(4), 0.1), {}, "bin_counts must have one entry"),
        ((EDGES[::-1], np.zeros(5), np.zeros(5), np.ones(5), 0.1), {}, "bin_edges must increase"),
        ((EDGES * 2, np.zeros(5), np.zeros(5), np.ones(5), 0.1), {}, "bin_edges must increase"),
        ((np.array([0.5]), np.zeros(0), np.zeros(0), np.zeros(0), 0.1), {},
         "bin_edges must hold at least 2"),
        ((EDGES, np.zeros(5), np.zeros(5), -np.ones(5), 0.1), {}, "bin_counts must be finite"),
        ((EDGES, np.full(5, 2.0), np.zeros(5), np.ones(5), 0.1), {}, "bin_accuracy must lie"),
        ((EDGES, np.zeros(5), np.full(5, np.nan), np.ones(5), 0.1), {},
         "bin_confidence must lie"),
        ((EDGES, np.zeros(5), np.zeros(5), np.ones(5), np.nan), {}, "ece must be"),
        ((EDGES, np.zeros(5), np.zeros(5), np.ones(5), -0.1), {}, "ece must be"),
        ((EDGES, np.zeros(5), np.zeros(5), np.ones(5), 0.1), {"mode": "x"}, "mode must be one of"),
        ((EDGES, np.zeros((5, 1)), np.zeros(5), np.ones(5), 0.1), {}, "bin_accuracy must be 1-D"),
        ((EDGES, ["a"] * 5, np.zeros(5), np.ones(5), 0.1), {}, "bin_accuracy must be a numeric"),
    ],
)
def test_hand_built_display_is_checked_when_drawn(args, kwargs, message):
    display = ReliabilityDisplay(*args, **kwargs)
    with pytest.raises(ValueError, match=message):
        display.plot()


def test_empty_bins_may_hold_nan():
    acc = np.array([np.nan, 0.5, np.nan, 0.8, 1.0])
    counts = np.array([0, 2, 0, 3, 4])
    display = ReliabilityDisplay(EDGES, acc, acc, counts, 0.0).plot()
    assert len(display.accuracy_bars_) == 5


@pytest.mark.parametrize(
    "displays, kwargs, message",
    [
        ([], {}, "displays must contain at least one"),
        ([1, 2], {}, "displays must hold ReliabilityDisplay objects; entry 0 is a int"),
        (None, {"ncols": 0}, "ncols must be"),
        (None, {"ncols": np.nan}, "ncols must be"),
        (None, {"ncols": 1.5}, "ncols must be"),
        (None, {"figsize": (4,)}, "figsize must be"),
        (None, {"figsize": (4, np.inf)}, "figsize must be"),
        (None, {"figsize": (4, -1)}, "figsize must be"),
    ],
)
def test_plot_grid_bad_inputs(displays, kwargs, message):
    if displays is None:
        displays = [ReliabilityDisplay.from_predictions(Y, P)]
    with pytest.raises(ValueError, match=message):
        ReliabilityDisplay.plot_grid(displays, **kwargs)
