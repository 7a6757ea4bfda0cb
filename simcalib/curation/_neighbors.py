"""Chunked cosine nearest neighbours: bounded memory, one matrix product per chunk."""

from __future__ import annotations

import numpy as np
import torch

from simcalib._validation import check_scalar_in_range

__all__ = ["normalize_rows", "top_k_cosine"]

#: Largest number of similarity entries (query rows x references) held at once.
_MAX_ENTRIES = 2**24


def normalize_rows(Z):
    """Rows scaled to unit L2 norm, as float32 (a zero row stays zero).

    Parameters
    ----------
    Z : array-like of shape (n, d)

    Returns
    -------
    Z : torch.Tensor of shape (n, d), float32

    Examples
    --------
    >>> normalize_rows([[3.0, 4.0], [0.0, 0.0]]).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    Z = torch.as_tensor(np.asarray(Z) if not isinstance(Z, torch.Tensor) else Z)
    Z = Z.detach().double()
    # divide by the largest entry first, so tiny rows do not underflow to a
    # zero norm when squared (nor huge ones overflow)
    Z = Z / Z.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    norms = torch.linalg.vector_norm(Z, dim=1, keepdim=True)
    return (Z / norms.clamp_min(1.0)).float()


def top_k_cosine(queries, references, k, *, exclude=None, chunk_size=None):
    """The ``k`` most similar references of every query (cosine similarity).

    The (queries x references) similarity matrix is never held whole: it is
    computed for a chunk of query rows at a time (at most about 16 million
    entries, or ``chunk_size`` rows), and ``torch.topk`` keeps ``k``
    columns of each.

    Parameters
    ----------
    queries : torch.Tensor of shape (n_queries, d)
        Unit-norm rows (:func:`normalize_rows`).
    references : torch.Tensor of shape (n_references, d)
        Unit-norm rows, on the device of ``queries``.
    k : int
        Neighbours per query, ``1 <= k <= n_references`` (fewer when
        ``exclude`` removes one: see below).
    exclude : array-like of shape (n_queries,), default=None
        For each query, a reference index it must not match (itself, when
        the queries are also references), or -1 for none. An excluded
        reference gets similarity ``-inf`` and index -1 if it has to be
        returned (only when ``k == n_references``).
    chunk_size : int, default=None
        Query rows per chunk; None picks it from the memory bound.

    Returns
    -------
    similarities : torch.Tensor of shape (n_queries, k), float32
        Cosine similarities, in decreasing order along each row.
    indices : torch.Tensor of shape (n_queries, k), int64
        Index of each neighbour among the references (-1 for an excluded
        slot, see ``exclude``).

    Examples
    --------
    >>> import torch
    >>> R = normalize_rows([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> sims, idx = top_k_cosine(normalize_rows([[2.0, 0.1]]), R, 2)
    >>> idx.tolist()
    [[0, 2]]
    """
    n_ref = references.shape[0]
    check_scalar_in_range(k, "k", lo=1, hi=max(n_ref, 1), integer=True)
    if chunk_size is None:
        chunk_size = max(1, _MAX_ENTRIES // max(n_ref, 1))
    check_scalar_in_range(chunk_size, "chunk_size", lo=1, integer=True)
    if exclude is not None:
        exclude = torch.as_tensor(np.asarray(exclude), dtype=torch.long, device=queries.device)
    sims_out, idx_out = [], []
    for start in range(0, queries.shape[0], chunk_size):
        sims = queries[start:start + chunk_size] @ references.T
        if exclude is not None:
            ex = exclude[start:start + chunk_size]
            rows = torch.nonzero(ex >= 0).ravel()
            sims[rows, ex[rows]] = -torch.inf
        s, i = torch.topk(sims, k, dim=1)
        i = torch.where(torch.isneginf(s), torch.full_like(i, -1), i)
        sims_out.append(s)
        idx_out.append(i)
    if not sims_out:
        empty = torch.empty((0, k), device=queries.device)
        return empty, empty.long()
    return torch.cat(sims_out), torch.cat(idx_out)
