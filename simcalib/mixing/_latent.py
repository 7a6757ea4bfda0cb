"""Mixing generator that decodes interpolated class latents of simcalib's autoencoder."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from simcalib._validation import check_scalar_in_range
from simcalib.mixing._generators import BaseGenerator, torch_seed

__all__ = ["AutoencoderLatentGenerator"]


class AutoencoderLatentGenerator(BaseGenerator):
    """Decode ``sum_k w_k mu_k + (sum_k w_k sigma_k) * eps`` with the AE similarity's autoencoder.

    Each class ``k`` is summarised in the latent space of the convolutional
    autoencoder of :class:`~simcalib.similarity.AutoencoderSimilarity` by
    the mean ``mu_k`` and per-dimension standard deviation ``sigma_k`` of its
    training codes. A class mixture ``w`` is rendered by decoding the
    interpolated mean plus the interpolated spread times a noise vector
    ``eps ~ N(0, I)`` -- the same ``eps`` for every ratio of a row, so that
    the rows are "same noise, mixed conditioning". No generative training
    beyond the autoencoder: the cheapest learned generator, and the one the
    AE class similarity already pays for.

    Parameters
    ----------
    autoencoder : AutoencoderSimilarity or None, default=None
        Cloned and fitted on ``(X, y)`` in :meth:`fit`; None means
        ``AutoencoderSimilarity(verbose=0)``. To reuse a fitted one (for
        example the similarity of a class-similarity classifier), pass it
        wrapped in :class:`sklearn.frozen.FrozenEstimator`.
    noise_scale : float >= 0, default=1.0
        Multiplies ``eps``; 0 decodes the interpolated class means.
    batch_size : int, default=256
        Encoding and decoding batch size.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels; column ``k`` of the class weights is ``classes_[k]``.
    image_shape_ : tuple of int
        ``(C, H, W)``.
    autoencoder_ : AutoencoderSimilarity
        The fitted similarity whose ``autoencoder_`` decodes.
    latent_means_, latent_stds_ : ndarray of shape (n_classes, latent_dim), float32
        Per-class mean and standard deviation of the training codes.
    data_range_ : tuple of float
        Smallest and largest training pixel value; generated pixels are
        clipped to it.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.similarity import AutoencoderSimilarity
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((40, 1, 8, 8)).astype(np.float32)
    >>> y = np.repeat([0, 1], 20)
    >>> ae = AutoencoderSimilarity(epochs=1, random_state=0, verbose=0)
    >>> gen = AutoencoderLatentGenerator(ae).fit(X, y)
    >>> gen.generate([[0.5, 0.5]], random_state=0).shape
    (1, 1, 8, 8)
    """

    def __init__(self, autoencoder=None, *, noise_scale=1.0, batch_size=256):
        self.autoencoder = autoencoder
        self.noise_scale = noise_scale
        self.batch_size = batch_size

    def fit(self, X, y):
        """Fit the autoencoder and the per-class latent statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Training images.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : AutoencoderLatentGenerator
        """
        from sklearn.frozen import FrozenEstimator

        from simcalib.similarity import AutoencoderSimilarity

        check_scalar_in_range(self.noise_scale, "noise_scale", lo=0.0)
        check_scalar_in_range(self.batch_size, "batch_size", lo=1, integer=True)
        X, classes, codes = self._fit_labels(X, y)
        ae = self.autoencoder
        if ae is None:
            ae = AutoencoderSimilarity(verbose=0)
        if isinstance(ae, FrozenEstimator):
            fitted = ae.estimator
            check_is_fitted(fitted, "autoencoder_")
        else:
            if not isinstance(ae, AutoencoderSimilarity):
                raise ValueError(
                    "autoencoder must be an AutoencoderSimilarity (or a FrozenEstimator "
                    f"of a fitted one) or None; got {type(ae).__name__}"
                )
            fitted = clone(ae).fit(X, y)
        latents = fitted.encode(X).astype(np.float32)
        K = len(classes)
        counts = np.bincount(codes, minlength=K).astype(np.float32)[:, None]
        sums = np.zeros((K, latents.shape[1]), dtype=np.float64)
        np.add.at(sums, codes, latents)
        means = sums / counts
        sq = np.zeros_like(sums)
        np.add.at(sq, codes, (latents - means[codes]) ** 2)
        self.classes_ = classes
        self.image_shape_ = tuple(int(s) for s in X.shape[1:])
        self.autoencoder_ = fitted
        self.latent_means_ = means.astype(np.float32)
        self.latent_stds_ = np.sqrt(sq / counts).astype(np.float32)
        self.data_range_ = (float(np.min(X)), float(np.max(X)))
        return self

    def _generate(self, W, random_state):
        import torch

        gen = torch.Generator().manual_seed(torch_seed(random_state))
        n, D = W.shape[0], self.latent_means_.shape[1]
        eps = torch.randn((n, D), generator=gen).numpy()
        Wf = W.astype(np.float32)
        z = Wf @ self.latent_means_ + float(self.noise_scale) * (Wf @ self.latent_stds_) * eps
        ae = self.autoencoder_
        decoder = ae.autoencoder_.decoder
        out = []
        with torch.no_grad():
            for i in range(0, n, self.batch_size):
                out.append(decoder(torch.from_numpy(z[i:i + self.batch_size])).numpy())
        images = np.concatenate(out) * ae.input_std_ + ae.input_mean_
        return np.clip(images, *self.data_range_).astype(np.float32)
