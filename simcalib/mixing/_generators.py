"""The generator interface of semantic mixing, and the pixel-space generators.

A *generator* turns class weights into images::

    generate(class_weights, random_state) -> images

``class_weights`` has shape ``(n, K)`` (row ``i`` is the class mixture that
image ``i`` should show, columns in the order of the mixer's ``classes_``);
``images`` has shape ``(n, C, H, W)`` in the scale of the training images.
Any callable of that shape works; the generators of this package are
estimators with a ``generate`` method (and ``__call__`` = ``generate``).
With the same ``random_state`` and the same ``n``, the built-in generators
draw the same noise (or the same source images) for each position, so
calling them at several mixing ratios gives "same noise, mixed
conditioning" rows.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from simcalib._validation import (
    _is_torch_tensor,
    check_images,
    check_scalar_in_range,
    encode_labels,
)

__all__ = [
    "BaseGenerator",
    "PixelMixGenerator",
    "check_class_weights",
    "generate_images",
]

#: Rows of ``class_weights`` must sum to 1 within this tolerance.
_ROW_SUM_ATOL = 1e-4
_MAX_SEED = 2**63 - 1


def check_class_weights(class_weights, n_classes=None, *, name="class_weights"):
    """Validate class weights: an ``(n, K)`` array of non-negative rows summing to 1.

    Parameters
    ----------
    class_weights : array-like of shape (n_samples, n_classes)
        Row ``i`` is the class mixture of sample ``i``.
    n_classes : int, default=None
        Expected number of columns (None: any, at least 2).
    name : str, default="class_weights"
        Name used in error messages.

    Returns
    -------
    class_weights : ndarray of shape (n_samples, n_classes), dtype=float64
        The weights, each row renormalised to sum to exactly 1.

    Raises
    ------
    ValueError
        If the array is not 2-D, is empty, has the wrong number of columns,
        holds NaN, infinity or negative values, or a row does not sum to 1.

    Examples
    --------
    >>> check_class_weights([[0.25, 0.75, 0.0]]).tolist()
    [[0.25, 0.75, 0.0]]
    >>> check_class_weights([[0.5, 0.6]])
    Traceback (most recent call last):
    ...
    ValueError: every row of class_weights must sum to 1; row 0 sums to 1.1
    """
    if _is_torch_tensor(class_weights):
        class_weights = class_weights.detach().cpu().numpy()
    try:
        W = np.asarray(class_weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a numeric array of shape (n_samples, n_classes); got "
            f"{type(class_weights).__name__}"
        ) from None
    if W.ndim != 2 or W.shape[0] == 0 or W.shape[1] < 2:
        raise ValueError(
            f"{name} must have shape (n_samples, n_classes) with n_samples >= 1 and "
            f"n_classes >= 2; got shape {W.shape}"
        )
    if n_classes is not None and W.shape[1] != n_classes:
        raise ValueError(
            f"{name} must have {n_classes} columns (one per class); got {W.shape[1]}"
        )
    if not np.all(np.isfinite(W)):
        raise ValueError(f"{name} must be finite; got NaN or infinity")
    if np.any(W < 0):
        row = int(np.flatnonzero((W < 0).any(axis=1))[0])
        raise ValueError(f"{name} must be non-negative; row {row} has {W[row].min():g}")
    sums = W.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1.0) > _ROW_SUM_ATOL)
    if bad.size:
        raise ValueError(
            f"every row of {name} must sum to 1; row {int(bad[0])} sums to "
            f"{sums[bad[0]]:.6g}"
        )
    return W / sums[:, None]


def numpy_rng(random_state):
    """A :class:`numpy.random.Generator` from ``None``, an int or a generator.

    Examples
    --------
    >>> numpy_rng(0).integers(10) == numpy_rng(0).integers(10)
    np.True_
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(int(random_state.randint(np.iinfo(np.int32).max)))
    if random_state is not None:
        check_scalar_in_range(random_state, "random_state", lo=0, hi=_MAX_SEED, integer=True)
    return np.random.default_rng(random_state)


def torch_seed(random_state):
    """An int seed for a :class:`torch.Generator` (``random_state`` itself when an int).

    Examples
    --------
    >>> torch_seed(7)
    7
    """
    if random_state is None or isinstance(
        random_state, np.random.Generator | np.random.RandomState
    ):
        return int(numpy_rng(random_state).integers(_MAX_SEED))
    check_scalar_in_range(random_state, "random_state", lo=0, hi=_MAX_SEED, integer=True)
    return int(random_state)


def generate_images(generator, class_weights, random_state=None, *, image_shape=None):
    """Call a generator and check what it returns.

    Parameters
    ----------
    generator : object with ``generate`` or callable
        ``generate(class_weights, random_state)`` (or
        ``generator(class_weights, random_state)``) returning images.
    class_weights : ndarray of shape (n_samples, n_classes)
        Already validated class weights.
    random_state : None, int or numpy Generator, default=None
        Passed on unchanged.
    image_shape : tuple of int (C, H, W), default=None
        Expected shape of one image; None accepts any ``(C, H, W)``.

    Returns
    -------
    images : ndarray of shape (n_samples, C, H, W), dtype=float32

    Raises
    ------
    ValueError
        If the generator is neither callable nor has ``generate``, or returns
        something that is not ``n_samples`` finite channels-first images of
        ``image_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> gen = lambda w, rs: np.ones((len(w), 1, 2, 2)) * w[:, :1, None, None]
    >>> generate_images(gen, np.array([[0.25, 0.75]]))[0, 0].tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """
    call = getattr(generator, "generate", None)
    if call is None:
        if not callable(generator):
            raise ValueError(
                "generator must have a generate(class_weights, random_state) method or "
                f"be such a callable; got {type(generator).__name__}"
            )
        call = generator
    images = call(class_weights, random_state)
    if _is_torch_tensor(images):
        images = images.detach().cpu().float().numpy()
    try:
        images = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            f"the generator must return an array of images; got {type(images).__name__}"
        ) from None
    n = class_weights.shape[0]
    if images.ndim != 4 or images.shape[0] != n:
        raise ValueError(
            f"the generator must return images of shape (n_samples={n}, C, H, W); got "
            f"shape {images.shape}"
        )
    if image_shape is not None and tuple(images.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"the generator returned images of shape {tuple(images.shape[1:])}; the "
            f"training images have shape {tuple(image_shape)}"
        )
    if not np.all(np.isfinite(images)):
        raise ValueError("the generator returned images with NaN or infinite values")
    return images


class BaseGenerator(BaseEstimator):
    """Base of the built-in generators: ``__call__`` is :meth:`generate`.

    Subclasses learn from ``(X, y)`` in ``fit`` (setting ``classes_`` and
    ``image_shape_``) and implement ``_generate(W, random_state)`` for
    validated class weights ``W`` of shape ``(n, len(classes_))``.
    """

    def generate(self, class_weights, random_state=None):
        """Images that show the class mixtures ``class_weights``.

        Parameters
        ----------
        class_weights : array-like of shape (n_samples, n_classes)
            Non-negative rows summing to 1; columns follow ``classes_``.
        random_state : None, int or numpy Generator, default=None
            Seed of the noise (or of the source images). The same int and the
            same ``n_samples`` give the same noise at each position.

        Returns
        -------
        images : ndarray of shape (n_samples, C, H, W), dtype=float32
            In the scale of the training images.
        """
        check_is_fitted(self, "classes_")
        W = check_class_weights(class_weights, len(self.classes_))
        return self._generate(W, random_state)

    def __call__(self, class_weights, random_state=None):
        return self.generate(class_weights, random_state)

    def _fit_labels(self, X, y):
        """Checked images (numpy, channels first) and encoded labels."""
        if _is_torch_tensor(X):
            X = X.detach().cpu().numpy()
        X = check_images(X, name="X")
        classes, codes = encode_labels(y, name="y", min_classes=2)
        if codes.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {codes.shape[0]}")
        return np.asarray(X), classes, codes


class PixelMixGenerator(BaseGenerator):
    """Pixel-space mixing of real training images: mixup or CutMix.

    The degenerate generator of semantic mixing and its baseline: no model,
    the evidence of each class is whatever survives in pixel space.

    - ``"mixup"`` (Zhang et al. 2018): ``sum_k w_k x_k`` with ``x_k`` a
      random training image of class ``k`` (any number of classes per row).
    - ``"cutmix"`` (Yun et al. 2019): an image of the first class of the
      row (lowest column with positive weight) with a rectangle of the
      second class's image pasted in, of area ``w_second * H * W`` (side
      ratio ``sqrt(w_second)``, rounded to whole pixels) at a random place
      inside the image; at most two classes per row. The box always lies
      inside the image (Yun et al. clip a box centred anywhere, which makes
      its area random); the rounding still makes the pasted fraction differ
      slightly from the weight, which the re-annotation of
      :class:`SemanticMixer` measures rather than assumes.

    Parameters
    ----------
    kind : {"mixup", "cutmix"}, default="mixup"
        The mixing operation.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels of ``y``; column ``k`` of the class weights is ``classes_[k]``.
    image_shape_ : tuple of int
        ``(C, H, W)`` of the training images.

    References
    ----------
    .. [1] H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz, "mixup: Beyond
       Empirical Risk Minimization", ICLR 2018.
    .. [2] S. Yun, D. Han, S. J. Oh, S. Chun, J. Choe and Y. Yoo, "CutMix:
       Regularization Strategy to Train Strong Classifiers with Localizable
       Features", ICCV 2019.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.stack([np.zeros((1, 4, 4)), np.ones((1, 4, 4))])
    >>> gen = PixelMixGenerator("mixup").fit(X, [0, 1])
    >>> float(gen.generate([[0.25, 0.75]], random_state=0).mean())
    0.75
    >>> cut = PixelMixGenerator("cutmix").fit(X, [0, 1])
    >>> float(cut.generate([[0.75, 0.25]], random_state=0).mean())  # a 2x2 box of ones
    0.25
    """

    _KINDS = ("mixup", "cutmix")

    def __init__(self, kind="mixup"):
        self.kind = kind

    def fit(self, X, y):
        """Keep the training images, grouped by class.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Training images (kept by reference; uint8 stays uint8).
        y : array-like of shape (n_samples,)
            Class labels; every class needs an image.

        Returns
        -------
        self : PixelMixGenerator
        """
        if not isinstance(self.kind, str) or self.kind not in self._KINDS:
            raise ValueError(f"kind must be one of {self._KINDS}; got {self.kind!r}")
        X, classes, codes = self._fit_labels(X, y)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(classes))
        self.classes_ = classes
        self.image_shape_ = tuple(int(s) for s in X.shape[1:])
        self.images_ = X
        self.order_ = order
        self.class_starts_ = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.class_counts_ = counts
        return self

    def _source_indices(self, u, cls):
        """Image index of class ``cls`` (per row) chosen by the uniforms ``u``."""
        pick = np.minimum((u * self.class_counts_[cls]).astype(np.int64),
                          self.class_counts_[cls] - 1)
        return self.order_[self.class_starts_[cls] + pick]

    def _generate(self, W, random_state):
        rng = numpy_rng(random_state)
        n, K = W.shape
        # one uniform per (row, class) and two per row for the box, drawn
        # whatever the weights: the same seed picks the same source image of
        # a class (and the same box position) at every mixing ratio
        u = rng.random((n, K))
        v = rng.random((n, 2))
        if self.kind == "mixup":
            return self._mixup(W, u)
        return self._cutmix(W, u, v)

    def _mixup(self, W, u):
        out = np.zeros((W.shape[0], *self.image_shape_), dtype=np.float32)
        for k in np.flatnonzero(W.any(axis=0)):  # a loop over classes, not samples
            rows = np.flatnonzero(W[:, k] > 0)
            src = self._source_indices(u[rows, k], np.full(rows.size, k))
            out[rows] += (W[rows, k, None, None, None] * self.images_[src]).astype(np.float32)
        return out

    def _cutmix(self, W, u, v):
        n = W.shape[0]
        positive = W > 0
        n_pos = positive.sum(axis=1)
        if np.any(n_pos > 2):
            row = int(np.flatnonzero(n_pos > 2)[0])
            raise ValueError(
                "kind='cutmix' mixes at most two classes per image; row "
                f"{row} of class_weights has {int(n_pos[row])} positive weights"
            )
        rows = np.arange(n)
        first = positive.argmax(axis=1)
        # the second positive column, or the first again for a pure row
        masked = np.where(positive & (np.arange(W.shape[1]) > first[:, None]), 1, 0)
        second = np.where(masked.any(axis=1), masked.argmax(axis=1), first)
        area = np.where(second != first, W[rows, second], 0.0)
        _, H, Wd = self.image_shape_
        box_h = np.rint(np.sqrt(area) * H).astype(np.int64)
        box_w = np.rint(np.sqrt(area) * Wd).astype(np.int64)
        top = np.minimum((v[:, 0] * (H - box_h + 1)).astype(np.int64), H - box_h)
        left = np.minimum((v[:, 1] * (Wd - box_w + 1)).astype(np.int64), Wd - box_w)
        hh = np.arange(H)[None, :]
        ww = np.arange(Wd)[None, :]
        in_rows = (hh >= top[:, None]) & (hh < (top + box_h)[:, None])  # (n, H)
        in_cols = (ww >= left[:, None]) & (ww < (left + box_w)[:, None])  # (n, W)
        box = in_rows[:, :, None] & in_cols[:, None, :]  # (n, H, W)
        base = self.images_[self._source_indices(u[rows, first], first)]
        patch = self.images_[self._source_indices(u[rows, second], second)]
        return np.where(box[:, None], patch, base).astype(np.float32)

