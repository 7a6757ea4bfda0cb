"""
================================
The smoother's soft-label matrix
================================

:class:`~simcalib.SimilaritySmoother` turns a matrix of class distances into
smooth labels: the true class keeps ``1 - alpha`` and the remaining
``alpha`` is spread over the other classes by a softmax of their negative,
z-normalised distances, sharpened by ``beta``. This example draws one row of
that matrix -- for CIFAR-100 with word-embedding distances when the offline
data folder ``../shared/data`` is there, else for scikit-learn's digits with
pixel distances -- shows how ``beta`` shapes it, and draws the whole matrix
for the digits with pixel distances.
"""

# %%
# One row: the smooth label of one class
# --------------------------------------
# The smoother fits a clone of its similarity source. With word embeddings
# the class names are enough (``X=None``); the offline GloVe vectors of the
# CIFAR-100 class names live in ``shared/data`` beside the repository
# (``$SIMCALIB_SHARED_DATA`` points elsewhere). Without them the example
# uses what ships with scikit-learn: the digits, with the mean pixel
# distance between the images of two classes.
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from simcalib.similarity import PixelDistanceSimilarity, WordEmbeddingSimilarity
from simcalib.smoothing import SimilaritySmoother


def shared_data_folder():
    """The offline data folder ``shared/data`` beside the repository, or None.

    ``$SIMCALIB_SHARED_DATA`` wins (a folder without the word vectors means
    "not available"); otherwise the folders above this example are searched
    for ``shared/data`` (the repository sits beside ``shared``).
    """
    if os.environ.get("SIMCALIB_SHARED_DATA"):
        folder = Path(os.environ["SIMCALIB_SHARED_DATA"])
        return folder if (folder / "wordvectors").is_dir() else None
    try:
        here = Path(__file__).resolve().parent
    except NameError:  # sphinx-gallery runs examples in their folder, without __file__
        here = Path.cwd().resolve()
    for parent in [here, *here.parents]:
        if (parent / "shared" / "data" / "wordvectors").is_dir():
            return parent / "shared" / "data"
    return None


DATA = shared_data_folder()
if DATA is not None:
    X, labels = None, (DATA / "cifar100" / "fine_label_names.txt").read_text().split()
    source = WordEmbeddingSimilarity(vectors=str(DATA / "wordvectors" / "glove.6B.50d_cifar100.txt"))
    focus, what = "dolphin", "CIFAR-100, GloVe word-embedding distances"
else:
    X, labels = load_digits(return_X_y=True)
    source = PixelDistanceSimilarity(metric="l2")
    focus, what = 3, "digits, pixel L2 distances (../shared/data not found)"

smoother = SimilaritySmoother(source, alpha=0.1, beta=2.0).fit(X, labels)
Q = smoother.soft_labels_
print(what)
print(Q.shape, "rows sum to", np.unique(Q.sum(axis=1).round(12)))

# %%
# ``transform`` looks up the row of each label. The true class keeps exactly
# ``1 - alpha = 0.9``; the classes that get most of the rest are the nearest
# ones (in the embedding, or in pixel space).
row = smoother.transform([focus])[0]
classes = smoother.classes_
K = len(classes)
order = np.argsort(-row, kind="stable")
top = order[: min(16, K)]

fig, (ax1, ax2) = plt.subplots(
    1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 3]}
)
ax1.bar([str(focus), f"{K - 1} others"], [row[list(classes).index(focus)], 1 - row.max()],
        color=["C3", "C0"])
ax1.set_ylabel("target probability")
ax1.set_title(r"$(1-\alpha)\,e_k + \alpha\, s_k$")
ax2.bar(range(len(top) - 1), row[top[1:]], color="C0")
ax2.set_xticks(range(len(top) - 1), [str(c) for c in classes[top[1:]]], rotation=60, ha="right")
ax2.axhline(0.1 / (K - 1), color="k", ls="--", lw=1, label=r"uniform: $\alpha / (K-1)$")
ax2.set_title(f"the {len(top) - 1} most similar classes share most of alpha = 0.1"
              if len(top) < K else "the other classes, most similar first")
ax2.legend()
fig.suptitle(what, fontsize=10)
fig.tight_layout()

# %%
# The effect of beta
# ------------------
# ``beta = 0`` gives every other class ``alpha / (K - 1)``; larger values
# concentrate the mass on the nearest classes. The paper uses values between
# 0.5 and 6. Below, the off-class masses of the same row sorted from the
# most to the least similar class, for several ``beta``.
fig, ax = plt.subplots(figsize=(7, 4))
for beta in [0.0, 0.5, 2.0, 6.0]:
    r = smoother.set_params(beta=beta).fit(X, labels).transform([focus])[0]
    ax.plot(np.sort(r)[::-1][1:], marker=".", ms=3, label=f"beta = {beta:g}")
ax.set_yscale("log")
ax.set_xlabel("other classes, most similar first")
ax.set_ylabel("target probability")
ax.legend()
fig.tight_layout()

# %%
# The whole matrix for the digits
# -------------------------------
# With pixel distances (:class:`~simcalib.PixelDistanceSimilarity`, the mean
# L2 distance between all pairs of images of two classes) the smoother needs
# the images. The diagonal, ``1 - alpha``, is masked to show the structure
# off it: each digit gives most of its ``alpha`` to a few look-alikes (1 and
# 7 to 8, 3 to 9, 4 to 6). The matrix need not be symmetric: every row is
# z-normalised and softmaxed on its own.
X, y = load_digits(return_X_y=True)
digits = SimilaritySmoother(PixelDistanceSimilarity(metric="l2"), alpha=0.1, beta=2.0).fit(X, y)
off_diagonal = np.ma.masked_array(digits.soft_labels_, mask=np.eye(10, dtype=bool))

fig, ax = plt.subplots(figsize=(5.5, 4.5))
im = ax.imshow(off_diagonal, cmap="viridis")
ax.set_xticks(range(10), digits.classes_)
ax.set_yticks(range(10), digits.classes_)
ax.set_xlabel("target class")
ax.set_ylabel("true class")
fig.colorbar(im, ax=ax, label="smooth-label mass")
fig.tight_layout()
plt.show()
