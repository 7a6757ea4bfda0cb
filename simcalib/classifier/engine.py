"""The data side of the training engine: images kept as tensors, batched on the device.

skorch's default path (a :class:`torch.utils.data.DataLoader` over a numpy
array) collates every batch sample by sample on the CPU and copies it to the
device. Here the whole image array is held as one tensor -- as uint8 when it
arrives as uint8, on the GPU when it fits -- and a batch is one indexing
operation followed by the on-device augmentation of :mod:`simcalib.nn.augmentation`.
:class:`~simcalib.classifier.SimilarityLSClassifier` plugs these in through
skorch's ``get_dataset`` and ``get_iterator`` hooks.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from torch.utils.data import Subset

from simcalib._validation import check_scalar_in_range
from simcalib.nn._device import resolve_device, uses_cuda

__all__ = [
    "ImageTensorDataset",
    "batch_images",
    "DeviceBatchIterator",
    "SeededGenerator",
    "loadable_device",
    "place_images",
]

#: Fraction of the free GPU memory the training images may take; above it
#: they stay in (pinned) host memory and each batch is copied over.
DEVICE_MEMORY_FRACTION = 0.5


def numpy_to_tensor(X):
    """Wrap an array as a CPU tensor, copying only when torch cannot share it.

    Read-only arrays (a memory-mapped dataset cache, for example) are copied,
    since torch cannot share memory it may not write.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(3)
    >>> a.flags.writeable = False
    >>> numpy_to_tensor(a).tolist()
    [0, 1, 2]
    """
    X = np.ascontiguousarray(X)
    if not X.flags.writeable:
        X = X.copy()
    return torch.from_numpy(X)


def place_images(X, device):
    """Return ``X`` as a tensor on ``device`` if it fits, else on the CPU.

    Parameters
    ----------
    X : ndarray or torch.Tensor of shape (n_samples, channels, height, width)
        uint8 images are kept as uint8; any other dtype becomes float32.
    device : str
        The compute device.

    Returns
    -------
    X : torch.Tensor
        On ``device`` when it is the CPU or when the array takes less than
        :data:`DEVICE_MEMORY_FRACTION` of the free GPU memory; otherwise a
        pinned CPU tensor.

    Examples
    --------
    >>> import numpy as np
    >>> place_images(np.zeros((2, 1, 4, 4), dtype=np.uint8), "cpu").dtype
    torch.uint8
    """
    if isinstance(X, np.ndarray):
        if X.dtype != np.uint8:
            X = X.astype(np.float32, copy=False)
        X = numpy_to_tensor(X)
    elif X.dtype != torch.uint8:
        X = X.float()
    if not uses_cuda(device):
        return X.to(device)
    free, _ = torch.cuda.mem_get_info(torch.device(device))
    if X.numel() * X.element_size() < DEVICE_MEMORY_FRACTION * free:
        return X.to(device)
    return X.cpu().pin_memory()


#: Keys of the input of a batch that carries per-sample soft targets: such a
#: batch is ``({"X": images, "soft_targets": targets}, labels)``. The targets
#: ride on the input side so that the label side stays the 1-D encoded
#: labels that skorch's scoring callbacks and stratified splits read.
IMAGES_KEY = "X"
SOFT_TARGETS_KEY = "soft_targets"


def batch_images(Xi):
    """Split the input of a batch into ``(images, soft_targets or None)``.

    Parameters
    ----------
    Xi : torch.Tensor or dict
        Images, or ``{"X": images, "soft_targets": targets}`` as yielded for
        an :class:`ImageTensorDataset` that holds per-sample soft targets.

    Returns
    -------
    images : torch.Tensor of shape (batch, C, H, W)
    soft_targets : torch.Tensor of shape (batch, n_classes) or None

    Examples
    --------
    >>> import torch
    >>> x, t = batch_images({"X": torch.zeros(2, 1, 2, 2), "soft_targets": torch.ones(2, 3)})
    >>> tuple(x.shape), tuple(t.shape)
    ((2, 1, 2, 2), (2, 3))
    >>> batch_images(torch.zeros(2, 1, 2, 2))[1] is None
    True
    """
    if isinstance(Xi, dict):
        return Xi[IMAGES_KEY], Xi.get(SOFT_TARGETS_KEY)
    return Xi, None


class ImageTensorDataset(torch.utils.data.Dataset):
    """Images, integer labels and optional per-sample soft targets held as tensors.

    Indexing one sample (``dataset[i]``) works, so a plain ``DataLoader``
    can read it, but :class:`DeviceBatchIterator` reads whole batches.

    Parameters
    ----------
    X : torch.Tensor of shape (n_samples, channels, height, width)
        uint8 or float32 images.
    y : torch.Tensor of shape (n_samples,) or None
        int64 labels in ``0 .. n_classes - 1``.
    soft_targets : torch.Tensor of shape (n_samples, n_classes) or None
        float32 training targets, one row per sample. When given, a sample
        (and a batch) is ``({"X": image, "soft_targets": target}, label)``
        (see :func:`batch_images`), so the targets follow the images
        through shuffling, skorch's ``train_split`` (which indexes the
        dataset) and onto the device.

    Examples
    --------
    >>> import torch
    >>> ds = ImageTensorDataset(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 0]))
    >>> len(ds), ds[1][1].item()
    (3, 1)
    >>> ds = ImageTensorDataset(torch.zeros(3, 1, 2, 2), torch.tensor([0, 1, 0]),
    ...                         soft_targets=torch.eye(2)[[0, 1, 0]])
    >>> ds[1][0]["soft_targets"].tolist()
    [0.0, 1.0]
    """

    def __init__(self, X, y=None, soft_targets=None):
        if y is not None and len(y) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
        if soft_targets is not None:
            if soft_targets.ndim != 2 or len(soft_targets) != len(X):
                raise ValueError(
                    f"soft_targets must have shape ({len(X)}, n_classes); "
                    f"got {tuple(soft_targets.shape)}"
                )
        self.X = X
        self.y = y
        self.soft_targets = soft_targets

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        x = self.X[i]
        if self.soft_targets is not None:
            x = {IMAGES_KEY: x, SOFT_TARGETS_KEY: self.soft_targets[i]}
        return x, (self.y[i] if self.y is not None else 0)


def _resolve(dataset):
    """Unwrap (nested) ``Subset`` objects into (base dataset, indices or None)."""
    indices = None
    while isinstance(dataset, Subset):
        idx = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.long)
        indices = idx if indices is None else idx[indices]
        dataset = dataset.dataset
    return dataset, indices


def is_image_dataset(dataset):
    """Whether ``dataset`` is an :class:`ImageTensorDataset` or a subset of one."""
    return isinstance(_resolve(dataset)[0], ImageTensorDataset)


class DeviceBatchIterator:
    """Iterate over an :class:`ImageTensorDataset` in batches, on the device.

    Each pass (one epoch) draws a fresh permutation from ``generator`` when
    ``shuffle`` is true, so re-iterating the same object gives a new order
    and the order depends only on the generator's state. A batch is
    ``(images, labels)``, or ``({"X": images, "soft_targets": targets},
    labels)`` when the dataset holds per-sample soft targets (gathered with
    the same indices, on the same device; augmentation touches the images
    only).

    Parameters
    ----------
    dataset : ImageTensorDataset or torch.utils.data.Subset of one
        The data.
    batch_size : int, default=128
        Samples per batch.
    shuffle : bool, default=False
        Whether to visit the samples in a random order.
    drop_last : bool, default=False
        Whether to drop the last incomplete batch. A last batch of a single
        sample is always dropped when ``training`` is true, because batch
        normalisation cannot train on it.
    device : str, default="cpu"
        Where the batches are sent.
    generator : torch.Generator, default=None
        Source of the permutation and of ``augment``'s randomness, on
        ``device``; required when ``shuffle`` is true.
    augment : callable, default=None
        ``augment(images, generator) -> images`` applied to each batch on the
        device (before any float conversion).
    training : bool, default=False
        Whether the batches are for training.
    num_replicas : int, default=1
        Data-parallel processes sharing the data. With more than one, every
        process draws the same permutation (same generator seed) and takes
        every ``num_replicas``-th sample of it from position ``rank``, so the
        shards are disjoint and all processes run the same number of batches
        (the last ``n % num_replicas`` samples of a pass are left out).
    rank : int, default=0
        Index of this process among ``num_replicas``.

    Examples
    --------
    >>> import torch
    >>> ds = ImageTensorDataset(torch.zeros(5, 1, 2, 2), torch.arange(5))
    >>> [len(xb) for xb, yb in DeviceBatchIterator(ds, batch_size=2)]
    [2, 2, 1]
    """

    def __init__(
        self, dataset, batch_size=128, shuffle=False, drop_last=False, device="cpu",
        generator=None, augment=None, training=False, num_replicas=1, rank=0,
    ):
        check_scalar_in_range(batch_size, "batch_size", lo=1, integer=True)
        if shuffle and generator is None:
            raise ValueError("shuffle=True needs a generator")
        base, indices = _resolve(dataset)
        if not isinstance(base, ImageTensorDataset):
            raise ValueError(
                f"DeviceBatchIterator reads ImageTensorDataset objects; got {type(base).__name__}"
            )
        check_scalar_in_range(num_replicas, "num_replicas", lo=1, integer=True)
        check_scalar_in_range(rank, "rank", lo=0, integer=True)
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, num_replicas={num_replicas}); got {rank!r}")
        self.X, self.y = base.X, base.y
        self.soft_targets = base.soft_targets
        self.indices = indices
        self.n_total = len(base) if indices is None else len(indices)
        self.n = self.n_total // num_replicas
        self.num_replicas, self.rank = num_replicas, rank
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.device = torch.device(device)
        self.generator = generator
        self.augment = augment
        self.training = training

    def __len__(self):
        n_full, rest = divmod(self.n, self.batch_size)
        if rest and not self.drop_last and not (self.training and rest == 1):
            return n_full + 1
        return n_full

    def __iter__(self):
        gen_device = self.generator.device if self.generator is not None else self.device
        if self.shuffle:
            order = torch.randperm(self.n_total, device=gen_device, generator=self.generator)
        else:
            order = None
        if self.num_replicas > 1:
            if order is None:
                order = torch.arange(self.n_total, device=gen_device)
            order = order[self.rank:self.n * self.num_replicas:self.num_replicas]
        base_idx = None if self.indices is None else self.indices.to(self.X.device)
        for b in range(len(self)):
            start, stop = b * self.batch_size, min((b + 1) * self.batch_size, self.n)
            if order is None:
                if base_idx is None:
                    sel = slice(start, stop)
                else:
                    sel = base_idx[start:stop]
            else:
                sel = order[start:stop].to(self.X.device)
                if base_idx is not None:
                    sel = base_idx[sel]
            xb = self.X[sel].to(self.device, non_blocking=True)
            yb = None if self.y is None else self.y[sel].to(self.device, non_blocking=True)
            if self.augment is not None:
                xb = self.augment(xb, self.generator)
            if self.soft_targets is not None:
                tb = self.soft_targets[sel].to(self.device, non_blocking=True)
                xb = {IMAGES_KEY: xb, SOFT_TARGETS_KEY: tb}
            yield xb, yb


def loadable_device(device):
    """``device`` resolved if this machine has it, else ``"cpu"`` (for unpickling).

    Examples
    --------
    >>> loadable_device("cpu")
    'cpu'
    """
    try:
        return resolve_device(device)
    except ValueError:
        return "cpu"


class SeededGenerator(torch.Generator):
    """The batch iterator's :class:`torch.Generator`, made picklable (device and state).

    Unpickled where its GPU is missing, it becomes a CPU generator seeded
    from the CUDA state (the two state formats differ).

    Examples
    --------
    >>> import pickle, torch
    >>> g = SeededGenerator().manual_seed(0)
    >>> h = pickle.loads(pickle.dumps(g))
    >>> torch.equal(torch.randperm(5, generator=g), torch.randperm(5, generator=h))
    True
    """

    def __reduce__(self):
        return (_rebuild_generator, (str(self.device), self.get_state()))


def _rebuild_generator(device, state):
    target = loadable_device(device)
    gen = SeededGenerator(device=target)
    if torch.device(target).type == torch.device(device).type:
        gen.set_state(state)
        return gen
    digest = hashlib.sha256(state.numpy().tobytes()).digest()
    gen.manual_seed(int.from_bytes(digest[:8], "little"))
    return gen
