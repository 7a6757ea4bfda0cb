"""Device and precision helpers shared by the training engine."""

from __future__ import annotations

import contextlib

import torch

from simcalib._device import resolve_device

__all__ = ["resolve_device", "autocast", "uses_cuda"]


def uses_cuda(device):
    """Whether ``device`` (a string or torch.device) is a CUDA device.

    Examples
    --------
    >>> uses_cuda("cpu")
    False
    """
    return torch.device(device).type == "cuda"


def autocast(device, enabled):
    """bf16 autocast context on CUDA when ``enabled``; a no-op otherwise.

    Parameters
    ----------
    device : str or torch.device
        The compute device.
    enabled : bool
        Whether to autocast.

    Returns
    -------
    context : context manager

    Examples
    --------
    >>> with autocast("cpu", False):
    ...     pass
    """
    if not enabled:
        return contextlib.nullcontext()
    kind = torch.device(device).type
    return torch.autocast(device_type=kind, dtype=torch.bfloat16)
