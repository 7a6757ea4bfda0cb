"""Class-similarity label smoothing: class distances -> soft targets.

:class:`SimilaritySmoother` fits a similarity source from
:mod:`simcalib.similarity` and returns the soft target of each label;
:func:`smooth_labels_from_distances` is the pure function behind it, and
:func:`soft_label_matrix` builds a classifier's whole (K, K) target matrix
from any of its sources (one-hot, uniform, a similarity estimator or a
given matrix).
"""

from simcalib.smoothing._smoother import SimilaritySmoother
from simcalib.smoothing._soft_labels import smooth_labels_from_distances
from simcalib.smoothing._targets import soft_label_matrix

__all__ = ["SimilaritySmoother", "smooth_labels_from_distances", "soft_label_matrix"]
