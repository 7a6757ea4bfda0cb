"""Bad word-vector files: a ValueError naming the file (and the line) for each.

Through :func:`load_word_vectors` and through
:class:`~simcalib.similarity.WordEmbeddingSimilarity`, which reads its file
in ``fit``.
"""

import gzip

import numpy as np
import pytest

from simcalib.similarity import WordEmbeddingSimilarity, load_word_vectors

GOOD = "".join(f"{w} {i} 0 1\n" for i, w in enumerate(["zero", "one", "two"])).encode()


def write(path, content):
    path.write_bytes(content)
    return path


CASES = [
    ("missing.txt", None, "word vector file not found"),
    ("adir", "DIR", "is not a file (a directory?)"),
    ("empty.txt", b"", "holds no word vectors"),
    ("empty.txt.gz", gzip.compress(b""), "holds no word vectors"),
    ("header_only.txt", b"0 3\n", "holds no word vectors"),
    ("nonutf8.txt", b"2 3\nzero 1 0 0\n\xff\xfe 0 1 0\n", "is not UTF-8 text"),
    ("utf16.txt", "zero 1 0 0\n".encode("utf-16"), "is not UTF-8 text"),
    ("trunc.txt.gz", gzip.compress(GOOD)[:-12], "is truncated or corrupt"),
    ("plain.txt.gz", GOOD, "is not a gzip file"),
    ("garbage.bin", bytes(range(256)) * 2, "not a word2vec binary file"),
    ("badheader.bin", b"x y\n", "not a word2vec binary file"),
    ("zerodim.bin", b"3 0\n", "not a word2vec binary file"),
    ("short.bin", b"5 2\nzero " + np.zeros(2, "<f4").tobytes(), "ends early after 1 of 5 words"),
    ("nan.bin", b"1 2\nzero " + np.array([np.nan, 1], "<f4").tobytes(),
     "word 'zero' has NaN or infinite values"),
    ("ragged.txt", b"zero 1 0 0\none 0 1\n", "line 2: word 'one' has 2 values; expected 3"),
    ("nonnum.txt", b"zero 1 0 0\none 0 x 0\n", "line 2: the values of word 'one' are not numbers"),
    ("nan.txt", b"zero 1 0 0\none nan 0 0\n", "line 2: word 'one' has NaN or infinite values"),
    ("inf.txt", b"zero 1 0 0\none 0 -inf 0\n", "line 2: word 'one' has NaN or infinite values"),
    ("novalues.txt", b"zero\none\n", "word 'zero' has 0 values"),
    ("hdrdim.txt", b"2 3\nzero 1 0\none 0 1\n", "line 2: word 'zero' has 2 values; expected 3"),
    ("hdrcount.txt", b"5 3\nzero 1 0 0\none 0 1 0\n", "header announces 5 words but the file holds 2"),
]


@pytest.fixture
def path_of(tmp_path):
    def make(name, content):
        path = tmp_path / name
        if content == "DIR":
            path.mkdir()
        elif content is not None:
            write(path, content)
        return path
    return make


@pytest.mark.parametrize("name, content, message", CASES)
def test_load_word_vectors(path_of, name, content, message):
    path = path_of(name, content)
    with pytest.raises(ValueError) as info:
        load_word_vectors(path)
    assert message in str(info.value)
    assert name in str(info.value)  # the file is named


@pytest.mark.parametrize("name, content, message", CASES)
def test_word_embedding_similarity_fit(path_of, name, content, message):
    path = path_of(name, content)
    sim = WordEmbeddingSimilarity(str(path), class_names=["zero", "one"])
    with pytest.raises(ValueError) as info:
        sim.fit(None, [0, 1])
    assert message in str(info.value) and name in str(info.value)


def test_binary_flag_on_a_text_file(path_of):
    path = path_of("vectors.txt", GOOD)
    with pytest.raises(ValueError, match="vectors.txt' is not a word2vec binary file"):
        load_word_vectors(path, binary=True)
    assert len(load_word_vectors(path)) == 3


def test_good_files_still_load(path_of):
    # a word2vec header whose count matches, and GloVe without a header
    with_header = path_of("h.txt", b"3 3\n" + GOOD)
    glove = path_of("g.txt.gz", gzip.compress(GOOD))
    for path in (with_header, glove):
        table = load_word_vectors(path)
        np.testing.assert_array_equal(table["two"], [2, 0, 1])
    # only the wanted words are kept; the count is still checked on all lines
    assert list(load_word_vectors(with_header, words={"one"})) == ["one"]
    # tab-separated exports and Windows line ends
    tabs = path_of("t.txt", GOOD.replace(b" ", b"\t").replace(b"\n", b"\r\n"))
    np.testing.assert_array_equal(load_word_vectors(tabs)["two"], [2, 0, 1])


def test_words_must_be_an_iterable_of_str(path_of):
    with pytest.raises(TypeError, match="words must be None or an iterable of str; got 5"):
        load_word_vectors(path_of("v.txt", GOOD), words=5)


def test_missing_class_names_name_the_file(path_of):
    path = path_of("few.txt", GOOD)
    sim = WordEmbeddingSimilarity(str(path), class_names=["zero", "nine"])
    with pytest.raises(ValueError, match=r"1 of 2 class names have no word vectors in '.*few.txt'"):
        sim.fit(None, [0, 1])
