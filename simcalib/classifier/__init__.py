"""The skorch classifier trained on class-similarity soft labels (needs torch).

:class:`SimilarityLSClassifier` is the estimator; :mod:`.callbacks` holds its
learning-rate schedule, held-out ECE, checkpoint/resume and re-exported
skorch callbacks; :mod:`.engine` the on-device dataset and batch iterator.
"""

from simcalib.classifier.callbacks import (
    EarlyStopping,
    EpochECE,
    LRSchedule,
    PrintLog,
    ProgressBar,
    TrainingCheckpoint,
    TrainingProgress,
)
from simcalib.classifier.engine import DeviceBatchIterator, ImageTensorDataset
from simcalib.classifier.estimator import SimilarityLSClassifier

__all__ = [
    "SimilarityLSClassifier",
    "LRSchedule",
    "EpochECE",
    "TrainingCheckpoint",
    "PrintLog",
    "TrainingProgress",
    "ProgressBar",
    "EarlyStopping",
    "DeviceBatchIterator",
    "ImageTensorDataset",
]
