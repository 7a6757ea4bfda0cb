"""simcalib: class-similarity label smoothing and calibration for classifiers.

The package follows the data flow of the method, one subpackage per stage::

    labels -> similarity -> smoothing -> classifier -> calibration -> metrics
                                                                    -> plotting

``simcalib.similarity``
    Class distance sources (pixels, autoencoder latents, word embeddings,
    WordNet, user matrices) that learn a (K, K) ``distances_`` matrix.
``simcalib.smoothing``
    :class:`SimilaritySmoother`, which turns class distances into soft labels.
``simcalib.nn`` and ``simcalib.classifier`` (need torch)
    CIFAR-style networks and the skorch :class:`SimilarityLSClassifier`.
``simcalib.mixing``
    Calibration-aware semantic mixing: generated two-class mixes whose soft
    labels are re-annotated to the class evidence they show.
``simcalib.calibration``
    Post-hoc calibrators (temperature, vector, matrix, Dirichlet, ensemble
    temperature scaling) and :class:`CalibratedClassifier`.
``simcalib.metrics``
    Histogram and KDE calibration errors and scikit-learn scorers.
``simcalib.curation``
    Learning with noisy labels from a small trusted reference set:
    :class:`ReferenceCurator` (per-sample soft labels, OOD flags) and
    ``make_noisy_labels``.
``simcalib.plotting``
    :class:`ReliabilityDisplay`, ``plot_curated_samples``.
``simcalib.persistence``
    :func:`save_model` and :func:`load_model`: keep a fitted model, load it
    on another machine.
``simcalib.progress``
    Progress bars of the long loops (terminals only);
    :func:`set_progress_bars` switches them off.

Public classes are re-exported here and imported on first use, so that
``import simcalib`` stays light and works without torch or matplotlib.
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily on first access)
_LAZY = {
    # similarity sources
    "BaseSimilarity": "simcalib.similarity",
    "PixelDistanceSimilarity": "simcalib.similarity",
    "AutoencoderSimilarity": "simcalib.similarity",
    "WordEmbeddingSimilarity": "simcalib.similarity",
    "WordNetSimilarity": "simcalib.similarity",
    "PrecomputedSimilarity": "simcalib.similarity",
    # smoothing
    "SimilaritySmoother": "simcalib.smoothing",
    # networks and classifier (torch)
    "ResNet": "simcalib.nn",
    "WideResNet": "simcalib.nn",
    "DenseNet": "simcalib.nn",
    "SmallCNN": "simcalib.nn",
    "SimilarityLSClassifier": "simcalib.classifier",
    "AccelerateSimilarityLSClassifier": "simcalib.classifier.accelerate",
    # semantic mixing (CSM)
    "SemanticMixer": "simcalib.mixing",
    "SemanticMixingClassifier": "simcalib.mixing",
    # post-hoc calibration
    "TemperatureScaling": "simcalib.calibration",
    "VectorScaling": "simcalib.calibration",
    "MatrixScaling": "simcalib.calibration",
    "DirichletCalibrator": "simcalib.calibration",
    "DirichletCalibratorCV": "simcalib.calibration",
    "EnsembleTemperatureScaling": "simcalib.calibration",
    "CalibratedClassifier": "simcalib.calibration",
    "NetcalCalibrator": "simcalib.calibration",
    # noisy-label curation (torch)
    "ReferenceCurator": "simcalib.curation",
    # plotting
    "ReliabilityDisplay": "simcalib.plotting",
    # saving and loading fitted models
    "save_model": "simcalib.persistence",
    "load_model": "simcalib.persistence",
    # progress bars
    "set_progress_bars": "simcalib.progress",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'simcalib' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
