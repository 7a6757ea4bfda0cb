"""Reliability diagrams and curated-label explanations.

:class:`ReliabilityDisplay` draws per-bin accuracy against confidence with
the same bins as :func:`simcalib.metrics.expected_calibration_error`;
:func:`plot_curated_samples` shows why a
:class:`~simcalib.curation.ReferenceCurator` gave a sample its soft label.
matplotlib is imported only when a diagram is drawn, so importing this
package does not need it.
"""

from simcalib.plotting._curation import plot_curated_samples
from simcalib.plotting._reliability import ReliabilityDisplay

__all__ = ["ReliabilityDisplay", "plot_curated_samples"]
