"""load_word_vectors: text / GloVe / binary / gzip files, gensim and mappings."""

import doctest
import gzip

import numpy as np
import pytest

from simcalib.similarity import WordVectors, _vectors, load_word_vectors

gensim_models = pytest.importorskip("gensim.models")

WORDS = ["cat", "dog", "man-made", "été"]
VECS = np.arange(12, dtype=np.float32).reshape(4, 3) / 7.0


@pytest.fixture
def kv():
    k = gensim_models.KeyedVectors(vector_size=3)
    k.add_vectors(WORDS, VECS)
    return k


def assert_same(table, words=WORDS, vecs=VECS):
    assert sorted(table) == sorted(words)
    for w, v in zip(words, vecs):
        np.testing.assert_array_equal(table[w], v)


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("gz", [False, True])
def test_files_written_by_gensim(tmp_path, kv, binary, gz):
    path = tmp_path / ("v.bin" if binary else "v.txt")
    kv.save_word2vec_format(str(path), binary=binary)
    if gz:
        gz_path = path.with_name(path.name + ".gz")
        gz_path.write_bytes(gzip.compress(path.read_bytes()))
        path = gz_path
    # text written by gensim keeps repr-precision floats; binary is exact float32
    assert_same(load_word_vectors(path))
    assert_same(load_word_vectors(str(path), binary=binary))


def test_glove_format_without_header(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text(
        "".join(
            w + " " + " ".join(repr(float(x)) for x in v) + "\n"
            for w, v in zip(WORDS, VECS)
        ),
        encoding="utf-8",
    )
    assert_same(load_word_vectors(path))


def test_gensim_object_mapping_and_word_filter(kv):
    assert_same(load_word_vectors(kv))
    assert_same(load_word_vectors(dict(zip(WORDS, VECS.tolist()))))
    sub = load_word_vectors(kv, words=["dog", "unknown"])
    assert list(sub) == ["dog"] and len(sub) == 1 and sub.dim == 3


def test_real_glove_subset_matches_gensim(shared_data):
    path = shared_data / "wordvectors" / "glove.6B.50d_cifar100.txt"
    ref = gensim_models.KeyedVectors.load_word2vec_format(str(path))
    table = load_word_vectors(path)
    assert len(table) == len(ref.key_to_index) == 139
    for w in (
        "dolphin",
        "whale",
        "maple",
        "the" if "the" in ref.key_to_index else "and",
    ):
        np.testing.assert_array_equal(table[w], ref[w])


def test_bad_sources(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_word_vectors(tmp_path / "absent.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match="line 3: word 'b' has 2 values; expected 3"):
        load_word_vectors(bad)
    short = tmp_path / "short.bin"
    short.write_bytes(b"2 3\na " + np.zeros(3, "<f4").tobytes())
    with pytest.raises(ValueError, match="ends early"):
        load_word_vectors(short)
    with pytest.raises(ValueError, match="differ in length"):
        load_word_vectors({"a": [1.0], "b": [1.0, 2.0]})
    with pytest.raises(ValueError, match="vectors must be"):
        load_word_vectors(42)
    with pytest.raises(ValueError, match="shape"):
        WordVectors(["a"], np.zeros((2, 3)))


def test_docstring_examples():
    assert doctest.testmod(_vectors, raise_on_error=False).failed == 0
