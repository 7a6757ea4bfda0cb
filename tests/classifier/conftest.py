import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here trains: one torch thread (tests/conftest.py)."""


def _tiny(**kwargs):
    """A SimilarityLSClassifier small enough for CPU tests."""
    from simcalib.classifier import SimilarityLSClassifier

    params = dict(max_epochs=3, batch_size=64, random_state=0, verbose=0)
    if "module" not in kwargs:
        params.update(module="small_cnn", module__width=8)
    params.update(kwargs)
    return SimilarityLSClassifier(**params)


@pytest.fixture
def tiny():
    """Factory of small classifiers: ``tiny(**params)``."""
    return _tiny
