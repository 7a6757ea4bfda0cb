"""Class similarity sources: learn a (K, K) matrix of distances between classes.

Every source is a scikit-learn style estimator whose ``fit(X, y)`` learns
``classes_`` (sorted labels) and ``distances_`` (symmetric, zero diagonal):

* :class:`PixelDistanceSimilarity` -- mean pairwise L1/L2 between inputs;
* :class:`AutoencoderSimilarity` -- the same between autoencoder latents (torch);
* :class:`WordEmbeddingSimilarity` -- distances between class-name embeddings;
* :class:`WordNetSimilarity` -- distances in the WordNet hierarchy (nltk);
* :class:`PrecomputedSimilarity` -- a user-supplied matrix.
"""

from simcalib.similarity._base import BaseSimilarity
from simcalib.similarity._pixel import (
    PixelDistanceSimilarity,
    mean_pairwise_class_distances,
)
from simcalib.similarity._precomputed import PrecomputedSimilarity
from simcalib.similarity._vectors import WordVectors, load_word_vectors
from simcalib.similarity._word_embedding import WordEmbeddingSimilarity

__all__ = [
    "BaseSimilarity",
    "PixelDistanceSimilarity",
    "PrecomputedSimilarity",
    "WordEmbeddingSimilarity",
    "WordVectors",
    "load_word_vectors",
    "mean_pairwise_class_distances",
]
