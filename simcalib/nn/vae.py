"""A small class-conditional convolutional VAE (the offline generator of semantic mixing)."""

from __future__ import annotations

import torch
from torch import nn

from simcalib._validation import check_scalar_in_range

__all__ = ["ConditionalVAE"]


class ConditionalVAE(nn.Module):
    """Convolutional encoder q(z | x, c) and decoder p(x | z, c) for (C, H, W) images.

    The encoder is a 3x3 convolution followed by stride-2 4x4 convolutions
    that halve the image while both sides are even and larger than 4
    (channels ``width``, doubling up to ``8 * width``), as in
    :class:`~simcalib.nn.autoencoder.ConvAutoencoder`; the class vector
    ``c`` is concatenated to its features before the linear map to the
    posterior mean and log-variance. The decoder mirrors it with transposed
    convolutions. ``c`` enters the decoder linearly -- concatenated to ``z``
    and as a per-channel bias of every upsampling block -- so decoding with
    a mixture of classes mixes their embeddings, as a diffusion model's
    class embedding does.

    Parameters
    ----------
    in_channels : int
        Channels of the images.
    image_size : int or (int, int)
        Height and width.
    n_classes : int
        Length of the class vector ``c``.
    latent_dim : int
        Size of ``z``.
    width : int, default=32
        Channels of the first convolution.

    Examples
    --------
    >>> import torch
    >>> vae = ConditionalVAE(1, 8, n_classes=10, latent_dim=4)
    >>> x, c = torch.zeros(2, 1, 8, 8), torch.eye(10)[:2]
    >>> recon, mu, logvar = vae(x, c)
    >>> recon.shape, mu.shape, vae.decode(torch.zeros(2, 4), c).shape
    (torch.Size([2, 1, 8, 8]), torch.Size([2, 4]), torch.Size([2, 1, 8, 8]))
    """

    def __init__(self, in_channels, image_size, n_classes, latent_dim, width=32):
        super().__init__()
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        for value, name in ((in_channels, "in_channels"), (h, "image_size[0]"),
                            (w, "image_size[1]"), (n_classes, "n_classes"),
                            (latent_dim, "latent_dim"), (width, "width")):
            check_scalar_in_range(value, name, lo=1, integer=True)
        self.in_channels, self.image_size = in_channels, (h, w)
        self.n_classes, self.latent_dim = n_classes, latent_dim
        widths = [width]
        while h > 4 and w > 4 and h % 2 == 0 and w % 2 == 0:
            h, w = h // 2, w // 2
            widths.append(min(2 * widths[-1], 8 * width))
        self.code_shape = (widths[-1], h, w)
        enc = [nn.Conv2d(in_channels, widths[0], 3, padding=1), nn.ReLU()]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            enc += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                    nn.BatchNorm2d(c_out), nn.ReLU()]
        enc.append(nn.Flatten())
        self.encoder = nn.Sequential(*enc)
        n_code = widths[-1] * h * w
        self.to_posterior = nn.Linear(n_code + n_classes, 2 * latent_dim)
        self.from_latent = nn.Linear(latent_dim + n_classes, n_code)
        self.up = nn.ModuleList()
        self.up_norm = nn.ModuleList()
        self.up_bias = nn.ModuleList()
        for c_in, c_out in zip(widths[:0:-1], widths[-2::-1]):
            self.up.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))
            self.up_norm.append(nn.BatchNorm2d(c_out))
            self.up_bias.append(nn.Linear(n_classes, c_out, bias=False))
        self.out = nn.Conv2d(widths[0], in_channels, 3, padding=1)

    def encode(self, x, c):
        """Posterior mean and log-variance, each of shape (n, latent_dim)."""
        stats = self.to_posterior(torch.cat([self.encoder(x), c], dim=1))
        mu, logvar = stats.chunk(2, dim=1)
        # bounded so that exp() cannot overflow early in training
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z, c):
        """Images of shape (n, C, H, W) from codes ``z`` (n, latent_dim) and class vectors ``c`` (n, K)."""
        x = torch.relu(self.from_latent(torch.cat([z, c], dim=1)))
        x = x.view(-1, *self.code_shape)
        for up, norm, bias in zip(self.up, self.up_norm, self.up_bias):
            x = torch.relu(norm(up(x)) + bias(c)[:, :, None, None])
        return self.out(x)

    def forward(self, x, c, generator=None):
        """Reconstruction, posterior mean and log-variance (reparameterised sample)."""
        mu, logvar = self.encode(x, c)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return self.decode(mu + eps * torch.exp(0.5 * logvar), c), mu, logvar
