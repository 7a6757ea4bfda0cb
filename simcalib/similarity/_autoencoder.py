"""Class distances between autoencoder latent codes (paper eq. 14-15)."""

from __future__ import annotations

import sys
import time

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from simcalib import progress
from simcalib._validation import _is_torch_tensor, check_images, check_scalar_in_range
from simcalib.similarity._base import BaseSimilarity
from simcalib.similarity._pixel import _mean_pairwise, _resolve_device

__all__ = ["AutoencoderSimilarity", "default_latent_dim"]

#: The paper's input-to-latent ratio: 3x32x32 -> 256, 3x64x64 -> 1024.
_LATENT_RATIO = 12
_MIN_LATENT = 16


def default_latent_dim(input_shape):
    """Latent size used by ``latent_dim="auto"`` for images of ``input_shape``.

    ``max(16, C * H * W // 12)``: the paper's ratio (256-d codes for
    3x32x32 CIFAR-100, 1024-d for 3x64x64 Tiny-ImageNet), at least 16 (so
    1x8x8 digits get 16).

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)`` (or ``(H, W)``) of one image.

    Returns
    -------
    latent_dim : int
        The default latent size.

    Examples
    --------
    >>> default_latent_dim((3, 32, 32)), default_latent_dim((3, 64, 64)), default_latent_dim((1, 8, 8))
    (256, 1024, 16)
    """
    return max(_MIN_LATENT, int(np.prod(input_shape)) // _LATENT_RATIO)


class AutoencoderSimilarity(BaseSimilarity):
    """Class distances from the mean pairwise L2 distance of autoencoder latents.

    ``fit`` trains a :class:`~simcalib.nn.autoencoder.ConvAutoencoder` on
    ``X`` (mean squared reconstruction error, Adam), encodes every sample and
    takes the exact mean, over all pairs (x in class k, x' in class k'), of
    ``||r(x) - r(x')||_2`` between latent codes ``r`` (paper eq. 14-15), with
    the same blocked computation as :class:`PixelDistanceSimilarity`. Needs
    torch; uses CUDA when available.

    Inputs are standardised with one global mean and standard deviation
    (learned in ``fit``) before entering the network.

    Latent-space class distances are one of the similarity sources of Liu and JaJa [1]_.

    Parameters
    ----------
    latent_dim : int or "auto", default="auto"
        Size of the latent code. ``"auto"``: ``max(16, C*H*W // 12)``
        (:func:`default_latent_dim`; 256 for 3x32x32, 1024 for 3x64x64, 16
        for 1x8x8).
    epochs : int, default=10
        Training epochs.
    batch_size : int, default=128
        Training and encoding batch size.
    lr : float, default=1e-3
        Adam learning rate.
    device : str or None, default=None
        ``None`` or ``"auto"``: CUDA when available, else CPU. Any torch
        device string otherwise.
    random_state : int, RandomState instance or None, default=None
        Seeds the network initialisation and the batch order (the global
        torch RNG is left untouched). Runs on the CPU are then reproducible.
    verbose : int, default=1
        ``> 0``: print one line per epoch (loss, seconds) to stderr and, on a
        terminal, a progress bar over the training batches
        (:mod:`simcalib.progress`); 0: silent.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique labels.
    distances_ : ndarray of shape (n_classes, n_classes), dtype=float64
        Mean pairwise latent L2 distance between classes; zero diagonal.
    within_class_distances_ : ndarray of shape (n_classes,), dtype=float64
        Mean latent distance within each class (self-pairs included).
    autoencoder_ : ConvAutoencoder
        The trained network, on the CPU, in eval mode.
    latent_dim_ : int
        The latent size used.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    input_mean_, input_std_ : float
        Standardisation applied to the inputs.

    References
    ----------
    .. [1] C. Liu and J. JaJa, "Class-similarity based label smoothing for confidence calibration", *ICANN*, 2021. arXiv:2006.14028.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.similarity import AutoencoderSimilarity
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 16, size=(40, 1, 8, 8)).astype(np.float32)
    >>> y = np.repeat([0, 1], 20)
    >>> sim = AutoencoderSimilarity(epochs=1, random_state=0, verbose=0).fit(X, y)
    >>> sim.latent_dim_, sim.distances_.shape
    (16, (2, 2))
    """

    def __init__(
        self,
        latent_dim="auto",
        *,
        epochs=10,
        batch_size=128,
        lr=1e-3,
        device=None,
        random_state=None,
        verbose=1,
    ):
        self.latent_dim = latent_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        super()._check_params()
        check_scalar_in_range(self.epochs, "epochs", lo=0, integer=True)
        check_scalar_in_range(self.batch_size, "batch_size", lo=1, integer=True)
        check_scalar_in_range(self.lr, "lr", lo=0.0, lo_open=True)
        if not (isinstance(self.latent_dim, str) and self.latent_dim == "auto"):
            check_scalar_in_range(self.latent_dim, "latent_dim", lo=1, integer=True)
        torch_mod, _ = _resolve_device(self.device)
        if torch_mod is None:
            raise ValueError(
                f"device must be None, 'auto' or a torch device for {type(self).__name__}; "
                f"got {self.device!r}"
            )

    def _validate_X(self, X, n_samples):
        # the one image check of simcalib: channels-first batches only, a
        # likely channels-last input is refused with the transpose that fixes it
        if X is None:
            raise ValueError(f"X is required by {type(self).__name__}; got None")
        if _is_torch_tensor(X):
            X = X.detach().cpu().numpy()
        X = check_images(X, name="X")
        if n_samples is not None and X.shape[0] != n_samples:
            raise ValueError(
                f"X and y have different numbers of samples: {X.shape[0]} and {n_samples}"
            )
        return X

    def _class_distances(self, X, y_idx):
        import torch

        from simcalib.nn.autoencoder import ConvAutoencoder

        if isinstance(self.latent_dim, str):
            latent_dim = default_latent_dim(X.shape[1:])
        else:
            latent_dim = int(self.latent_dim)
        _, dev = _resolve_device(self.device)

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        mean = float(X.mean(dtype=np.float64))
        std = float(X.std(dtype=np.float64)) or 1.0
        self.input_mean_, self.input_std_ = mean, std
        self.latent_dim_ = latent_dim

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = ConvAutoencoder(X.shape[1], X.shape[2:], latent_dim).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        n = X.shape[0]
        self.loss_curve_ = []
        model.train()
        n_batches = -(-n // self.batch_size)
        bar = progress.progress_bar(total=self.epochs * n_batches, desc="autoencoder",
                                    unit="batch", enabled=bool(self.verbose), delay=0.5)
        for epoch in range(self.epochs):
            start, total = time.perf_counter(), 0.0
            order = rng.permutation(n)
            for i in range(0, n, self.batch_size):
                bar.update()
                xb = self._to_tensor(X[np.sort(order[i : i + self.batch_size])], dev)
                if xb.shape[0] == 1 and n > 1:
                    continue  # BatchNorm cannot train on a single sample
                optimizer.zero_grad(set_to_none=True)
                loss = torch.nn.functional.mse_loss(model(xb), xb)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * xb.shape[0]
            self.loss_curve_.append(total / n)
            if self.verbose:
                progress.write(
                    f"[{type(self).__name__}] epoch {epoch + 1}/{self.epochs} "
                    f"loss {self.loss_curve_[-1]:.5f} ({time.perf_counter() - start:.1f} s)",
                    file=sys.stderr,
                )
        bar.close()
        model.eval()
        self.autoencoder_ = model
        latents = self._encode(X, dev)
        self.autoencoder_ = model.cpu()
        means, _ = _mean_pairwise(
            latents, y_idx, len(self.classes_), metric="l2", batch_size=2048, device=dev
        )
        self.within_class_distances_ = np.diag(means).copy()
        return means

    def _to_tensor(self, xb, dev):
        import torch

        # np.array copies: the batch is writable even when X is a read-only memmap
        xb = torch.from_numpy(np.array(xb, dtype=np.float32)).to(dev)
        return (xb - self.input_mean_) / self.input_std_

    def _encode(self, X, dev):
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, X.shape[0], self.batch_size):
                xb = self._to_tensor(X[i : i + self.batch_size], dev)
                out.append(self.autoencoder_.encode(xb).cpu())
        return torch.cat(out).numpy()

    def encode(self, X):
        """Latent codes of images ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images shaped like the training images.

        Returns
        -------
        latents : ndarray of shape (n_samples, latent_dim_), dtype=float32
            The encoder's output.
        """
        check_is_fitted(self, "autoencoder_")
        X = self._validate_X(X, None)
        expected = (self.autoencoder_.in_channels, *self.autoencoder_.image_size)
        if X.shape[1:] != expected:
            raise ValueError(
                f"X must hold images of shape {expected} (C, H, W), as in fit; got "
                f"{X.shape[1:]}"
            )
        return self._encode(X, "cpu")
