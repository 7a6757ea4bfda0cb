"""Losses for training on soft targets."""

from __future__ import annotations

from torch import nn
from torch.nn import functional as F

__all__ = ["soft_target_cross_entropy", "SoftTargetCrossEntropy"]


def soft_target_cross_entropy(logits, targets):
    """Mean cross-entropy between soft targets and ``softmax(logits)``.

    Computes ``-(targets * log_softmax(logits)).sum(1).mean()`` in float32
    whatever the dtype of ``logits`` (bf16 logits from autocast are upcast),
    through :func:`torch.nn.functional.cross_entropy`'s probability-target
    path.

    Parameters
    ----------
    logits : torch.Tensor of shape (batch, n_classes)
        Unnormalised scores.
    targets : torch.Tensor of shape (batch, n_classes) or (batch,)
        Rows of a probability distribution (soft labels), or integer class
        indices (then this is the ordinary cross-entropy).

    Returns
    -------
    loss : torch.Tensor of shape ()
        Float32 scalar.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> q = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    >>> round(float(soft_target_cross_entropy(z, q)), 6)
    0.420095
    >>> round(float(-(q * torch.log_softmax(z, 1)).sum(1).mean()), 6)
    0.420095
    """
    logits = logits.float()
    if targets.ndim == 1:
        return F.cross_entropy(logits, targets.long())
    if targets.shape != logits.shape:
        raise ValueError(
            f"targets must have the shape of logits {tuple(logits.shape)}; "
            f"got {tuple(targets.shape)}"
        )
    return F.cross_entropy(logits, targets.float())


class SoftTargetCrossEntropy(nn.Module):
    """:func:`soft_target_cross_entropy` as a module (a skorch criterion).

    Examples
    --------
    >>> import torch
    >>> loss = SoftTargetCrossEntropy()(torch.zeros(2, 4), torch.full((2, 4), 0.25))
    >>> round(float(loss), 4)
    1.3863
    """

    def forward(self, logits, targets):
        return soft_target_cross_entropy(logits, targets)
