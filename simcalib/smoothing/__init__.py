"""Class-similarity label smoothing: class distances -> soft targets.

:class:`SimilaritySmoother` fits a similarity source from
:mod:`simcalib.similarity` and returns the soft target of each label;
:func:`smooth_labels_from_distances` is the pure function behind it.
"""

from simcalib.smoothing._smoother import SimilaritySmoother
from simcalib.smoothing._soft_labels import smooth_labels_from_distances

__all__ = ["SimilaritySmoother", "smooth_labels_from_distances"]
