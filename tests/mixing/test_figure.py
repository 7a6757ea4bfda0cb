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

    def annotator(x):
        # the dog fraction f = pixel / 200, distorted: evidence f^2 / (f^2 + (1 - f)^2),
        # so the caption's annotation differs from lambda and from g(lambda)
        f = x[:, 0, 0, 0].astype(np.float64) / 200
        return np.stack([(1 - f) ** 2, f**2], 1)

    # 4 calibration ratios 0, 1/3, 2/3, 1 (evidence 0, 0.2, 0.8, 1): g(0.75) ~ 0.85
    # (uint8 mixes round the pixels a little)
    ann = SemanticMixer(gen, annotator, n_calibration=4, random_state=0).fit(X, y)
    fig = plot_mixing_grid({"raw": raw, "annotated": ann}, "dog", "cat", n_rows=2,
                           class_names=["cat", "dog"], value_range=(0, 255))
    axes = np.array(fig.axes).reshape(4, 5)
    lambdas = (0, .25, .5, .75, 1)
    assert [ax.get_title() for ax in axes[0]] == [f"λ = {v:g}" for v in lambdas]
    assert axes[0, 0].get_ylabel() == "raw" and axes[2, 0].get_ylabel() == "annotated"
    assert axes[0, 1].get_xlabel() == "conf 0.25"
    # conf is the fitted g(0.75), ann the evidence in the very image: 0.5625 / 0.625
    np.testing.assert_allclose(ann.confidence(np.array([0.75])), [0.85], atol=0.005)
    assert axes[3, 3].get_xlabel() == "conf 0.85\nann 0.90"
    # each cell shows the mix at its ratio: pixel 200 * lambda on the 0..255 scale
    for row in axes:
        for ax, lam in zip(row, lambdas):
            np.testing.assert_allclose(ax.get_images()[0].get_array(), 200 * lam / 255,
                                       atol=1 / 255)
    assert "'dog' (weight λ) and 'cat'" in fig._suptitle.get_text()
    plt.close(fig)


def test_grid_bad_lambdas():
    X = np.zeros((2, 1, 2, 2), dtype=np.float32)
    mixer = SemanticMixer(PixelMixGenerator().fit(X, [0, 1]), labels="lambda").fit(X, [0, 1])
    with pytest.raises(ValueError, match="lambdas"):
        plot_mixing_grid(mixer, 0, 1, lambdas=[])
