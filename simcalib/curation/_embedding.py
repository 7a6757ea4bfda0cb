"""The embeddings a curator votes in: autoencoder latents, classifier features, pixels, callables."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from simcalib._validation import _is_torch_tensor, check_finite_2d

__all__ = ["fit_embedding", "is_trainable_classifier", "check_embedded"]


def _is_classifier(obj):
    from simcalib.classifier import SimilarityLSClassifier

    return isinstance(obj, SimilarityLSClassifier)


def is_trainable_classifier(obj):
    """Whether ``obj`` is a :class:`~simcalib.classifier.SimilarityLSClassifier` (fitted or not)."""
    return _is_classifier(obj)


def _is_fitted_classifier(obj):
    return _is_classifier(obj) and hasattr(obj, "module_") and hasattr(obj, "soft_labels_")


def _pixels(X):
    X = X.detach().cpu().numpy() if _is_torch_tensor(X) else np.asarray(X)
    return X.reshape(len(X), -1).astype(np.float32)


def fit_embedding(embedding, X, y, random_state=None):
    """Resolve a curator's ``embedding`` parameter into ``(fitted object, function)``.

    Parameters
    ----------
    embedding : None, "pixels", AutoencoderSimilarity, SimilarityLSClassifier or callable
        - None: ``AutoencoderSimilarity(random_state=random_state, verbose=0)``;
        - an :class:`~simcalib.similarity.AutoencoderSimilarity`: its
          encoder (:meth:`~simcalib.similarity.AutoencoderSimilarity.encode`);
          a clone is fitted on the training images unless it is already
          fitted;
        - a :class:`~simcalib.classifier.SimilarityLSClassifier`: its
          penultimate features (:meth:`~simcalib.classifier.SimilarityLSClassifier.embed`);
          a clone is trained on the training images with their (noisy)
          labels unless it is already fitted;
        - ``"pixels"``: the flattened pixels;
        - a callable ``f(X) -> (n, d)`` array, used as is.
    X, y : training samples and their (noisy) labels
        The references are left out on purpose (they calibrate the OOD
        threshold, which needs samples the embedding has not fitted).
    random_state : int or None
        Seed of the default autoencoder.

    Returns
    -------
    fitted : object
        The fitted autoencoder or classifier, the callable, or ``"pixels"``.
    transform : callable
        ``transform(X) -> ndarray of shape (n, d)``.
    """
    from simcalib.similarity import AutoencoderSimilarity

    if embedding is None:
        embedding = AutoencoderSimilarity(random_state=random_state, verbose=0)
    if isinstance(embedding, str):
        if embedding != "pixels":
            raise ValueError(
                "embedding must be None, 'pixels', an AutoencoderSimilarity, a "
                f"SimilarityLSClassifier or a callable; got {embedding!r}"
            )
        return embedding, _pixels
    if isinstance(embedding, AutoencoderSimilarity):
        if not hasattr(embedding, "autoencoder_"):
            embedding = clone(embedding).fit(X, y)
        return embedding, embedding.encode
    if _is_classifier(embedding):
        if not _is_fitted_classifier(embedding):
            embedding = clone(embedding).fit(X, y)
        return embedding, embedding.embed
    if callable(embedding):
        return embedding, embedding
    raise ValueError(
        "embedding must be None, 'pixels', an AutoencoderSimilarity, a "
        f"SimilarityLSClassifier or a callable; got {type(embedding).__name__}"
    )


def check_embedded(Z, n_samples, name, n_features=None):
    """An embedding's output as a finite (n, d) float32 array (named errors)."""
    if _is_torch_tensor(Z):
        Z = Z.detach().cpu().numpy()
    Z = check_finite_2d(Z, name=f"the embedding of {name}", dtype=np.float32)
    if Z.shape[0] != n_samples:
        raise ValueError(
            f"the embedding of {name} has {Z.shape[0]} rows for {n_samples} samples"
        )
    if n_features is not None and Z.shape[1] != n_features:
        raise ValueError(
            f"the embedding of {name} has {Z.shape[1]} features, the training "
            f"samples' has {n_features}"
        )
    return Z
