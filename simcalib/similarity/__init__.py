"""Class similarity sources: learn a (K, K) matrix of distances between classes.

Every source is a scikit-learn style estimator whose ``fit(X, y)`` learns
``classes_`` (sorted labels) and ``distances_`` (symmetric, zero diagonal):

* :class:`PixelDistanceSimilarity` -- mean pairwise L1/L2 between inputs;
* :class:`AutoencoderSimilarity` -- the same between autoencoder latents (torch);
* :class:`WordEmbeddingSimilarity` -- distances between class-name embeddings;
* :class:`WordNetSimilarity` -- distances in the WordNet hierarchy (nltk);
* :class:`PrecomputedSimilarity` -- a user-supplied matrix.
"""

from simcalib.similarity._autoencoder import AutoencoderSimilarity, default_latent_dim
from simcalib.similarity._base import BaseSimilarity
from simcalib.similarity._pixel import (
    PixelDistanceSimilarity,
    mean_pairwise_class_distances,
)
from simcalib.similarity._precomputed import PrecomputedSimilarity
from simcalib.similarity._vectors import WordVectors, load_word_vectors
from simcalib.similarity._word_embedding import WordEmbeddingSimilarity
from simcalib.similarity._wordnet import WordNetSimilarity

__all__ = [
    "AutoencoderSimilarity",
    "BaseSimilarity",
    "PixelDistanceSimilarity",
    "PrecomputedSimilarity",
    "WordEmbeddingSimilarity",
    "WordNetSimilarity",
    "WordVectors",
    "default_latent_dim",
    "load_word_vectors",
    "mean_pairwise_class_distances",
]
