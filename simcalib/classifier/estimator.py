"""SimilarityLSClassifier: a skorch CNN classifier trained on class-similarity soft labels."""

from __future__ import annotations

import contextlib
import inspect
import numbers

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import is_dataset, to_numpy

from simcalib.classifier.callbacks import LRSchedule
from simcalib.classifier.engine import (
    DeviceBatchIterator,
    ImageTensorDataset,
    is_image_dataset,
    place_images,
)
from simcalib.nn import SoftTargetCrossEntropy, build_network, random_crop_flip
from simcalib.nn._device import autocast, resolve_device, uses_cuda

__all__ = ["SimilarityLSClassifier"]

_AUGMENT = {"crop_flip": (True, True), "crop": (True, False), "flip": (False, True)}
_DEFAULT_NETWORK = "resnet18"


def _encoded_accuracy(net, X, y):
    # y in the callbacks is the encoded label, i.e. the column of predict_proba
    return float(np.mean(net.predict_proba(X).argmax(1) == to_numpy(y)))


def _encode(classes, y):
    """Positions of the labels ``y`` in ``classes``; ValueError for unknown labels."""
    order = np.argsort(classes, kind="stable")
    pos = np.searchsorted(classes[order], y).clip(0, len(classes) - 1)
    codes = order[pos]
    if not np.array_equal(classes[codes], y):
        unknown = sorted(set(np.unique(y).tolist()) - set(np.asarray(classes).tolist()))
        raise ValueError(f"y has labels {unknown} that are not among the classes")
    return codes.astype(np.int64)


def _is_device_iterator(cls):
    return isinstance(cls, type) and issubclass(cls, DeviceBatchIterator)


def _softmax(logits):
    return torch.softmax(logits, dim=-1)


class SimilarityLSClassifier(NeuralNetClassifier):
    """CNN classifier trained on class-similarity smooth labels (skorch).

    In :meth:`fit` the labels are encoded, a soft-label matrix ``Q`` of shape
    ``(K, K)`` is built from the training data (by default with a
    :class:`~simcalib.smoothing.SimilaritySmoother`, row ``k`` being the
    target of class ``k``), and the network is trained with the soft-target
    cross-entropy ``-(Q[y] * log_softmax(z)).sum(1).mean()``. ``y`` stays a
    1-D label vector throughout (stratified CV and scorers work); targets are
    built inside :meth:`get_loss`.

    The baselines of the paper run through the same engine: one-hot
    (``alpha=0`` or ``similarity="onehot"``), uniform label smoothing
    (``similarity="uniform"``), mixup (``mixup_alpha > 0``, combinable with
    any targets) and a user-supplied soft-label matrix.

    **Input.** ``X`` holds images of shape ``(n, C, H, W)`` or ``(n, H, W)``
    (one channel), as a numpy array or torch tensor; flat features of shape
    ``(n, C*H*W)`` are accepted when ``input_shape`` says how to fold them.
    uint8 images are divided by 255 (and stay uint8 in memory until a batch
    is used); any other numeric dtype is used as given, as float32. With
    ``standardize=True`` each channel is then centred and scaled by the
    training set's mean and standard deviation.

    **Training engine.** The images are held as one tensor on the device
    when they fit (see :mod:`simcalib.classifier.engine`), batches are
    gathered and augmented there (random crop with zero padding, horizontal
    flip), the forward pass runs under bf16 autocast and channels-last
    memory format on CUDA, ``compile=True`` uses :func:`torch.compile`, and
    the learning rate follows a one-cycle or cosine schedule
    (:class:`~simcalib.classifier.callbacks.LRSchedule`).

    Parameters
    ----------
    module : None, str, torch.nn.Module class or instance, default=None
        The network. None builds ``"resnet18"`` and a string builds that
        name with :func:`simcalib.nn.build_network`, both with the number of
        input channels and classes seen in :meth:`fit` (``module__*``
        parameters are passed on, e.g. ``module__width=16``). A class or
        callable is called with ``module__*`` parameters, plus
        ``in_channels`` and ``n_classes`` when its signature has them and
        they are not given. An instance is used as is.
    similarity : None, BaseSimilarity, "uniform", "onehot" or array-like of shape (K, K), default=None
        Where the soft labels come from.

        - a similarity estimator (:class:`~simcalib.similarity.BaseSimilarity`,
          e.g. ``PixelDistanceSimilarity(metric="l1")``): class-similarity
          label smoothing, ``SimilaritySmoother(similarity, alpha, beta)``
          fitted on the training images; its parameters are reachable as
          ``similarity__<name>`` (e.g. in a grid).
        - None: the same with ``PixelDistanceSimilarity()`` (exact mean
          pairwise distances cost O(n^2 d); for tens of thousands of images
          on a CPU pass ``PixelDistanceSimilarity(max_samples_per_class=...)``).
        - ``"uniform"``: uniform label smoothing ``(1 - alpha) e_y + alpha / K``
          over all K classes (the same targets as
          ``torch.nn.CrossEntropyLoss(label_smoothing=alpha)``).
        - ``"onehot"``: one-hot targets (plain cross-entropy).
        - an array: a precomputed row-stochastic soft-label matrix, row ``k``
          being the target of ``classes_[k]``; ``alpha`` and ``beta`` are
          ignored.
    alpha : float in [0, 1], default=0.1
        Mass moved away from the true class. ``alpha=0`` is one-hot training.
    beta : float >= 0, default=1.0
        Inverse temperature of the similarity softmax (class-similarity only).
    mixup_alpha : float >= 0, default=0.0
        Mixup (Zhang et al. 2018): when positive, each training batch is
        replaced by ``lam x + (1 - lam) x[perm]`` with targets
        ``lam Q[y] + (1 - lam) Q[y[perm]]``, ``lam ~ Beta(mixup_alpha, mixup_alpha)``.
    augment : {"crop_flip", "crop", "flip"} or None, default=None
        On-device training augmentation (:func:`simcalib.nn.random_crop_flip`).
        CIFAR-style training uses ``"crop_flip"``.
    crop_padding : int or "auto", default="auto"
        Zero padding of the random crop; ``"auto"`` is ``max(1, H // 8)``
        (4 for 32x32 images, 8 for 64x64).
    standardize : bool, default=True
        Whether to standardise each channel with the training mean and std.
    input_shape : tuple of int (C, H, W) or None, default=None
        Shape to fold 2-D ``X`` of shape ``(n, C*H*W)`` into (e.g. after a
        scikit-learn transformer in a Pipeline).
    lr_schedule : {"onecycle", "cosine"} or None, default="onecycle"
        Per-batch learning-rate schedule with peak ``lr``; None keeps ``lr``.
    amp : bool or "auto", default="auto"
        bf16 autocast of the forward pass; "auto" enables it on CUDA only.
    channels_last : bool or "auto", default="auto"
        Channels-last memory format for the module and batches; "auto"
        enables it on CUDA only.
    random_state : int or None, default=None
        Seed of the weight initialisation, dropout, shuffling, augmentation
        and mixup. With an int, :meth:`fit` is reproducible on the CPU and
        leaves the global torch random state as it found it.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Passed to skorch (``optimizer__*`` for its parameters).
    lr : float, default=2e-3
        (Peak) learning rate.
    max_epochs : int, default=10
        Training epochs.
    batch_size : int, default=128
        Samples per batch.
    train_split : callable or None, default=None
        skorch's internal validation split; None trains on all of ``X``. Use
        e.g. ``skorch.dataset.ValidSplit(5, stratified=True)`` to get
        ``valid_loss``, ``valid_acc`` and :class:`~simcalib.classifier.callbacks.EpochECE`
        scores per epoch.
    iterator_train, iterator_valid : class, default=DeviceBatchIterator
        The batch iterators; ``iterator_train__shuffle`` (default True) and
        ``iterator_*__batch_size`` are honoured. Any other iterator class
        (e.g. ``torch.utils.data.DataLoader``) falls back to skorch's path.
    device : str, torch.device or None, default=None
        Compute device; None selects ``"cuda"`` when
        :func:`torch.cuda.is_available`, else ``"cpu"`` (see ``device_``).
    criterion : torch module class, default=SoftTargetCrossEntropy
        Loss taking ``(logits, soft_targets)``.
    **kwargs
        Any other :class:`skorch.NeuralNetClassifier` parameter
        (``callbacks``, ``compile``, ``verbose``, ``warm_start``, ``classes``,
        ``optimizer__weight_decay``, ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels; :meth:`predict` returns these.
    soft_labels_ : ndarray of shape (n_classes, n_classes), float32
        The target matrix ``Q``; row ``k`` is the soft label of ``classes_[k]``.
    smoother_ : SimilaritySmoother or None
        The fitted smoother (class-similarity targets only).
    input_shape_ : tuple of int
        ``(C, H, W)`` of the training images.
    n_features_in_ : int
        ``C * H * W``.
    device_ : str
        The resolved compute device.
    module_ : torch.nn.Module
        The trained network (outputs logits).
    history_ : skorch.history.History
        Per-epoch and per-batch records.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 1, 8, 8).astype(np.float32)
    >>> clf = SimilarityLSClassifier("small_cnn", alpha=0.1, beta=1.0,
    ...                              max_epochs=2, random_state=0, verbose=0)
    >>> clf.fit(X[:200], y[:200]).predict_proba(X[:3]).shape
    (3, 10)
    """

    def __init__(
        self,
        module=None,
        similarity=None,
        alpha=0.1,
        beta=1.0,
        *,
        mixup_alpha=0.0,
        augment=None,
        crop_padding="auto",
        standardize=True,
        input_shape=None,
        lr_schedule="onecycle",
        amp="auto",
        channels_last="auto",
        random_state=None,
        criterion=SoftTargetCrossEntropy,
        optimizer=torch.optim.AdamW,
        lr=2e-3,
        max_epochs=10,
        batch_size=128,
        train_split=None,
        iterator_train=DeviceBatchIterator,
        iterator_valid=DeviceBatchIterator,
        device=None,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            train_split=train_split,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            device=device,
            **kwargs,
        )
        self.similarity = similarity
        self.alpha = alpha
        self.beta = beta
        self.mixup_alpha = mixup_alpha
        self.augment = augment
        self.crop_padding = crop_padding
        self.standardize = standardize
        self.input_shape = input_shape
        self.lr_schedule = lr_schedule
        self.amp = amp
        self.channels_last = channels_last
        self.random_state = random_state

    # ------------------------------------------------------------ params
    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("valid_acc", EpochScoring(
                _encoded_accuracy, name="valid_acc", lower_is_better=False)),
        ]
        if self.lr_schedule is not None:
            callbacks.append(("lr_schedule", LRSchedule(self.lr_schedule)))
        callbacks.append(("print_log", PrintLog()))
        return callbacks

    def set_params(self, **params):
        """Set parameters, routing ``similarity__<name>`` to the similarity estimator.

        skorch treats unknown ``a__b`` keys as its own components; here keys
        starting with ``similarity__`` are passed to ``similarity.set_params``
        (after ``similarity`` itself if both are given), as scikit-learn does
        for nested estimators.

        Returns
        -------
        self : SimilarityLSClassifier
        """
        nested = {
            key[len("similarity__"):]: params.pop(key)
            for key in list(params)
            if key.startswith("similarity__")
        }
        if "similarity" in params:
            super().set_params(similarity=params.pop("similarity"))
        if nested:
            if not hasattr(self.similarity, "set_params"):
                raise ValueError(
                    f"cannot set {sorted('similarity__' + k for k in nested)}: "
                    f"similarity={self.similarity!r} has no parameters; pass a "
                    "similarity estimator, e.g. PixelDistanceSimilarity()"
                )
            self.similarity.set_params(**nested)
        if params:
            super().set_params(**params)
        return self

    # ------------------------------------------------------------- input
    def _check_X(self, X, *, reset):
        """Validate images; return a numpy array or tensor of shape (n, C, H, W)."""
        if is_dataset(X):
            return X
        if isinstance(X, torch.Tensor):
            arr = X
            if arr.dtype == torch.bool or arr.is_complex():
                raise ValueError(f"X must hold real numbers; got dtype {arr.dtype}")
        else:
            try:
                arr = np.asarray(X)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"X must be an array of images; got {exc}") from None
            if arr.dtype.kind not in "uif":
                raise ValueError(f"X must hold real numbers; got dtype {arr.dtype}")
        shape = tuple(arr.shape)
        if arr.ndim == 2:
            if self.input_shape is None:
                raise ValueError(
                    f"X must be images of shape (n, C, H, W) or (n, H, W); got 2-D "
                    f"shape {shape}. Pass input_shape=(C, H, W) to fold flat features."
                )
            target = tuple(int(s) for s in self.input_shape)
            if len(target) != 3 or int(np.prod(target)) != shape[1]:
                raise ValueError(
                    f"input_shape={self.input_shape!r} does not fold X of shape {shape}: "
                    "it must be (C, H, W) with C*H*W equal to the number of columns"
                )
            arr = arr.reshape((shape[0],) + target)
        elif arr.ndim == 3:
            arr = arr[:, None]
        elif arr.ndim != 4:
            raise ValueError(
                f"X must be images of shape (n, C, H, W) or (n, H, W); got {arr.ndim}-D "
                f"shape {shape}"
            )
        if arr.shape[0] == 0 or min(arr.shape[1:]) == 0:
            raise ValueError(f"X must hold at least one non-empty image; got shape {shape}")
        is_float = arr.dtype.is_floating_point if isinstance(arr, torch.Tensor) else (
            arr.dtype.kind == "f")
        if is_float:
            finite = torch.isfinite(arr).all() if isinstance(arr, torch.Tensor) else (
                np.isfinite(arr).all())
            if not finite:
                raise ValueError("X contains NaN or infinity")
        img_shape = tuple(int(s) for s in arr.shape[1:])
        if reset:
            self.input_shape_ = img_shape
            self.n_features_in_ = int(np.prod(img_shape))
        else:
            check_is_fitted(self, "input_shape_")
            c, h, w = self.input_shape_
            if img_shape[0] != c:
                raise ValueError(
                    f"X has {img_shape[0]} channels but {type(self).__name__} was "
                    f"fitted on {c}-channel images"
                )
            if img_shape[1:] != (h, w):
                raise ValueError(
                    f"X has images of size {img_shape[1]}x{img_shape[2]} but "
                    f"{type(self).__name__} was fitted on {h}x{w} images"
                )
        return arr

    def _encode_y(self, y, n_samples):
        y = to_numpy(y) if isinstance(y, torch.Tensor) else np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D class labels; got shape {y.shape}")
        if len(y) != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {len(y)}")
        classes = np.unique(y) if self.classes is None else np.asarray(self.classes)
        if len(classes) < 2:
            raise ValueError(f"y must hold at least 2 classes; got {classes.tolist()}")
        codes = _encode(classes, y)
        self.classes_inferred_ = classes
        return codes.astype(np.int64)

    # ------------------------------------------------------- soft labels
    def _fit_soft_labels(self, X, y):
        """Build the (K, K) target matrix; set ``smoother_`` and ``soft_labels_``."""
        n_classes = len(self.classes_)
        alpha, beta, sim = self.alpha, self.beta, self.similarity
        if not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be a float in [0, 1]; got {alpha!r}")
        if not isinstance(beta, numbers.Real) or beta < 0:
            raise ValueError(f"beta must be a float >= 0; got {beta!r}")
        self.smoother_ = None
        eye = np.eye(n_classes)
        if isinstance(sim, str):
            if sim == "onehot":
                Q = eye
            elif sim == "uniform":
                Q = (1.0 - alpha) * eye + alpha / n_classes
            else:
                raise ValueError(
                    f"similarity={sim!r} is not one of 'uniform', 'onehot', a "
                    "similarity estimator, a (K, K) array or None"
                )
        elif sim is None or hasattr(sim, "fit"):
            if alpha == 0:
                Q = eye  # one-hot: the similarity would be multiplied by 0
            else:
                from simcalib.smoothing import SimilaritySmoother

                if sim is None:
                    from simcalib.similarity import PixelDistanceSimilarity

                    sim = PixelDistanceSimilarity()
                X_np = to_numpy(X) if isinstance(X, torch.Tensor) else X
                smoother = SimilaritySmoother(clone(sim), alpha=alpha, beta=beta)
                self.smoother_ = smoother.fit(X_np, y)
                Q = np.asarray(smoother.soft_labels_, dtype=np.float64)
        else:
            Q = np.asarray(sim, dtype=np.float64)
            if Q.shape != (n_classes, n_classes):
                raise ValueError(
                    f"similarity as a soft-label matrix must have shape "
                    f"({n_classes}, {n_classes}) for the {n_classes} classes; got {Q.shape}"
                )
            if not np.isfinite(Q).all() or (Q < 0).any() or not np.allclose(Q.sum(1), 1, atol=1e-5):
                raise ValueError(
                    "similarity as a soft-label matrix must be finite, non-negative "
                    "and have rows summing to 1"
                )
        self.soft_labels_ = Q.astype(np.float32)
        self.soft_labels_t_ = None  # device copy, made on first use

    def _soft_labels_on(self, device):
        Q = self.soft_labels_t_
        if Q is None or Q.device != torch.device(device):
            Q = torch.as_tensor(self.soft_labels_, device=device)
            self.soft_labels_t_ = Q
        return Q

    # --------------------------------------------------------------- fit
    def _check_options(self):
        if self.augment is not None and self.augment not in _AUGMENT:
            raise ValueError(
                f"augment must be one of {sorted(_AUGMENT)} or None; got {self.augment!r}"
            )
        if not isinstance(self.mixup_alpha, numbers.Real) or self.mixup_alpha < 0:
            raise ValueError(f"mixup_alpha must be a float >= 0; got {self.mixup_alpha!r}")
        cp = self.crop_padding
        if cp != "auto" and (isinstance(cp, bool) or not isinstance(cp, int) or cp < 0):
            raise ValueError(f"crop_padding must be 'auto' or an int >= 0; got {cp!r}")
        for name in ("amp", "channels_last"):
            if getattr(self, name) not in ("auto", True, False):
                raise ValueError(f"{name} must be 'auto', True or False; got {getattr(self, name)!r}")
        rs = self.random_state
        if rs is not None and (isinstance(rs, bool) or not isinstance(rs, numbers.Integral)):
            raise ValueError(f"random_state must be an int or None; got {rs!r}")

    def _compute_device(self):
        """The device to train on (a hook for data-parallel subclasses)."""
        return resolve_device(self.device)

    def _data_parallel(self):
        """``(num_replicas, rank)`` of this process (a hook for data-parallel subclasses)."""
        return 1, 0

    def _use(self, name):
        value = getattr(self, name)
        return uses_cuda(self.device_) if value == "auto" else bool(value)

    @contextlib.contextmanager
    def _fit_context(self, seed=True):
        # Seed torch's global generator (weight init, dropout) inside a fork,
        # so a seeded fit is reproducible and leaves the caller's state alone.
        # On CUDA, let cuDNN autotune its convolution algorithms for the fixed
        # batch shape (unless the caller asked for deterministic kernels);
        # the flags are restored on exit.
        with contextlib.ExitStack() as stack:
            if uses_cuda(self.device_):
                cudnn = torch.backends.cudnn
                stack.enter_context(cudnn.flags(
                    enabled=True, benchmark=not cudnn.deterministic,
                    deterministic=cudnn.deterministic, allow_tf32=cudnn.allow_tf32,
                ))
            if seed and self.random_state is not None:
                devices = (
                    [torch.device(self.device_).index or 0] if uses_cuda(self.device_) else []
                )
                stack.enter_context(torch.random.fork_rng(devices=devices))
                torch.manual_seed(int(self.random_state))
            yield

    def _prepare(self, X, y, reset):
        self._check_options()
        X = self._check_X(X, reset=reset)
        if is_dataset(X):
            raise ValueError(
                f"{type(self).__name__}.fit needs image arrays, not a Dataset; got "
                f"{type(X).__name__}"
            )
        if reset:
            y = self._encode_y(y, len(X))
            self.device_ = self._compute_device()
            self._fit_input_scaling(X)
            self._fit_soft_labels(X, y)
        else:
            check_is_fitted(self, "soft_labels_")
            y = self._encode_known(y, len(X))
        return X, y

    def _encode_known(self, y, n_samples):
        y = to_numpy(y) if isinstance(y, torch.Tensor) else np.asarray(y)
        if y.ndim != 1 or len(y) != n_samples:
            raise ValueError(f"y must be 1-D with {n_samples} labels; got shape {y.shape}")
        codes = _encode(self.classes_, y)
        return codes.astype(np.int64)

    def _fit_input_scaling(self, X):
        """Per-channel affine map ``x * scale + shift`` applied to every batch."""
        c = X.shape[1]
        is_uint8 = X.dtype == (torch.uint8 if isinstance(X, torch.Tensor) else np.uint8)
        unit = 1.0 / 255.0 if is_uint8 else 1.0
        mean, std = np.zeros(c), np.ones(c)
        if self.standardize:
            t = X if isinstance(X, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(X))
            # running sums over chunks of samples keep memory bounded
            s1 = torch.zeros(c, dtype=torch.float64)
            s2 = torch.zeros(c, dtype=torch.float64)
            for start in range(0, len(t), 4096):
                chunk = t[start:start + 4096].to(torch.float64) * unit
                s1 += chunk.sum((0, 2, 3)).cpu()
                s2 += chunk.square().sum((0, 2, 3)).cpu()
            count = len(t) * X.shape[2] * X.shape[3]
            mean = (s1 / count).numpy()
            var = np.maximum((s2 / count).numpy() - mean**2, 0.0)
            std = np.sqrt(var)
            std[std < 1e-12] = 1.0
        self.input_mean_ = mean.astype(np.float32)
        self.input_std_ = std.astype(np.float32)
        self._input_affine_ = (
            torch.as_tensor(unit / std, dtype=torch.float32).view(1, c, 1, 1),
            torch.as_tensor(-mean / std, dtype=torch.float32).view(1, c, 1, 1),
        )

    def fit(self, X, y, **fit_params):
        """Fit the soft labels and train the network.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, C, H, W) or (n_samples, H, W)
            Training images (see the class docstring for dtypes and scaling).
        y : array-like of shape (n_samples,)
            Class labels (any sortable type, e.g. strings).
        **fit_params : dict
            Passed to skorch (``forward`` of the module, ``train_split``).

        Returns
        -------
        self : SimilarityLSClassifier
        """
        X, y = self._prepare(X, y, reset=True)
        self.resumed_epoch_ = 0
        with self._fit_context():
            if not self.warm_start or not self.initialized_:
                self.initialize()
            super().partial_fit(X, y, **fit_params)
        return self

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_epochs`` more epochs, keeping the soft labels of :meth:`fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images.
        y : array-like of shape (n_samples,)
            Labels among ``classes_``.
        classes : ignored
            For scikit-learn compatibility.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : SimilarityLSClassifier
        """
        if not getattr(self, "initialized_", False) or not hasattr(self, "soft_labels_"):
            return self.fit(X, y, **fit_params)
        X, y = self._prepare(X, y, reset=False)
        self.resumed_epoch_ = 0
        with self._fit_context(seed=False):
            return super().partial_fit(X, y, **fit_params)

    def check_data(self, X, y=None):
        # labels are encoded by fit; skorch would overwrite classes_inferred_
        # with the codes
        pass

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # a run resumed by TrainingCheckpoint trains only the epochs left
        if epochs is None:
            epochs = max(self.max_epochs - getattr(self, "resumed_epoch_", 0), 0)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def initialize(self):
        """Initialise module, optimizer, callbacks and the data generators."""
        self._initialize_generators()
        return super().initialize()

    def _initialize_generators(self):
        # the data generator (shuffling, augmentation, mixup permutation) and
        # the mixup coefficient generator, seeded from random_state
        if not hasattr(self, "device_"):
            self.device_ = self._compute_device()
        seeds = np.random.SeedSequence(self.random_state).generate_state(2)
        self.data_rng_ = torch.Generator(device=self.device_).manual_seed(int(seeds[0]))
        self.mixup_rng_ = np.random.default_rng(int(seeds[1]))

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        module = self.module
        if module is None or isinstance(module, str):
            self._require_fit_info()
            name = _DEFAULT_NETWORK if module is None else module
            module = build_network(
                name, self.input_shape_[0], len(self.classes_), **kwargs
            )
        elif isinstance(module, torch.nn.Module):
            module = self.initialized_instance(module, kwargs)
        else:
            try:
                params = inspect.signature(module).parameters
            except (TypeError, ValueError):
                params = {}
            if "in_channels" in params and "in_channels" not in kwargs:
                self._require_fit_info()
                kwargs["in_channels"] = self.input_shape_[0]
            if "n_classes" in params and "n_classes" not in kwargs:
                self._require_fit_info()
                kwargs["n_classes"] = len(self.classes_)
            module = module(**kwargs)
        module = module.to(self.device_)
        if self._use("channels_last"):
            module = module.to(memory_format=torch.channels_last)
        self.module_ = module
        return self

    def _require_fit_info(self):
        if not hasattr(self, "input_shape_") or not hasattr(self, "classes_inferred_"):
            raise ValueError(
                "the network adapts to the data: call fit(X, y) rather than "
                "initialize() when module is None or a name"
            )

    # ------------------------------------------------------- data hooks
    def get_dataset(self, X, y=None):
        """Wrap images (and encoded labels) as an :class:`ImageTensorDataset` on the device."""
        if is_dataset(X):
            return X
        if not _is_device_iterator(self.iterator_train) and y is not None:
            # a custom iterator gets skorch's standard dataset of float arrays
            X_np = to_numpy(X) if isinstance(X, torch.Tensor) else X
            return super().get_dataset(np.asarray(X_np), y)
        y_t = None if y is None else torch.as_tensor(np.asarray(y), dtype=torch.long)
        X_t = place_images(X, self.device_)
        if y_t is not None:
            y_t = y_t.to(X_t.device)
        return ImageTensorDataset(X_t, y_t)

    def get_iterator(self, dataset, training=False):
        """Return a :class:`DeviceBatchIterator` (skorch's iterator for other classes)."""
        prefix = "iterator_train" if training else "iterator_valid"
        cls = getattr(self, prefix)
        if not _is_device_iterator(cls) or not is_image_dataset(dataset):
            return super().get_iterator(dataset, training=training)
        kwargs = self.get_params_for(prefix)
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        kwargs.setdefault("shuffle", training)
        augment = self._augmenter(dataset) if training else None
        if training:
            kwargs["num_replicas"], kwargs["rank"] = self._data_parallel()
        iterator = cls(
            dataset, device=self.device_, generator=self.data_rng_, augment=augment,
            training=training, **kwargs,
        )
        if training:
            self.train_batches_per_epoch_ = len(iterator)
        return iterator

    def _augmenter(self, dataset):
        if self.augment is None:
            return None
        crop, flip = _AUGMENT[self.augment]
        h = self.input_shape_[1]
        padding = 0
        if crop:
            padding = max(1, h // 8) if self.crop_padding == "auto" else self.crop_padding

        def augment(images, generator):
            return random_crop_flip(images, padding=padding, flip=flip, generator=generator)

        return augment

    def _model_input(self, x):
        """Raw batch (uint8 or float, any device) -> standardised float32 on ``device_``."""
        x = torch.as_tensor(x).to(self.device_, non_blocking=True)
        scale, shift = self._input_affine_
        if scale.device != x.device:
            scale, shift = scale.to(x.device), shift.to(x.device)
            self._input_affine_ = (scale, shift)
        x = torch.addcmul(shift, x.float(), scale)
        if self._use("channels_last"):
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _forward(self, x, **fit_params):
        with autocast(self.device_, self._use("amp")):
            out = self.module_(x, **fit_params)
        if isinstance(out, tuple):
            return (out[0].float(),) + tuple(out[1:])
        return out.float()

    def infer(self, x, **fit_params):
        """Logits (float32) of one raw batch."""
        return self._forward(self._model_input(x), **fit_params)

    def train_step_single(self, batch, **fit_params):
        """One forward/backward pass; applies mixup when ``mixup_alpha > 0``."""
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        targets = yi
        if self.mixup_alpha > 0:
            x = self._model_input(Xi)
            lam = float(self.mixup_rng_.beta(self.mixup_alpha, self.mixup_alpha))
            perm = torch.randperm(len(x), device=self.data_rng_.device, generator=self.data_rng_)
            perm = perm.to(x.device)
            yi = torch.as_tensor(yi, device=x.device)
            Q = self._soft_labels_on(x.device)
            x = lam * x + (1.0 - lam) * x[perm]
            targets = lam * Q[yi] + (1.0 - lam) * Q[yi[perm]]
            y_pred = self._forward(x, **fit_params)
        else:
            y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, targets, X=Xi, training=True)
        self._backward(loss)
        return {"loss": loss, "y_pred": y_pred}

    def _backward(self, loss):
        # a hook, so that data-parallel subclasses can use accelerator.backward
        loss.backward()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Soft-target cross-entropy of logits ``y_pred``.

        Parameters
        ----------
        y_pred : torch.Tensor of shape (batch, n_classes)
            Logits.
        y_true : torch.Tensor of shape (batch,) or (batch, n_classes)
            Encoded labels, turned into targets ``soft_labels_[y_true]``, or
            soft targets used as they are (mixup).
        X, training : ignored
            skorch's signature.

        Returns
        -------
        loss : torch.Tensor of shape ()
        """
        logits = y_pred[0] if isinstance(y_pred, tuple) else y_pred
        y_true = torch.as_tensor(y_true, device=logits.device)
        if y_true.ndim == 1:
            y_true = self._soft_labels_on(logits.device)[y_true.long()]
        return self.criterion_(logits, y_true)

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            return _softmax
        return super()._get_predict_nonlinearity()

    # ---------------------------------------------------------- predict
    def _check_predict_X(self, X):
        check_is_fitted(self, "module_")
        return self._check_X(X, reset=False)

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits).

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images shaped like the training images.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float32
            Columns follow ``classes_``.
        """
        return super().predict_proba(self._check_predict_X(X))

    def decision_function(self, X):
        """Logits of the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images shaped like the training images.

        Returns
        -------
        logits : ndarray of shape (n_samples, n_classes), float64
            ``softmax(logits)`` equals :meth:`predict_proba`. Computed in
            float32 and returned as float64, the dtype that post-hoc
            calibrators fitted on them (and scikit-learn's checks of their
            probabilities) expect.
        """
        X = self._check_predict_X(X)
        logits = [to_numpy(z) for z in self.forward_iter(X)]
        return np.concatenate(logits, axis=0).astype(np.float64)

    def predict(self, X):
        """Most probable class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images shaped like the training images.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    # ----------------------------------------------------------- pickle
    def __getstate__(self):
        state = super().__getstate__()
        # generators and device tensors are rebuilt on load
        if isinstance(state.get("data_rng_"), torch.Generator):
            g = state["data_rng_"]
            state["data_rng_"] = ("torch.Generator", g.get_state())
        state["soft_labels_t_"] = None
        if state.get("_input_affine_") is not None:
            state["_input_affine_"] = tuple(t.cpu() for t in state["_input_affine_"])
        return state

    def __setstate__(self, state):
        gen = state.get("data_rng_")
        requested = state.get("device")
        if requested is None:
            # load the tensors straight onto the resolved device (CPU when the
            # fitted one is a GPU this machine lacks, or when unfitted), which
            # also spares skorch's warning about device=None; device stays None
            device = state.get("device_", "cpu")
            if uses_cuda(device) and not torch.cuda.is_available():
                device = "cpu"
            state["device"] = device
            if "device_" in state:
                state["device_"] = device
        super().__setstate__(state)
        if requested is None:
            self.device = None
        if isinstance(gen, tuple) and gen and gen[0] == "torch.Generator":
            g = torch.Generator(device=self.device_)
            g.set_state(gen[1])
            self.data_rng_ = g
