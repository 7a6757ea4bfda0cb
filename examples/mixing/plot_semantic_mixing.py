"""
===========================================================
Semantic mixing with calibrated re-annotation on the digits
===========================================================

Calibration-aware semantic mixing (CSM, Luo et al., ICML 2025) trains a
classifier on real images plus *generated* images that mix two classes,
each labelled with the class evidence it really shows rather than with its
mixing ratio. This example runs the whole data flow of
:mod:`simcalib.mixing` offline on scikit-learn's digits, in the
over-confident regime of a tiny training set (4 images per class):

1. a one-hot network, temperature-scaled on a held-out split, is the
   *annotator*;
2. a class-conditional VAE and pixel mixup are the *generators*;
3. :class:`~simcalib.mixing.SemanticMixer` renders mixes, lets the
   annotator score them and fits the isotonic map ``lambda -> g(lambda)``;
4. :class:`~simcalib.mixing.SemanticMixingClassifier` trains on the real
   images plus fresh mixes every epoch, with the cross-entropy + L2 loss.

One seed, so the numbers at the end are an illustration; the benchmark in
``docs/results/semantic-mixing-digits`` has three seeds and every ablation.
"""

# %%
# Data: a tiny training split, a held-out split, the rest for testing
# -------------------------------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split

from simcalib.calibration import CalibratedClassifier, TemperatureScaling
from simcalib.classifier import SimilarityLSClassifier
from simcalib.metrics import calibration_report
from simcalib.mixing import (
    ConditionalVAEGenerator,
    PixelMixGenerator,
    SemanticMixer,
    SemanticMixingClassifier,
    plot_mixing_grid,
)
from simcalib.nn import CrossEntropyL2

X, y = load_digits(return_X_y=True)
X = (X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=40, stratify=y, random_state=0)
X_hold, X_test, y_hold, y_test = train_test_split(
    X_rest, y_rest, train_size=100, stratify=y_rest, random_state=0)


def network(**kwargs):
    """A small CNN trained long and without weight decay: it memorises."""
    return SimilarityLSClassifier(
        "small_cnn", similarity="onehot", alpha=0.0, module__width=32, max_epochs=200,
        batch_size=10, lr=3e-3, lr_schedule=None, optimizer__weight_decay=0.0,
        random_state=0, device="cpu", verbose=0, **kwargs)


# %%
# The annotator: one-hot network + temperature scaling on held-out data
# ---------------------------------------------------------------------
one_hot = network().fit(X_train, y_train)
annotator = CalibratedClassifier(FrozenEstimator(one_hot), TemperatureScaling())
annotator.fit(X_hold, y_hold)

# %%
# Two generators behind one interface
# -----------------------------------
# ``generate(class_weights (n, K), random_state) -> images (n, C, H, W)``.
# The VAE decodes one noise vector under a *mixed* class vector -- "same
# noise, mixed conditioning" -- and pixel mixup blends two real images.
vae = ConditionalVAEGenerator(latent_dim=8, width=16, epochs=300, batch_size=40,
                              aux_weight=1.0, random_state=0).fit(X_train, y_train)
pixel = PixelMixGenerator("mixup").fit(X_train, y_train)

mixers = {
    name: SemanticMixer(gen, annotator, labels="calibrated", random_state=0).fit(
        X_train, y_train)
    for name, gen in (("pixel mixup", pixel), ("CVAE", vae))
}

# %%
# Rows of mixes of a 3 and an 8, captioned with their soft labels
# ----------------------------------------------------------------
# ``conf`` is the re-annotated soft label ``g(lambda)`` of the 3; ``ann`` is
# the evidence the annotator finds in that very image.
fig = plot_mixing_grid(mixers, 3, 8, n_rows=2, random_state=0, value_range=(0, 1))
plt.show()

# %%
# The re-annotation maps
# ----------------------
# Grey: the annotator's evidence ``p_a / (p_a + p_b)`` for 1000 mixes at
# evenly spaced ratios; red: the isotonic fit ``g``. A memorising annotator
# sees a pixel mix as mostly one class or the other, so its ``g`` is much
# steeper than the ratio.
fig, axes = plt.subplots(1, 2, figsize=(7, 3.3))
grid = np.linspace(0, 1, 201)
for ax, (name, mixer) in zip(axes, mixers.items()):
    ax.scatter(mixer.calibration_lambdas_, mixer.calibration_evidence_, s=3,
               alpha=0.3, color="tab:gray")
    ax.plot(grid, mixer.confidence(grid), color="tab:red", label="g(λ)")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="λ")
    ax.set_title(name)
    ax.set_xlabel("mixing ratio λ")
axes[0].set_ylabel("annotated evidence")
axes[0].legend()
fig.tight_layout()
plt.show()

# %%
# Training on real images plus 20 fresh mixes per epoch
# -----------------------------------------------------
# With and without the re-annotation, against the one-hot network and
# temperature scaling. Per-sample soft targets reach the classifier through
# ``fit(X, y, soft_targets=...)``; :class:`~simcalib.mixing.SemanticMixingClassifier`
# builds them and refreshes the mixes every epoch.
raw = SemanticMixer(vae, labels="lambda").fit(X_train, y_train)
models = {
    "one-hot": one_hot,
    "one-hot + TS": annotator,
    "CVAE mixes, λ labels, CE+L2": SemanticMixingClassifier(
        network(criterion=CrossEntropyL2), raw, n_mixed=20, random_state=0,
    ).fit(X_train, y_train),
    "CVAE mixes, g(λ) labels, CE+L2": SemanticMixingClassifier(
        network(criterion=CrossEntropyL2), mixers["CVAE"], n_mixed=20, random_state=0,
    ).fit(X_train, y_train),
}
print(f"{'model':34s} {'acc %':>6s} {'ECE %':>6s} {'NLL':>6s}")
for name, model in models.items():
    report = calibration_report(y_test, model.predict_proba(X_test))
    print(f"{name:34s} {100 * report['accuracy']:6.1f} "
          f"{100 * report['hist_ece_p']:6.2f} {report['nll']:6.3f}")

# %%
# References: H. Luo, L. Tao, M. Dong, C. Xu, "Beyond One-Hot Labels:
# Semantic Mixing for Model Calibration", ICML 2025; H. Zhang et al.,
# "mixup: Beyond Empirical Risk Minimization", ICLR 2018.
