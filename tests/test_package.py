"""The top-level package: lazy re-exports and a light import."""

import subprocess
import sys

import pytest

import simcalib


@pytest.mark.parametrize("name", sorted(simcalib._LAZY))
def test_every_reexported_name_resolves(name):
    obj = getattr(simcalib, name)
    assert obj.__name__ == name
    assert name in dir(simcalib)


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        simcalib.nope  # noqa: B018


def test_import_needs_neither_torch_nor_matplotlib():
    code = (
        "import sys, simcalib, simcalib.metrics, simcalib.calibration, "
        "simcalib.similarity, simcalib.smoothing, simcalib.datasets, simcalib.curation; "
        "simcalib.TemperatureScaling; simcalib.SimilaritySmoother; "
        "simcalib.curation.make_noisy_labels([0, 1], 0.5); "
        "bad = [m for m in ('torch', 'matplotlib', 'skorch') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
