"""Shared fixtures: headless plotting, the offline data folder, small threads."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
#: The offline data that ships beside the repository (``../shared/data``).
SHARED_DATA = Path(os.environ.get("SIMCALIB_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    """Path of ``../shared/data``; tests that need it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline data folder not found: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def one_torch_thread():
    """One intra-op torch thread for the test, restored after it.

    Two contended cores: one thread keeps small trainings short and stable.
    Folders whose tests all train request it from an autouse fixture.
    """
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's digits as ``(n, 1, 8, 8)`` float32 images and labels."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 1, 8, 8).astype(np.float32), y
