"""Build and train the network of one training-time method; build calibrators."""

from __future__ import annotations

import numpy as np

from simcalib._device import resolve_device

__all__ = ["make_similarity", "make_classifier", "make_search", "make_calibrator", "softmax"]


def make_similarity(targets, config, data, seed):
    """The ``similarity`` argument of the classifier for ``targets``.

    Parameters
    ----------
    targets : str
        ``"one-hot"``, ``"mixup"``, ``"uniform"``, ``"l1"``, ``"l2"``, ``"ae"`` or ``"we"``.
    config : ExperimentConfig
        Supplies the word vectors, the autoencoder settings and the subsample
        size of the pixel distances.
    data : ExperimentData
        Supplies the class names for word vectors.
    seed : int
        Seed of the subsample / autoencoder.

    Returns
    -------
    similarity : str or similarity estimator
    """
    if targets in ("one-hot", "mixup"):
        return "onehot"
    if targets == "uniform":
        return "uniform"
    from simcalib import similarity as sim

    if targets in ("l1", "l2"):
        kwargs = {"metric": targets}
        if config.similarity_samples is not None:
            kwargs.update(max_samples_per_class=config.similarity_samples, random_state=seed)
        return sim.PixelDistanceSimilarity(**kwargs)
    if targets == "ae":
        kwargs = {"random_state": seed, "device": resolve_device(config.device),
                  "verbose": 0 if config.quiet else 1}
        if config.ae_latent_dim is not None:
            kwargs["latent_dim"] = config.ae_latent_dim
        if config.ae_epochs is not None:
            kwargs["epochs"] = config.ae_epochs
        return sim.AutoencoderSimilarity(**kwargs)
    if targets == "we":
        if config.word_vectors is None:
            raise ValueError("the WE method needs word vectors (--word-vectors PATH)")
        return sim.WordEmbeddingSimilarity(
            vectors=str(config.word_vectors), class_names=list(data.word_names),
            on_missing="skip_word",
        )
    raise ValueError(f"unknown targets {targets!r}")


def make_classifier(targets, alpha, beta, config, data, seed, *, callbacks=()):
    """An unfitted :class:`~simcalib.classifier.SimilarityLSClassifier` for one run.

    Parameters
    ----------
    targets : str
        See :func:`make_similarity`.
    alpha, beta : float
        Smoothing mass and similarity sharpness (ignored for one-hot / mixup).
    config : ExperimentConfig
        Network, epochs, batch size, learning rate, device.
    data : ExperimentData
        The training data (sets the augmentation).
    seed : int
        ``random_state`` of the network.
    callbacks : sequence of skorch callbacks, default=()
        Appended to the classifier's callbacks (e.g. a checkpoint).

    Returns
    -------
    clf : SimilarityLSClassifier
    """
    from simcalib.classifier import SimilarityLSClassifier

    similarity = make_similarity(targets, config, data, seed)
    one_hot = targets in ("one-hot", "mixup")
    height = data.image_shape[1]
    kwargs = {}
    if config.width is not None:
        kwargs["module__width"] = config.width
    return SimilarityLSClassifier(
        module=config.model,
        similarity=similarity,
        alpha=0.0 if one_hot else alpha,
        beta=beta,
        mixup_alpha=config.mixup_alpha if targets == "mixup" else 0.0,
        augment=_augment(config.augment, height),
        max_epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.lr,
        optimizer__weight_decay=config.weight_decay,
        random_state=int(seed),
        device=resolve_device(config.device),
        callbacks=list(callbacks),
        verbose=0 if config.quiet else 1,
        **kwargs,
    )


def _augment(setting, height):
    """The classifier's ``augment`` for a config's ``augment`` setting."""
    if setting == "auto":  # CIFAR-style crop + flip for natural images; none for 8x8 digits
        return "crop_flip" if height >= 32 else None
    return None if setting == "none" else setting


def make_search(targets, grid, config, data, seed):
    """The unfitted :class:`~sklearn.model_selection.GridSearchCV` of a cross-validated column.

    The paper's protocol, made explicit: alpha and beta of class-similarity
    smoothing are chosen by the cross-validated histogram ECE of the
    prediction (:data:`simcalib.metrics.ece_scorer`, lower is better) on
    the training images. It is fitted on ``data.X_train`` only, never on
    the calibration or test images. ``refit=False``: the network of the
    column is trained afterwards, with the chosen pair, by the run itself
    (checkpointed like every other network).

    Parameters
    ----------
    targets : {"l1", "l2", "ae", "we"}
        The similarity source.
    grid : tuple of (alphas, betas, folds)
        The values searched and the number of stratified folds.
    config : ExperimentConfig
        Network and training settings (those of every other column), and
        ``cv_jobs``.
    data : ExperimentData
        Supplies the class names of word vectors.
    seed : int
        Seed of the networks and of the fold shuffling.

    Returns
    -------
    search : sklearn.model_selection.GridSearchCV

    Examples
    --------
    >>> from simcalib.experiments import ExperimentConfig, load_experiment_data
    >>> d = load_experiment_data("digits", max_classes=3)
    >>> s = make_search("l2", ((0.05, 0.1), (1.0,), 2), ExperimentConfig(), d, 0)
    >>> s.param_grid, s.cv.get_n_splits(), s.refit
    ({'alpha': [0.05, 0.1], 'beta': [1.0]}, 2, False)
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from simcalib.metrics import ece_scorer

    alphas, betas, folds = grid
    estimator = make_classifier(targets, alphas[0], betas[0], config, data, seed)
    estimator.set_params(verbose=0)  # one line per fit of the grid would drown the log
    return GridSearchCV(
        estimator,
        {"alpha": [float(a) for a in alphas], "beta": [float(b) for b in betas]},
        scoring=ece_scorer,
        cv=StratifiedKFold(int(folds), shuffle=True, random_state=int(seed)),
        refit=False,
        n_jobs=None if config.cv_jobs == 1 else int(config.cv_jobs),
        error_score="raise",
    )


def make_calibrator(key, y_holdout=None):
    """The post-hoc calibrator of a method key (``"ts"``, ``"dir-odir"``, ``"ets"``).

    Each is fitted on held-out logits ``(n, K)`` and labels, and is
    deterministic given them (Dir-ODIR's folds are shuffled with a fixed
    seed), so a post-hoc column varies over seeds only through the network.
    Dir-ODIR chooses its regularisation by 5-fold CV (fewer folds when a
    class of ``y_holdout`` has fewer than 5 samples).

    Parameters
    ----------
    key : {"ts", "dir-odir", "ets"}
        The calibrator.
    y_holdout : array-like of shape (n_samples,), default=None
        Held-out labels (integers ``0 .. K-1``); sets Dir-ODIR's folds.

    Returns
    -------
    calibrator : unfitted calibrator

    Examples
    --------
    >>> type(make_calibrator("ts")).__name__
    'TemperatureScaling'
    """
    from simcalib import calibration as cal

    if key == "ts":
        return cal.TemperatureScaling()
    if key == "ets":
        return cal.EnsembleTemperatureScaling()
    if key == "dir-odir":
        folds = 5
        if y_holdout is not None:
            folds = int(max(2, min(5, np.bincount(np.asarray(y_holdout)).min())))
        return cal.DirichletCalibratorCV(reg="odir", cv=folds)
    raise ValueError(f"unknown post-hoc method {key!r}")


def softmax(logits):
    """Row-wise softmax in float64 (stable).

    Examples
    --------
    >>> softmax(np.array([[0.0, 0.0]])).tolist()
    [[0.5, 0.5]]
    """
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
