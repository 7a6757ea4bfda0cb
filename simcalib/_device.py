"""The one device rule of simcalib.

Every estimator that computes with torch (the classifier, the pixel and
autoencoder similarities, the experiment runner, the command line) resolves
its ``device`` parameter with :func:`resolve_device`, so the same value means
the same thing everywhere:

- ``None`` or ``"auto"``: ``"cuda"`` when torch is installed and sees a GPU,
  else ``"cpu"``.
- ``"numpy"``: no torch at all, where the caller supports it
  (``allow_numpy=True``).
- anything :class:`torch.device` accepts (``"cpu"``, ``"cuda"``,
  ``"cuda:1"``, ``"mps"``, a ``torch.device``): that device. A CUDA device
  that this machine does not have is refused here, with a clear
  :class:`ValueError`, rather than failing later inside torch.

This module imports torch only when it has to, so it is usable without it.
"""

from __future__ import annotations

__all__ = ["resolve_device", "cuda_available"]


def cuda_available():
    """Whether torch is installed and sees at least one CUDA device.

    Examples
    --------
    >>> isinstance(cuda_available(), bool)
    True
    """
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device=None, *, allow_numpy=False, name="device"):
    """Return the concrete device string that ``device`` stands for.

    Parameters
    ----------
    device : None, str or torch.device, default=None
        ``None`` or ``"auto"`` pick CUDA when it is available, else the CPU;
        ``"numpy"`` (only with ``allow_numpy``) means no torch; any other
        value is parsed by :class:`torch.device`.
    allow_numpy : bool, default=False
        Whether ``"numpy"`` is accepted (returned as ``"numpy"``).
    name : str, default="device"
        Parameter name used in error messages.

    Returns
    -------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"numpy"``.

    Raises
    ------
    ValueError
        For a value that is not a device, for a CUDA device when torch sees
        no GPU (or not that many), and for any torch device when torch is
        not installed.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    >>> resolve_device("numpy", allow_numpy=True)
    'numpy'
    >>> resolve_device(None) in ("cpu", "cuda")
    True
    """
    if isinstance(device, str) and device.strip().lower() == "numpy":
        if not allow_numpy:
            raise ValueError(f"{name}='numpy' is not supported here; use None, 'auto', "
                             "'cpu' or 'cuda'")
        return "numpy"
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return "cuda" if cuda_available() else "cpu"
    if not isinstance(device, str) and type(device).__name__ != "device":
        raise ValueError(f"{name} must be None, 'auto', a device string such as 'cpu' or "
                         f"'cuda', or a torch.device; got {device!r}")
    try:
        import torch
    except ImportError:
        raise ValueError(
            f"{name}={device!r} needs torch, which is not installed"
            + ("; use device='numpy' or None" if allow_numpy else "")
        ) from None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{name}={device!r} is not a valid torch device ({exc})") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"{name}={device!r} asks for a CUDA GPU, but torch sees none on this "
                f"machine (torch {torch.__version__}); use {name}='cpu' or None"
            )
        if dev.index is not None and dev.index >= count:
            raise ValueError(
                f"{name}={device!r} asks for GPU {dev.index}, but torch sees only "
                f"{count} (indices 0..{count - 1})"
            )
    elif dev.type == "mps":
        backend = getattr(torch.backends, "mps", None)
        if backend is None or not backend.is_available():
            raise ValueError(f"{name}={device!r}: the MPS backend is not available here")
    return str(dev)
