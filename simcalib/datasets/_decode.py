"""Decode many images with Pillow, in worker processes when there are many.

Shared by :func:`~simcalib.datasets.load_tiny_imagenet` and
:func:`~simcalib.datasets.load_image_folder`: the items are split into
chunks, each chunk is decoded by a picklable function into one uint8 array,
and the chunks are concatenated in order. Progress is a
:func:`simcalib.progress.progress_bar` (a terminal only).
"""

from __future__ import annotations

import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from simcalib.progress import progress_bar

__all__ = ["decode_images", "MIN_PARALLEL", "CHUNK"]

#: Below this many images, decoding in the calling process is faster than
#: starting worker processes.
MIN_PARALLEL = 4000
#: Images per task of a worker process.
CHUNK = 2000


def _n_workers(n_jobs, n_items):
    if n_jobs is None:
        return min(os.cpu_count() or 1, 8) if n_items >= MIN_PARALLEL else 1
    if n_jobs < 0:
        return os.cpu_count() or 1
    return n_jobs


def decode_images(items, decode_chunk, *, n_jobs=None, verbose=False, what="images",
                  chunk=CHUNK, empty_shape=(0, 0, 3)):
    """Decode ``items`` chunk by chunk into one ``(n, H, W, C)`` uint8 array.

    Parameters
    ----------
    items : list of tuple
        ``(where, entry)`` pairs; ``where`` names the image in messages.
    decode_chunk : callable
        Picklable function (module level or a :func:`functools.partial` of
        one) taking a list of items and returning an ``(len, H, W, C)``
        uint8 array.
    n_jobs : int, default=None
        Worker processes; None uses up to 8 CPUs for more than
        :data:`MIN_PARALLEL` images, -1 all CPUs, 1 decodes in this process.
    verbose : bool, default=False
        Show a progress bar (on a terminal).
    what : str, default="images"
        Name of the split, shown beside the bar.
    chunk : int, default=CHUNK
        Images per task.
    empty_shape : tuple of int, default=(0, 0, 3)
        ``(H, W, C)`` of the result when ``items`` is empty.

    Returns
    -------
    images : ndarray of shape (n, H, W, C), dtype uint8

    Raises
    ------
    ValueError
        When two images differ in size (naming the first one that does), or
        as raised by ``decode_chunk``.

    Examples
    --------
    >>> import numpy as np
    >>> def ones(items):
    ...     return np.ones((len(items), 2, 2, 1), np.uint8)
    >>> decode_images([("a", None), ("b", None)], ones, n_jobs=1).shape
    (2, 2, 2, 1)
    """
    if not items:
        return np.empty((0, *empty_shape), dtype=np.uint8)
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    n_jobs = _n_workers(n_jobs, len(items))
    results = []
    bar = progress_bar(total=len(items), desc=f"decoding {what}", unit="img", enabled=verbose)
    try:
        if n_jobs == 1 or len(chunks) == 1:
            for part in chunks:
                results.append(decode_chunk(part))
                bar.update(len(part))
        else:
            # Fork on Linux like torch's DataLoader: the workers only run Pillow,
            # and "spawn" would re-import the caller's __main__ (breaking scripts
            # without an ``if __name__ == "__main__"`` guard).
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            with warnings.catch_warnings():
                # Python >= 3.12 warns about fork() in a process with threads.
                warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
                with ProcessPoolExecutor(n_jobs, mp_context=get_context(method)) as pool:
                    for part, arr in zip(chunks, pool.map(decode_chunk, chunks)):
                        results.append(arr)
                        bar.update(len(part))
    finally:
        bar.close()
    first = results[0].shape[1:]
    for part, arr in zip(chunks, results):
        if arr.shape[1:] != first:
            raise ValueError(
                f"image {part[0][0]} has size {arr.shape[2]}x{arr.shape[1]}; "
                f"the others have {first[1]}x{first[0]}"
            )
    return np.concatenate(results)
