"""A small convolutional autoencoder whose latent codes measure class distances."""

from __future__ import annotations

from torch import nn

from simcalib._validation import check_scalar_in_range

__all__ = ["ConvAutoencoder"]


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder: image -> ``latent_dim`` vector -> image.

    The encoder is a 3x3 convolution followed by stride-2 4x4 convolutions
    (channels 32, 64, 128, 256, capped at 256) that halve the image while
    both sides are even and larger than 4 (8x8 -> 4x4, 32x32 -> 4x4,
    64x64 -> 4x4, 28x28 -> 7x7), then a linear layer to the latent code. The
    decoder mirrors it with transposed convolutions; the output is linear
    (train on standardised inputs).

    Parameters
    ----------
    in_channels : int
        Channels of the input images.
    image_size : int or (int, int)
        Height and width of the input images.
    latent_dim : int
        Size of the latent code.

    Examples
    --------
    >>> import torch
    >>> from simcalib.nn.autoencoder import ConvAutoencoder
    >>> ae = ConvAutoencoder(3, 32, latent_dim=16)
    >>> x = torch.zeros(2, 3, 32, 32)
    >>> ae.encode(x).shape, ae(x).shape
    (torch.Size([2, 16]), torch.Size([2, 3, 32, 32]))
    """

    def __init__(self, in_channels, image_size, latent_dim):
        super().__init__()
        h, w = (
            (image_size, image_size)
            if isinstance(image_size, int)
            else tuple(image_size)
        )
        for value, name in ((in_channels, "in_channels"), (h, "image_size[0]"),
                            (w, "image_size[1]"), (latent_dim, "latent_dim")):
            check_scalar_in_range(value, name, lo=1, integer=True)
        self.in_channels, self.image_size, self.latent_dim = (
            in_channels,
            (h, w),
            latent_dim,
        )
        widths = [32]
        while h > 4 and w > 4 and h % 2 == 0 and w % 2 == 0:
            h, w = h // 2, w // 2
            widths.append(min(2 * widths[-1], 256))
        self._code_shape = (widths[-1], h, w)

        enc = [nn.Conv2d(in_channels, widths[0], 3, padding=1), nn.ReLU(inplace=True)]
        for c_in, c_out in zip(widths[:-1], widths[1:]):
            enc += [
                nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        enc += [nn.Flatten(), nn.Linear(widths[-1] * h * w, latent_dim)]
        self.encoder = nn.Sequential(*enc)

        dec = [
            nn.Linear(latent_dim, widths[-1] * h * w),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, self._code_shape),
        ]
        for c_in, c_out in zip(widths[:0:-1], widths[-2::-1]):
            dec += [
                nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        dec += [nn.Conv2d(widths[0], in_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x):
        """Latent codes, shape (n, latent_dim), of images of shape (n, C, H, W)."""
        return self.encoder(x)

    def forward(self, x):
        """Reconstruction of ``x``, same shape (n, C, H, W)."""
        return self.decoder(self.encoder(x))
