"""The Examples sections of the metrics, scorers, plots and scaling calibrators run."""

import doctest
import importlib

import matplotlib
import pytest

matplotlib.use("Agg")

MODULES = [
    "simcalib._validation",
    "simcalib.metrics._blocks",
    "simcalib.metrics._histogram",
    "simcalib.metrics._kde",
    "simcalib.metrics._report",
    "simcalib.metrics._scorers",
    "simcalib.metrics._scores",
    "simcalib.plotting._reliability",
    "simcalib.calibration._temperature",
    "simcalib.calibration._linear",
    "simcalib.calibration._netcal",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, raise_on_error=False, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
