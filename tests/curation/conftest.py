import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here trains: one torch thread (tests/conftest.py)."""
