import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")


@pytest.fixture(autouse=True)
def _one_thread():
    # two contended cores: one intra-op thread keeps runs short and stable
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.reshape(-1, 1, 8, 8).astype(np.float32), y


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
