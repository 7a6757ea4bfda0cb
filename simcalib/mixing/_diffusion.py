"""Adapter for local class-conditional diffusion models: same noise, mixed class conditioning."""

from __future__ import annotations

import copy
import inspect

import numpy as np
from sklearn.base import BaseEstimator

from simcalib._device import resolve_device
from simcalib._validation import check_scalar_in_range
from simcalib.mixing._generators import check_class_weights, torch_seed

__all__ = ["DiffusionGenerator"]


class DiffusionGenerator(BaseEstimator):
    """Sample a class-conditional diffusion model at class mixtures (CSM's generator).

    One Gaussian noise image per sample is denoised under the *mixed* class
    conditioning ``w`` (Luo et al. 2025): the class embedding becomes
    ``sum_k w_k e_k``. Two kinds of model are supported, both used as they
    are (nothing is downloaded; bring your own weights):

    - **diffusers** (``scheduler`` given): a model called as
      ``model(sample, timestep, class_labels=...)`` whose class embedding is
      a :class:`torch.nn.Embedding` (``model.class_embedding``, e.g.
      :class:`diffusers.UNet2DModel` with ``num_class_embeds``; other models:
      pass the embedding module(s) as ``embedding``). A forward hook replaces
      the embedding's output by ``w @ embedding.weight`` while sampling, so
      a one-hot ``w`` reproduces ordinary class conditioning exactly. The
      ``scheduler`` (any diffusers scheduler matching the model) runs the
      reverse process.
    - **EDM-style** (``scheduler=None``): a denoiser
      ``model(x, sigma, class_labels) -> D(x; sigma)`` taking class labels as
      an ``(n, K)`` float matrix (Karras et al. 2022, the networks CSM
      uses); ``w`` is passed as that matrix and the deterministic Heun
      sampler of Karras et al. (their Algorithm 1) runs ``num_steps`` steps
      from ``sigma_max`` to ``sigma_min``.

    Classifier-free guidance is not applied.

    Parameters
    ----------
    model : torch.nn.Module or callable
        The diffusion network (moved to ``device`` and set to eval mode).
    scheduler : diffusers scheduler or None, default=None
        Selects the diffusers path; deep-copied on every call, so the
        caller's scheduler is never mutated.
    num_steps : int, default=18
        Denoising steps (``set_timesteps`` for diffusers).
    image_shape : tuple of int (C, H, W) or None, default=None
        Shape of a sample; None reads ``model.config.in_channels`` and
        ``sample_size`` (diffusers) or ``model.img_channels`` and
        ``img_resolution`` (EDM).
    class_index : array-like of int of shape (n_classes,) or None, default=None
        Model class of each task class (column of the class weights), when
        the task uses a subset of the model's classes; None: the same classes.
    embedding : torch.nn.Embedding, list of them, or None, default=None
        (diffusers path) The class-embedding tables to mix; None means
        ``model.class_embedding``.
    value_range : (float, float), default=(0.0, 255.0)
        Pixel range of the training images: the model's [-1, 1] output is
        mapped linearly onto it and clipped.
    sigma_min, sigma_max, rho : float, default=0.002, 80.0, 7.0
        (EDM path) Noise levels of the Karras et al. schedule.
    batch_size : int, default=64
        Samples denoised at once (the noise does not depend on it).
    device : str or None, default=None
        Resolved by :func:`simcalib._device.resolve_device` (None: CUDA
        when available).

    References
    ----------
    .. [1] H. Luo, L. Tao, M. Dong and C. Xu, "Beyond One-Hot Labels:
       Semantic Mixing for Model Calibration", ICML 2025.
    .. [2] T. Karras, M. Aittala, T. Aila and S. Laine, "Elucidating the
       Design Space of Diffusion-Based Generative Models", NeurIPS 2022.

    Examples
    --------
    An EDM-style toy denoiser: the exact denoiser of images that are
    nearly constant at a class colour (-1 or 1), so the samples land on the
    colour of their class mixture:

    >>> import numpy as np, torch
    >>> colours = torch.tensor([[-1.0], [1.0]])
    >>> def denoiser(x, sigma, class_labels):
    ...     target = (class_labels @ colours)[:, :, None, None].expand_as(x)
    ...     s = sigma.reshape(-1, 1, 1, 1)
    ...     return (1e-4 * x + s ** 2 * target) / (1e-4 + s ** 2)
    >>> gen = DiffusionGenerator(denoiser, image_shape=(1, 2, 2), value_range=(0, 1))
    >>> imgs = gen.generate([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], random_state=0)
    >>> imgs.mean(axis=(1, 2, 3)).round(1).tolist()
    [0.0, 0.5, 1.0]
    """

    def __init__(
        self,
        model,
        scheduler=None,
        *,
        num_steps=18,
        image_shape=None,
        class_index=None,
        embedding=None,
        value_range=(0.0, 255.0),
        sigma_min=0.002,
        sigma_max=80.0,
        rho=7.0,
        batch_size=64,
        device=None,
    ):
        self.model = model
        self.scheduler = scheduler
        self.num_steps = num_steps
        self.image_shape = image_shape
        self.class_index = class_index
        self.embedding = embedding
        self.value_range = value_range
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max
        self.rho = rho
        self.batch_size = batch_size
        self.device = device

    # ------------------------------------------------------------ checks
    def _image_shape(self):
        if self.image_shape is not None:
            shape = tuple(self.image_shape)
        elif self.scheduler is not None:
            config = getattr(self.model, "config", None)
            size = getattr(config, "sample_size", None)
            channels = getattr(config, "in_channels", None)
            if size is None or channels is None:
                raise ValueError(
                    "image_shape is None and the model has no config.sample_size / "
                    "config.in_channels; pass image_shape=(C, H, W)"
                )
            size = (size, size) if isinstance(size, int) else tuple(size)
            shape = (channels, *size)
        else:
            channels = getattr(self.model, "img_channels", None)
            size = getattr(self.model, "img_resolution", None)
            if size is None or channels is None:
                raise ValueError(
                    "image_shape is None and the model has no img_channels / "
                    "img_resolution; pass image_shape=(C, H, W)"
                )
            shape = (channels, size, size)
        if len(shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W); got {shape!r}")
        for s in shape:
            check_scalar_in_range(s, "image_shape entries", lo=1, integer=True)
        return tuple(int(s) for s in shape)

    def _embeddings(self):
        from torch import nn

        emb = self.embedding
        if emb is None:
            emb = getattr(self.model, "class_embedding", None)
            if emb is None:
                raise ValueError(
                    f"{type(self.model).__name__} has no class_embedding: it is not a "
                    "class-conditional diffusers model (set num_class_embeds), or pass "
                    "its class-embedding table(s) as embedding="
                )
        tables = list(emb) if isinstance(emb, list | tuple) else [emb]
        for table in tables:
            if not isinstance(table, nn.Embedding):
                raise ValueError(
                    "the class embedding must be a torch.nn.Embedding (a table of class "
                    f"vectors that can be mixed); got {type(table).__name__}"
                )
        sizes = {t.num_embeddings for t in tables}
        if len(sizes) != 1:
            raise ValueError(f"the class-embedding tables have different sizes {sorted(sizes)}")
        return tables, sizes.pop()

    def _model_weights(self, W, n_model):
        """Class weights over the model's classes (columns placed by class_index)."""
        K = W.shape[1]
        if self.class_index is None:
            if n_model is not None and K != n_model:
                raise ValueError(
                    f"class_weights has {K} columns but the model has {n_model} classes; "
                    "pass class_index (the model class of each column)"
                )
            return W
        index = np.asarray(self.class_index)
        if index.shape != (K,) or index.dtype.kind not in "iu":
            raise ValueError(
                f"class_index must hold one integer model class per column ({K}); got "
                f"{self.class_index!r}"
            )
        if n_model is not None and (index.min() < 0 or index.max() >= n_model):
            raise ValueError(f"class_index must lie in [0, {n_model}); got {index.tolist()}")
        if len(np.unique(index)) != K:
            raise ValueError(f"class_index has repeated classes: {index.tolist()}")
        out = np.zeros((W.shape[0], int(n_model if n_model is not None else index.max() + 1)))
        out[:, index] = W
        return out

    def _check_params(self):
        check_scalar_in_range(self.num_steps, "num_steps", lo=1, integer=True)
        check_scalar_in_range(self.batch_size, "batch_size", lo=1, integer=True)
        check_scalar_in_range(self.sigma_min, "sigma_min", lo=0.0, lo_open=True)
        check_scalar_in_range(self.sigma_max, "sigma_max", lo=self.sigma_min, lo_open=True)
        check_scalar_in_range(self.rho, "rho", lo=0.0, lo_open=True)
        try:
            lo, hi = (float(v) for v in self.value_range)
        except (TypeError, ValueError):
            raise ValueError(
                f"value_range must be a pair (low, high); got {self.value_range!r}"
            ) from None
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"value_range must be finite with low < high; got {self.value_range!r}")
        if not callable(self.model):
            raise ValueError(f"model must be callable; got {type(self.model).__name__}")
        return resolve_device(self.device), (lo, hi)

    # -------------------------------------------------------- generation
    def generate(self, class_weights, random_state=None):
        """Denoise one noise image per row of ``class_weights`` under that class mixture.

        Parameters
        ----------
        class_weights : array-like of shape (n_samples, n_classes)
            Non-negative rows summing to 1 (columns: task classes, see
            ``class_index``).
        random_state : None, int or numpy Generator, default=None
            Seed of the initial noise (and of a stochastic scheduler). The
            same int and ``n_samples`` give the same noise at each position.

        Returns
        -------
        images : ndarray of shape (n_samples, C, H, W), dtype=float32
            In ``value_range``.
        """
        import torch

        device, (lo, hi) = self._check_params()
        shape = self._image_shape()
        W = check_class_weights(class_weights)
        if self.scheduler is not None:
            tables, n_model = self._embeddings()
        else:
            tables, n_model = None, getattr(self.model, "label_dim", None) or None
        Wm = torch.as_tensor(self._model_weights(W, n_model), dtype=torch.float32)
        gen = torch.Generator().manual_seed(torch_seed(random_state))
        noise = torch.randn((W.shape[0], *shape), generator=gen)
        model = self.model
        if isinstance(model, torch.nn.Module):
            model = model.to(device).eval()
        out = []
        with torch.no_grad():
            for i in range(0, W.shape[0], self.batch_size):
                x = noise[i:i + self.batch_size].to(device)
                w = Wm[i:i + self.batch_size].to(device)
                if self.scheduler is None:
                    out.append(self._edm_sample(model, x, w).cpu())
                else:
                    out.append(self._diffusers_sample(model, tables, x, w, gen).cpu())
        images = torch.cat(out).double().numpy()
        images = lo + (images + 1.0) * 0.5 * (hi - lo)
        return np.clip(images, lo, hi).astype(np.float32)

    def __call__(self, class_weights, random_state=None):
        return self.generate(class_weights, random_state)

    def _edm_sample(self, net, x, w):
        """Deterministic Heun sampler (Karras et al. 2022, Algorithm 1), float64 state."""
        import torch

        n = self.num_steps
        smin, smax = float(self.sigma_min), float(self.sigma_max)
        smin = max(smin, float(getattr(net, "sigma_min", smin)))
        smax = min(smax, float(getattr(net, "sigma_max", smax)))
        i = torch.arange(n, dtype=torch.float64, device=x.device)
        inv = 1.0 / self.rho
        steps = (smax ** inv + i / max(n - 1, 1) * (smin ** inv - smax ** inv)) ** self.rho
        if hasattr(net, "round_sigma"):
            steps = torch.as_tensor(net.round_sigma(steps), dtype=torch.float64)
        steps = torch.cat([steps, torch.zeros(1, dtype=torch.float64, device=x.device)])

        def denoise(x_cur, sigma):
            sig = torch.full((x_cur.shape[0],), float(sigma), device=x.device)
            return net(x_cur.float(), sig, w).double()

        x_next = x.double() * steps[0]
        for t_cur, t_next in zip(steps[:-1], steps[1:]):
            x_cur = x_next
            d_cur = (x_cur - denoise(x_cur, t_cur)) / t_cur
            x_next = x_cur + (t_next - t_cur) * d_cur
            if t_next > 0:  # second-order correction
                d_prime = (x_next - denoise(x_next, t_next)) / t_next
                x_next = x_cur + (t_next - t_cur) * (0.5 * d_cur + 0.5 * d_prime)
        return x_next.float()

    def _diffusers_sample(self, model, tables, x, w, gen):

        scheduler = copy.deepcopy(self.scheduler)
        scheduler.set_timesteps(self.num_steps)
        step_kwargs = {}
        if "generator" in inspect.signature(scheduler.step).parameters:
            step_kwargs["generator"] = gen
        # dummy integer labels of the right batch size; the hook replaces
        # their embedding by the mixture of the class vectors
        labels = w.argmax(dim=1)

        def hook(module, args, output):
            return (w.to(module.weight.dtype) @ module.weight).to(output.dtype)

        handles = [t.register_forward_hook(hook) for t in tables]
        try:
            x = x * scheduler.init_noise_sigma
            for t in scheduler.timesteps:
                inp = scheduler.scale_model_input(x, t)
                pred = model(inp, t, class_labels=labels)
                pred = getattr(pred, "sample", pred)
                if isinstance(pred, tuple):
                    pred = pred[0]
                step = scheduler.step(pred, t, x, **step_kwargs)
                x = getattr(step, "prev_sample", None)
                if x is None:
                    x = step[0]
        finally:
            for h in handles:
                h.remove()
        return x
