"""Load word vectors from word2vec / GloVe files, gensim objects or mappings."""

from __future__ import annotations

import gzip
import os
import zlib
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
        If the file is missing or a directory, truncated, not gzip data
        despite a ``.gz`` name, not UTF-8 text (for a text file), holds no
        vectors, fewer words than its header announces, values that are not
        numbers or not finite, or vectors of different lengths. The message
        names the file (and the line, where there is one).

    Examples
    --------
    >>> vecs = load_word_vectors({"cat": [1.0, 0.0], "dog": [0.0, 1.0]})
    >>> vecs["cat"]
    array([1., 0.], dtype=float32)
    """
    if words is not None and (isinstance(words, (str, bytes)) or not hasattr(words, "__iter__")):
        raise TypeError(f"words must be None or an iterable of str; got {words!r}")
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
        return _read_file(os.fspath(source), binary, keep)
    raise ValueError(
        "vectors must be a file path, a gensim KeyedVectors, a mapping word -> vector "
        f"or a callable; got {type(source).__name__}"
    )


def _read_file(path, binary, keep):
    """Read a word2vec / GloVe file; every problem is a ValueError naming the file."""
    expanded = os.path.expanduser(path)
    if not os.path.exists(expanded):
        raise ValueError(f"word vector file not found: {path!r}")
    if not os.path.isfile(expanded):
        raise ValueError(f"word vector file {path!r} is not a file (a directory?)")
    if binary is None:
        binary = path.endswith((".bin", ".bin.gz"))
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(expanded, "rb") as f:
            table = _read_binary(f, keep, path) if binary else _read_text(f, keep, path)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"word vector file {path!r} is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start} of a line); a word2vec binary file needs binary=True"
        ) from None
    except gzip.BadGzipFile as exc:
        raise ValueError(f"word vector file {path!r} is not a gzip file ({exc})") from None
    except (EOFError, zlib.error) as exc:
        raise ValueError(f"word vector file {path!r} is truncated or corrupt ({exc})") from None
    except OSError as exc:
        raise ValueError(f"cannot read word vector file {path!r}: {exc.strerror or exc}") from None
    return table


def _split_word(line):
    """``(word, separator, values)``: the word ends at the first space or tab.

    word2vec and GloVe separate with spaces; tab-separated exports are common.
    """
    cut = min((i for i in (line.find(" "), line.find("\t")) if i >= 0), default=-1)
    if cut < 0:
        return line, "", ""
    return line[:cut], line[cut], line[cut + 1:]


def _parse_values(rest, path, lineno, word):
    try:
        values = np.array(rest.split(), dtype=np.float32)
    except ValueError:
        raise ValueError(
            f"{path!r} line {lineno}: the values of word {word!r} are not numbers"
        ) from None
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{path!r} line {lineno}: word {word!r} has NaN or infinite values")
    return values


def _read_text(f, keep, path):
    names, rows, dim, count = [], [], None, None
    first = f.readline().decode("utf-8").rstrip("\r\n").split(" ")
    header = len(first) == 2 and all(t.isdigit() for t in first)
    if header:
        count, dim = int(first[0]), int(first[1])
        lines = f
    else:  # GloVe format: the first line is already a vector
        lines = _chain([" ".join(first).encode("utf-8")], f)
    n_lines = 0
    for lineno, raw in enumerate(lines, start=2 if header else 1):
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            continue
        n_lines += 1
        word, sep, rest = _split_word(line)
        if keep is not None and word not in keep:
            continue
        values = _parse_values(rest, path, lineno, word) if sep else np.array([])
        if dim is None:
            dim = values.shape[0]
        if values.shape[0] != dim or dim == 0:
            raise ValueError(
                f"{path!r} line {lineno}: word {word!r} has {values.shape[0]} values; "
                f"expected {dim or 'at least one'}"
            )
        names.append(word)
        rows.append(values)
    if n_lines == 0:
        raise ValueError(f"word vector file {path!r} holds no word vectors")
    if count is not None and n_lines != count:
        raise ValueError(
            f"{path!r}: the header announces {count} words but the file holds {n_lines} "
            "(truncated?)"
        )
    mat = np.stack(rows) if rows else np.zeros((0, dim or 0), dtype=np.float32)
    return WordVectors(names, mat)


def _read_binary(f, keep, path):
    header = f.readline().split()
    if len(header) != 2 or not all(t.isdigit() for t in header) or int(header[1]) < 1:
        raise ValueError(
            f"{path!r} is not a word2vec binary file (its first line must be "
            f"'<count> <dim>'; got {b' '.join(header)[:40]!r})"
        )
    count, dim = int(header[0]), int(header[1])
    if count == 0:
        raise ValueError(f"word vector file {path!r} holds no word vectors")
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
            vec = np.frombuffer(data, dtype="<f4")
            if not np.all(np.isfinite(vec)):
                raise ValueError(f"{path!r}: word {w!r} has NaN or infinite values")
            names.append(w)
            rows.append(vec)
    mat = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return WordVectors(names, mat)


def _chain(first, rest):
    yield from first
    yield from rest
