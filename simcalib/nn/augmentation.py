"""Batched, on-device data augmentation for image tensors.

The functions work on a whole batch at once (one gather, no loop over
samples), on uint8 or float tensors on any device, and draw their randomness
from an explicit :class:`torch.Generator` so that training is reproducible
and can be checkpointed.
"""

from __future__ import annotations

import torch

from simcalib._validation import check_scalar_in_range

__all__ = ["random_crop_flip"]


def random_crop_flip(images, *, padding=4, flip=True, generator=None):
    """Random crop with zero padding and random horizontal flip, per sample.

    Each image is zero-padded by ``padding`` pixels on every side, cropped
    back to its size at a random offset, and mirrored left-right with
    probability 1/2 -- the standard CIFAR augmentation, for a whole batch in
    one indexing operation.

    Parameters
    ----------
    images : torch.Tensor of shape (batch, channels, height, width)
        uint8 or floating point images, on any device.
    padding : int, default=4
        Zero padding in pixels; 0 disables the crop.
    flip : bool, default=True
        Whether to mirror half of the images horizontally.
    generator : torch.Generator, default=None
        Source of randomness, on the device of ``images``; the global one
        when None.

    Returns
    -------
    augmented : torch.Tensor of shape (batch, channels, height, width)
        Same dtype and device as ``images`` (channels-last strides).

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(2 * 3 * 8 * 8, dtype=torch.uint8).reshape(2, 3, 8, 8)
    >>> g = torch.Generator().manual_seed(0)
    >>> random_crop_flip(x, padding=2, generator=g).shape
    torch.Size([2, 3, 8, 8])
    """
    if images.ndim != 4:
        raise ValueError(
            f"images must be 4-D (batch, channels, height, width); "
            f"got shape {tuple(images.shape)}"
        )
    check_scalar_in_range(padding, "padding", lo=0, integer=True)
    n, _, h, w = images.shape
    device = images.device
    if padding == 0 and not flip:
        return images
    p = padding
    padded = torch.nn.functional.pad(images, (p, p, p, p)) if p else images
    # per-sample offsets in [0, 2p] and flip flags, drawn in one call each
    if p:
        offsets = torch.randint(0, 2 * p + 1, (2, n), device=device, generator=generator)
    else:
        offsets = torch.zeros((2, n), dtype=torch.long, device=device)
    rows = offsets[0][:, None] + torch.arange(h, device=device)  # (n, h)
    cols = torch.arange(w, device=device).expand(n, w)  # (n, w)
    if flip:
        mirror = torch.rand(n, device=device, generator=generator) < 0.5
        cols = torch.where(mirror[:, None], (w - 1) - cols, cols)
    cols = cols + offsets[1][:, None]
    batch = torch.arange(n, device=device)[:, None, None]
    # advanced indices around a slice put the indexed dims first: (n, h, w, c)
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)
