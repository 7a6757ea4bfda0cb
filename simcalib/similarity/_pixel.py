"""Class distances in input space: exact mean pairwise L1 / L2 (paper eq. 13, 15)."""

from __future__ import annotations

import os

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
    means. In general it is computed block by block: for each pair of row
    chunks the (chunk x chunk) distance block is reduced to (K x K) class
    sums with a one-hot class matrix, so memory stays
    O(batch_size**2 + n_samples * d) and no (n x n) matrix is ever held.
    Only blocks on or above the diagonal are computed (the sum is
    symmetric).

    Integer inputs whose values span at most 256 levels (uint8 images) take
    two exact shortcuts. L1: ``|a - b|`` counts the integer thresholds
    between ``a`` and ``b``, so the sum over all pairs of two classes follows
    from per-class cumulative histograms of every coordinate, a (K x K)
    product of integer counts -- O(n d + K^2 d 256) instead of O(n^2 d).
    L2: the squared distances are exact int32 results of int8 matrix
    products (torch on the CPU); the square roots and sums are float64.

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
        torch device. The general L1 path on the CPU always uses scipy's
        ``cdist`` (several times faster than ``torch.cdist(p=1)`` there);
        the int8 L2 path needs torch on the CPU.
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


def _mean_pairwise(
    X, y_idx, n_classes, *, metric, batch_size, device, integer_paths=True
):
    """(K, K) mean pairwise distances (diagonal: within-class) and class counts.

    ``integer_paths=False`` forces the general blocked path (float64 for
    every input), the reference that the fast paths are tested and
    benchmarked against.
    """
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS}; got {metric!r}")
    check_scalar_in_range(batch_size, "batch_size", lo=1, integer=True)
    X = np.asarray(X)
    X = X.reshape(X.shape[0], -1)
    y_idx = np.asarray(y_idx, dtype=np.intp)
    counts = np.bincount(y_idx, minlength=n_classes).astype(np.int64)
    torch, dev = _resolve_device(device)
    lo = _byte_range_start(X) if integer_paths else None
    if metric == "l1" and lo is not None:
        # integer data of at most 256 levels: exact sums from histograms
        # (no float64 on Apple GPUs: their histograms are counted on the CPU)
        if torch is None or dev.type in ("cpu", "mps"):
            sums = _l1_class_sums_histogram_numpy(X, lo, y_idx, n_classes)
        else:
            sums = _l1_class_sums_histogram_torch(torch, dev, X, lo, y_idx, n_classes)
    elif (
        metric == "l2"
        and lo is not None
        and (torch is None or dev.type == "cpu")
        and X.shape[1] <= _BYTE_L2_MAX_FEATURES
    ):
        # exact integer squared distances (int8 products when torch has
        # them, float64 products of the integers otherwise)
        sums = _l2_class_sums_bytes(torch, X, lo, y_idx, n_classes, batch_size)
    # torch.cdist(p=1) on the CPU is several times slower than scipy's cdist
    elif torch is None or (metric == "l1" and dev.type == "cpu"):
        sums = _pairwise_class_sums_numpy(X, y_idx, n_classes, metric, batch_size)
    else:
        sums = _pairwise_class_sums_torch(
            torch, dev, X, y_idx, n_classes, metric, batch_size
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / np.outer(counts, counts).astype(np.float64)
    return np.nan_to_num(means, nan=0.0), counts


# -- exact fast paths for integer data of at most 256 levels (uint8 images) --

#: Levels of the integer fast paths: one byte per coordinate.
_BYTE_LEVELS = 256

#: Largest number of features of the exact L2 path: the squared distance,
#: at most 255**2 * d, and its int32 intermediates then stay below 2**31.
_BYTE_L2_MAX_FEATURES = 32767

#: Rows of a distance block processed at once by the exact L2 path (the
#: strip's squared distances and roots stay in the CPU cache).
_STRIP_ROWS = 64

#: Entries (index values or histogram bins) per coordinate chunk of the
#: histogram path; bounds its temporary memory to a few tens of MiB.
_HISTOGRAM_CHUNK_ENTRIES = 2**22


def _byte_range_start(X):
    """Smallest value of integer ``X`` when it spans at most 256 levels, else None.

    Such data (uint8 images, and any integer array of that range) take the
    exact fast paths; floats always take the general blocked path.
    """
    if X.dtype.kind not in "biu" or X.size == 0:
        return None
    lo, hi = int(X.min()), int(X.max())
    return lo if hi - lo < _BYTE_LEVELS else None


def _histogram_chunk(n, n_classes, n_features, n_levels, max_count):
    """Coordinates per chunk of the histogram path.

    Bounded by memory (``n * chunk`` indices, ``K * chunk * levels`` bins) and
    by exactness: every entry of the float64 product of cumulative counts is
    an integer below ``chunk * (levels - 1) * max_count**2``, which must stay
    below 2**53. Returns ``(chunk, exact_float)``; ``exact_float`` is False
    when not even one coordinate fits (more than about 6 million samples in
    one class), and the caller then multiplies in int64.
    """
    by_memory = _HISTOGRAM_CHUNK_ENTRIES // max(n, n_classes * n_levels, 1)
    by_exactness = 2**53 // max((n_levels - 1) * max_count * max_count, 1)
    chunk = int(max(1, min(n_features, by_memory, by_exactness)))
    return chunk, by_exactness >= 1


def _l1_class_sums_histogram_numpy(X, lo, y_idx, n_classes):
    """Exact sum of pairwise L1 distances per class pair from histograms (numpy).

    For integers ``a`` and ``b``, ``|a - b|`` is the number of thresholds
    ``t`` with ``min(a, b) <= t < max(a, b)``. With ``C_k(c, t)`` the number
    of samples of class ``k`` whose coordinate ``c`` is ``<= t``, the sum
    over all pairs of classes ``k`` and ``l`` is therefore

        sum_{c, t} C_k (n_l - C_l) + (n_k - C_k) C_l
        = n_l R_k + n_k R_l - 2 sum_{c, t} C_k(c, t) C_l(c, t),

    with ``R_k = sum_{c, t} C_k(c, t)``: a (K, K) matrix product of the
    cumulative histograms instead of ``n**2 d / 2`` absolute differences.
    Every quantity is an integer; the products are exact in float64 (see
    :func:`_histogram_chunk`) and accumulated in int64.
    """
    n, d = X.shape
    counts = np.bincount(y_idx, minlength=n_classes).astype(np.int64)
    n_levels = int(X.max()) - lo + 1
    if n_levels < 2:  # every value equal: all distances are 0
        return np.zeros((n_classes, n_classes))
    chunk, exact_float = _histogram_chunk(n, n_classes, d, n_levels, int(counts.max()))
    bins = chunk * n_levels
    # flat bin of (class, coordinate in chunk, level)
    base = (y_idx.astype(np.int64) * (chunk * n_levels))[:, None] + np.arange(
        chunk, dtype=np.int64
    ) * n_levels

    def chunk_sums(c0):
        """(totals, cross) of the coordinates c0 .. c0 + chunk, in int64."""
        m = min(chunk, d - c0)
        idx = base[:, :m] + (X[:, c0 : c0 + m].astype(np.int64) - lo)
        hist = np.bincount(idx.ravel(), minlength=n_classes * bins)
        hist = hist.reshape(n_classes, chunk, n_levels)[:, :m, :-1]
        # the last level's cumulative count is n_k for every coordinate: it
        # adds nothing to any |a - b| and is left out
        cum = np.cumsum(hist, axis=2).reshape(n_classes, -1)
        if not exact_float:  # more than ~6 million samples in one class
            return cum.sum(axis=1), np.stack([cum @ cum[k] for k in range(n_classes)])
        cumf = cum.astype(np.float64)
        # a @ a.T would go to BLAS's syrk, five times slower than gemm on
        # this (K x 255 chunk) shape in OpenBLAS: multiply by a copy
        cross = np.rint(cumf @ np.ascontiguousarray(cumf.T)).astype(np.int64)
        return cum.sum(axis=1), cross

    # chunks shared among single-threaded workers: multithreaded BLAS on these
    # thin products slowed down tenfold as soon as another job used a core
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    starts = range(0, d, chunk)
    n_workers = max(1, min(os.cpu_count() or 1, len(starts)))
    with (
        threadpool_limits(limits=1, user_api="blas"),
        ThreadPoolExecutor(n_workers) as pool,
    ):
        # a bar over the coordinate chunks (a terminal only)
        parts = list(progress_bar(pool.map(chunk_sums, starts), total=len(starts),
                                  desc="class distances", unit="chunk", delay=2.0))
    # integer sums: exact in any order
    totals = np.sum([p[0] for p in parts], axis=0, dtype=np.int64)
    cross = np.sum([p[1] for p in parts], axis=0, dtype=np.int64)
    sums = (
        counts[None, :] * totals[:, None]
        + counts[:, None] * totals[None, :]
        - 2 * cross
    )
    return sums.astype(np.float64)


def _l1_class_sums_histogram_torch(torch, dev, X, lo, y_idx, n_classes):
    """:func:`_l1_class_sums_histogram_numpy` with torch on ``dev`` (e.g. CUDA)."""
    n, d = X.shape
    counts_np = np.bincount(y_idx, minlength=n_classes).astype(np.int64)
    n_levels = int(X.max()) - lo + 1
    if n_levels < 2:
        return np.zeros((n_classes, n_classes))
    chunk, exact_float = _histogram_chunk(
        n, n_classes, d, n_levels, int(counts_np.max())
    )
    bins = chunk * n_levels
    # one upload in the input dtype (uint8 images: n*d bytes)
    Xt = torch.as_tensor(X if X.flags.writeable else np.array(X), device=dev)
    yt = torch.as_tensor(y_idx, dtype=torch.int64, device=dev)
    base = (yt * bins)[:, None] + torch.arange(chunk, device=dev) * n_levels
    cross = torch.zeros((n_classes, n_classes), dtype=torch.int64, device=dev)
    totals = torch.zeros(n_classes, dtype=torch.int64, device=dev)
    for c0 in progress_bar(range(0, d, chunk), desc="class distances", unit="chunk",
                           delay=2.0):
        m = min(chunk, d - c0)
        idx = base[:, :m] + (Xt[:, c0 : c0 + m].to(torch.int64) - lo)
        hist = torch.bincount(idx.reshape(-1), minlength=n_classes * bins)
        hist = hist.view(n_classes, chunk, n_levels)[:, :m, :-1]
        cum = torch.cumsum(hist, dim=2).reshape(n_classes, -1)
        totals += cum.sum(dim=1)
        if exact_float:
            cumf = cum.to(torch.float64)
            cross += torch.round(cumf @ cumf.T).to(torch.int64)
        else:  # more than ~6 million samples in one class: int64 products
            for k in range(n_classes):
                cross[k] += (cum * cum[k]).sum(dim=1)
    counts = torch.as_tensor(counts_np, device=dev)
    sums = (
        counts[None, :] * totals[:, None]
        + counts[:, None] * totals[None, :]
        - 2 * cross
    )
    return sums.cpu().numpy().astype(np.float64)


#: Verdicts of :func:`_exact_int_mm`, per (function, number of features).
_INT_MM_VERDICTS = {}


def _exact_int_mm(torch, n_features):
    """``torch._int_mm`` where it multiplies int8 matrices exactly here, else None.

    ``torch._int_mm`` (int8 x int8 -> int32, oneDNN's VNNI kernels on the
    CPU) is a private torch function: it may be missing, refuse a shape or
    give other numbers in another torch build. It is therefore checked once
    per torch function and number of features, on a product of that depth
    with the extreme values and odd row counts, against exact int64
    products; anything but an exact match (or an error) means None, and the
    caller takes the exact float64 products instead.
    """
    int_mm = None if torch is None else getattr(torch, "_int_mm", None)
    if int_mm is None:
        return None
    key = (int_mm, n_features)
    if key not in _INT_MM_VERDICTS:
        gen = np.random.default_rng(0)
        a = gen.integers(-128, 128, size=(33, n_features), dtype=np.int8)
        b = gen.integers(-128, 128, size=(17, n_features), dtype=np.int8)
        a[0], a[1], b[0] = -128, 127, -128  # the largest products of both signs
        expected = a.astype(np.int64) @ b.astype(np.int64).T
        try:
            with torch.no_grad():
                got = int_mm(torch.from_numpy(a), torch.from_numpy(b).T)
            ok = (
                isinstance(got, torch.Tensor)
                and got.dtype == torch.int32
                and tuple(got.shape) == expected.shape
                and np.array_equal(got.numpy().astype(np.int64), expected)
            )
        except Exception:  # any failure of a private function: not usable
            ok = False
        _INT_MM_VERDICTS[key] = ok
    return int_mm if _INT_MM_VERDICTS[key] else None


def _l2_class_sums_bytes(torch, X, lo, y_idx, n_classes, batch_size):
    """Sum of pairwise L2 distances per class pair, from exact integer squares.

    The values are shifted into int8 (``x - lo - 128``, translation does not
    change a distance); the squared distance ``|a|^2 + |b|^2 - 2 a.b`` of
    every pair is then an exact integer below 2**31, so only the square
    roots and the sums are rounded, in float64. The products ``a.b`` come
    from ``torch._int_mm`` when :func:`_exact_int_mm` accepts it (about 7x
    the float64 throughput on CPUs with VNNI), and otherwise from float64
    BLAS products of the same integers, which are exact too (every partial
    sum is an integer below 2**53): both give bit-identical results. Rows
    are sorted by class so that each block reduces to the few classes it
    holds instead of all K.

    The block pairs are shared among as many Python threads as torch (or,
    without torch, the machine) has CPU threads, each running
    single-threaded kernels: a block's element-wise steps are too short to
    split across threads (waiting on one another cost more than they saved,
    and far more on a machine shared with other jobs), and the products
    scale as well this way. The (classes x classes) sums of the block pairs
    are added in a fixed order, so the result depends neither on the
    threads' timing nor on their number.

    Memory: an int8 copy of ``X`` (``n * d`` bytes, sorted by class) plus,
    per thread, a few ``batch_size**2`` blocks (and, on the float64
    products, two ``batch_size * d`` float64 row blocks).
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    n, d = X.shape
    int_mm = _exact_int_mm(torch, d)
    order = np.argsort(y_idx, kind="stable")
    ys = y_idx[order]
    shift = lo + 128
    Q = np.empty((n, d), dtype=np.int8)
    sq = np.empty(n, dtype=np.int32)  # at most 128**2 * d < 2**31
    for i in range(0, n, 4096):
        rows = X[order[i : i + 4096]].astype(np.int16) - shift  # in [-128, 127]
        Q[i : i + 4096] = rows
        sq[i : i + 4096] = np.sum(rows * rows, axis=1, dtype=np.int64)
    Qt = None if int_mm is None else torch.from_numpy(Q)

    def products(i, j):
        """Exact ``a . b`` of the row blocks at i and j (int32, or float64)."""
        if int_mm is not None:
            try:
                return int_mm(Qt[i : i + batch_size], Qt[j : j + batch_size].T).numpy()
            except Exception:  # a shape it refuses after all: exact floats
                pass
        A = Q[i : i + batch_size].astype(np.float64)
        B = A if j == i else Q[j : j + batch_size].astype(np.float64)
        return A @ B.T

    # each row block: its first row, the classes it holds and where each
    # class's rows start within it (rows are sorted by class)
    blocks = []
    for i in range(0, n, batch_size):
        yb = ys[i : i + batch_size]
        starts = np.flatnonzero(np.r_[True, yb[1:] != yb[:-1]])
        blocks.append((i, yb[starts], starts))
    pairs = [(bi, bj) for bi in range(len(blocks)) for bj in range(bi, len(blocks))]

    def class_sums(pair):
        """(classes of block i, classes of block j) sums of the distances."""
        bi, bj = pairs[pair]
        i, _, starts_i = blocks[bi]
        j, _, starts_j = blocks[bj]
        G = products(i, j)
        sq_i, sq_j = sq[i : i + batch_size], sq[None, j : j + batch_size]
        rows = np.empty((G.shape[0], len(starts_j)))
        # a strip of rows at a time, so that the squared distances, their
        # roots and the sums stay in the cache (a third of the time of whole
        # blocks): |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, exact in the type of G
        t = np.empty((_STRIP_ROWS, G.shape[1]), dtype=G.dtype)
        f = np.empty((_STRIP_ROWS, G.shape[1]))
        for r in range(0, G.shape[0], _STRIP_ROWS):
            g = G[r : r + _STRIP_ROWS]
            m = g.shape[0]
            np.multiply(g, -2, out=t[:m])
            t[:m] += sq_i[r : r + m, None]
            t[:m] += sq_j
            np.sqrt(t[:m], out=f[:m])
            rows[r : r + m] = np.add.reduceat(f[:m], starts_j, axis=1)
        return np.add.reduceat(rows, starts_i, axis=0)

    n_threads = torch.get_num_threads() if torch is not None else os.cpu_count() or 1
    n_workers = max(1, min(n_threads, len(pairs)))
    previous = None if torch is None else torch.get_num_threads()
    if torch is not None:
        torch.set_num_threads(1)
    try:
        with (
            threadpool_limits(limits=1, user_api="blas"),
            ThreadPoolExecutor(n_workers) as pool,
        ):
            # one task per block pair, handed to whichever thread is free;
            # a bar over the pairs (a terminal only), advanced in their order
            done = list(progress_bar(pool.map(class_sums, range(len(pairs))),
                                     total=len(pairs), desc="class distances",
                                     unit="block", delay=2.0))
    finally:
        if torch is not None:
            torch.set_num_threads(previous)
    # added in block order: the result does not depend on the thread count
    sums = np.zeros((n_classes, n_classes))
    for (bi, bj), block in zip(pairs, done):
        ci, cj = blocks[bi][1], blocks[bj][1]
        sums[np.ix_(ci, cj)] += block
        if bj != bi:
            sums[np.ix_(cj, ci)] += block.T
    return sums


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
