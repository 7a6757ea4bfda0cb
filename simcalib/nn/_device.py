"""Device and precision helpers shared by the training engine."""

from __future__ import annotations

import contextlib

import torch

__all__ = ["resolve_device", "autocast", "uses_cuda"]


def resolve_device(device):
    """Return a concrete device string: ``"auto"`` picks CUDA when available.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"`` (CUDA if :func:`torch.cuda.is_available`, else CPU),
        None (CPU) or anything :class:`torch.device` accepts.

    Returns
    -------
    device : str

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device is None:
        return "cpu"
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return str(torch.device(device))
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a valid torch device: {exc}") from None


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
