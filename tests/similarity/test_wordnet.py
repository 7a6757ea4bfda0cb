"""WordNetSimilarity on the offline WordNet 3.0 corpus in ../shared/data/wordnet."""

import doctest
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from simcalib.similarity import WordNetSimilarity, _wordnet

pytest.importorskip("nltk")

TREES = ["maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"]


@pytest.fixture(scope="session")
def nltk_data(shared_data):
    """The corpus folder, loaded once per session (first NLTK access is slow)."""
    folder = shared_data / "wordnet" / "nltk_data"
    WordNetSimilarity(nltk_data=folder).fit(None, ["dog.n.01", "cat.n.01"])
    return folder


@pytest.fixture(scope="module")
def cifar_synsets(shared_data):
    lines = (
        (shared_data / "wordnet" / "cifar100_synsets.tsv").read_text().splitlines()[1:]
    )
    rows = [line.split("\t") for line in lines]
    return [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]


def test_values_match_documented_wordnet_figures(nltk_data):
    # ../shared/data/wordnet/README.md: wup 0.933 / 0.444, path 0.333 / 0.0625
    labels = ["dolphin.n.02", "whale.n.02", "rose.n.01"]
    wup = WordNetSimilarity(metric="wup", nltk_data=nltk_data).fit(None, labels)
    path = WordNetSimilarity(metric="path", nltk_data=nltk_data).fit(None, labels)
    d, r, w = 0, 1, 2  # sorted: dolphin, rose, whale
    assert wup.distances_[d, w] == pytest.approx(1 - 0.933, abs=1e-3)
    assert wup.distances_[d, r] == pytest.approx(1 - 0.444, abs=1e-3)
    assert path.distances_[d, w] == pytest.approx(1 - 1 / 3)
    assert path.distances_[d, r] == pytest.approx(1 - 0.0625)
    for sim in (wup, path):
        assert sim.distances_[d, w] < sim.distances_[d, r]
        np.testing.assert_array_equal(np.diag(sim.distances_), 0)


def test_cifar100_classes_by_name_and_by_wnid(nltk_data, cifar_synsets):
    names, wnids, synsets = cifar_synsets
    by_name = WordNetSimilarity(synsets=dict(zip(names, synsets))).fit(None, names)
    # labels 0..99 with wnids in label order give the same matrix
    by_wnid = WordNetSimilarity(synsets=wnids).fit(None, np.arange(100))
    order = np.argsort(names)
    np.testing.assert_allclose(
        by_name.distances_, by_wnid.distances_[np.ix_(order, order)]
    )
    assert by_name.synsets_[list(by_name.classes_).index("dolphin")] == "dolphin.n.02"
    assert by_name.most_similar("dolphin", n=1)[0][0] == "whale"
    for tree in TREES:
        assert {c for c, _ in by_name.most_similar(tree, n=4)} == set(TREES) - {tree}


def test_lch_is_log_path_length(nltk_data):
    labels = ["dolphin.n.02", "whale.n.02", "rose.n.01"]
    lch = WordNetSimilarity(metric="lch").fit(None, labels).distances_
    path = WordNetSimilarity(metric="path").fit(None, labels).distances_
    # README: path similarity dolphin-whale 1/3 (3 nodes), dolphin-rose 1/16
    assert lch[0, 2] == pytest.approx(np.log(3.0))
    assert lch[0, 1] == pytest.approx(np.log(16.0))
    np.testing.assert_allclose(lch, -np.log(1 - path))
    # NLTK's own lch_similarity differences give the same (checked by hand:
    # 1.0986 and 2.7726); not run here because NLTK then walks all 82k nouns.


def test_unknown_synsets_listed(nltk_data):
    with pytest.raises(
        ValueError,
        match=r"2 of 3 synsets are not in WordNet 3.0: \['n99999999', 'nosuch.n.01'\]",
    ):
        WordNetSimilarity().fit(None, ["dog.n.01", "nosuch.n.01", "n99999999"])


def test_bad_arguments(nltk_data):
    with pytest.raises(
        ValueError, match="one synset per class \\(3 classes in y\\); got 2"
    ):
        WordNetSimilarity(synsets=["dog.n.01", "cat.n.01"]).fit(None, [0, 1, 2])
    with pytest.raises(ValueError, match="no synset for the labels \\['c'\\]"):
        WordNetSimilarity(synsets={"a": "dog.n.01", "b": "cat.n.01"}).fit(
            None, ["a", "b", "c"]
        )
    with pytest.raises(ValueError, match="metric"):
        WordNetSimilarity(metric="jcn").fit(None, ["dog.n.01", "cat.n.01"])
    with pytest.raises(ValueError, match="synset names"):
        WordNetSimilarity(synsets=[1, 2]).fit(None, [0, 1])
    with pytest.raises(ValueError, match="nltk_data folder not found"):
        WordNetSimilarity(nltk_data="/nonexistent").fit(None, ["dog.n.01", "cat.n.01"])
    with pytest.raises(ValueError, match="one part of speech"):
        WordNetSimilarity(metric="lch").fit(None, ["dog.n.01", "run.v.01"])


def test_missing_corpus_is_a_clear_error(tmp_path):
    code = textwrap.dedent(
        f"""
        import nltk
        nltk.data.path[:] = []
        from simcalib.similarity import WordNetSimilarity
        try:
            WordNetSimilarity(nltk_data={str(tmp_path)!r}).fit(None, ["dog.n.01", "cat.n.01"])
        except ValueError as exc:
            print(exc)
        """
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    assert "WordNet corpus was not found" in out.stdout
    assert "never downloads" in out.stdout


def test_docstring_examples():
    assert doctest.testmod(_wordnet, raise_on_error=False).failed == 0
