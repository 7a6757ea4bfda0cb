"""WordEmbeddingSimilarity on toy and real (GloVe, MiniLM) vectors."""

import doctest

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics.pairwise import cosine_distances, euclidean_distances

from simcalib.similarity import WordEmbeddingSimilarity, _word_embedding

TREES = ["maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"]
TOY = {
    "maple": [1.0, 0.0, 0.0],
    "oak": [0.8, 0.2, 0.0],
    "tree": [0.0, 1.0, 0.0],
    "rocking": [0.0, 0.0, 1.0],
    "chair": [0.0, 2.0, 2.0],
    "rocker": [4.0, 0.0, 0.0],
    "drop": [1.0, 1.0, 1.0],
    "off": [3.0, 1.0, 1.0],
}


@pytest.fixture(scope="module")
def cifar_names(shared_data):
    return (shared_data / "cifar100" / "fine_label_names.txt").read_text().split()


@pytest.fixture(scope="module")
def glove_subset(shared_data):
    return shared_data / "wordvectors" / "glove.6B.50d_cifar100.txt"


@pytest.fixture(scope="session")
def glove_100k_gensim(shared_data):
    """The top-100k GloVe file loaded by gensim (~8 s, once per session)."""
    models = pytest.importorskip("gensim.models")
    path = shared_data / "wordvectors" / "glove.6B.50d.top100k.txt.gz"
    return path, models.KeyedVectors.load_word2vec_format(str(path))


def test_multiword_names_average_words_and_synonyms():
    names = ["maple_tree", "Oak tree", "rocking chair, rocker", "drop-off"]
    sim = WordEmbeddingSimilarity(TOY).fit(None, names)
    emb = dict(zip(sim.class_names_, sim.embeddings_))
    v = {k: np.asarray(x) for k, x in TOY.items()}
    np.testing.assert_allclose(emb["maple_tree"], (v["maple"] + v["tree"]) / 2)
    np.testing.assert_allclose(
        emb["Oak tree"], (v["oak"] + v["tree"]) / 2
    )  # lowercased
    np.testing.assert_allclose(
        emb["rocking chair, rocker"],
        ((v["rocking"] + v["chair"]) / 2 + v["rocker"]) / 2,
    )
    np.testing.assert_allclose(
        emb["drop-off"], (v["drop"] + v["off"]) / 2
    )  # split on "-"
    np.testing.assert_allclose(
        sim.distances_, euclidean_distances(sim.embeddings_), atol=1e-12
    )


def test_cosine_metric_matches_sklearn():
    sim = WordEmbeddingSimilarity(TOY, metric="cosine").fit(
        None, ["maple", "oak", "rocker", "chair"]
    )
    expected = cosine_distances(sim.embeddings_)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(sim.distances_, expected, atol=1e-12)


def test_integer_labels_with_class_names_sequence_and_mapping():
    a = WordEmbeddingSimilarity(TOY, class_names=["oak", "maple", "chair"]).fit(
        None, [2, 0, 1]
    )
    b = WordEmbeddingSimilarity(
        TOY, class_names={0: "oak", 1: "maple", 2: "chair"}
    ).fit(None, [0, 1, 2])
    np.testing.assert_array_equal(a.distances_, b.distances_)
    assert a.class_names_ == ["oak", "maple", "chair"]
    np.testing.assert_allclose(
        a.distances_[0, 1], np.linalg.norm(np.subtract(TOY["oak"], TOY["maple"]))
    )


def test_missing_words_listed_and_policy():
    names = ["maple_tree", "gnu", "oak_zebra", "rocker, quux"]
    with pytest.raises(ValueError, match="2 of 4 class names") as err:
        WordEmbeddingSimilarity(TOY).fit(None, names)
    msg = str(err.value)
    assert "'gnu' (missing: gnu)" in msg and "'oak_zebra' (missing: zebra)" in msg
    assert (
        "maple_tree" not in msg and "rocker" not in msg
    )  # one usable synonym suffices
    with pytest.raises(ValueError, match="1 of 4 class names.*'gnu'"):
        WordEmbeddingSimilarity(TOY, on_missing="skip_word").fit(None, names)
    sim = WordEmbeddingSimilarity(TOY, on_missing="skip_word").fit(
        None, ["maple_tree", "oak_zebra", "rocker, quux"]
    )
    np.testing.assert_allclose(
        sim.embeddings_[sim.class_names_.index("oak_zebra")], TOY["oak"]
    )
    np.testing.assert_allclose(
        sim.embeddings_[sim.class_names_.index("rocker, quux")], TOY["rocker"]
    )


def test_bad_arguments():
    with pytest.raises(
        ValueError, match="one name per class \\(3 classes in y\\); got 2"
    ):
        WordEmbeddingSimilarity(TOY, class_names=["oak", "maple"]).fit(None, [0, 1, 2])
    with pytest.raises(ValueError, match="class_names is required"):
        WordEmbeddingSimilarity(TOY).fit(None, [0, 1, 2])
    with pytest.raises(ValueError, match="no name for the labels \\[2\\]"):
        WordEmbeddingSimilarity(TOY, class_names={0: "oak", 1: "maple"}).fit(
            None, [0, 1, 2]
        )
    with pytest.raises(ValueError, match="metric"):
        WordEmbeddingSimilarity(TOY, metric="l1").fit(None, ["oak", "maple"])
    with pytest.raises(ValueError, match="on_missing"):
        WordEmbeddingSimilarity(TOY, on_missing="ignore").fit(None, ["oak", "maple"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        WordEmbeddingSimilarity(TOY).fit(None, ["oak"])
    with pytest.raises(ValueError, match="not found"):
        WordEmbeddingSimilarity("/nonexistent/vectors.txt").fit(None, ["oak", "maple"])


def test_glove_dolphin_whale_and_trees(cifar_names, glove_subset):
    sim = WordEmbeddingSimilarity(glove_subset).fit(None, cifar_names)
    assert sim.distances_.shape == (100, 100)
    assert "whale" in [c for c, _ in sim.most_similar("dolphin", n=5)]
    for tree in TREES:  # every tree's 4 nearest classes are the other trees
        assert {c for c, _ in sim.most_similar(tree, n=4)} == set(TREES) - {tree}
    D = sim.distances_
    t = np.searchsorted(sim.classes_, TREES)
    within = D[np.ix_(t, t)][~np.eye(5, dtype=bool)].mean()
    assert within < 0.6 * D[t].mean()


@pytest.mark.slow
def test_top100k_file_equals_subset_and_gensim(
    cifar_names, glove_subset, glove_100k_gensim
):
    path, kv = glove_100k_gensim
    plain = WordEmbeddingSimilarity(path).fit(None, cifar_names)
    via_gensim = WordEmbeddingSimilarity(kv).fit(None, cifar_names)
    subset = WordEmbeddingSimilarity(glove_subset).fit(None, cifar_names)
    np.testing.assert_array_equal(plain.embeddings_, via_gensim.embeddings_)
    np.testing.assert_array_equal(plain.embeddings_, subset.embeddings_)
    np.testing.assert_array_equal(plain.distances_, via_gensim.distances_)


def test_minilm_callable(shared_data, cifar_names):
    folder = shared_data / "wordvectors"
    M = np.load(folder / "minilm_cifar100.npy")
    texts = (folder / "minilm_cifar100_texts.txt").read_text().splitlines()
    table = dict(zip(texts, M))
    asked = []

    def encode(text):  # stands in for SentenceTransformer.encode
        asked.append(text)
        return table[text]

    sim = WordEmbeddingSimilarity(encode, metric="cosine").fit(None, cifar_names)
    assert "maple tree" in asked and "maple_tree" not in asked  # whole phrase, spaces
    np.testing.assert_allclose(sim.embeddings_, M, rtol=1e-6)
    d = dict(zip(sim.classes_, sim.distances_[list(sim.classes_).index("dolphin")]))
    assert d["whale"] == pytest.approx(1 - 0.686, abs=2e-3)
    assert d["whale"] < d["rose"]
    assert "whale" in [c for c, _ in sim.most_similar("dolphin", n=5)]
    with pytest.raises(
        ValueError, match=r"no vector from the vectors callable: \['gnu'\]"
    ):
        WordEmbeddingSimilarity(encode).fit(None, ["dolphin", "gnu"])


def test_tinyimagenet_words_with_synonyms(shared_data):
    wnids = (shared_data / "tinyimagenet" / "wnids.txt").read_text().split()
    words = dict(
        line.split("\t", 1)
        for line in (shared_data / "tinyimagenet" / "words.txt")
        .read_text()
        .splitlines()
    )
    path = shared_data / "wordvectors" / "glove.6B.50d_tinyimagenet200.txt"
    sim = WordEmbeddingSimilarity(path, class_names=words).fit(None, wnids)
    assert sim.embeddings_.shape == (200, 50)
    # "German shepherd, German shepherd dog, German police dog, alsatian": 4 synonyms
    k = list(sim.classes_).index("n02106662")
    from simcalib.similarity import load_word_vectors

    v = load_word_vectors(path)
    syn = [
        (v["german"] + v["shepherd"]) / 2,
        (v["german"] + v["shepherd"] + v["dog"]) / 3,
        (v["german"] + v["police"] + v["dog"]) / 3,
        v["alsatian"],
    ]
    np.testing.assert_allclose(sim.embeddings_[k], np.mean(syn, axis=0), rtol=1e-6)


def test_clone_keeps_params():
    sim = WordEmbeddingSimilarity(
        TOY, class_names=["a"], metric="cosine", on_missing="skip_word"
    )
    assert clone(sim).get_params()["on_missing"] == "skip_word"


def test_docstring_examples():
    assert doctest.testmod(_word_embedding, raise_on_error=False).failed == 0
