"""Option checks and constants shared by the calibration metrics."""

from __future__ import annotations

MODES = ("prediction", "output")
OUTPUT_NORMALIZATIONS = ("n", "nK")


def check_option(value, name, allowed):
    """Raise a ValueError naming ``name`` unless ``value`` is one of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")
    return value


def output_scale(mode, output_normalization, n_classes):
    """Factor turning a pooled per-pair average into the requested scale.

    Pooled ("output") averages are over the ``n * K`` pairs, which is paper
    eq. 4 as printed (``"nK"``); the paper's tables divide by ``n`` instead,
    which is the same value times ``K`` (``"n"``). Prediction mode has one
    pair per sample, so the factor is 1.
    """
    check_option(mode, "mode", MODES)
    check_option(output_normalization, "output_normalization", OUTPUT_NORMALIZATIONS)
    if mode == "output" and output_normalization == "n":
        return float(n_classes)
    return 1.0
