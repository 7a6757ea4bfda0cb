"""Class distances from the WordNet noun hierarchy (nltk, offline corpus)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import numpy as np

from simcalib.similarity._base import BaseSimilarity

__all__ = ["WordNetSimilarity"]

_METRICS = ("path", "wup", "lch")
_WNID = re.compile(r"^([nvasr])(\d{8})$")
_SYNSET_NAME = re.compile(r"^.+\.[nvasr]\.\d+$")


class WordNetSimilarity(BaseSimilarity):
    """Class distances from WordNet synsets: path, Wu-Palmer or Leacock-Chodorow.

    Each class is mapped to one WordNet synset, given by name
    (``"dolphin.n.02"``), by ImageNet-style id (``"n02068974"``, part of
    speech + 8-digit offset) or by a plain noun (``"dolphin"``,
    ``"maple_tree"``, ``"Egyptian cat"``), which stands for its most common
    noun sense (``dolphin.n.01``; pass ``synsets`` to pick another). So the
    folder names of :func:`~simcalib.datasets.load_image_folder` work as
    labels directly. The distance is ``sim(k, k) - sim(k, k')``, the
    drop of the chosen NLTK similarity below its self-similarity (NLTK's
    default ``simulate_root`` handling):

    * ``"path"``: ``1 - path_similarity``, where path similarity is
      ``1 / (1 + shortest hypernym/hyponym path length)``;
    * ``"wup"``: ``1 - wup_similarity`` (Wu-Palmer, depth of the lowest
      common subsumer relative to the depths of the two synsets);
    * ``"lch"``: ``lch(k, k) - lch(k, k')`` with
      ``lch = -log(p / (2 * taxonomy_depth))``, ``p`` the path length in
      nodes; the depth cancels, so the distance is ``log(p) =
      -log(path_similarity)``: a log-scaled path distance.

    NLTK's WordNet corpus must be present locally: nothing is ever
    downloaded. The first use in a process takes ~15 s (NLTK indexes the
    corpus).

    Parameters
    ----------
    synsets : sequence of str or mapping, default=None
        Synset of each class. ``None``: the labels themselves are synset names
        or ids. A sequence gives one synset per class in the order of
        ``classes_`` (sorted labels; label order for ``0..K-1``); a mapping
        ``label -> synset`` must cover every class.
    metric : {"path", "wup", "lch"}, default="wup"
        WordNet similarity behind the distance (see above). ``"lch"`` needs
        all synsets to share one part of speech.
    nltk_data : str or path-like, default=None
        A folder holding ``corpora/wordnet.zip`` (or ``corpora/wordnet/``),
        added in front of ``nltk.data.path`` (process-wide, as ``NLTK_DATA``
        would). ``None``: NLTK's own search path.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted unique labels.
    synsets_ : list of str
        Canonical synset name of each class (``"dolphin.n.02"``).
    distances_ : ndarray of shape (n_classes, n_classes), dtype=float64
        Symmetric distances with a zero diagonal.

    Examples
    --------
    >>> from simcalib.similarity import WordNetSimilarity
    >>> sim = WordNetSimilarity(metric="wup", nltk_data="data/nltk_data")  # doctest: +SKIP
    >>> sim.fit(None, ["dolphin.n.02", "whale.n.02", "rose.n.01"])  # doctest: +SKIP
    >>> sim.classes_  # doctest: +SKIP
    array(['dolphin.n.02', 'rose.n.01', 'whale.n.02'], dtype='<U12')
    >>> sim.distances_.round(3)  # doctest: +SKIP
    array([[0.   , 0.556, 0.067],
           [0.556, 0.   , 0.52 ],
           [0.067, 0.52 , 0.   ]])
    """

    _requires_X = False

    def __init__(self, synsets=None, *, metric="wup", nltk_data=None):
        self.synsets = synsets
        self.metric = metric
        self.nltk_data = nltk_data

    def fit(self, X=None, y=None):
        """Look the synsets up and compute their pairwise distances.

        Parameters
        ----------
        X : ignored
            Present for API consistency (``None`` is fine).
        y : array-like of shape (n_samples,)
            Labels; each class may appear once.

        Returns
        -------
        self : WordNetSimilarity
            The fitted source.
        """
        return super().fit(X, y)

    def _check_params(self):
        super()._check_params()
        if not isinstance(self.metric, str) or self.metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}; got {self.metric!r}")

    def _class_distances(self, X, y_idx):
        keys = _resolve_synset_keys(self.synsets, self.classes_)
        wn = _load_wordnet(self.nltk_data)
        synsets, unknown = [], []
        for key in keys:
            s = _lookup(wn, key)
            if s is None:
                unknown.append(key)
            synsets.append(s)
        if unknown:
            raise ValueError(
                f"{len(unknown)} of {len(keys)} synsets are not in WordNet "
                f"{wn.get_version()}: {unknown}"
            )
        if self.metric == "lch":
            pos = {s.pos().replace("s", "a") for s in synsets}
            if len(pos) > 1:
                raise ValueError(
                    f"metric='lch' needs synsets of one part of speech; got {sorted(pos)}"
                )
        self.synsets_ = [s.name() for s in synsets]
        K = len(synsets)
        S = np.eye(K)
        sim = (
            (lambda a, b: a.wup_similarity(b))
            if self.metric == "wup"
            else (lambda a, b: a.path_similarity(b))
        )
        for i in range(K):
            for j in range(i + 1, K):
                v = sim(synsets[i], synsets[j])
                # None: no path at all (e.g. a noun and a verb); least similar.
                S[i, j] = S[j, i] = 0.0 if v is None else v
        if self.metric == "lch":
            # lch(a, a) - lch(a, b) = log(p_ab) with p_ab = 1 / path_similarity
            # the path length in nodes; NLTK's taxonomy depth cancels, and
            # computing it (a walk over all 82k nouns) is avoided.
            with np.errstate(divide="ignore"):
                D = -np.log(S)
            D[np.isinf(D)] = np.log(2 * 20)  # no path: longer than any noun path
            np.fill_diagonal(D, 0.0)
        else:
            D = 1.0 - S
        return 0.5 * (D + D.T)


def _resolve_synset_keys(synsets, classes):
    K = len(classes)
    if synsets is None:
        keys = classes.tolist()
    elif isinstance(synsets, Mapping):
        absent = [c for c in classes.tolist() if c not in synsets]
        if absent:
            raise ValueError(f"synsets has no synset for the labels {absent}")
        keys = [synsets[c] for c in classes.tolist()]
    else:
        keys = [synsets] if isinstance(synsets, str) else list(synsets)
        if len(keys) != K:
            raise ValueError(
                f"synsets must have one synset per class ({K} classes in y); got {len(keys)}"
            )
    bad = [k for k in keys if not isinstance(k, str)]
    if bad:
        raise ValueError(
            f"synsets must be synset names ('dolphin.n.02'), ids ('n02068974') or nouns ('dolphin'); got {bad[:5]}"
        )
    return keys


def _load_wordnet(nltk_data):
    """The NLTK WordNet reader, from ``nltk_data`` or NLTK's path; never downloads."""
    try:
        import nltk
        from nltk.corpus import wordnet as wn
    except ImportError:
        raise ImportError(
            "WordNetSimilarity needs nltk: pip install 'simcalib[text]'"
        ) from None
    if nltk_data is not None:
        folder = os.fspath(nltk_data)
        if not os.path.isdir(folder):
            raise ValueError(f"nltk_data folder not found: {folder!r}")
        if folder not in nltk.data.path:
            nltk.data.path.insert(0, folder)
    try:
        wn.ensure_loaded()
    except LookupError:
        raise ValueError(
            "the NLTK WordNet corpus was not found (looked in "
            f"{list(nltk.data.path)}); pass nltk_data= a folder holding "
            "corpora/wordnet.zip or set NLTK_DATA (simcalib never downloads it)"
        ) from None
    return wn


def _lookup(wn, key):
    key = key.strip()
    m = _WNID.match(key)
    try:
        if m:
            return wn.synset_from_pos_and_offset(m.group(1), int(m.group(2)))
        if not _SYNSET_NAME.match(key):
            # a plain noun: its first (most frequent) noun sense
            senses = wn.synsets(re.sub(r"\s+", "_", key), pos=wn.NOUN)
            return senses[0] if senses else None
        return wn.synset(key)
    except Exception:  # nltk raises WordNetError, ValueError or others for bad keys
        return None
