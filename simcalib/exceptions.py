"""Warnings and exceptions of simcalib.

Examples
--------
>>> import warnings
>>> from simcalib.exceptions import TrainingInterruptedWarning
>>> issubclass(TrainingInterruptedWarning, UserWarning)
True
"""

__all__ = ["TrainingInterruptedWarning"]


class TrainingInterruptedWarning(UserWarning):
    """Training stopped early on Ctrl-C (KeyboardInterrupt); the model is partly trained.

    skorch ends ``fit`` quietly when the user presses Ctrl-C during an
    epoch. :class:`~simcalib.classifier.SimilarityLSClassifier` then records
    ``interrupted_ = True`` and ``completed_epochs_`` on the estimator and
    issues this warning, so a partly trained model never passes for a
    finished one. Turn it into an error with
    ``warnings.simplefilter("error", TrainingInterruptedWarning)``.
    """
