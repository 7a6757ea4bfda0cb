"""
================================
The smoother's soft-label matrix
================================

:class:`~simcalib.SimilaritySmoother` turns a matrix of class distances into
smooth labels: the true class keeps ``1 - alpha`` and the remaining
``alpha`` is spread over the other classes by a softmax of their negative,
z-normalised distances, sharpened by ``beta``. This example draws one row of
that matrix for CIFAR-100 with word-embedding distances, shows how ``beta``
shapes it, and draws the whole matrix for the digits with pixel distances.
"""

# %%
# One row: the smooth label of "dolphin"
# --------------------------------------
# The smoother fits a clone of its similarity source; with word embeddings
# the class names are enough (``X=None``). The offline GloVe vectors live in
# ``shared/data`` beside the repository.
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


def shared_data_folder():
    """The offline data folder ``shared/data`` beside the repository.

    ``$SIMCALIB_SHARED_DATA`` wins; otherwise the folders above this example
    are searched for ``shared/data`` (the repository sits beside ``shared``).
    """
    if os.environ.get("SIMCALIB_SHARED_DATA"):
        folder = Path(os.environ["SIMCALIB_SHARED_DATA"])
        if (folder / "wordvectors").is_dir():
            return folder
        raise FileNotFoundError(f"SIMCALIB_SHARED_DATA={folder} has no 'wordvectors' folder")
    try:
        here = Path(__file__).resolve().parent
    except NameError:  # sphinx-gallery runs examples in their folder, without __file__
        here = Path.cwd().resolve()
    for parent in [here, *here.parents]:
        if (parent / "shared" / "data" / "wordvectors").is_dir():
            return parent / "shared" / "data"
    raise FileNotFoundError(
        "This example needs the offline data folder 'shared/data' beside the "
        f"repository; none was found above {here}. Set SIMCALIB_SHARED_DATA "
        "to its path."
    )


DATA = shared_data_folder()
names = (DATA / "cifar100" / "fine_label_names.txt").read_text().split()

from simcalib.similarity import WordEmbeddingSimilarity
from simcalib.smoothing import SimilaritySmoother

words = WordEmbeddingSimilarity(vectors=str(DATA / "wordvectors" / "glove.6B.50d_cifar100.txt"))
smoother = SimilaritySmoother(words, alpha=0.1, beta=2.0).fit(None, names)
Q = smoother.soft_labels_
print(Q.shape, "rows sum to", np.unique(Q.sum(axis=1).round(12)))

# %%
# ``transform`` looks up the row of each label. The true class keeps exactly
# ``1 - alpha = 0.9``; the ten classes that get most of the rest are the
# nearest ones in the embedding.
row = smoother.transform(["dolphin"])[0]
classes = smoother.classes_
order = np.argsort(-row, kind="stable")
top = order[:16]

fig, (ax1, ax2) = plt.subplots(
    1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 3]}
)
ax1.bar(["dolphin", "99 others"], [row[list(classes).index("dolphin")], 1 - row.max()],
        color=["C3", "C0"])
ax1.set_ylabel("target probability")
ax1.set_title(r"$(1-\alpha)\,e_k + \alpha\, s_k$")
ax2.bar(range(len(top) - 1), row[top[1:]], color="C0")
ax2.set_xticks(range(len(top) - 1), classes[top[1:]], rotation=60, ha="right")
ax2.axhline(0.1 / 99, color="k", ls="--", lw=1, label=r"uniform: $\alpha / (K-1)$")
ax2.set_title("the 15 most similar classes share most of alpha = 0.1")
ax2.legend()
fig.tight_layout()

# %%
# The effect of beta
# ------------------
# ``beta = 0`` gives every other class ``alpha / (K - 1)``; larger values
# concentrate the mass on the nearest classes. The paper uses values between
# 0.5 and 6. Below, the off-class masses of the "dolphin" row sorted from the
# most to the least similar class, for several ``beta``.
fig, ax = plt.subplots(figsize=(7, 4))
for beta in [0.0, 0.5, 2.0, 6.0]:
    r = smoother.set_params(beta=beta).fit(None, names).transform(["dolphin"])[0]
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
from sklearn.datasets import load_digits

from simcalib.similarity import PixelDistanceSimilarity

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
