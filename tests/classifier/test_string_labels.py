"""String labels reach name-based similarities: fit(X, ["zero", "one", ...]) needs no class_names."""

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from simcalib.calibration import CalibratedClassifier, TemperatureScaling
from simcalib.datasets._digits import DIGIT_NAMES
from simcalib.similarity import WordEmbeddingSimilarity, WordNetSimilarity
from simcalib.smoothing import smooth_labels_from_distances

#: A tiny in-memory word-vector table: each digit name at a point of a
#: circle with an irregular radius, so that every row of distances differs.
_ANGLES = np.linspace(0.0, 2 * np.pi, 10, endpoint=False)
VECTORS = {
    name: np.array([np.cos(a), np.sin(a), 0.1 * k]) * (1.0 + 0.05 * k * k)
    for k, (name, a) in enumerate(zip(DIGIT_NAMES, _ANGLES))
}


@pytest.fixture
def named_digits(digits):
    X, y = digits
    return X[:400], np.array(DIGIT_NAMES)[y[:400]]


def _expected_soft_labels(order, alpha, beta):
    """The soft labels computed from the vectors directly, rows in ``order``."""
    E = np.stack([VECTORS[name] for name in order])
    D = np.linalg.norm(E[:, None, :] - E[None, :, :], axis=2)
    return smooth_labels_from_distances(D, alpha=alpha, beta=beta)


def test_word_vectors_see_the_string_labels(tiny, named_digits):
    X, y = named_digits
    clf = tiny(similarity=WordEmbeddingSimilarity(VECTORS), alpha=0.2, beta=2.0).fit(X, y)
    order = sorted(DIGIT_NAMES)
    assert clf.classes_.tolist() == order
    assert clf.smoother_.similarity_.class_names_ == order
    np.testing.assert_allclose(clf.soft_labels_, _expected_soft_labels(order, 0.2, 2.0),
                               rtol=1e-6, atol=1e-7)
    # predictions are names, columns follow classes_
    proba = clf.predict_proba(X[:5])
    assert clf.predict(X[:5]).tolist() == [order[k] for k in proba.argmax(1)]


def test_given_class_order_keeps_rows_and_columns_aligned(tiny, named_digits):
    X, y = named_digits
    clf = tiny(similarity=WordEmbeddingSimilarity(VECTORS), alpha=0.2, beta=2.0,
               classes=list(DIGIT_NAMES)).fit(X, y)
    assert clf.classes_.tolist() == DIGIT_NAMES
    np.testing.assert_allclose(clf.soft_labels_, _expected_soft_labels(DIGIT_NAMES, 0.2, 2.0),
                               rtol=1e-6, atol=1e-7)


def test_integer_labels_still_need_class_names(tiny, digits):
    X, y = digits
    with pytest.raises(ValueError, match="class_names is required when the labels are not strings"):
        tiny(similarity=WordEmbeddingSimilarity(VECTORS)).fit(X[:200], y[:200])
    # ... which class_names supplies, in label order
    clf = tiny(similarity=WordEmbeddingSimilarity(VECTORS, class_names=DIGIT_NAMES),
               alpha=0.2, beta=2.0).fit(X[:400], y[:400])
    np.testing.assert_allclose(clf.soft_labels_, _expected_soft_labels(DIGIT_NAMES, 0.2, 2.0),
                               rtol=1e-6, atol=1e-7)


def test_grid_search_and_calibrated_stack_with_string_labels(tiny, named_digits):
    X, y = named_digits
    search = GridSearchCV(
        tiny(similarity=WordEmbeddingSimilarity(VECTORS), max_epochs=1),
        {"alpha": [0.05, 0.2]}, cv=StratifiedKFold(2, shuffle=True, random_state=0),
    ).fit(X, y)
    assert search.best_estimator_.classes_.tolist() == sorted(DIGIT_NAMES)
    model = CalibratedClassifier(FrozenEstimator(search.best_estimator_),
                                 TemperatureScaling()).fit(X[:200], y[:200])
    assert set(model.predict(X[200:210])) <= set(DIGIT_NAMES)


def test_image_folder_names_reach_the_similarity(tmp_path, tiny):
    """load_image_folder(labels="name") -> fit: the folder names are the class names."""
    PIL = pytest.importorskip("PIL")  # noqa: F841
    from PIL import Image

    from simcalib.datasets import load_image_folder

    rng = np.random.default_rng(0)
    names = ["zero", "one", "two"]
    for k, name in enumerate(names):
        (tmp_path / name).mkdir()
        for i in range(8):
            pixels = rng.integers(0, 60, size=(10, 10, 3)) + 80 * k
            Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / name / f"{i}.png")
    data = load_image_folder(tmp_path, image_size=8, labels="name", test_size=0.25, cache=False)
    clf = tiny(similarity=WordEmbeddingSimilarity(VECTORS), alpha=0.2, beta=2.0).fit(
        data.X_train, data.y_train)
    order = sorted(names)
    assert clf.classes_.tolist() == order
    np.testing.assert_allclose(clf.soft_labels_, _expected_soft_labels(order, 0.2, 2.0),
                               rtol=1e-6, atol=1e-7)


def test_wordnet_takes_plain_nouns_as_labels(tiny, digits, shared_data):
    """Folder-style names (plain nouns) are looked up as their first noun sense."""
    X, y = digits
    nouns = np.array(["dog", "cat", "car"])
    keep = y[:600] < 3
    sim = WordNetSimilarity(nltk_data=shared_data / "wordnet" / "nltk_data")
    clf = tiny(similarity=sim, alpha=0.2, beta=2.0).fit(X[:600][keep], nouns[y[:600][keep]])
    assert clf.smoother_.similarity_.synsets_ == ["car.n.01", "cat.n.01", "dog.n.01"]
    direct = WordNetSimilarity(synsets=["car.n.01", "cat.n.01", "dog.n.01"],
                               nltk_data=shared_data / "wordnet" / "nltk_data").fit(
        None, ["car", "cat", "dog"])
    np.testing.assert_allclose(
        clf.soft_labels_,
        smooth_labels_from_distances(direct.distances_, alpha=0.2, beta=2.0), rtol=1e-6)
