"""Class distances between embeddings of the class names (paper eq. 16)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import numpy as np

from simcalib.similarity._base import BaseSimilarity
from simcalib.similarity._vectors import load_word_vectors

__all__ = ["WordEmbeddingSimilarity"]

_METRICS = ("l2", "cosine")
_ON_MISSING = ("raise", "skip_word")
# characters that split a class name into words ("maple_tree", "Egyptian cat")
_WORD_SEP = re.compile(r"[\s_]+")
# characters that split a word absent from the vocabulary ("drop-off", "plumber's")
_SUBWORD_SEP = re.compile(r"[-'.]+")


class WordEmbeddingSimilarity(BaseSimilarity):
    """Class distances between word-vector embeddings of the class names.

    A class name is a comma-separated list of synonyms (``"bullfrog, Rana
    catesbeiana"``, as in Tiny-ImageNet's ``words.txt``; most names have one).
    Each synonym is split into words on spaces and underscores
    (``"maple_tree"`` -> ``maple``, ``tree``); a word absent from the
    vocabulary is split again on ``-``, ``'`` and ``.`` (``"drop-off"`` ->
    ``drop``, ``off``). A synonym's vector is the mean of its word vectors,
    and the class embedding is the mean over its usable synonyms. The
    distance is the L2 distance between class embeddings (paper eq. 16) or
    the cosine distance.

    Word-embedding class distances are the best similarity source of Liu and JaJa [1]_.

    Parameters
    ----------
    vectors : str, path-like, gensim KeyedVectors, mapping or callable
        Word vectors: a word2vec text/binary or GloVe file (``.gz`` too, see
        :func:`load_word_vectors`), a gensim ``KeyedVectors``, a mapping
        ``word -> vector``, or a callable ``text -> vector`` such as a
        sentence-transformer's ``encode``. A callable receives each synonym
        as a whole phrase (underscores turned into spaces, case kept) and may
        return ``None`` or raise ``KeyError`` for an unknown phrase. A file is
        read once per ``fit`` (only the needed words are kept); nothing is
        cached between fits.
    class_names : sequence of str or mapping, default=None
        Name of each class. ``None``: the labels themselves (must be strings).
        A sequence gives one name per class in the order of ``classes_``
        (sorted labels; for labels ``0..K-1`` that is label order). A mapping
        ``label -> name`` must cover every class.
    metric : {"l2", "cosine"}, default="l2"
        ``||u - v||_2`` or ``1 - cos(u, v)``.
    on_missing : {"raise", "skip_word"}, default="raise"
        A synonym is usable when every one of its words has a vector.
        ``"raise"``: a class without a usable synonym is an error, and the
        ``ValueError`` lists every such class with its missing words.
        ``"skip_word"``: a synonym uses the words that have vectors and is
        usable if at least one does; a class without any known word is still
        an error.
    lowercase : bool, default=True
        Look words up in lower case (GloVe's vocabulary is lower case). Not
        applied to a callable.
    binary : bool, default=None
        Word2vec binary file? ``None``: decided from the ``.bin`` extension.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique labels.
    class_names_ : list of str
        Name used for each class, in ``classes_`` order.
    embeddings_ : ndarray of shape (n_classes, dim), dtype=float64
        Class embeddings.
    distances_ : ndarray of shape (n_classes, n_classes), dtype=float64
        Distances between class embeddings; zero diagonal.

    References
    ----------
    .. [1] C. Liu and J. JaJa, "Class-similarity based label smoothing for confidence calibration", *ICANN*, 2021. arXiv:2006.14028.

    Examples
    --------
    >>> from simcalib.similarity import WordEmbeddingSimilarity
    >>> vectors = {"maple": [1.0, 0.0], "oak": [0.9, 0.1], "tree": [0.0, 1.0],
    ...            "car": [-1.0, 0.0]}
    >>> sim = WordEmbeddingSimilarity(vectors).fit(None, ["maple_tree", "oak_tree", "car"])
    >>> [(name, round(d, 4)) for name, d in sim.most_similar("maple_tree", n=2)]
    [('oak_tree', 0.0707), ('car', 1.5811)]
    """

    _requires_X = False

    def __init__(
        self,
        vectors,
        *,
        class_names=None,
        metric="l2",
        on_missing="raise",
        lowercase=True,
        binary=None,
    ):
        self.vectors = vectors
        self.class_names = class_names
        self.metric = metric
        self.on_missing = on_missing
        self.lowercase = lowercase
        self.binary = binary

    def fit(self, X=None, y=None):
        """Embed the class names and compute their distances.

        Parameters
        ----------
        X : ignored
            Present for API consistency (``None`` is fine).
        y : array-like of shape (n_samples,)
            Labels; each class may appear once (e.g. ``y = class_names``).

        Returns
        -------
        self : WordEmbeddingSimilarity
            The fitted source.
        """
        return super().fit(X, y)

    def _class_distances(self, X, y_idx):
        if self.metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}; got {self.metric!r}")
        if self.on_missing not in _ON_MISSING:
            raise ValueError(
                f"on_missing must be one of {_ON_MISSING}; got {self.on_missing!r}"
            )
        names = _resolve_class_names(self.class_names, self.classes_)
        self.class_names_ = names
        synonyms = [_split_synonyms(n) for n in names]
        if callable(self.vectors) and not isinstance(self.vectors, Mapping):
            E = self._embed_with_callable(synonyms)
        else:
            E = self._embed_with_table(synonyms)
        self.embeddings_ = E
        if self.metric == "l2":
            sq = np.einsum("ij,ij->i", E, E)
            D = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * E @ E.T, 0.0))
        else:
            norms = np.linalg.norm(E, axis=1)
            if np.any(norms == 0):
                bad = [names[k] for k in np.flatnonzero(norms == 0)]
                raise ValueError(
                    f"metric='cosine' needs non-zero class embeddings; zero for {bad}"
                )
            U = E / norms[:, None]
            D = np.clip(1.0 - U @ U.T, 0.0, 2.0)
        return D

    def _embed_with_table(self, synonyms):
        def words_of(phrase):
            words = [w for w in _WORD_SEP.split(phrase) if w]
            return [w.lower() for w in words] if self.lowercase else words

        needed = set()
        for syns in synonyms:
            for s in syns:
                for w in words_of(s):
                    needed.add(w)
                    needed.update(p for p in _SUBWORD_SEP.split(w) if p)
        table = load_word_vectors(self.vectors, binary=self.binary, words=needed)

        def lookup(word):
            if word in table:
                return [np.asarray(table[word], dtype=np.float64)]
            parts = [p for p in _SUBWORD_SEP.split(word) if p]
            if len(parts) > 1 and all(p in table for p in parts):
                return [np.asarray(table[p], dtype=np.float64) for p in parts]
            return None

        embeddings, missing = [], {}
        for name, syns in zip(self.class_names_, synonyms):
            usable, absent = [], []
            for s in syns:
                vecs, lost = [], []
                for w in words_of(s):
                    found = lookup(w)
                    if found is None:
                        lost.append(w)
                    else:
                        vecs.extend(found)
                if vecs and (not lost or self.on_missing == "skip_word"):
                    usable.append(np.mean(vecs, axis=0))
                absent.extend(lost)
            if usable:
                embeddings.append(np.mean(usable, axis=0))
            else:
                missing[name] = absent
        if missing:
            listed = "; ".join(
                f"{n!r} (missing: {', '.join(w) or 'no words'})"
                for n, w in missing.items()
            )
            hint = (
                ""
                if self.on_missing == "skip_word"
                else " Pass on_missing='skip_word' to ignore unknown words within a name."
            )
            source = (
                f" in {os.fspath(self.vectors)!r}"
                if isinstance(self.vectors, (str, os.PathLike)) else ""
            )
            raise ValueError(
                f"{len(missing)} of {len(synonyms)} class names have no word vectors{source}: "
                f"{listed}.{hint}"
            )
        return _stack_same_dim(embeddings, self.class_names_)

    def _embed_with_callable(self, synonyms):
        embeddings, missing = [], []
        for name, syns in zip(self.class_names_, synonyms):
            usable = []
            for s in syns:
                try:
                    v = self.vectors(s.replace("_", " "))
                except KeyError:
                    v = None
                if v is not None:
                    usable.append(np.asarray(v, dtype=np.float64).ravel())
            if usable:
                embeddings.append(np.mean(usable, axis=0))
            else:
                missing.append(name)
        if missing:
            raise ValueError(
                f"{len(missing)} of {len(synonyms)} class names have no vector from the "
                f"vectors callable: {missing}"
            )
        return _stack_same_dim(embeddings, self.class_names_)


def _resolve_class_names(class_names, classes):
    """Name of each class in ``classes`` order."""
    K = len(classes)
    if class_names is None:
        if classes.dtype.kind not in "UO" or not all(
            isinstance(c, str) for c in classes
        ):
            raise ValueError(
                f"class_names is required when the labels are not strings; got labels "
                f"of dtype {classes.dtype} (e.g. {classes[:3].tolist()})"
            )
        return [str(c) for c in classes]
    if isinstance(class_names, Mapping):
        absent = [c for c in classes.tolist() if c not in class_names]
        if absent:
            raise ValueError(f"class_names has no name for the labels {absent}")
        names = [class_names[c] for c in classes.tolist()]
    else:
        names = list(class_names) if not isinstance(class_names, str) else [class_names]
        if len(names) != K:
            raise ValueError(
                f"class_names must have one name per class ({K} classes in y); "
                f"got {len(names)} names"
            )
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        raise ValueError(f"class_names must be non-empty strings; got {bad[:5]}")
    return names


def _split_synonyms(name):
    """``"bullfrog, Rana catesbeiana"`` -> ``["bullfrog", "Rana catesbeiana"]``."""
    return [s.strip() for s in name.split(",") if s.strip()]


def _stack_same_dim(embeddings, names):
    dims = {e.shape[0] for e in embeddings}
    if len(dims) != 1:
        raise ValueError(
            f"class embeddings differ in length {sorted(dims)} for {names[:5]}..."
        )
    return np.stack(embeddings).astype(np.float64)
