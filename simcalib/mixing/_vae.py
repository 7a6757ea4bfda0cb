"""A class-conditional VAE small enough to train on a CPU, as a mixing generator."""

from __future__ import annotations

import sys
import time

import numpy as np
from sklearn.utils.validation import check_is_fitted

from simcalib._device import resolve_device
from simcalib._validation import check_scalar_in_range
from simcalib.mixing._generators import BaseGenerator, numpy_rng, torch_seed

__all__ = ["ConditionalVAEGenerator"]


class ConditionalVAEGenerator(BaseGenerator):
    """Class-conditional VAE; generates mixtures by decoding one noise under mixed classes.

    The offline stand-in for CSM's class-conditional diffusion model: a
    convolutional VAE whose encoder and decoder both see the class as a
    one-hot vector ``c``. :meth:`generate` draws ``z ~ N(0, temperature^2 I)``
    and decodes it with ``c`` set to the class weights, so that one noise
    vector rendered at several weights gives a row of gradually mixed
    images -- the "same initial noise, mixed class conditioning" of CSM.
    Trained with the negative ELBO (squared error on per-channel
    standardised images plus ``kl_weight`` times the KL divergence), Adam.

    On natural 32x32 images a plain CVAE learns to ignore ``c``: the
    posterior code ``z`` explains the pixels and the class adds nothing, so
    all ratios of a row look alike. With ``aux_weight > 0`` an auxiliary
    classifier (a :class:`~simcalib.nn.SmallCNN` trained on the real
    images alongside) scores decoded prior samples, and the decoder pays
    ``aux_weight`` times its cross-entropy against the class it was asked
    for -- the auxiliary-classifier trick of AC-GAN -- so that the class
    really shapes the images.

    With width 16 and the auxiliary classifier, 5000 3x32x32 images take
    about 10 s per epoch on two CPU cores; the samples are blurry,
    textured class-typical images, far from a diffusion model's.

    Parameters
    ----------
    latent_dim : int, default=32
        Size of ``z``.
    width : int, default=16
        Channels of the first convolution; they double at each halving of the
        image, up to ``8 * width``.
    epochs : int, default=30
        Training epochs.
    batch_size : int, default=128
        Training batch size (also the decoding batch size).
    lr : float, default=2e-3
        Adam learning rate.
    kl_weight : float, default=1.0
        Weight of the KL term (beta-VAE); larger values make ``z`` carry
        less and the class more of the image.
    aux_weight : float, default=0.0
        Weight of the auxiliary classifier's cross-entropy on decoded prior
        samples (per image, against a reconstruction error summed over
        pixels, so useful values grow with the image size: tens to
        hundreds for 3x32x32). 0 trains a plain CVAE.
    temperature : float, default=1.0
        Scale of the noise ``z`` when generating.
    device : str or None, default=None
        Compute device, resolved by :func:`simcalib._device.resolve_device`
        (None: CUDA when available).
    random_state : int or None, default=None
        Seeds the initialisation, the batch order and the training noise
        (the global torch random state is left untouched).
    verbose : int, default=0
        ``> 0``: one line per epoch on stderr.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels; column ``k`` of the class weights is ``classes_[k]``.
    image_shape_ : tuple of int
        ``(C, H, W)``.
    module_ : torch.nn.Module
        The trained network, on the CPU, in eval mode.
    input_mean_, input_std_ : ndarray of shape (C,), float32
        Per-channel standardisation of the training images.
    data_range_ : tuple of float
        Smallest and largest training pixel value; generated pixels are
        clipped to it.
    loss_curve_ : list of float
        Mean training loss per image in each epoch (negative ELBO, plus the
        weighted auxiliary cross-entropy).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 1, 8, 8).astype(np.float32)
    >>> gen = ConditionalVAEGenerator(epochs=1, random_state=0).fit(X[:200], y[:200])
    >>> W = np.zeros((2, 10)); W[:, 3] = [1.0, 0.5]; W[:, 8] = [0.0, 0.5]
    >>> gen.generate(W, random_state=0).shape
    (2, 1, 8, 8)
    """

    def __init__(
        self,
        latent_dim=32,
        *,
        width=16,
        epochs=30,
        batch_size=128,
        lr=2e-3,
        kl_weight=1.0,
        aux_weight=0.0,
        temperature=1.0,
        device=None,
        random_state=None,
        verbose=0,
    ):
        self.latent_dim = latent_dim
        self.width = width
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.kl_weight = kl_weight
        self.aux_weight = aux_weight
        self.temperature = temperature
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        check_scalar_in_range(self.latent_dim, "latent_dim", lo=1, integer=True)
        check_scalar_in_range(self.width, "width", lo=1, integer=True)
        check_scalar_in_range(self.epochs, "epochs", lo=0, integer=True)
        check_scalar_in_range(self.batch_size, "batch_size", lo=2, integer=True)
        check_scalar_in_range(self.lr, "lr", lo=0.0, lo_open=True)
        check_scalar_in_range(self.kl_weight, "kl_weight", lo=0.0)
        check_scalar_in_range(self.aux_weight, "aux_weight", lo=0.0)
        check_scalar_in_range(self.temperature, "temperature", lo=0.0)
        return resolve_device(self.device)

    def fit(self, X, y):
        """Train the VAE on images ``X`` with labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Training images (any real dtype; uint8 is used as 0..255).
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : ConditionalVAEGenerator
        """
        import torch
        from torch.nn import functional as F

        from simcalib.nn import SmallCNN
        from simcalib.nn.vae import ConditionalVAE

        device = self._check_params()
        X, classes, codes = self._fit_labels(X, y)
        C, H, W = X.shape[1:]
        rng = numpy_rng(self.random_state)
        seed = int(rng.integers(2**62))
        Xf = np.asarray(X, dtype=np.float32)
        mean = Xf.mean(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
        std = Xf.std(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
        std[std == 0] = 1.0
        X_t = torch.from_numpy((Xf - mean[:, None, None]) / std[:, None, None])
        onehot = torch.eye(len(classes))[torch.from_numpy(codes)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = ConditionalVAE(C, (H, W), len(classes), self.latent_dim, self.width)
            aux = SmallCNN(C, len(classes), width=16) if self.aux_weight > 0 else None
        net = net.to(device)
        if aux is not None:
            aux = aux.to(device)
        gen = torch.Generator(device=device).manual_seed(seed)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        aux_optimizer = None if aux is None else torch.optim.Adam(aux.parameters(), lr=self.lr)
        K = len(classes)
        n = X_t.shape[0]
        curve = []
        net.train()
        for epoch in range(self.epochs):
            start, total = time.perf_counter(), 0.0
            order = rng.permutation(n)
            for i in range(0, n, self.batch_size):
                idx = torch.from_numpy(order[i:i + self.batch_size])
                if idx.numel() < 2:
                    continue  # batch normalisation cannot train on one sample
                xb, cb = X_t[idx].to(device), onehot[idx].to(device)
                recon, mu, logvar = net(xb, cb, generator=gen)
                rec = 0.5 * (recon - xb).square().flatten(1).sum(1)
                kl = 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(1)
                loss = (rec + self.kl_weight * kl).mean()
                if aux is not None:
                    # the decoder must make prior samples recognisable as
                    # the class they were asked for (the classifier is in
                    # eval mode here: generated images leave its BN alone)
                    wanted = torch.randint(0, K, (idx.numel(),), generator=gen, device=device)
                    z = torch.randn(mu.shape, generator=gen, device=device)
                    aux.eval()
                    fake = net.decode(z, torch.eye(K, device=device)[wanted])
                    loss = loss + self.aux_weight * F.cross_entropy(aux(fake), wanted)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if aux is not None:
                    aux.train()
                    aux_loss = F.cross_entropy(aux(xb), cb.argmax(1))
                    aux_optimizer.zero_grad(set_to_none=True)
                    aux_loss.backward()
                    aux_optimizer.step()
                total += float(loss.detach()) * idx.numel()
            curve.append(total / n)
            if self.verbose:
                print(f"[{type(self).__name__}] epoch {epoch + 1}/{self.epochs} loss "
                      f"{curve[-1]:.2f} ({time.perf_counter() - start:.1f} s)",
                      file=sys.stderr, flush=True)
        self.module_ = net.cpu().eval()
        self.classes_ = classes
        self.image_shape_ = (int(C), int(H), int(W))
        self.input_mean_, self.input_std_ = mean, std
        self.data_range_ = (float(Xf.min()), float(Xf.max()))
        self.loss_curve_ = curve
        self.device_ = device
        return self

    def _generate(self, W, random_state):
        import torch

        check_is_fitted(self, "module_")
        n = W.shape[0]
        gen = torch.Generator().manual_seed(torch_seed(random_state))
        z = torch.randn((n, self.latent_dim), generator=gen) * float(self.temperature)
        c = torch.as_tensor(W, dtype=torch.float32)
        net = self.module_.to(self.device_)
        out = []
        with torch.no_grad():
            for i in range(0, n, self.batch_size):
                zb = z[i:i + self.batch_size].to(self.device_)
                out.append(net.decode(zb, c[i:i + self.batch_size].to(self.device_)).cpu())
        self.module_ = net.cpu()
        images = torch.cat(out).numpy()
        images = images * self.input_std_[:, None, None] + self.input_mean_[:, None, None]
        return np.clip(images, *self.data_range_).astype(np.float32)
