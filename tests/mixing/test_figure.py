"""The mixing-grid figure."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from simcalib.mixing import PixelMixGenerator, SemanticMixer, plot_mixing_grid


def test_grid_rows_columns_and_captions():
    import matplotlib.pyplot as plt

    X = np.stack([np.full((3, 4, 4), v, dtype=np.uint8) for v in (0, 0, 200, 200)])
    y = ["cat", "cat", "dog", "dog"]
    gen = PixelMixGenerator().fit(X, y)
    raw = SemanticMixer(gen, labels="lambda").fit(X, y)
    ann = SemanticMixer(gen, lambda x: np.stack([1 - x[:, 0, 0, 0] / 200,
                                                 x[:, 0, 0, 0] / 200], 1),
                        n_calibration=20, random_state=0).fit(X, y)
    fig = plot_mixing_grid({"raw": raw, "annotated": ann}, "dog", "cat", n_rows=2,
                           class_names=["cat", "dog"], value_range=(0, 255))
    axes = np.array(fig.axes).reshape(4, 5)
    assert [ax.get_title() for ax in axes[0]] == [f"λ = {v:g}" for v in (0, .25, .5, .75, 1)]
    assert axes[0, 0].get_ylabel() == "raw" and axes[2, 0].get_ylabel() == "annotated"
    assert axes[0, 1].get_xlabel() == "conf 0.25"
    # the annotator reads the dog fraction back: ann equals lambda here
    assert axes[3, 3].get_xlabel() == "conf 0.75\nann 0.75"
    assert "'dog' (weight λ) and 'cat'" in fig._suptitle.get_text()
    plt.close(fig)


def test_grid_bad_lambdas():
    X = np.zeros((2, 1, 2, 2), dtype=np.float32)
    mixer = SemanticMixer(PixelMixGenerator().fit(X, [0, 1]), labels="lambda").fit(X, [0, 1])
    with pytest.raises(ValueError, match="lambdas"):
        plot_mixing_grid(mixer, 0, 1, lambdas=[])
