"""SimilarityLSClassifier: a skorch CNN classifier trained on class-similarity soft labels.

The estimator wires three parts together: input handling
(:mod:`simcalib.classifier._input`), the soft-label matrix
(:func:`simcalib.smoothing.soft_label_matrix`) and the on-device training
engine (:mod:`simcalib.classifier.engine`).
"""

from __future__ import annotations

import contextlib
import inspect
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetClassifier
from skorch.callbacks import (
    EarlyStopping,
    EpochScoring,
    EpochTimer,
    PassthroughScoring,
)
from skorch.dataset import unpack_data
from skorch.utils import is_dataset, to_numpy

from simcalib._validation import (
    _check_input_shape,
    check_scalar_in_range,
    encode_labels,
)
from simcalib.classifier._input import (
    check_images_like_training,
    check_soft_targets,
    check_training_images,
    combine_soft_targets,
    dtype_name,
    input_affine,
    input_statistics,
)
from simcalib.classifier.callbacks import LRSchedule, PrintLog, TrainingProgress
from simcalib.classifier.engine import (
    DeviceBatchIterator,
    ImageTensorDataset,
    SeededGenerator,
    batch_images,
    is_image_dataset,
    loadable_device,
    place_images,
)
from simcalib.exceptions import TrainingInterruptedWarning
from simcalib.nn import SoftTargetCrossEntropy, build_network, random_crop_flip
from simcalib.nn._device import autocast, resolve_device, uses_cuda
from simcalib.smoothing import soft_label_matrix

__all__ = ["SimilarityLSClassifier"]

_AUGMENT = {"crop_flip": (True, True), "crop": (True, False), "flip": (False, True)}
_LR_SCHEDULES = ("onecycle", "cosine")
_DEFAULT_NETWORK = "resnet18"
#: Largest ``random_state`` (torch.manual_seed takes 64-bit seeds).
_MAX_SEED = 2**64 - 1


def _encoded_accuracy(net, X, y):
    # y in the callbacks is the encoded label, i.e. the column of predict_proba
    return float(np.mean(net.predict_proba(X).argmax(1) == to_numpy(y)))


def _raised_by_early_stopping(exc):
    """Whether a KeyboardInterrupt comes from a skorch ``EarlyStopping`` callback."""
    tb = exc.__traceback__
    while tb is not None:
        if isinstance(tb.tb_frame.f_locals.get("self"), EarlyStopping):
            return True
        tb = tb.tb_next
    return False


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

    **Per-sample soft targets.** ``fit(X, y, soft_targets=S)`` takes an
    ``(n_samples, n_classes)`` matrix ``S`` beside ``y`` (e.g. noisy labels
    curated into class distributions); its columns follow ``classes_``. Sample ``i`` is then trained towards ``S[i] @ Q``,
    the mixture of the class-level targets weighted by ``S[i]``: a one-hot
    row ``e_{y_i}`` gives exactly today's ``Q[y_i]``, and with one-hot
    training (``similarity="onehot"`` or ``alpha=0``, ``Q = I``) the target
    is ``S[i]`` itself. Mixup mixes these targets like any others. ``y``
    still drives stratified splits, scorers and ``valid_acc``. With
    scikit-learn's metadata routing enabled, ``set_fit_request(soft_targets=True)``
    routes ``S`` through a :class:`~sklearn.pipeline.Pipeline` or
    :class:`~sklearn.model_selection.GridSearchCV` (which index it per CV
    split); without routing, ``GridSearchCV.fit(X, y, soft_targets=S)``
    and ``Pipeline.fit(X, y, clf__soft_targets=S)`` pass it on as a fit
    parameter.

    The baselines of the paper run through the same engine: one-hot
    (``alpha=0`` or ``similarity="onehot"``), uniform label smoothing
    (``similarity="uniform"``), mixup (``mixup_alpha > 0``, combinable with
    any targets) and a user-supplied soft-label matrix.

    **Input.** ``X`` holds channels-first images of shape ``(n, C, H, W)``
    or ``(n, H, W)`` (one channel), as a numpy array or torch tensor; flat
    features of shape ``(n, C*H*W)`` are accepted when ``input_shape`` says
    how to fold them. Channels-last images such as ``(n, 32, 32, 3)`` are
    refused with the transpose that fixes them
    (:func:`simcalib._validation.check_images`). uint8 images are divided
    by 255 (and stay uint8 in memory until a batch is used); any other
    numeric dtype is used as given, as float32; images given after
    :meth:`fit` must be uint8 exactly when the training images were. With
    ``standardize=True`` each channel is then centred and scaled by the
    training set's mean and standard deviation.

    **Training engine.** The images are held as one tensor on the device
    when they fit (see :mod:`simcalib.classifier.engine`), batches are
    gathered and augmented there (random crop with zero padding, horizontal
    flip), the forward pass runs under bf16 autocast and channels-last
    memory format on CUDA, ``compile=True`` uses :func:`torch.compile`, and
    the learning rate follows a one-cycle or cosine schedule
    (:class:`~simcalib.classifier.callbacks.LRSchedule`).

    Class-similarity label smoothing is the method of Liu and JaJa [1]_; mixup is that of Zhang et al. [2]_.

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

        The similarity estimator is fitted on the training images and the
        original labels (so name-based sources such as
        :class:`~simcalib.similarity.WordNetSimilarity` see the class
        names), and every class needs training samples. The whole matrix is
        built by :func:`simcalib.smoothing.soft_label_matrix`.
    alpha : float in [0, 1], default=0.1
        Mass moved away from the true class. ``alpha=0`` is one-hot training.
    beta : float >= 0, default=1.0
        Inverse temperature of the similarity softmax (class-similarity only).
    mixup_alpha : float >= 0, default=0.0
        Mixup (Zhang et al. 2018): when positive, each training batch is
        replaced by ``lam x + (1 - lam) x[perm]`` with targets
        ``lam Q[y] + (1 - lam) Q[y[perm]]``, ``lam ~ Beta(mixup_alpha, mixup_alpha)``
        (with per-sample soft targets, ``lam T + (1 - lam) T[perm]`` where
        ``T = soft_targets @ Q`` are the batch's targets).
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
        scikit-learn transformer in a Pipeline). Image-shaped ``X`` must then
        have this shape.
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
        Compute device, resolved by :func:`simcalib._device.resolve_device`:
        None or ``"auto"`` select ``"cuda"`` when torch sees a GPU, else
        ``"cpu"`` (see ``device_``); a CUDA device this machine lacks is
        refused in :meth:`fit`.
    criterion : torch module class, default=SoftTargetCrossEntropy
        Loss taking ``(logits, soft_targets)``.
    **kwargs
        Any other :class:`skorch.NeuralNetClassifier` parameter
        (``callbacks``, ``compile``, ``verbose``, ``warm_start``, ``classes``,
        ``optimizer__weight_decay``, ...). A given ``classes`` keeps its
        order: column ``k`` of :meth:`predict_proba` is ``classes[k]``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, in column order: the sorted labels of ``y``, or
        ``classes`` as given. Fixed by :meth:`fit` (a later
        ``set_params(classes=...)`` does not relabel a fitted model).
    soft_labels_ : ndarray of shape (n_classes, n_classes), float32
        The target matrix ``Q``; row ``k`` is the soft label of ``classes_[k]``.
    smoother_ : SimilaritySmoother or None
        The fitted smoother (class-similarity targets only).
    input_shape_ : tuple of int
        ``(C, H, W)`` of the training images.
    n_features_in_ : int
        ``C * H * W``.
    input_dtype_ : str
        dtype of the training images (``"uint8"``, ``"float32"``, ...);
        later images must be uint8 exactly when these were.
    input_mean_, input_std_ : ndarray of shape (C,), float32
        Per-channel statistics of the standardisation (0 and 1 when
        ``standardize=False``).
    device_ : str
        The resolved compute device.
    module_ : torch.nn.Module
        The trained network (outputs logits).
    history_ : skorch.history.History
        Per-epoch and per-batch records.
    interrupted_ : bool
        Whether the last :meth:`fit` / :meth:`partial_fit` was stopped by
        Ctrl-C (a KeyboardInterrupt not raised by ``EarlyStopping``),
        leaving a partly trained model.
    completed_epochs_ : int
        Epochs completed by the last :meth:`fit` / :meth:`partial_fit`.

    Notes
    -----
    **Validation.** :meth:`fit` checks every parameter (NaN, infinity,
    booleans and out-of-range values are refused by
    :func:`simcalib._validation.check_scalar_in_range`), the images
    (:func:`simcalib._validation.check_images`), the labels
    (:func:`simcalib._validation.encode_labels`) and the similarity, and
    fits the soft labels, before any fitted attribute changes; building
    the network, optimizer and callbacks is undone if it fails. A refit
    that fails therefore leaves a fitted model exactly as it was.

    **Ctrl-C.** skorch ends training quietly on KeyboardInterrupt and
    returns. This estimator then sets ``interrupted_ = True``, records
    ``completed_epochs_`` and issues a
    :class:`~simcalib.exceptions.TrainingInterruptedWarning`, so a partly
    trained model never passes for a finished one. With a
    :class:`~simcalib.classifier.TrainingCheckpoint` the run can be resumed.
    (skorch's :class:`~skorch.callbacks.EarlyStopping` ends training with a
    KeyboardInterrupt as well; that counts as a finished fit.)

    **Pickling.** Device tensors (the network, optimizer, input scaling and
    soft-label cache) go through skorch's ``cuda_dependent_attributes_``:
    a model fitted on a GPU loads on a CPU-only machine. With
    ``device=None`` a model loads on the device it was fitted on when this
    machine has it, else on the CPU, and ``device`` stays None.

    References
    ----------
    .. [1] C. Liu and J. JaJa, "Class-similarity based label smoothing for confidence calibration", *ICANN*, 2021. arXiv:2006.14028.
    .. [2] H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz, "mixup: beyond empirical risk minimization", *ICLR*, 2018.

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

    #: Device tensors beyond skorch's own (module, optimizer, criterion):
    #: skorch's pickling maps them to a device this machine has.
    cuda_dependent_attributes_ = ["_input_affine_", "soft_labels_t_"]

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
        callbacks.append(("progress", TrainingProgress()))
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

    # ------------------------------------------------------------- checks
    def _check_params(self):
        """Validate every parameter this class adds (and lr, epochs, batch size)."""
        check_scalar_in_range(self.alpha, "alpha", lo=0.0, hi=1.0)
        check_scalar_in_range(self.beta, "beta", lo=0.0)
        check_scalar_in_range(self.mixup_alpha, "mixup_alpha", lo=0.0)
        check_scalar_in_range(self.lr, "lr", lo=0.0, lo_open=True)
        check_scalar_in_range(self.max_epochs, "max_epochs", lo=0, integer=True)
        if not (isinstance(self.batch_size, int) and self.batch_size == -1):
            check_scalar_in_range(self.batch_size, "batch_size", lo=1, integer=True)
        if self.augment is not None and (
            not isinstance(self.augment, str) or self.augment not in _AUGMENT
        ):
            raise ValueError(
                f"augment must be one of {sorted(_AUGMENT)} or None; got {self.augment!r}"
            )
        if not (isinstance(self.crop_padding, str) and self.crop_padding == "auto"):
            check_scalar_in_range(self.crop_padding, "crop_padding", lo=0, integer=True)
        if not isinstance(self.standardize, bool | np.bool_):
            raise ValueError(f"standardize must be True or False; got {self.standardize!r}")
        for name in ("amp", "channels_last"):
            value = getattr(self, name)
            if not (isinstance(value, bool | np.bool_) or (isinstance(value, str) and value == "auto")):
                raise ValueError(f"{name} must be 'auto', True or False; got {value!r}")
        if self.lr_schedule is not None and (
            not isinstance(self.lr_schedule, str) or self.lr_schedule not in _LR_SCHEDULES
        ):
            raise ValueError(
                f"lr_schedule must be one of {_LR_SCHEDULES} or None; got {self.lr_schedule!r}"
            )
        if self.random_state is not None:
            check_scalar_in_range(
                self.random_state, "random_state", lo=0, hi=_MAX_SEED, integer=True
            )
        if self.input_shape is not None:
            _check_input_shape(self.input_shape)

    def _check_warm_start(self, classes, shape):
        if not (self.warm_start and getattr(self, "initialized_", False)
                and hasattr(self, "classes_inferred_")):
            return
        if not np.array_equal(classes, self.classes_inferred_) or shape != self.input_shape_:
            raise ValueError(
                f"warm_start=True continues training the fitted network, built for "
                f"classes {self.classes_inferred_[:10].tolist()} and images of shape "
                f"{self.input_shape_}; got classes {classes[:10].tolist()} and images of "
                f"shape {shape}. Set warm_start=False to train a new network."
            )

    def _validate_fit(self, X, y, soft_targets=None):
        """Check everything and build the soft labels; change nothing on ``self``.

        Returns
        -------
        X : ndarray or torch.Tensor of shape (n, C, H, W)
        codes : ndarray of shape (n,), int64
        fitted : dict
            The fitted attributes :meth:`fit` sets before training.
        targets : torch.Tensor of shape (n, K), float32, or None
            The per-sample training targets ``soft_targets @ soft_labels_``.
        """
        self._check_params()
        device = self._compute_device()
        X = check_training_images(X, self.input_shape)
        classes, codes = encode_labels(y, self.classes, name="y", min_classes=2)
        if len(codes) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(codes)}")
        if soft_targets is not None:
            soft_targets = check_soft_targets(soft_targets, len(X), classes)
        shape = tuple(int(s) for s in X.shape[1:])
        self._check_warm_start(classes, shape)
        dtype = dtype_name(X)
        mean, std = input_statistics(X, self.standardize)
        Q, smoother = soft_label_matrix(
            self.similarity, X, classes[codes], classes, alpha=self.alpha, beta=self.beta
        )
        fitted = {
            "classes_inferred_": classes,
            "input_shape_": shape,
            "n_features_in_": int(np.prod(shape)),
            "input_dtype_": dtype,
            "input_mean_": mean.astype(np.float32),
            "input_std_": std.astype(np.float32),
            "_input_affine_": input_affine(mean, std, dtype),
            "soft_labels_": Q.astype(np.float32),
            "soft_labels_t_": None,  # device copy, made on first use
            "smoother_": smoother,
            "device_": device,
            "resumed_epoch_": 0,
        }
        targets = None
        if soft_targets is not None:
            targets = combine_soft_targets(soft_targets, fitted["soft_labels_"])
        return X, codes, fitted, targets

    def _check_X_like_training(self, X):
        return check_images_like_training(
            X, input_shape=self.input_shape, fitted_shape=self.input_shape_,
            fitted_dtype=getattr(self, "input_dtype_", None), owner=type(self).__name__,
        )

    @property
    def classes_(self):
        """The class labels of the fitted model, in column order."""
        try:
            return self.classes_inferred_
        except AttributeError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_': it is set by fit"
            ) from None

    # --------------------------------------------------------------- fit
    def fit(self, X, y, soft_targets=None, **fit_params):
        """Fit the soft labels and train the network.

        Everything is checked, and the soft labels built, before any fitted
        attribute changes; a ``fit`` that fails validation leaves a fitted
        model as it was.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, C, H, W) or (n_samples, H, W)
            Training images (see the class docstring for dtypes and scaling).
        y : array-like of shape (n_samples,)
            Class labels (any sortable type, e.g. strings).
        soft_targets : array-like or torch.Tensor of shape (n_samples, n_classes), default=None
            Per-sample soft targets: non-negative rows summing to 1, columns
            following ``classes_`` (the sorted labels of ``y``, or
            ``classes`` as given). Sample ``i`` is trained towards
            ``soft_targets[i] @ soft_labels_`` (see the class docstring);
            None trains towards ``soft_labels_[y_i]``. A tensor stays on
            its device when that is where the images are trained.
        **fit_params : dict
            Passed to skorch (``forward`` of the module, ``train_split``).

        Returns
        -------
        self : SimilarityLSClassifier

        Warns
        -----
        TrainingInterruptedWarning
            When Ctrl-C stopped the training (see ``interrupted_``).
        """
        X, codes, fitted, targets = self._validate_fit(X, y, soft_targets)
        with self._fit_context(fitted["device_"]):
            self._commit(fitted)
            super().partial_fit(*self._training_data(X, codes, targets), **fit_params)
        self._warn_if_interrupted("fit")
        return self

    def _training_data(self, X, codes, targets):
        """``(X, y)`` for skorch: with per-sample targets, a dataset that carries them."""
        if targets is None:
            return X, codes
        # skorch uses a dataset as it is; train_split indexes it per sample
        return self.get_dataset(X, codes, soft_targets=targets), codes

    def _commit(self, fitted):
        """Set the fitted attributes and build module, optimizer and callbacks.

        Building them can still fail (an unknown network name, a bad
        ``optimizer__*`` value, a callback's own check); then every
        attribute is put back as it was.
        """
        saved = dict(self.__dict__)
        try:
            self.__dict__.update(fitted)
            if not self.warm_start or not self.initialized_:
                self.initialize()
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def partial_fit(self, X, y, classes=None, soft_targets=None, **fit_params):
        """Train for ``max_epochs`` more epochs, keeping the soft labels of :meth:`fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images shaped (and typed) like the training images.
        y : array-like of shape (n_samples,)
            Labels among ``classes_``.
        classes : ignored
            For scikit-learn compatibility.
        soft_targets : array-like or torch.Tensor of shape (n_samples, n_classes), default=None
            Per-sample soft targets, columns following ``classes_``,
            combined with the ``soft_labels_`` of :meth:`fit` as there.
        **fit_params : dict
            Passed to skorch.

        Returns
        -------
        self : SimilarityLSClassifier

        Warns
        -----
        TrainingInterruptedWarning
            When Ctrl-C stopped the training (see ``interrupted_``).
        """
        if not getattr(self, "initialized_", False) or not hasattr(self, "soft_labels_"):
            return self.fit(X, y, soft_targets=soft_targets, **fit_params)
        self._check_params()
        X = self._check_X_like_training(X)
        _, codes = encode_labels(y, self.classes_, name="y", classes_name="classes_")
        if len(codes) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(codes)}")
        targets = None
        if soft_targets is not None:
            targets = combine_soft_targets(
                check_soft_targets(soft_targets, len(X), self.classes_), self.soft_labels_
            )
        self.resumed_epoch_ = 0
        with self._fit_context(self.device_, seed=False):
            super().partial_fit(*self._training_data(X, codes, targets), **fit_params)
        self._warn_if_interrupted("partial_fit")
        return self

    def check_data(self, X, y=None):
        # labels are encoded by fit; skorch would overwrite classes_inferred_
        # with the codes
        pass

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop, recording an interruption (skorch swallows Ctrl-C after it)."""
        # a run resumed by TrainingCheckpoint trains only the epochs left
        if epochs is None:
            epochs = max(self.max_epochs - getattr(self, "resumed_epoch_", 0), 0)
        self.interrupted_ = False
        self.completed_epochs_ = 0
        self._planned_epochs = epochs
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as exc:
            # skorch's EarlyStopping ends training with a KeyboardInterrupt
            # too; that is a finished fit, not an interruption
            self.interrupted_ = not _raised_by_early_stopping(exc)
            raise

    def on_epoch_end(self, net, **kwargs):
        # the net's own hook runs before the callbacks' (skorch's notify)
        self.completed_epochs_ = getattr(self, "completed_epochs_", 0) + 1

    def _warn_if_interrupted(self, method):
        if getattr(self, "interrupted_", False):
            warnings.warn(
                f"{type(self).__name__}.{method} was interrupted (KeyboardInterrupt) "
                f"after {self.completed_epochs_} of {self._planned_epochs} epochs; the "
                "model is only partly trained (interrupted_=True)",
                TrainingInterruptedWarning,
                stacklevel=3,
            )

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
        self.data_rng_ = SeededGenerator(device=self.device_).manual_seed(int(seeds[0]))
        self.mixup_rng_ = np.random.default_rng(int(seeds[1]))

    def initialize_module(self):
        kwargs = self.get_params_for("module")
        module = self.module
        if module is None or isinstance(module, str):
            self._require_fit_info()
            name = _DEFAULT_NETWORK if module is None else module
            try:
                module = build_network(
                    name, self.input_shape_[0], len(self.classes_), **kwargs
                )
            except ValueError as exc:
                raise ValueError(f"module={name!r}: {exc}") from None
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
    def _fit_context(self, device, seed=True):
        # Seed torch's global generator (weight init, dropout) inside a fork,
        # so a seeded fit is reproducible and leaves the caller's state alone.
        # On CUDA, let cuDNN autotune its convolution algorithms for the fixed
        # batch shape (unless the caller asked for deterministic kernels);
        # the flags are restored on exit.
        with contextlib.ExitStack() as stack:
            if uses_cuda(device):
                cudnn = torch.backends.cudnn
                stack.enter_context(cudnn.flags(
                    enabled=True, benchmark=not cudnn.deterministic,
                    deterministic=cudnn.deterministic, allow_tf32=cudnn.allow_tf32,
                ))
            if seed and self.random_state is not None:
                devices = [torch.device(device).index or 0] if uses_cuda(device) else []
                stack.enter_context(torch.random.fork_rng(devices=devices))
                torch.manual_seed(int(self.random_state))
            yield

    # ------------------------------------------------------- data hooks
    def get_dataset(self, X, y=None, soft_targets=None):
        """Wrap images (and encoded labels) as an :class:`ImageTensorDataset` on the device.

        ``soft_targets`` (a float32 tensor of shape (n, K), the combined
        training targets) travel with the images: onto their device, and
        into every batch as ``({"X": images, "soft_targets": targets}, y)``.
        """
        if is_dataset(X):
            return X
        if not _is_device_iterator(self.iterator_train) and y is not None:
            # a custom iterator gets skorch's standard dataset of float arrays
            X_np = np.asarray(to_numpy(X) if isinstance(X, torch.Tensor) else X)
            if soft_targets is not None:
                X_np = {"X": X_np, "soft_targets": to_numpy(soft_targets)}
            return super().get_dataset(X_np, y)
        y_t = None if y is None else torch.as_tensor(np.asarray(y), dtype=torch.long)
        X_t = place_images(X, self.device_)
        if y_t is not None:
            y_t = y_t.to(X_t.device)
        if soft_targets is not None:
            soft_targets = soft_targets.to(X_t.device)
        return ImageTensorDataset(X_t, y_t, soft_targets=soft_targets)

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
        if self.data_rng_.device.type != torch.device(self.device_).type:
            self._initialize_generators()  # e.g. device_ changed since the last fit
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
        """Logits (float32) of one raw batch (images, or a dict holding them as ``"X"``)."""
        check_is_fitted(self, ["module_", "_input_affine_"])
        x, _ = batch_images(x)
        return self._forward(self._model_input(x), **fit_params)

    def forward_iter(self, X, training=False, device="cpu"):
        """skorch's batched forward pass (NotFittedError before :meth:`fit`)."""
        check_is_fitted(self, ["module_", "input_shape_"])
        return super().forward_iter(X, training=training, device=device)

    # ----------------------------------------------------------- targets
    def _soft_labels_on(self, device):
        Q = self.soft_labels_t_
        if Q is None or Q.device != torch.device(device):
            Q = torch.as_tensor(self.soft_labels_, device=device)
            self.soft_labels_t_ = Q
        return Q

    def _soft_targets(self, y, device):
        """Targets of a batch: rows of ``soft_labels_`` for encoded labels, else ``y`` itself.

        Parameters
        ----------
        y : torch.Tensor of shape (batch,) or (batch, n_classes)
            Encoded labels, or soft targets (e.g. mixed by mixup).
        device : torch.device
            Where the targets are needed.

        Returns
        -------
        targets : torch.Tensor of shape (batch, n_classes), float32
        """
        y = torch.as_tensor(y, device=device)
        if y.ndim == 1:
            return self._soft_labels_on(device)[y.long()]
        return y.float()

    def _mixup(self, x, targets):
        """Mix a batch with a permutation of itself (``lam ~ Beta(mixup_alpha, mixup_alpha)``)."""
        lam = float(self.mixup_rng_.beta(self.mixup_alpha, self.mixup_alpha))
        perm = torch.randperm(len(x), device=self.data_rng_.device, generator=self.data_rng_)
        perm = perm.to(x.device)
        return lam * x + (1.0 - lam) * x[perm], lam * targets + (1.0 - lam) * targets[perm]

    @staticmethod
    def _unpack_batch(batch):
        """``(images, targets)`` of a batch: per-sample soft targets when it carries them, else the labels."""
        Xi, yi = unpack_data(batch)
        images, soft = batch_images(Xi)
        return images, (yi if soft is None else soft)

    def train_step_single(self, batch, **fit_params):
        """One forward/backward pass; applies mixup when ``mixup_alpha > 0``."""
        self._set_training(True)
        Xi, targets = self._unpack_batch(batch)
        if self.mixup_alpha > 0:
            x = self._model_input(Xi)
            x, targets = self._mixup(x, self._soft_targets(targets, x.device))
            y_pred = self._forward(x, **fit_params)
        else:
            y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, targets, X=Xi, training=True)
        self._backward(loss)
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        """Loss of a validation batch (per-sample soft targets when it carries them)."""
        self._set_training(False)
        Xi, targets = self._unpack_batch(batch)
        with torch.no_grad():
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, targets, X=Xi, training=False)
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
            soft targets used as they are (per-sample targets, mixup).
        X, training : ignored
            skorch's signature.

        Returns
        -------
        loss : torch.Tensor of shape ()
        """
        check_is_fitted(self, ["criterion_", "soft_labels_"])
        logits = y_pred[0] if isinstance(y_pred, tuple) else y_pred
        return self.criterion_(logits, self._soft_targets(y_true, logits.device))

    def _get_predict_nonlinearity(self):
        if self.predict_nonlinearity == "auto":
            return _softmax
        return super()._get_predict_nonlinearity()

    # ---------------------------------------------------------- predict
    def _check_predict_X(self, X):
        check_is_fitted(self, ["module_", "input_shape_", "soft_labels_"])
        if is_dataset(X):
            return X  # a torch Dataset is read as it is
        return self._check_X_like_training(X)

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits).

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images shaped (and typed) like the training images.

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
            Images shaped (and typed) like the training images.

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

    def embed(self, X, layer=None):
        """Penultimate features: what the network's last linear layer receives.

        A forward pre-hook on that layer records its input while ``X`` runs
        through the network in eval mode, batch by batch (the same pass as
        :meth:`predict_proba`). These features are the embedding in which,
        for example, :class:`~simcalib.curation.ReferenceCurator` votes.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images shaped (and typed) like the training images.
        layer : str or None, default=None
            Name of the layer whose input is returned, as in
            ``module_.named_modules()``; None takes the last
            :class:`torch.nn.Linear` of the network (``"fc"`` for every
            network of :mod:`simcalib.nn`, after global average pooling).

        Returns
        -------
        features : ndarray of shape (n_samples, n_features), float32
            Flattened to one row per sample.

        Raises
        ------
        ValueError
            When ``layer`` names no layer, or when None and the network has
            no linear layer.

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).random((40, 1, 8, 8), dtype=np.float32)
        >>> clf = SimilarityLSClassifier("small_cnn", module__width=4, max_epochs=1,
        ...                              random_state=0, verbose=0)
        >>> clf.fit(X, np.arange(40) % 2).embed(X[:3]).shape
        (3, 16)
        """
        X = self._check_predict_X(X)
        target = self._feature_layer(layer)
        batches = []

        def record(module, args):
            batches.append(args[0].detach().float().flatten(1).cpu())

        handle = target.register_forward_pre_hook(record)
        try:
            for _ in self.forward_iter(X):
                pass
        finally:
            handle.remove()
        return torch.cat(batches).numpy()

    def _feature_layer(self, layer):
        check_is_fitted(self, ["module_"])
        modules = dict(self.module_.named_modules())
        if layer is not None:
            if not isinstance(layer, str) or layer not in modules or layer == "":
                names = [name for name in modules if name][-10:]
                raise ValueError(
                    f"layer must name a layer of module_ (e.g. one of {names}); got {layer!r}"
                )
            return modules[layer]
        linear = [m for m in modules.values() if isinstance(m, torch.nn.Linear)]
        if not linear:
            raise ValueError(
                f"{type(self.module_).__name__} has no torch.nn.Linear layer: pass "
                "layer= to name the layer whose input is the embedding"
            )
        return linear[-1]

    def predict(self, X):
        """Most probable class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or (n_samples, H, W)
            Images shaped (and typed) like the training images.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)  # checks that the model is fitted
        return self.classes_[proba.argmax(axis=1)]

    # ----------------------------------------------------------- pickle
    def __setstate__(self, state):
        # skorch maps cuda_dependent_attributes_ to ``state["device"]``; with
        # device=None (the auto rule) that is where the model was fitted if
        # this machine has it, else the CPU -- and device stays None
        requested = state.get("device")
        auto = requested is None or (isinstance(requested, str) and requested == "auto")
        if auto:
            state["device"] = loadable_device(state.get("device_", "cpu"))
        super().__setstate__(state)
        if "device_" in self.__dict__:
            self.device_ = str(torch.device(self.device))
        if auto:
            self.device = requested
