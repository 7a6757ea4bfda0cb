"""The settings of a comparison run, their checks, and what it returns."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

import numpy as np

from simcalib._device import resolve_device
from simcalib._validation import check_scalar_in_range
from simcalib.experiments._data import DATASETS
from simcalib.experiments._methods import METHODS, get_methods

__all__ = ["ExperimentConfig", "ExperimentResult", "check_config"]

#: Similarity sources a sweep may use.
SWEEP_METHODS = ("l1", "l2", "ae", "we")
#: Training augmentations of the networks ("auto": by image size).
AUGMENTATIONS = ("auto", "none", "crop_flip", "crop", "flip")
#: Where the calibration split of the post-hoc methods may come from.
HOLDOUT_SOURCES = ("train", "test")
#: Seeds must fit numpy's and torch's seeding (unsigned 32-bit).
MAX_SEED = 2**32 - 1
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class ExperimentConfig:
    """Settings of one comparison run (see ``simcalib reproduce --help``).

    Parameters
    ----------
    dataset : {"digits", "cifar100", "tiny-imagenet", "folder"}, default="digits"
        ``"folder"``: the user's own images, one sub-folder per class
        (:func:`~simcalib.datasets.load_image_folder`).
    data_dir : str, default=None
        Folder or archive of the dataset (required for cifar100,
        tiny-imagenet and folder, refused for digits).
    image_size : int, default=None
        Side of the square images a ``"folder"`` dataset is resized to
        (None: 32); refused for the other datasets, which have their size.
    model : str, default="small_cnn"
        Network name for :func:`simcalib.nn.build_network` (``"resnet18"``,
        ``"resnet34"``, ``"wrn16_4"``, ``"densenet_bc100"``, ...).
    width : int, default=None
        ``module__width`` of the network (ResNets, SmallCNN); None: its default.
    methods : tuple of str, default=all ten
        Method keys (see :data:`simcalib.experiments.METHODS`).
    seeds : tuple of int, default=(0,)
        One run per method and seed, each in [0, 2**32 - 1], no repeats;
        tables show mean +- std over seeds.
    epochs, batch_size, lr, weight_decay : training settings
        AdamW with a one-cycle schedule peaking at ``lr``.
    augment : {"auto", "none", "crop_flip", "crop", "flip"}, default="auto"
        Training augmentation; ``"auto"``: random crop and flip for images
        of 32 pixels or more, none for the 8x8 digits. ``"none"`` lets a
        network memorise its training images, the over-confident regime of
        the paper's one-hot networks, in few epochs.
    alpha, beta : float, default=0.1, 2.0
        Smoothing mass in [0, 1] (uniform and similarity methods) and
        similarity sharpness >= 0 of the main table.
    mixup_alpha : float, default=0.2
        Beta(a, a) parameter of mixup training (> 0).
    holdout : float, default=0.1
        Fraction in (0, 1) of the ``holdout_from`` split held out for the
        post-hoc calibrators.
    holdout_from : {"train", "test"}, default="train"
        Where the calibration images of the post-hoc methods come from.
        ``"train"``: held out from the training images (stratified; the
        networks train on the rest). ``"test"``: drawn per class from the
        test split, which keeps the rest; use it when the test images come
        from another distribution than the training images, as
        Tiny-ImageNet's official val images do (a calibrator fitted on
        held-out training images then learns the wrong temperature).
    max_classes, max_train_per_class : int, default=None
        Reduced runs: the first classes (>= 2) / training images per class (>= 2).
    word_vectors : str, default=None
        Word-vector file for WE.
    similarity_samples : int, default=None
        Subsample per class for the pixel distances (None: exact).
    ae_latent_dim, ae_epochs : int, default=None
        Autoencoder settings for AE (None: the similarity's defaults).
    device : str, default="auto"
        ``"auto"`` uses CUDA when available (see
        :func:`simcalib._device.resolve_device`).
    sweep_alphas, sweep_betas : tuple of float, default=()
        Fig. 2: alphas for uniform and the similarity method (at ``beta``),
        betas for the similarity method (at ``alpha``); first seed only.
    sweep_method : str, default=None
        Similarity method of the sweeps; None: ``"we"`` with word vectors,
        else ``"l2"``.
    cv_alphas, cv_betas : tuple of float, default=(0.05, 0.1, 0.2), (1.0, 2.0, 4.0)
        Grid of the cross-validated columns (``"l2-cv"``, ``"we-cv"``):
        alpha in [0, 1], beta >= 0.
    cv_folds : int, default=3
        Stratified folds (>= 2) of that search, drawn from the training
        images only, shuffled with the run's seed.
    cv_jobs : int, default=1
        Processes of that search (``GridSearchCV(n_jobs=...)``; each fit
        then uses one thread).
    ood : bool, default=True
        Fig. 3: confidences on another dataset's images and uniform noise.
    ood_dataset, ood_data_dir : str, default=None
        The other dataset (e.g. Tiny-ImageNet for a CIFAR-100 model); None:
        crops of scikit-learn's sample photos.
    n_ood : int, default=500
        Number of OOD images of each kind.
    quiet : bool, default=False
        No per-epoch log (nor epoch bar) of the networks. The bars over the
        runs and the cross-validation grids follow
        :func:`simcalib.progress.set_progress_bars` (and show only on a
        terminal).

    Examples
    --------
    >>> cfg = ExperimentConfig(methods=("one-hot", "we"), seeds=(0, 1), epochs=2,
    ...                        word_vectors="glove.txt")
    >>> cfg.identity()["epochs"], "seeds" in cfg.identity()
    (2, False)
    """

    dataset: str = "digits"
    data_dir: str | None = None
    image_size: int | None = None
    model: str = "small_cnn"
    width: int | None = None
    methods: tuple = tuple(m.key for m in METHODS)
    seeds: tuple = (0,)
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    augment: str = "auto"
    alpha: float = 0.1
    beta: float = 2.0
    mixup_alpha: float = 0.2
    holdout: float = 0.1
    holdout_from: str = "train"
    max_classes: int | None = None
    max_train_per_class: int | None = None
    word_vectors: str | None = None
    similarity_samples: int | None = None
    ae_latent_dim: int | None = None
    ae_epochs: int | None = None
    device: str = "auto"
    sweep_alphas: tuple = ()
    sweep_betas: tuple = ()
    sweep_method: str | None = None
    cv_alphas: tuple = (0.05, 0.1, 0.2)
    cv_betas: tuple = (1.0, 2.0, 4.0)
    cv_folds: int = 3
    cv_jobs: int = 1
    ood: bool = True
    ood_dataset: str | None = None
    ood_data_dir: str | None = None
    n_ood: int = 500
    quiet: bool = False

    #: Fields that do not change the numbers of a finished run: what is run
    #: (methods, seeds, sweeps), where things are (paths, device), the log,
    #: and the OOD inputs (stored with their own key in every run, and
    #: recomputed when they change). The word vectors of WE runs are
    #: identified by their content, and the grid of a cross-validated run
    #: by its values, per run.
    _FREE = ("methods", "seeds", "sweep_alphas", "sweep_betas", "sweep_method",
             "device", "quiet", "data_dir", "ood_data_dir", "word_vectors", "n_ood", "ood",
             "ood_dataset", "cv_alphas", "cv_betas", "cv_folds", "cv_jobs")

    def identity(self):
        """The settings a finished run's numbers depend on (stored in config.json).

        Returns
        -------
        identity : dict of str -> value
            Every field except the free ones (methods, seeds, sweeps, paths,
            device, log and OOD settings).
        """
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in self._FREE}

    def validate(self):
        """Check every setting; raise :class:`ValueError` naming the first bad one.

        Checks types and ranges (NaN and infinity are refused), that the
        methods, model name format, dataset and device exist, that the word
        vectors / data folders that are needed are given (and that those
        that would be ignored are not), and that seeds are distinct. Reads
        nothing but the existence of the given paths.

        Returns
        -------
        self : ExperimentConfig

        Examples
        --------
        >>> ExperimentConfig(lr=float("nan")).validate()
        Traceback (most recent call last):
        ...
        ValueError: lr must be a finite real number; got nan
        """
        check_config(self)
        return self


def _path_like(value):
    return isinstance(value, (str, os.PathLike))


def _real_tuple(values, name, **bounds):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a sequence of numbers; got {values!r}")
    values = tuple(values)
    for v in values:
        check_scalar_in_range(v, name, **bounds)
    return values


def check_config(config, name_of=None):
    """Validate an :class:`ExperimentConfig` (see :meth:`ExperimentConfig.validate`).

    Parameters
    ----------
    config : ExperimentConfig
        The settings.
    name_of : callable, default=None
        Maps a field name to the name used in messages (the command line
        passes ``"lr" -> "--lr"``); None: the field name.

    Raises
    ------
    TypeError
        When ``config`` is not an :class:`ExperimentConfig`.
    ValueError
        For the first bad setting, naming it and its value.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig; got {type(config).__name__}")
    n = name_of or (lambda name: name)
    c = config

    def optional_int(name, lo):
        value = getattr(c, name)
        if value is not None:
            check_scalar_in_range(value, n(name), lo=lo, integer=True)

    def flag(name):
        if not isinstance(getattr(c, name), bool):
            raise ValueError(f"{n(name)} must be True or False; got {getattr(c, name)!r}")

    if c.dataset not in DATASETS:
        raise ValueError(f"{n('dataset')} must be one of {', '.join(DATASETS)}; got {c.dataset!r}")
    if c.data_dir is not None and not _path_like(c.data_dir):
        raise ValueError(f"{n('data_dir')} must be a path; got {c.data_dir!r}")
    if c.dataset == "digits" and c.data_dir is not None:
        raise ValueError(f"{n('data_dir')} is not used with dataset 'digits' (it ships with "
                         f"scikit-learn); leave it out")
    if c.dataset != "digits" and c.data_dir is None:
        raise ValueError(f"{n('data_dir')} is required for dataset {c.dataset!r}")
    if c.data_dir is not None and not os.path.exists(os.path.expanduser(c.data_dir)):
        raise ValueError(f"{n('data_dir')}: {c.data_dir} does not exist")
    if c.image_size is not None:
        if c.dataset != "folder":
            raise ValueError(f"{n('image_size')} is only used with dataset 'folder' (the "
                             f"images of {c.dataset!r} have their own size)")
        check_scalar_in_range(c.image_size, n("image_size"), lo=4, hi=1024, integer=True)
    if not isinstance(c.model, str) or not c.model.strip():
        raise ValueError(f"{n('model')} must be a network name such as 'resnet18'; got {c.model!r}")
    optional_int("width", 1)
    try:
        methods = get_methods(c.methods)
    except ValueError as exc:
        raise ValueError(f"{n('methods')}: {exc}") from None
    seeds = c.seeds
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise ValueError(f"{n('seeds')} must be a sequence of integers; got {seeds!r}")
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError(f"{n('seeds')} is empty")
    for s in seeds:
        check_scalar_in_range(s, f"every seed in {n('seeds')}", lo=0, hi=MAX_SEED, integer=True)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"{n('seeds')} lists a seed twice: {list(seeds)}")
    check_scalar_in_range(c.epochs, n("epochs"), lo=1, integer=True)
    check_scalar_in_range(c.batch_size, n("batch_size"), lo=1, integer=True)
    # the optimizer computes in float32: larger values overflow inside torch
    check_scalar_in_range(c.lr, n("lr"), lo=0.0, lo_open=True, hi=_FLOAT32_MAX)
    check_scalar_in_range(c.weight_decay, n("weight_decay"), lo=0.0, hi=_FLOAT32_MAX)
    if c.augment not in AUGMENTATIONS:
        raise ValueError(f"{n('augment')} must be one of {', '.join(AUGMENTATIONS)}; "
                         f"got {c.augment!r}")
    check_scalar_in_range(c.alpha, n("alpha"), lo=0.0, hi=1.0)
    check_scalar_in_range(c.beta, n("beta"), lo=0.0)
    # mixup_alpha = 0 would make the mixup column plain one-hot training.
    check_scalar_in_range(c.mixup_alpha, n("mixup_alpha"), lo=0.0, lo_open=True)
    check_scalar_in_range(c.holdout, n("holdout"), lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    if c.holdout_from not in HOLDOUT_SOURCES:
        raise ValueError(f"{n('holdout_from')} must be one of {', '.join(HOLDOUT_SOURCES)}; "
                         f"got {c.holdout_from!r}")
    optional_int("max_classes", 2)
    # The held-out split is stratified: every class needs two images.
    optional_int("max_train_per_class", 2)
    optional_int("similarity_samples", 1)
    optional_int("ae_latent_dim", 1)
    optional_int("ae_epochs", 1)
    resolve_device(c.device, name=n("device"))
    alphas = _real_tuple(c.sweep_alphas, n("sweep_alphas"), lo=0.0, hi=1.0)
    betas = _real_tuple(c.sweep_betas, n("sweep_betas"), lo=0.0)
    if c.sweep_method is not None and c.sweep_method not in SWEEP_METHODS:
        raise ValueError(f"{n('sweep_method')} must be one of {', '.join(SWEEP_METHODS)}; "
                         f"got {c.sweep_method!r}")
    sweep_uses_we = bool(alphas or betas) and c.sweep_method == "we"
    cv_alphas = _real_tuple(c.cv_alphas, n("cv_alphas"), lo=0.0, hi=1.0)
    cv_betas = _real_tuple(c.cv_betas, n("cv_betas"), lo=0.0)
    check_scalar_in_range(c.cv_folds, n("cv_folds"), lo=2, integer=True)
    check_scalar_in_range(c.cv_jobs, n("cv_jobs"), lo=1, integer=True)
    if any(m.search for m in methods):
        for name, grid in (("cv_alphas", cv_alphas), ("cv_betas", cv_betas)):
            if not grid:
                raise ValueError(f"{n(name)} is empty; the cross-validated columns need a grid")
            if len(set(grid)) != len(grid):
                raise ValueError(f"{n(name)} lists a value twice: {list(grid)}")
    if c.word_vectors is None:
        if any(m.targets == "we" for m in methods) or sweep_uses_we:
            raise ValueError(f"the WE method needs word vectors ({n('word_vectors')} PATH)")
    else:
        if not _path_like(c.word_vectors):
            raise ValueError(f"{n('word_vectors')} must be a path; got {c.word_vectors!r}")
        path = os.path.expanduser(c.word_vectors)
        if not os.path.exists(path):
            raise ValueError(f"{n('word_vectors')}: {c.word_vectors} does not exist")
        if not os.path.isfile(path):
            raise ValueError(f"{n('word_vectors')}: {c.word_vectors} is not a file")
    flag("ood")
    flag("quiet")
    if c.ood_dataset is not None:
        if c.ood_dataset not in DATASETS:
            raise ValueError(f"{n('ood_dataset')} must be one of {', '.join(DATASETS)}; "
                             f"got {c.ood_dataset!r}")
        if not c.ood:
            raise ValueError(f"{n('ood_dataset')} is set but the OOD figure is off")
        if c.ood_dataset == "folder" and c.dataset != "folder":
            raise ValueError(f"{n('ood_dataset')} 'folder' needs dataset 'folder' (its "
                             f"images are resized to {n('image_size')})")
        if c.ood_dataset != "digits" and c.ood_data_dir is None:
            raise ValueError(f"{n('ood_dataset')} {c.ood_dataset!r} needs {n('ood_data_dir')}")
    if c.ood_data_dir is not None:
        if c.ood_dataset in (None, "digits"):
            raise ValueError(f"{n('ood_data_dir')} is only used with {n('ood_dataset')} "
                             "cifar100, tiny-imagenet or folder")
        if not _path_like(c.ood_data_dir):
            raise ValueError(f"{n('ood_data_dir')} must be a path; got {c.ood_data_dir!r}")
        if not os.path.exists(os.path.expanduser(c.ood_data_dir)):
            raise ValueError(f"{n('ood_data_dir')}: {c.ood_data_dir} does not exist")
    check_scalar_in_range(c.n_ood, n("n_ood"), lo=1, integer=True)


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    records : list of dict
        One per (method, seed) of the main table.
    summary : dict
        :func:`~simcalib.experiments.summarize` of ``records``.
    table : str
        The text table (methods as columns).
    files : dict of str -> pathlib.Path
        Written files (``"csv"``, ``"markdown"``, ``"fig1"``, ...).
    n_trained, n_skipped : int
        Runs computed now / found finished.

    Examples
    --------
    >>> ExperimentResult(records=[], summary={}, table="").n_trained
    0
    """

    records: list
    summary: dict
    table: str
    files: dict = field(default_factory=dict)
    n_trained: int = 0
    n_skipped: int = 0
