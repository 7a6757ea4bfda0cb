"""ReferenceCurator: noisy labels -> class distributions voted by a small trusted reference set."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from simcalib._device import resolve_device
from simcalib._validation import _is_torch_tensor, check_scalar_in_range, encode_labels
from simcalib.curation._embedding import (
    check_embedded,
    fit_embedding,
    is_trainable_classifier,
)
from simcalib.curation._neighbors import normalize_rows, top_k_cosine

__all__ = ["ReferenceCurator", "FLAGS"]

#: The three flags of a curated sample, in the order of ``flag_codes_``.
FLAGS = ("clean", "ambiguous", "ood")


def _take(X, idx):
    if _is_torch_tensor(X):
        return X[torch.as_tensor(idx, dtype=torch.long, device=X.device)]
    return np.asarray(X)[idx]


def _n_samples(X, name):
    try:
        return len(X)
    except TypeError:
        raise ValueError(f"{name} must be an array of samples; got {type(X).__name__}") from None


class ReferenceCurator(BaseEstimator):
    """Curate noisy labels into class distributions voted by a small trusted reference set.

    TrainRef-style data curation [1]_. A few clean, labelled **reference**
    samples (as few as one per class) are trusted; the training labels are
    not. In an embedding (autoencoder latents, the penultimate features of
    a classifier, or any function), every training sample gets:

    - a **soft label**: the similarity-weighted vote of its ``n_neighbors``
      nearest supporters, ``p_i = sum_r w_ir e_{y_r}`` with weights
      ``w_i = softmax(cos(z_i, z_r) / temperature)`` over those supporters;
    - a **flag**: ``"ood"`` when it is farther from every trusted
      reference than the references are from each other (see
      ``ood_quantile``), else ``"clean"`` when the vote's top class is its
      given label with at least ``clean_threshold`` of the mass, else
      ``"ambiguous"`` (its label disagrees with the vote, or the vote is
      spread);
    - its **most influential supporters** (``supporters_``, sorted by
      weight), so a user can see why.

    Two mechanisms of [1]_ run between rounds (``n_rounds`` votes):
    **reference augmentation** adds the ``augment_per_class`` most
    confidently clean training samples of each class to the supporters (never
    to the trusted set that calibrates the OOD threshold), and, when an
    ``estimator`` is given, **co-evolution** trains it on the curated labels
    (per-sample ``soft_targets``) and votes again in its penultimate
    features. The references never train an embedding (neither the
    default ones nor ``estimator``), so that the OOD threshold calibrated
    on them is a held-out estimate. The nearest-neighbour search is one
    matrix product per chunk
    of samples (:func:`~simcalib.curation.top_k_cosine`), so memory stays
    bounded.

    Parameters
    ----------
    embedding : None, "pixels", AutoencoderSimilarity, SimilarityLSClassifier or callable, default=None
        Where the first vote happens (later rounds use ``estimator_`` when
        ``estimator`` is given):

        - None: a :class:`~simcalib.similarity.AutoencoderSimilarity`
          (seeded with ``random_state``) trained on the training images;
        - an :class:`~simcalib.similarity.AutoencoderSimilarity`: its
          encoder; trained as above unless already fitted;
        - a :class:`~simcalib.classifier.SimilarityLSClassifier`: its
          penultimate features (:meth:`~simcalib.classifier.SimilarityLSClassifier.embed`);
          a clone is trained on the training images with their (noisy)
          labels unless it is already fitted;
        - ``"pixels"``: the flattened pixels;
        - a callable ``f(X) -> array of shape (n, d)``.
    n_neighbors : int >= 1, default=10
        Supporters per training sample (fewer when the reference set is
        smaller: all of it).
    temperature : float > 0, default=0.1
        Of the softmax over cosine similarities: small values give the
        nearest supporter all the weight, large values spread it evenly.
    ood_quantile : float in [0, 1], default=0.95
        The OOD threshold is this quantile of the trusted references'
        leave-one-out scores (1 - cosine similarity to the nearest *other*
        reference); a training sample whose score (1 - similarity to the
        nearest trusted reference) exceeds it is flagged ``"ood"``. About
        ``1 - ood_quantile`` of the in-distribution samples that resemble
        the references are flagged by mistake; with one reference per class
        the leave-one-out neighbour is of another class, which makes the
        threshold looser. The threshold is estimated from as many scores as
        there are references: with few of them (say fewer than
        ``10 / (1 - ood_quantile)``) it hangs on the one or two largest and
        varies much from one reference set to the next, even when
        ``ood_score_`` ranks the OOD samples well (on Tiny-ImageNet-32 with
        20 references in all, the fraction of noise images flagged was 95 %
        in one seed and 0 % in two others, at an AUROC of
        80-96 %). Then rank by ``ood_score_`` or choose the threshold from it.
    clean_threshold : float in [0, 1], default=0.5
        Smallest vote for its given label that makes a sample ``"clean"``.
    n_rounds : int >= 1, default=2
        Votes. Between two votes, reference augmentation and, with an
        ``estimator``, co-evolution.
    augment_per_class : int >= 0, default=10
        Training samples of each class added to the supporters after a vote
        (the clean ones with the largest vote for their label). 0 disables
        reference augmentation.
    estimator : SimilarityLSClassifier or None, default=None
        Co-evolution: after each vote a clone is trained on the in-distribution
        training samples with their curated soft labels (``soft_targets``),
        and the next vote happens in its penultimate features. The clone of
        the last round is ``estimator_``, a model trained on the final
        curated labels.
    chunk_size : int or None, default=None
        Samples per chunk of the nearest-neighbour search (None: about 16
        million similarities per chunk).
    device : str, torch.device or None, default=None
        Where the search runs (:func:`simcalib._device.resolve_device`).
    random_state : int or None, default=None
        Seed of the default autoencoder.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels of ``y`` and ``y_reference``; columns of ``soft_labels_``.
    soft_labels_ : ndarray of shape (n_samples, n_classes), float64
        The curated class distribution of every training sample; rows sum
        to 1. Ready for ``SimilarityLSClassifier.fit(X, y, soft_targets=...)``.
    labels_ : ndarray of shape (n_samples,)
        The top class of each vote.
    flags_ : ndarray of shape (n_samples,), dtype object
        ``"clean"``, ``"ambiguous"`` or ``"ood"``.
    flag_codes_ : ndarray of shape (n_samples,), int8
        Position of each flag in ``FLAGS`` (0 clean, 1 ambiguous, 2 ood).
    in_distribution_ : ndarray of shape (n_samples,), bool
        ``flags_ != "ood"``: the samples to train on.
    ood_score_ : ndarray of shape (n_samples,), float64
        ``1 - cos`` to the nearest trusted reference (higher is farther).
    ood_threshold_ : float
        The calibrated threshold on ``ood_score_``.
    reference_ood_scores_ : ndarray of shape (n_references,)
        The leave-one-out scores it was calibrated on.
    reference_accuracy_ : float
        Leave-one-out accuracy of the vote on the trusted references (each
        voted by the other supporters): a check of the embedding that needs
        no clean training label. With one reference per class it is 0 in
        the first round (the right class has no other reference).
    supporters_ : ndarray of shape (n_samples, n_supporters), int64
        Supporters of each sample, most influential first, as indices into
        the supporter pool: ``j < n_references`` is ``X_reference[j]``,
        larger ``j`` is ``X[augmented_[j - n_references]]`` (-1: no
        supporter in that slot).
    supporter_weights_, supporter_similarities_ : ndarray of shape (n_samples, n_supporters)
        Their vote weights (rows sum to 1) and cosine similarities.
    augmented_ : ndarray of shape (n_augmented,), int64
        Training samples that were supporters in the last vote.
    pool_labels_ : ndarray of shape (n_references + n_augmented,)
        Label of every supporter in the pool (references, then ``augmented_``).
    n_references_ : int
        Trusted references.
    embedding_ : object
        The fitted first embedding (autoencoder, classifier, callable or
        ``"pixels"``).
    estimator_ : SimilarityLSClassifier or None
        The co-evolved classifier (``estimator`` given only).
    rounds_ : list of dict
        Per vote: counts of each flag, supporters, and how often the vote
        agrees with the given labels.

    References
    ----------
    .. [1] "Learning Distributional Labels with Minimal Reference for Noisy
       Data Curation" (TrainRef); project page of soft-label, confidence and
       out-of-distribution examples.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> centers = np.eye(3) * 5
    >>> X = np.repeat(centers, 20, axis=0) + rng.normal(size=(60, 3))
    >>> y = np.repeat([0, 1, 2], 20)
    >>> noisy = y.copy(); noisy[:6] = 1
    >>> cur = ReferenceCurator(lambda Z: Z, n_neighbors=3).fit(
    ...     X, noisy, X_reference=centers, y_reference=[0, 1, 2])
    >>> cur.labels_[:6].tolist(), cur.flags_[0]
    ([0, 0, 0, 0, 0, 0], 'ambiguous')
    """

    def __init__(
        self,
        embedding=None,
        *,
        n_neighbors=10,
        temperature=0.1,
        ood_quantile=0.95,
        clean_threshold=0.5,
        n_rounds=2,
        augment_per_class=10,
        estimator=None,
        chunk_size=None,
        device=None,
        random_state=None,
    ):
        self.embedding = embedding
        self.n_neighbors = n_neighbors
        self.temperature = temperature
        self.ood_quantile = ood_quantile
        self.clean_threshold = clean_threshold
        self.n_rounds = n_rounds
        self.augment_per_class = augment_per_class
        self.estimator = estimator
        self.chunk_size = chunk_size
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------ checks
    def _check_params(self):
        check_scalar_in_range(self.n_neighbors, "n_neighbors", lo=1, integer=True)
        check_scalar_in_range(self.temperature, "temperature", lo=0.0, lo_open=True)
        check_scalar_in_range(self.ood_quantile, "ood_quantile", lo=0.0, hi=1.0)
        check_scalar_in_range(self.clean_threshold, "clean_threshold", lo=0.0, hi=1.0)
        check_scalar_in_range(self.n_rounds, "n_rounds", lo=1, integer=True)
        check_scalar_in_range(self.augment_per_class, "augment_per_class", lo=0, integer=True)
        if self.chunk_size is not None:
            check_scalar_in_range(self.chunk_size, "chunk_size", lo=1, integer=True)
        if self.estimator is not None and not is_trainable_classifier(self.estimator):
            raise ValueError(
                "estimator must be a SimilarityLSClassifier (or None) for co-evolution; "
                f"got {type(self.estimator).__name__}"
            )
        return resolve_device(self.device)

    def _check_data(self, X, y, X_reference, y_reference):
        if X_reference is None:
            raise ValueError("X_reference is required: the trusted reference samples")
        n, n_ref = _n_samples(X, "X"), _n_samples(X_reference, "X_reference")
        labels = np.concatenate([
            encode_labels(y, name="y")[0], encode_labels(y_reference, name="y_reference")[0]
        ])
        classes = np.unique(labels)
        _, codes = encode_labels(y, classes, name="y")
        _, ref_codes = encode_labels(y_reference, classes, name="y_reference")
        if len(codes) != n:
            raise ValueError(f"X has {n} samples but y has {len(codes)}")
        if len(ref_codes) != n_ref:
            raise ValueError(f"X_reference has {n_ref} samples but y_reference has {len(ref_codes)}")
        if len(classes) < 2:
            raise ValueError(f"curation needs at least 2 classes; got {classes.tolist()}")
        missing = np.setdiff1d(np.arange(len(classes)), ref_codes)
        if missing.size:
            raise ValueError(
                f"every class needs at least one reference sample (nothing could vote for "
                f"it); classes without one: {classes[missing][:10].tolist()}"
            )
        return classes, codes, ref_codes

    # --------------------------------------------------------------- fit
    def fit(self, X, y, X_reference, y_reference):
        """Vote soft labels, flags and supporters for every training sample.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, ...)
            Training samples (images for the autoencoder, the classifier
            and ``"pixels"``; anything the callable takes otherwise).
        y : array-like of shape (n_samples,)
            Their labels, possibly noisy.
        X_reference : array-like or torch.Tensor of shape (n_references, ...)
            Trusted samples, shaped like ``X``; at least one per class and
            two in all.
        y_reference : array-like of shape (n_references,)
            Their (clean) labels.

        Returns
        -------
        self : ReferenceCurator
        """
        device = self._check_params()
        classes, codes, ref_codes = self._check_data(X, y, X_reference, y_reference)
        y_arr = classes[codes]
        first, transform = fit_embedding(self.embedding, X, y_arr, self.random_state)
        state = dict(classes=classes, codes=codes, ref_codes=ref_codes, device=device)
        augmented = np.empty(0, dtype=np.int64)
        rounds, estimator = [], None
        for r in range(self.n_rounds):
            vote = self._vote(transform, X, X_reference, augmented, state)
            rounds.append(self._round_summary(vote, codes, augmented))
            if self.estimator is not None:
                estimator = self._train(X, vote, state)
                transform = estimator.embed
            if r < self.n_rounds - 1:
                augmented = self._augment(vote, codes)
        self.classes_ = classes
        self.n_references_ = len(ref_codes)
        self.embedding_ = first
        self.estimator_ = estimator
        self.augmented_ = vote["augmented"]
        self.pool_labels_ = classes[np.concatenate([ref_codes, codes[vote["augmented"]]])]
        self.rounds_ = rounds
        for key in ("soft_labels", "flag_codes", "ood_score", "supporters",
                    "supporter_weights", "supporter_similarities"):
            setattr(self, key + "_", vote[key])
        self.ood_threshold_ = vote["ood_threshold"]
        self.reference_accuracy_ = vote["reference_accuracy"]
        self.reference_ood_scores_ = vote["reference_ood_scores"]
        self.labels_ = classes[vote["soft_labels"].argmax(axis=1)]
        self.flags_ = np.asarray(FLAGS, dtype=object)[vote["flag_codes"]]
        self.in_distribution_ = vote["flag_codes"] != FLAGS.index("ood")
        return self

    def _embed(self, transform, X, X_reference, device):
        n, n_ref = len(X), len(X_reference)
        Z = check_embedded(transform(X), n, "X")
        Z_ref = check_embedded(transform(X_reference), n_ref, "X_reference", Z.shape[1])
        return normalize_rows(Z).to(device), normalize_rows(Z_ref).to(device)

    def _vote(self, transform, X, X_reference, augmented, state):
        """One vote: soft labels, flags and supporters in the current embedding."""
        device, codes, ref_codes = state["device"], state["codes"], state["ref_codes"]
        n, n_ref, K = len(codes), len(ref_codes), len(state["classes"])
        Z, Z_ref = self._embed(transform, X, X_reference, device)

        # OOD: distance to the trusted references only (augmented supporters
        # could carry the very pollution the reference set is there to avoid)
        ref_sims, _ = top_k_cosine(Z_ref, Z_ref, 1, exclude=np.arange(n_ref),
                                   chunk_size=self.chunk_size)
        ref_scores = (1.0 - ref_sims[:, 0].double()).cpu().numpy()
        threshold = float(np.quantile(ref_scores, self.ood_quantile))
        near, _ = top_k_cosine(Z, Z_ref, 1, chunk_size=self.chunk_size)
        ood_score = (1.0 - near[:, 0].double()).cpu().numpy()

        # the vote, among trusted references and augmented training samples
        pool = torch.cat([Z_ref, Z[torch.as_tensor(augmented, device=device)]])
        pool_codes = torch.as_tensor(
            np.concatenate([ref_codes, codes[augmented]]), device=device
        )
        exclude = np.full(n, -1, dtype=np.int64)
        exclude[augmented] = n_ref + np.arange(len(augmented))  # not its own supporter
        k = min(self.n_neighbors, len(pool))
        sims, idx = top_k_cosine(Z, pool, k, exclude=exclude, chunk_size=self.chunk_size)
        weights = torch.softmax(sims.double() / float(self.temperature), dim=1)
        soft = torch.zeros((n, K), dtype=torch.float64, device=device)
        soft.scatter_add_(1, pool_codes[idx.clamp_min(0)], weights)
        soft = (soft / soft.sum(dim=1, keepdim=True)).cpu().numpy()

        # the same vote for each trusted reference, without itself: how
        # well the embedding separates the classes (0 with one per class)
        ref_sims, ref_idx = top_k_cosine(Z_ref, pool, min(k, len(pool) - 1) or 1,
                                         exclude=np.arange(n_ref), chunk_size=self.chunk_size)
        ref_w = torch.softmax(ref_sims.double() / float(self.temperature), dim=1)
        ref_soft = torch.zeros((n_ref, K), dtype=torch.float64, device=device)
        ref_soft.scatter_add_(1, pool_codes[ref_idx.clamp_min(0)], ref_w)
        ref_accuracy = float(np.mean(ref_soft.argmax(1).cpu().numpy() == ref_codes))

        given = soft[np.arange(n), codes]
        clean = (soft.argmax(axis=1) == codes) & (given >= self.clean_threshold)
        flags = np.where(clean, 0, 1).astype(np.int8)
        flags[ood_score > threshold] = FLAGS.index("ood")
        return dict(
            soft_labels=soft, flag_codes=flags, ood_score=ood_score, ood_threshold=threshold,
            reference_ood_scores=ref_scores, supporters=idx.cpu().numpy(),
            supporter_weights=weights.cpu().numpy(),
            supporter_similarities=sims.double().cpu().numpy(), augmented=augmented,
            reference_accuracy=ref_accuracy,
        )

    def _augment(self, vote, codes):
        """The clean samples with the largest vote for their label, up to ``augment_per_class`` per class."""
        if self.augment_per_class == 0:
            return np.empty(0, dtype=np.int64)
        clean = np.flatnonzero(vote["flag_codes"] == 0)
        given = vote["soft_labels"][clean, codes[clean]]
        order = clean[np.lexsort((-given, codes[clean]))]  # by class, most confident first
        cls = codes[order]
        starts = np.searchsorted(cls, cls, side="left")
        rank = np.arange(len(order)) - starts
        return np.sort(order[rank < self.augment_per_class])

    def _train(self, X, vote, state):
        """Co-evolution: a clone of ``estimator`` trained on the curated labels.

        The references stay out of its training set: a network that has
        fitted them would put them closer together than new samples, and
        the OOD threshold calibrated on them would flag most of the data.
        """
        classes = state["classes"]
        keep = np.flatnonzero(vote["flag_codes"] != FLAGS.index("ood"))
        soft = vote["soft_labels"][keep]
        estimator = clone(self.estimator).set_params(classes=list(classes))
        return estimator.fit(_take(X, keep), classes[soft.argmax(1)],
                             soft_targets=soft.astype(np.float32))

    @staticmethod
    def _round_summary(vote, codes, augmented):
        flags = vote["flag_codes"]
        return {
            **{f"n_{name}": int(np.sum(flags == i)) for i, name in enumerate(FLAGS)},
            "n_supporters": int(vote["supporters"].shape[1]),
            "n_augmented": int(len(augmented)),
            "agreement": float(np.mean(vote["soft_labels"].argmax(1) == codes)),
            "reference_accuracy": vote["reference_accuracy"],
        }

    # ----------------------------------------------------------- explain
    def explain(self, index, *, top_k=5, n_supporters=4):
        """Why sample ``index`` got its soft label: top classes and supporters.

        Parameters
        ----------
        index : int
            A training sample.
        top_k : int, default=5
            Classes of the soft label to list.
        n_supporters : int, default=4
            Most influential supporters to list.

        Returns
        -------
        explanation : :class:`~sklearn.utils.Bunch`
            ``top_classes`` and ``top_probabilities`` (largest first),
            ``flag``, ``label`` (the vote's top class) and, for each
            supporter, ``supporter_pool`` (index into the pool),
            ``supporter_source`` (``"reference"`` or ``"train"``),
            ``supporter_index`` (into ``X_reference`` or ``X``),
            ``supporter_labels``, ``supporter_weights`` and
            ``supporter_similarities``.
        """
        check_is_fitted(self, "soft_labels_")
        n = len(self.soft_labels_)
        check_scalar_in_range(index, "index", lo=-n, hi=n - 1, integer=True)
        check_scalar_in_range(top_k, "top_k", lo=1, integer=True)
        check_scalar_in_range(n_supporters, "n_supporters", lo=1, integer=True)
        p = self.soft_labels_[index]
        top = np.argsort(-p, kind="stable")[:top_k]
        pool = self.supporters_[index][:n_supporters]
        pool = pool[pool >= 0]
        from_ref = pool < self.n_references_
        sample = pool.copy()
        sample[~from_ref] = self.augmented_[pool[~from_ref] - self.n_references_]
        pool_labels = self.pool_labels_[pool]
        m = len(pool)
        return Bunch(
            top_classes=self.classes_[top], top_probabilities=p[top],
            flag=self.flags_[index], label=self.labels_[index],
            supporter_pool=pool, supporter_source=np.where(from_ref, "reference", "train"),
            supporter_index=sample, supporter_labels=pool_labels,
            supporter_weights=self.supporter_weights_[index][:m],
            supporter_similarities=self.supporter_similarities_[index][:m],
        )
