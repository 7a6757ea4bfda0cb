"""
=================================================
Class similarity from word embeddings and WordNet
=================================================

The best source of class similarity in the paper is the distance between
word embeddings of the class *names*: it needs no images and captures that a
dolphin is closer to a whale than to a rose. This example computes it for the
100 CIFAR-100 classes with 50-dimensional GloVe vectors, compares it with a
distance in the WordNet noun hierarchy, prints the most similar classes of a
few classes, and draws both matrices ordered by CIFAR-100 superclass.

The vectors, the class-to-superclass table and WordNet (as an NLTK corpus)
come from the offline data folder ``shared/data`` beside the repository; no
download is involved. Without that folder the documentation build shows this
example's code without running it.
"""

# %%
# Locating the offline data
# -------------------------
import csv
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np


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
if DATA is None:
    raise SystemExit(
        "This example needs the offline data folder 'shared/data' beside the repository "
        "(GloVe vectors and WordNet); none was found. Set SIMCALIB_SHARED_DATA to its path."
    )

with open(DATA / "cifar100" / "fine_to_coarse.tsv", newline="") as f:
    rows = list(csv.DictReader(f, delimiter="\t"))
fine = [r["fine_label"] for r in rows]
superclass = {r["fine_label"]: r["coarse_label"] for r in rows}
print(f"{len(fine)} classes, {len(set(superclass.values()))} superclasses")

# %%
# Word-embedding distances
# ------------------------
# :class:`~simcalib.WordEmbeddingSimilarity` reads a word2vec text file and
# embeds each class name; multi-word names such as ``maple_tree`` average the
# vectors of their words. The class names are the labels themselves, so no
# images are needed (``X=None``).
from simcalib.similarity import WordEmbeddingSimilarity

glove = DATA / "wordvectors" / "glove.6B.50d_cifar100.txt"
word_sim = WordEmbeddingSimilarity(vectors=str(glove)).fit(None, fine)
word_sim.distances_.shape

# %%
# The five nearest classes of a few classes:
for name in ["dolphin", "maple_tree", "bicycle", "girl", "apple"]:
    nearest = ", ".join(f"{c} ({d:.2f})" for c, d in word_sim.most_similar(name, n=5))
    print(f"{name:>11}: {nearest}")

# %%
# WordNet distances
# -----------------
# :class:`~simcalib.WordNetSimilarity` places each class at a synset of the
# WordNet noun hierarchy and uses ``1 - Wu-Palmer similarity`` as the
# distance. The class -> synset table ships with the offline data (with a
# few corrections of the usual NBDT mapping: ``dolphin`` is the mammal
# ``dolphin.n.02``, not the dolphinfish); WordNet itself is read from the
# NLTK corpus in the same folder, without any download. NLTK indexes the
# corpus on first use, which takes a few seconds.
from simcalib.similarity import WordNetSimilarity

with open(DATA / "wordnet" / "cifar100_synsets.tsv", newline="") as f:
    synsets = {r["class"]: r["synset"] for r in csv.DictReader(f, delimiter="\t")}
print(synsets["dolphin"], synsets["maple_tree"], synsets["bicycle"])

wordnet_sim = WordNetSimilarity(
    synsets=synsets, metric="wup", nltk_data=DATA / "wordnet" / "nltk_data"
).fit(None, fine)

for name in ["dolphin", "maple_tree", "bicycle", "girl", "apple"]:
    nearest = ", ".join(f"{c} ({d:.2f})" for c, d in wordnet_sim.most_similar(name, n=5))
    print(f"{name:>11}: {nearest}")

# %%
# Heatmaps ordered by superclass
# ------------------------------
# CIFAR-100 groups its 100 classes into 20 superclasses of five. Ordering the
# rows and columns by superclass makes a good similarity show dark 5x5 blocks
# on the diagonal. The sources order their matrices by ``classes_`` (sorted
# names), so the order is computed from ``classes_``.
classes = list(word_sim.classes_)
order = np.argsort([f"{superclass[c]}/{c}" for c in classes], kind="stable")
groups = [superclass[classes[i]] for i in order]
starts = [i for i in range(len(groups)) if i == 0 or groups[i] != groups[i - 1]]

fig, axes = plt.subplots(1, 2, figsize=(13, 6.2))
for ax, (title, source) in zip(
    axes, [("GloVe word embeddings (L2)", word_sim), ("WordNet (1 - Wu-Palmer)", wordnet_sim)]
):
    D = source.distances_[np.ix_(order, order)]
    off = ~np.eye(len(D), dtype=bool)
    im = ax.imshow(D, cmap="magma", vmin=np.percentile(D[off], 1), vmax=np.percentile(D[off], 99))
    for s in starts[1:]:
        ax.axhline(s - 0.5, color="white", lw=0.3)
        ax.axvline(s - 0.5, color="white", lw=0.3)
    centres = [s + 2 for s in starts]
    ax.set_yticks(centres, [groups[s].replace("_", " ") for s in starts], fontsize=6)
    ax.set_xticks([])
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8, label="distance")
fig.tight_layout()

# %%
# Both matrices show superclass blocks on the diagonal -- people, trees and
# vehicles most clearly -- and links across superclasses (``dolphin`` is an
# "aquatic mammal", ``shark`` a "fish"). WordNet, a curated taxonomy close to
# the one behind the CIFAR-100 superclasses, gives sharper blocks but
# coarse values: many pairs share their lowest common ancestor and so their
# distance (see the ties for ``girl`` above), and the large natural outdoor
# scenes (cloud, forest, mountain, plain, sea) are far from every other
# class. Word embeddings learn from usage, which is both richer and noisier:
# ``apple`` sits closer to ``palm_tree``, ``caterpillar`` and ``mouse`` than
# to ``pear`` -- Apple the company is in the vectors too.
#
# How similar are the two notions? The rank correlation of the off-diagonal
# distances:
from scipy.stats import spearmanr

iu = np.triu_indices(len(classes), k=1)
rho = spearmanr(word_sim.distances_[iu], wordnet_sim.distances_[iu]).statistic
print(f"Spearman correlation, GloVe vs WordNet distances: {rho:.2f}")
plt.show()
