"""Load word vectors from word2vec / GloVe files, gensim objects or mappings."""

from __future__ import annotations

import gzip
import os
from collections.abc import Mapping

import numpy as np

__all__ = ["load_word_vectors", "WordVectors"]


class WordVectors(Mapping):
    """A read-only mapping ``word -> vector`` backed by one (n_words, dim) array.

    Parameters
    ----------
    words : sequence of str
        The words, one per row of ``vectors``. On duplicates the first wins.
    vectors : array-like of shape (n_words, dim)
        The vectors.

    Attributes
    ----------
    vectors : ndarray of shape (n_words, dim), dtype=float32
        The vectors.
    index : dict
        ``word -> row``.

    Examples
    --------
    >>> wv = WordVectors(["cat", "dog"], [[1.0, 0.0], [0.0, 1.0]])
    >>> wv["dog"], len(wv), wv.dim
    (array([0., 1.], dtype=float32), 2, 2)
    """

    def __init__(self, words, vectors):
        self.vectors = np.asarray(vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(words):
            raise ValueError(
                f"vectors must have shape (len(words), dim) = ({len(words)}, dim); "
                f"got {self.vectors.shape}"
            )
        self.index = {}
        for i, w in enumerate(words):
            self.index.setdefault(w, i)

    @property
    def dim(self):
        """Vector dimension."""
        return self.vectors.shape[1]

    def __getitem__(self, word):
        return self.vectors[self.index[word]]

    def __contains__(self, word):
        return word in self.index

    def __iter__(self):
        return iter(self.index)

    def __len__(self):
        return len(self.index)

    def __repr__(self):
        return f"WordVectors({len(self)} words, dim={self.dim})"


def load_word_vectors(source, *, binary=None, words=None):
    """Load word vectors as a ``word -> vector`` mapping.

    Parameters
    ----------
    source : str, path-like, gensim KeyedVectors or mapping
        * a path to a word2vec **text** file (first line ``count dim``, then
          ``word v1 ... vd``), a GloVe text file (the same without the header
          line), or a word2vec **binary** file; ``.gz`` files are read
          compressed;
        * a gensim ``KeyedVectors`` (anything with ``key_to_index`` and
          ``vectors``);
        * a mapping ``word -> vector``, returned as a :class:`WordVectors`.
    binary : bool, default=None
        Whether a file is in word2vec binary format. ``None``: binary when the
        name ends in ``.bin`` or ``.bin.gz``.
    words : iterable of str, default=None
        If given, keep only these words (files are still read to the end, but
        only matching lines are parsed, which is much faster and smaller).

    Returns
    -------
    vectors : WordVectors
        Mapping ``word -> float32 vector`` of one dimension.

    Raises
    ------
    ValueError
        If the file is missing, malformed, or vectors differ in length.

    Examples
    --------
    >>> vecs = load_word_vectors({"cat": [1.0, 0.0], "dog": [0.0, 1.0]})
    >>> vecs["cat"]
    array([1., 0.], dtype=float32)
    """
    keep = None if words is None else set(words)
    if hasattr(source, "key_to_index") and hasattr(source, "vectors"):
        names = list(source.key_to_index)
        if keep is not None:
            names = [w for w in names if w in keep]
        rows = [source.key_to_index[w] for w in names]
        return WordVectors(names, np.asarray(source.vectors)[rows])
    if isinstance(source, Mapping):
        names = [w for w in source if keep is None or w in keep]
        try:
            mat = np.array(
                [np.asarray(source[w], dtype=np.float32).ravel() for w in names]
            )
        except ValueError as exc:
            raise ValueError(
                f"vectors of the mapping differ in length: {exc}"
            ) from None
        return WordVectors(names, mat.reshape(len(names), -1))
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ValueError(f"word vector file not found: {path!r}")
        if binary is None:
            binary = path.endswith((".bin", ".bin.gz"))
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            if binary:
                return _read_binary(f, keep, path)
            return _read_text(f, keep, path)
    raise ValueError(
        "vectors must be a file path, a gensim KeyedVectors, a mapping word -> vector "
        f"or a callable; got {type(source).__name__}"
    )


def _read_text(f, keep, path):
    names, rows, dim = [], [], None
    first = f.readline().decode("utf-8").rstrip("\n").split(" ")
    header = len(first) == 2 and all(t.isdigit() for t in first)
    if header:
        dim = int(first[1])
        lines = f
    else:  # GloVe format: the first line is already a vector
        lines = _chain([" ".join(first).encode("utf-8")], f)
    for lineno, raw in enumerate(lines, start=2 if header else 1):
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            continue
        word, sep, rest = line.partition(" ")
        if keep is not None and word not in keep:
            continue
        values = np.array(rest.split(), dtype=np.float32) if sep else np.array([])
        if dim is None:
            dim = values.shape[0]
        if values.shape[0] != dim:
            raise ValueError(
                f"{path!r} line {lineno}: word {word!r} has {values.shape[0]} values; "
                f"expected {dim}"
            )
        names.append(word)
        rows.append(values)
    mat = np.stack(rows) if rows else np.zeros((0, dim or 0), dtype=np.float32)
    return WordVectors(names, mat)


def _read_binary(f, keep, path):
    header = f.readline().split()
    if len(header) != 2:
        raise ValueError(f"{path!r} is not a word2vec binary file (header {header!r})")
    count, dim = int(header[0]), int(header[1])
    nbytes = 4 * dim
    names, rows = [], []
    for _ in range(count):
        word = bytearray()
        while True:
            ch = f.read(1)
            if not ch:
                raise ValueError(
                    f"{path!r} ends early after {len(names)} of {count} words"
                )
            if ch == b" ":
                break
            if ch != b"\n":  # some writers end each vector with a newline
                word += ch
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"{path!r} ends early after {len(names)} of {count} words")
        w = word.decode("utf-8", errors="replace")
        if keep is None or w in keep:
            names.append(w)
            rows.append(np.frombuffer(data, dtype="<f4"))
    mat = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return WordVectors(names, mat)


def _chain(first, rest):
    yield from first
    yield from rest
