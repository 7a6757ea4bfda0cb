"""The one device rule (simcalib._device.resolve_device) and its users."""

import pytest

torch = pytest.importorskip("torch")

from simcalib._device import resolve_device  # noqa: E402


@pytest.mark.parametrize("value", [None, "auto", "AUTO"])
def test_default_picks_cuda_exactly_when_available(value, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(value) == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(value) == "cpu"


def test_explicit_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(torch.device("cpu")) == "cpu"
    assert resolve_device("numpy", allow_numpy=True) == "numpy"


@pytest.mark.parametrize("value, match", [
    ("numpy", "not supported here"),
    ("gpu0", "not a valid torch device"),
    (3.5, "must be None, 'auto'"),
])
def test_bad_values_name_the_parameter(value, match):
    with pytest.raises(ValueError, match=match):
        resolve_device(value)


def test_cuda_without_a_gpu_is_refused_up_front(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="torch sees none"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="sees only 1"):
        resolve_device("cuda:3")


def test_every_user_resolves_with_the_same_rule(monkeypatch):
    """Classifier, pixel distances and the runner share the function."""
    import simcalib.classifier.estimator as est
    import simcalib.experiments._train as train
    import simcalib.nn as nn
    import simcalib.similarity._pixel as pixel

    assert nn.resolve_device is resolve_device
    assert est.resolve_device is resolve_device
    assert train.resolve_device is resolve_device
    assert pixel.resolve_device is resolve_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    from simcalib import SimilarityLSClassifier

    assert SimilarityLSClassifier(device=None)._compute_device() == "cuda"
