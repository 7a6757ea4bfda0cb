"""ReliabilityDisplay draws the metric's own bins (Agg backend)."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from simcalib.metrics import expected_calibration_error  # noqa: E402
from simcalib.plotting import ReliabilityDisplay  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _data(rng, n=400, k=4):
    z = rng.normal(size=(n, k)) * 3
    p = np.exp(z - z.max(1, keepdims=True))
    return rng.integers(0, k, n), p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("mode", ["prediction", "output"])
def test_bins_equal_brute_force_and_ece_matches_metric(rng, mode):
    y, p = _data(rng)
    disp = ReliabilityDisplay.from_predictions(y, p, mode=mode, n_bins=10, name="net")
    if mode == "prediction":
        values, hits = p.max(1), p.argmax(1) == y
    else:
        values, hits = p.ravel(), np.eye(4)[y].ravel().astype(bool)
    edges = np.linspace(0, 1, 11)
    for m in range(10):
        inside = (values > edges[m]) & (values <= edges[m + 1])
        if m == 0:
            inside |= values == 0
        assert disp.bin_counts[m] == inside.sum()
        if inside.any():
            assert disp.bin_accuracy[m] == pytest.approx(hits[inside].mean())
            assert disp.bin_confidence[m] == pytest.approx(values[inside].mean())
        else:
            assert np.isnan(disp.bin_accuracy[m])
    ece = expected_calibration_error(y, p, mode=mode, n_bins=10)
    assert disp.ece == pytest.approx(ece, rel=1e-12)
    # drawing: bar heights are the accuracies, legend shows the ECE
    heights = [b.get_height() for b in disp.accuracy_bars_]
    np.testing.assert_allclose(heights, np.nan_to_num(disp.bin_accuracy))
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert f"net (ECE = {100 * ece:.2f}%)" in legend
    gaps = [b.get_height() for b in disp.gap_bars_]
    expected_gaps = np.where(
        disp.bin_counts > 0, np.abs(disp.bin_confidence - disp.bin_accuracy), 0
    )
    np.testing.assert_allclose(gaps, np.nan_to_num(expected_gaps))
    assert disp.hist_ax_ is not None
    assert disp.figure_ is disp.ax_.figure


def test_from_estimator_with_string_labels(tmp_path):
    X, y01 = make_classification(n_samples=200, n_features=5, random_state=0)
    y = np.array(["neg", "pos"])[y01]
    model = LogisticRegression().fit(X, y)
    fig, ax = plt.subplots()
    disp = ReliabilityDisplay.from_estimator(model, X, y, ax=ax, show_histogram=False)
    assert disp.ax_ is ax
    assert disp.hist_ax_ is None
    assert disp.name == "LogisticRegression"
    assert ax.get_title() == "LogisticRegression (P)"
    expected = expected_calibration_error(y, model.predict_proba(X), labels=model.classes_)
    assert disp.ece == pytest.approx(expected)
    fig.savefig(tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_from_estimator_needs_predict_proba():
    from sklearn.svm import LinearSVC

    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    with pytest.raises(ValueError, match="predict_proba"):
        ReliabilityDisplay.from_estimator(LinearSVC().fit(X, y), X, y)


def test_plot_grid_side_by_side(rng, tmp_path):
    y, p = _data(rng)
    sharp = p**3 / (p**3).sum(1, keepdims=True)
    displays = [
        ReliabilityDisplay.from_predictions(y, q, name=n, mode=m)
        for q, n in [(p, "a"), (sharp, "b")]
        for m in ("prediction", "output")
    ]
    plt.close("all")
    fig, axes = ReliabilityDisplay.plot_grid(displays, ncols=3)
    assert axes.shape == (2, 3)
    assert not axes[1, 2].get_visible()
    assert axes[0, 0].get_title() == "a (P)" and axes[0, 1].get_title() == "a (O)"
    fig.savefig(tmp_path / "grid.png")
    with pytest.raises(ValueError, match="displays"):
        ReliabilityDisplay.plot_grid([])


def test_bad_options(rng):
    y, p = _data(rng, n=20)
    with pytest.raises(ValueError, match="mode"):
        ReliabilityDisplay.from_predictions(y, p, mode="all")
    with pytest.raises(ValueError, match="n_bins"):
        ReliabilityDisplay.from_predictions(y, p, n_bins=0)


def test_import_does_not_load_matplotlib():
    code = (
        "import sys, simcalib.plotting, simcalib.metrics; "
        "assert 'matplotlib' not in sys.modules; assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
