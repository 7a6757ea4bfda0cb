"""Losses for training on soft targets."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from simcalib._validation import check_scalar_in_range

__all__ = [
    "soft_target_cross_entropy",
    "SoftTargetCrossEntropy",
    "cross_entropy_l2",
    "CrossEntropyL2",
]


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


def cross_entropy_l2(logits, targets, l2_weight=1.0):
    """Soft-target cross-entropy plus a weighted squared L2 term on the probabilities.

    Computes, with ``p = softmax(logits)`` and soft targets ``q``::

        mean_i( -sum_k q_ik log p_ik )  +  l2_weight * mean_i( sum_k (p_ik - q_ik)^2 )

    the loss of calibration-aware semantic mixing (CSM, Luo et al. 2025;
    ``ce_l2`` in its configurations). The cross-entropy alone rewards
    matching a soft target only through its log-probabilities; the L2 term
    (a per-sample Brier score against the soft target) pulls the
    probabilities themselves towards intermediate targets such as
    ``(0.7, 0.3)`` and is bounded, so a few hard targets cannot dominate it.

    The reference code applies the cross-entropy to the real samples and the
    L2 term to the mixed ones; a criterion sees only targets, so here both
    terms apply to every sample of the batch (``l2_weight=0`` is
    :func:`soft_target_cross_entropy`).

    Parameters
    ----------
    logits : torch.Tensor of shape (batch, n_classes)
        Unnormalised scores (any float dtype; computed in float32).
    targets : torch.Tensor of shape (batch, n_classes) or (batch,)
        Soft targets (rows of probability distributions) or integer class
        indices (taken as one-hot rows).
    l2_weight : float >= 0, default=1.0
        Weight of the L2 term.

    Returns
    -------
    loss : torch.Tensor of shape ()
        Float32 scalar.

    References
    ----------
    .. [1] H. Luo, L. Tao, M. Dong and C. Xu, "Beyond One-Hot Labels:
       Semantic Mixing for Model Calibration", ICML 2025.

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> q = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    >>> p = torch.softmax(z, 1)
    >>> ref = -(q * torch.log_softmax(z, 1)).sum(1).mean() + 0.5 * ((p - q) ** 2).sum(1).mean()
    >>> bool(torch.isclose(cross_entropy_l2(z, q, l2_weight=0.5), ref))
    True
    """
    check_scalar_in_range(l2_weight, "l2_weight", lo=0.0)
    logits = logits.float()
    if targets.ndim == 1:
        targets = F.one_hot(targets.long(), logits.shape[-1]).float()
    ce = soft_target_cross_entropy(logits, targets)
    if l2_weight == 0:
        return ce
    l2 = (torch.softmax(logits, dim=-1) - targets.float()).square().sum(-1).mean()
    return ce + l2_weight * l2


class CrossEntropyL2(nn.Module):
    """:func:`cross_entropy_l2` as a module (a skorch criterion).

    Use it as ``SimilarityLSClassifier(criterion=CrossEntropyL2,
    criterion__l2_weight=1.0)``.

    Parameters
    ----------
    l2_weight : float >= 0, default=1.0
        Weight of the squared L2 distance between ``softmax(logits)`` and the
        target.

    Examples
    --------
    >>> import torch
    >>> loss = CrossEntropyL2(l2_weight=1.0)(torch.zeros(2, 4), torch.full((2, 4), 0.25))
    >>> round(float(loss), 4)  # log(4) + 0
    1.3863
    """

    def __init__(self, l2_weight=1.0):
        super().__init__()
        check_scalar_in_range(l2_weight, "l2_weight", lo=0.0)
        self.l2_weight = float(l2_weight)

    def forward(self, logits, targets):
        return cross_entropy_l2(logits, targets, self.l2_weight)
