"""Reliability diagrams.

:class:`ReliabilityDisplay` draws per-bin accuracy against confidence with
the same bins as :func:`simcalib.metrics.expected_calibration_error`.
matplotlib is imported only when a diagram is drawn, so importing this
package does not need it.
"""

from simcalib.plotting._reliability import ReliabilityDisplay

__all__ = ["ReliabilityDisplay"]
