import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from simcalib.curation import ReferenceCurator
from simcalib.plotting import plot_curated_samples


@pytest.fixture
def fitted():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    X = rng.random((30, 3, 6, 6)).astype(np.float32) + y[:, None, None, None]
    X_ref = rng.random((6, 3, 6, 6)).astype(np.float32) + np.repeat(np.arange(3), 2)[:, None, None, None]
    cur = ReferenceCurator("pixels", n_neighbors=4, augment_per_class=2).fit(
        X, y, X_ref, np.repeat(np.arange(3), 2))
    return cur, X, X_ref, y


def test_one_row_per_sample_with_sample_bars_and_supporters(fitted):
    import matplotlib.pyplot as plt

    cur, X, X_ref, y = fitted
    fig = plot_curated_samples(cur, [0, 15], X, X_ref, class_names=["cat", "dog", "owl"],
                               top_k=3, n_supporters=4, given_labels=y)
    axes = fig.axes
    assert len(axes) == 2 * (2 + 4)
    assert axes[0].get_title().startswith("label: cat")
    names = ["cat", "dog", "owl"]
    ticks = zip(axes[1].get_yticks(), [t.get_text() for t in axes[1].get_yticklabels()])
    top_down = [name for _, name in sorted(ticks, reverse=True)]
    assert top_down == [names[k] for k in np.argsort(-cur.soft_labels_[0], kind="stable")]
    titles = [ax.get_title() for ax in axes[2:6]]
    assert all("w=" in t and ("(ref)" in t or "(aug)" in t) for t in titles)
    plt.close(fig)


def test_grey_images_and_bad_indices(fitted):
    import matplotlib.pyplot as plt

    cur, X, X_ref, y = fitted
    fig = plot_curated_samples(cur, 3, X[:, :1], X_ref[:, :1])
    assert len(fig.axes) == 6  # image, bars, 4 supporters
    plt.close(fig)
    with pytest.raises(ValueError, match="indices must be one or more sample indices"):
        plot_curated_samples(cur, [], X, X_ref)
    with pytest.raises(ValueError, match="index must be <="):
        plot_curated_samples(cur, [99], X, X_ref)
