"""Learning with noisy labels from a small trusted reference set (TrainRef-style).

The data flow::

    noisy labels y, reference set (X_ref, y_ref)
        -> embedding (autoencoder latents, classifier features, any callable)
        -> ReferenceCurator: per-sample soft labels, clean/ambiguous/OOD flags,
           supporters (reference augmentation and co-evolution rounds)
        -> SimilarityLSClassifier.fit(X, y, soft_targets=curator.soft_labels_)

``make_noisy_labels``
    Seeded symmetric, pair-flip and class-similarity label noise.
``ReferenceCurator``
    The curator.
``top_k_cosine``, ``normalize_rows``
    The chunked nearest-neighbour search it uses.

``make_noisy_labels`` needs numpy only; the rest needs torch and is imported
on first use.
"""

from importlib import import_module

from simcalib.curation._noise import NOISE_KINDS, make_noisy_labels

_LAZY = {
    "FLAGS": "simcalib.curation._curator",
    "ReferenceCurator": "simcalib.curation._curator",
    "normalize_rows": "simcalib.curation._neighbors",
    "top_k_cosine": "simcalib.curation._neighbors",
}

__all__ = [
    "FLAGS",
    "NOISE_KINDS",
    "ReferenceCurator",
    "make_noisy_labels",
    "normalize_rows",
    "top_k_cosine",
]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simcalib.curation' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
