"""Class distances in input space: exact mean pairwise L1 / L2 (paper eq. 13, 15)."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from simcalib._device import resolve_device
from simcalib._validation import check_scalar_in_range, encode_labels
from simcalib.progress import progress_bar
from simcalib.similarity._base import BaseSimilarity

__all__ = ["PixelDistanceSimilarity", "mean_pairwise_class_distances"]

_METRICS = ("l1", "l2")


class PixelDistanceSimilarity(BaseSimilarity):
    """Class distances from the mean pairwise L1 or L2 distance between inputs.

    The distance between classes k and k' is the exact mean, over all pairs
    (x in class k, x' in class k'), of ``||x - x'||_p`` between the flattened
    inputs (Liu & JaJa, eq. 13 and 15) -- not the distance between class
    means. It is computed block by block: for each pair of row chunks the
    (chunk x chunk) distance block is reduced to (K x K) class sums with a
    one-hot class matrix, so memory stays O(batch_size**2 + n_samples * d)
    and no (n x n) matrix is ever held. Only blocks on or above the diagonal
    are computed (the sum is symmetric).

    Pixels are used as given (no scaling): uint8 images give distances in
    0-255 units, float images in their own units. The smoother z-normalises
    each row, so a global scale does not change the soft labels.

    Pixel-space class distances are one of the similarity sources of Liu and JaJa [1]_.

    Parameters
    ----------
    metric : {"l1", "l2"}, default="l2"
        Per-pair distance: L1 (sum of absolute differences) or L2 (Euclidean).
    max_samples_per_class : int, default=None
        If given, use a random subset of at most this many samples of each
        class (an unbiased estimate that costs O((K m)^2 d) instead of
        O(n^2 d)). ``None`` uses every sample: exact.
    random_state : int, RandomState instance or None, default=None
        Seed of the subsample; unused when ``max_samples_per_class=None``.
    device : str or None, default=None
        Where to compute. ``None`` (or ``"auto"``): torch on CUDA when
        available, else torch on the CPU, else numpy when torch is not
        installed. ``"numpy"`` forces
        the numpy/scipy path; any other string (``"cpu"``, ``"cuda:1"``) is a
        torch device. L1 on the CPU always uses scipy's ``cdist`` (several
        times faster than ``torch.cdist(p=1)`` there).
    batch_size : int, default=2048
        Rows per chunk. A distance block holds ``batch_size**2`` float64
        values (32 MiB at 2048).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique labels of ``y``.
    distances_ : ndarray of shape (n_classes, n_classes), dtype=float64
        Mean pairwise distance between the samples of two classes; zero
        diagonal.
    within_class_distances_ : ndarray of shape (n_classes,), dtype=float64
        Eq. 15 with k = k': the mean distance over all ordered pairs of a
        class's own samples (self-pairs included), a measure of its spread.
    class_counts_ : ndarray of shape (n_classes,), dtype=int64
        Samples of each class that entered the means (after subsampling).

    See Also
    --------
    mean_pairwise_class_distances : The function behind this estimator.
    AutoencoderSimilarity : The same distance between autoencoder latents.

    Notes
    -----
    Computation is in float64 after centring the data on its mean (distances
    are translation invariant and centring keeps the ``|a|^2 + |b|^2 - 2 a.b``
    form of L2 accurate). Cost is ``n^2 d / 2`` multiply-adds; on 2 CPU cores
    10000 images of 3x32x32 in 100 classes take 3 s for L2 (a matrix product)
    and 60 s for L1 (no matrix-product form), the 100000 Tiny-ImageNet-32
    training images 245 s for L2; see ``docs/benchmarks/similarity.txt``.

    References
    ----------
    .. [1] C. Liu and J. JaJa, "Class-similarity based label smoothing for confidence calibration", *ICANN*, 2021. arXiv:2006.14028.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.similarity import PixelDistanceSimilarity
    >>> X = np.array([[0.0], [1.0], [4.0], [6.0]])
    >>> sim = PixelDistanceSimilarity(metric="l1", device="numpy").fit(X, [0, 0, 1, 1])
    >>> sim.distances_  # mean of |4-0|, |6-0|, |4-1|, |6-1|
    array([[0. , 4.5],
           [4.5, 0. ]])
    """

    def __init__(
        self,
        metric="l2",
        *,
        max_samples_per_class=None,
        random_state=None,
        device=None,
        batch_size=2048,
    ):
        self.metric = metric
        self.max_samples_per_class = max_samples_per_class
        self.random_state = random_state
        self.device = device
        self.batch_size = batch_size

    def _class_distances(self, X, y_idx):
        n_classes = len(self.classes_)
        if self.max_samples_per_class is not None:
            check_scalar_in_range(
                self.max_samples_per_class, "max_samples_per_class", lo=1, integer=True
            )
            keep = _subsample_per_class(
                y_idx, n_classes, self.max_samples_per_class, self.random_state
            )
            X, y_idx = X[keep], y_idx[keep]
        means, counts = _mean_pairwise(
            X,
            y_idx,
            n_classes,
            metric=self.metric,
            batch_size=self.batch_size,
            device=self.device,
        )
        self.within_class_distances_ = np.diag(means).copy()
        self.class_counts_ = counts
        return means


def mean_pairwise_class_distances(X, y, *, metric="l2", batch_size=2048, device=None):
    """Exact mean pairwise distance between the samples of every pair of classes.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Samples, flattened to (n_samples, d). Any numeric dtype; uint8 images
        are not copied to float64 as a whole (chunks are converted).
    y : array-like of shape (n_samples,)
        Labels; classes are the sorted unique labels.
    metric : {"l1", "l2"}, default="l2"
        Per-pair distance.
    batch_size : int, default=2048
        Rows per chunk.
    device : str or None, default=None
        See :class:`PixelDistanceSimilarity`.

    Returns
    -------
    distances : ndarray of shape (n_classes, n_classes), dtype=float64
        ``distances[k, l]`` = mean over x in class k, x' in class l of
        ``||x - x'||_p``; the diagonal is the within-class mean (self-pairs,
        which are 0, included), so it is not zero.

    Examples
    --------
    >>> from simcalib.similarity import mean_pairwise_class_distances
    >>> mean_pairwise_class_distances([[0.0], [2.0], [5.0]], [0, 0, 1],
    ...                               metric="l1", device="numpy")
    array([[1., 4.],
           [4., 0.]])
    """
    X = np.asarray(X)
    classes, y_idx = encode_labels(y, name="y")  # the one label encoder
    if X.shape[0] != y_idx.shape[0]:
        raise ValueError(
            f"X and y have different numbers of samples: {X.shape[0]} and {y_idx.shape[0]}"
        )
    means, _ = _mean_pairwise(
        X,
        y_idx,
        len(classes),
        metric=metric,
        batch_size=batch_size,
        device=device,
    )
    return means


def _subsample_per_class(y_idx, n_classes, m, random_state):
    """Indices of a random subset of at most ``m`` samples per class (sorted)."""
    rng = check_random_state(random_state)
    perm = rng.permutation(y_idx.shape[0])
    order = perm[np.argsort(y_idx[perm], kind="stable")]
    counts = np.bincount(y_idx, minlength=n_classes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(order.shape[0]) - np.repeat(starts, counts)
    return np.sort(order[rank < m])


def _resolve_device(device):
    """Return ``(torch module or None, device)``: None means the numpy path.

    ``device`` follows :func:`simcalib._device.resolve_device`; without torch
    installed, None and ``"auto"`` fall back to numpy.
    """
    if device is None or (isinstance(device, str) and device in ("auto", "numpy")):
        try:
            import torch
        except ImportError:
            return None, None
    resolved = resolve_device(device, allow_numpy=True)
    if resolved == "numpy":
        return None, None
    import torch

    return torch, torch.device(resolved)


def _mean_pairwise(X, y_idx, n_classes, *, metric, batch_size, device):
    """(K, K) mean pairwise distances (diagonal: within-class) and class counts."""
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}")
    check_scalar_in_range(batch_size, "batch_size", lo=1, integer=True)
    X = np.asarray(X)
    X = X.reshape(X.shape[0], -1)
    y_idx = np.asarray(y_idx, dtype=np.intp)
    counts = np.bincount(y_idx, minlength=n_classes).astype(np.int64)
    torch, dev = _resolve_device(device)
    # torch.cdist(p=1) on the CPU is several times slower than scipy's cdist
    if torch is None or (metric == "l1" and dev.type == "cpu"):
        sums = _pairwise_class_sums_numpy(X, y_idx, n_classes, metric, batch_size)
    else:
        sums = _pairwise_class_sums_torch(
            torch, dev, X, y_idx, n_classes, metric, batch_size
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / np.outer(counts, counts).astype(np.float64)
    return np.nan_to_num(means, nan=0.0), counts


def _pairwise_class_sums_numpy(X, y_idx, n_classes, metric, batch_size):
    """Sum of pairwise distances over all ordered pairs, per class pair (numpy)."""
    from scipy.spatial.distance import cdist

    n = X.shape[0]
    center = X.mean(axis=0, dtype=np.float64)
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y_idx] = 1.0
    sums = np.zeros((n_classes, n_classes))
    for i in progress_bar(range(0, n, batch_size), desc="class distances", unit="block", delay=2.0):
        A = X[i : i + batch_size].astype(np.float64) - center
        a2 = np.einsum("ij,ij->i", A, A)
        for j in range(i, n, batch_size):
            if j == i:
                B, b2 = A, a2
            else:
                B = X[j : j + batch_size].astype(np.float64) - center
                b2 = np.einsum("ij,ij->i", B, B)
            if metric == "l2":
                D = a2[:, None] + b2[None, :] - 2.0 * (A @ B.T)
                np.maximum(D, 0.0, out=D)
                np.sqrt(D, out=D)
            else:
                D = cdist(A, B, metric="cityblock")
            if j == i:
                np.fill_diagonal(D, 0.0)
            block = onehot[i : i + batch_size].T @ (D @ onehot[j : j + batch_size])
            sums += block if j == i else block + block.T
    return sums


def _pairwise_class_sums_torch(torch, dev, X, y_idx, n_classes, metric, batch_size):
    """Sum of pairwise distances over all ordered pairs, per class pair (torch)."""
    n = X.shape[0]
    dtype = torch.float64
    if dev.type == "mps":  # no float64 on Apple GPUs
        dtype = torch.float32
    if dev.type == "cpu":

        def chunk(i):  # a float64 copy of the rows only (X may be a read-only memmap)
            return torch.from_numpy(X[i : i + batch_size].astype(np.float64)) - center
    else:
        # one upload in the input dtype (uint8 images: n*d bytes), then per-chunk casts
        Xt = torch.as_tensor(X if X.flags.writeable else np.array(X), device=dev)

        def chunk(i):
            return Xt[i : i + batch_size].to(dtype) - center

    center = torch.from_numpy(X.mean(axis=0, dtype=np.float64)).to(dev, dtype)
    onehot = torch.zeros((n, n_classes), dtype=dtype, device=dev)
    onehot[torch.arange(n, device=dev), torch.from_numpy(y_idx).to(dev)] = 1.0
    sums = torch.zeros((n_classes, n_classes), dtype=dtype, device=dev)
    with torch.no_grad():
        for i in progress_bar(range(0, n, batch_size), desc="class distances", unit="block",
                              delay=2.0):
            A = chunk(i)
            a2 = (A * A).sum(1)
            for j in range(i, n, batch_size):
                if j == i:
                    B, b2 = A, a2
                else:
                    B = chunk(j)
                    b2 = (B * B).sum(1)
                if metric == "l2":
                    D = torch.addmm(a2[:, None] + b2[None, :], A, B.T, alpha=-2.0)
                    D.clamp_(min=0.0).sqrt_()
                else:
                    D = torch.cdist(A, B, p=1.0)
                if j == i:
                    D.fill_diagonal_(0.0)
                block = onehot[i : i + batch_size].T @ (D @ onehot[j : j + batch_size])
                sums += block if j == i else block + block.T
    return sums.cpu().numpy().astype(np.float64)
