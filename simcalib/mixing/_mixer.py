"""SemanticMixer: class pairs -> generated mixes -> calibrated soft labels."""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from simcalib._validation import (
    _is_torch_tensor,
    check_images,
    check_scalar_in_range,
    encode_labels,
)
from simcalib.mixing._annotation import annotate, pair_evidence
from simcalib.mixing._generators import generate_images, numpy_rng

__all__ = ["SemanticMixer"]

_LABELS = ("calibrated", "lambda")


class SemanticMixer(BaseEstimator):
    """Generate two-class mixes and label them with the class evidence they really show.

    The data flow of calibration-aware semantic mixing (CSM, Luo et al.
    2025)::

        class pair (a, b), ratio lam
            -> generator(class_weights)                    images mixing a and b
            -> annotator(images)                           evidence e = p_a / (p_a + p_b)
            -> isotonic fit  lam -> g(lam) ~ E[e | lam]    (once, in fit)
            -> soft label  g(lam) on a, 1 - g(lam) on b

    A generator rarely renders a mix at exactly the requested ratio (a
    diffusion model's reverse process drifts towards one class; a pasted
    CutMix box hides the object or not), so the mixing ratio ``lam`` is a
    poor label. ``fit`` generates ``n_calibration`` mixes of random pairs at
    ratios evenly spaced over [0, 1] (ends included), scores each with the
    annotator, and fits a non-decreasing map ``g`` from ``lam`` to the
    annotated confidence by isotonic regression (this is the *calibrated
    re-annotation*); :meth:`sample` then labels each new mix by
    ``g(lam)``. ``labels="lambda"`` keeps the raw ratio (the ablation).

    Pairs are drawn uniformly over ordered pairs of distinct classes, or
    from a class similarity so that near classes mix more often: with a
    :class:`~simcalib.similarity.BaseSimilarity` source, ``a`` is uniform
    and ``b`` follows row ``a`` of
    ``smooth_labels_from_distances(distances_, alpha=1, beta=pair_beta)``
    (the similarity softmax of class-similarity label smoothing).

    Parameters
    ----------
    generator : object with ``generate`` or callable
        ``generate(class_weights (n, K), random_state) -> images (n, C, H, W)``
        (see :mod:`simcalib.mixing`); columns of the weights follow
        ``classes_``. Fitted generators are used as they are.
    annotator : object with ``predict_proba``, callable or None, default=None
        Scores the evidence of every class in an image: a classifier
        trained on clean data and calibrated on held-out data, a
        :class:`PrototypeAnnotator`, or ``annotator(images) -> (n, K)``.
        Columns follow ``classes_``. Required when ``labels="calibrated"``.
    labels : {"calibrated", "lambda"}, default="calibrated"
        Soft label of a mix with ratio ``lam``: ``g(lam)`` fitted to the
        annotations, or ``lam`` itself.
    pairs : "uniform", BaseSimilarity or array-like of shape (K, K), default="uniform"
        How class pairs are drawn: uniformly; from a similarity source
        (cloned and fitted on ``(X, y)`` in :meth:`fit`; for a fixed class
        distance matrix use :class:`~simcalib.similarity.PrecomputedSimilarity`);
        or from non-negative pair weights (row ``a``, column ``b``; the
        diagonal is ignored; normalised to a distribution).
    pair_beta : float >= 0, default=1.0
        Sharpness of the similarity-driven pair distribution (0: uniform).
    lam : float > 0 or array-like of float in [0, 1], default=1.0
        Distribution of the ratio (the weight of ``a``): ``Beta(lam, lam)``
        for a number (1 is uniform on [0, 1]), or uniform over the given
        values.
    n_calibration : int, default=1000
        Mixes generated and annotated in :meth:`fit` to fit ``g``.
    symmetric : bool, default=True
        Fit ``g`` on each annotation ``(lam, e)`` and its mirror
        ``(1 - lam, 1 - e)``: the pair order is arbitrary, so
        ``g(1 - lam) = 1 - g(lam)``, and the fit uses twice the data.
    random_state : None or int, default=None
        Seeds the calibration mixes of :meth:`fit`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted labels of ``y`` (the columns of class weights and targets).
    pair_probabilities_ : ndarray of shape (n_classes, n_classes)
        Probability of drawing the ordered pair ``(a, b)``; zero diagonal.
    similarity_ : BaseSimilarity or None
        The fitted pair similarity.
    image_shape_ : tuple of int
        ``(C, H, W)`` of the images.
    input_dtype_ : numpy dtype
        dtype of the training images; generated images are returned in it
        (rounded and clipped to 0..255 for uint8).
    confidence_map_ : IsotonicRegression or None
        ``g`` (``labels="calibrated"``).
    calibration_lambdas_, calibration_evidence_ : ndarray of shape (n_calibration,)
        The ratios and annotated evidence ``g`` was fitted on.

    References
    ----------
    .. [1] H. Luo, L. Tao, M. Dong and C. Xu, "Beyond One-Hot Labels:
       Semantic Mixing for Model Calibration", ICML 2025.

    Examples
    --------
    A toy generator whose images are their class weights, and an annotator
    that reads the evidence back squashed towards the majority class:

    >>> import numpy as np
    >>> gen = lambda w, rs: w[:, None, None, :].astype(np.float32)
    >>> def annotator(images):
    ...     w = images[:, 0, 0, :]
    ...     return w ** 3 / (w ** 3).sum(1, keepdims=True)
    >>> mixer = SemanticMixer(gen, annotator, random_state=0).fit(None, [0, 1, 2])
    >>> mixer.confidence([0.25, 0.5, 0.75]).round(2).tolist()
    [0.04, 0.5, 0.96]
    >>> images, targets = mixer.sample(4, random_state=0)
    >>> images.shape, targets.shape, targets.sum(1).round(6).tolist()
    ((4, 1, 1, 3), (4, 3), [1.0, 1.0, 1.0, 1.0])
    """

    def __init__(
        self,
        generator,
        annotator=None,
        *,
        labels="calibrated",
        pairs="uniform",
        pair_beta=1.0,
        lam=1.0,
        n_calibration=1000,
        symmetric=True,
        random_state=None,
    ):
        self.generator = generator
        self.annotator = annotator
        self.labels = labels
        self.pairs = pairs
        self.pair_beta = pair_beta
        self.lam = lam
        self.n_calibration = n_calibration
        self.symmetric = symmetric
        self.random_state = random_state

    # ------------------------------------------------------------ checks
    def _check_params(self):
        if not isinstance(self.labels, str) or self.labels not in _LABELS:
            raise ValueError(f"labels must be one of {_LABELS}; got {self.labels!r}")
        if self.labels == "calibrated" and self.annotator is None:
            raise ValueError(
                "labels='calibrated' needs an annotator (a calibrated classifier, a "
                "PrototypeAnnotator or a callable images -> (n, K)); pass one, or use "
                "labels='lambda' for the raw mixing ratio"
            )
        if not (hasattr(self.generator, "generate") or callable(self.generator)):
            raise ValueError(
                "generator must have a generate(class_weights, random_state) method or be "
                f"such a callable; got {type(self.generator).__name__}"
            )
        check_scalar_in_range(self.pair_beta, "pair_beta", lo=0.0)
        check_scalar_in_range(self.n_calibration, "n_calibration", lo=2, integer=True)
        if not isinstance(self.symmetric, bool | np.bool_):
            raise ValueError(f"symmetric must be True or False; got {self.symmetric!r}")
        if self.random_state is not None:
            numpy_rng(self.random_state)
        self._lam_values()

    def _lam_values(self):
        """None for Beta(lam, lam), else the array of allowed ratios."""
        if np.ndim(self.lam) == 0:
            check_scalar_in_range(self.lam, "lam", lo=0.0, lo_open=True)
            return None
        values = np.asarray(self.lam, dtype=np.float64).ravel()
        if values.size == 0 or not np.all(np.isfinite(values)) or np.any(
            (values < 0) | (values > 1)
        ):
            raise ValueError(f"lam values must lie in [0, 1]; got {self.lam!r}")
        return values

    def _pair_probabilities(self, X, y, classes):
        from simcalib.similarity import BaseSimilarity
        from simcalib.smoothing import smooth_labels_from_distances

        K = len(classes)
        pairs = self.pairs
        if isinstance(pairs, str):
            if pairs != "uniform":
                raise ValueError(
                    "pairs must be 'uniform', a similarity estimator or a (K, K) array of "
                    f"pair weights; got {pairs!r}"
                )
            P, similarity = 1.0 - np.eye(K), None
        elif isinstance(pairs, BaseSimilarity):
            similarity = clone(pairs).fit(X, y)
            if not np.array_equal(similarity.classes_, classes):
                raise ValueError("the pair similarity was fitted on other classes than y")
            P = smooth_labels_from_distances(
                similarity.distances_, alpha=1.0, beta=self.pair_beta
            )
        else:
            similarity = None
            try:
                P = np.array(pairs, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(
                    "pairs must be 'uniform', a similarity estimator or a (K, K) array of "
                    f"pair weights; got {type(pairs).__name__}"
                ) from None
            if P.shape != (K, K):
                raise ValueError(
                    f"pairs must have shape (n_classes, n_classes) = {(K, K)}; got {P.shape}"
                )
            if not np.all(np.isfinite(P)) or np.any(P < 0):
                raise ValueError("pairs must hold finite, non-negative pair weights")
            np.fill_diagonal(P, 0.0)
            if P.sum() <= 0:
                raise ValueError("pairs gives zero weight to every pair of distinct classes")
        P = P / P.sum()
        return P, similarity

    # --------------------------------------------------------------- fit
    def fit(self, X, y):
        """Fit the pair distribution and, with ``labels="calibrated"``, the confidence map.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W) or None
            Training images: set ``image_shape_`` and ``input_dtype_`` and
            fit an image-based pair similarity. May be None when the pair
            similarity needs none (and the generator knows the image shape).
        y : array-like of shape (n_samples,)
            Labels; their sorted classes are the columns of class weights.

        Returns
        -------
        self : SemanticMixer
        """
        self._check_params()
        classes, codes = encode_labels(y, name="y", min_classes=2)
        gen_classes = getattr(self.generator, "classes_", None)
        if gen_classes is not None and not np.array_equal(np.asarray(gen_classes), classes):
            raise ValueError(
                f"the generator was fitted on classes {np.asarray(gen_classes)[:10].tolist()}, "
                f"y has classes {classes[:10].tolist()}"
            )
        image_shape, dtype = getattr(self.generator, "image_shape_", None), np.dtype(np.float32)
        if X is not None:
            if _is_torch_tensor(X):
                X = X.detach().cpu().numpy()
            X = check_images(X, name="X")
            if X.shape[0] != codes.shape[0]:
                raise ValueError(f"X has {X.shape[0]} samples but y has {codes.shape[0]}")
            if image_shape is not None and tuple(image_shape) != tuple(X.shape[1:]):
                raise ValueError(
                    f"the generator makes images of shape {tuple(image_shape)}; X has "
                    f"{tuple(X.shape[1:])}"
                )
            image_shape, dtype = tuple(X.shape[1:]), np.dtype(X.dtype)
            if dtype != np.uint8:
                dtype = np.dtype(np.float32)
        P, similarity = self._pair_probabilities(X, y, classes)
        state = {
            "classes_": classes,
            "pair_probabilities_": P,
            "similarity_": similarity,
            "image_shape_": None if image_shape is None else tuple(int(s) for s in image_shape),
            "input_dtype_": dtype,
            "confidence_map_": None,
            "calibration_lambdas_": None,
            "calibration_evidence_": None,
        }
        if self.labels == "calibrated":
            # a shallow copy: the generator and annotator are used, not cloned
            staged = copy.copy(self)
            staged.__dict__.update(state)
            rng = numpy_rng(self.random_state)
            # ratios evenly spaced over [0, 1], ends included, whatever the
            # training distribution of lam: g is then fitted everywhere it
            # may be evaluated, never extrapolated
            a, b, _ = staged._draw_pairs(self.n_calibration, rng)
            lam = np.linspace(0.0, 1.0, self.n_calibration)
            images = staged._render(a, b, lam, int(rng.integers(2**63 - 1)))
            proba = annotate(self.annotator, images, classes)
            evidence = pair_evidence(proba, a, b)
            x, e = lam, evidence
            if self.symmetric:
                x, e = np.concatenate([lam, 1.0 - lam]), np.concatenate([evidence, 1.0 - evidence])
            g = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            state.update(
                confidence_map_=g.fit(x, e),
                calibration_lambdas_=lam,
                calibration_evidence_=evidence,
            )
            state["image_shape_"] = staged.image_shape_
        self.__dict__.update(state)
        return self

    # ------------------------------------------------------------ sample
    def confidence(self, lam):
        """Soft label of class ``a`` for mixing ratios ``lam``: ``g(lam)`` (or ``lam``).

        Parameters
        ----------
        lam : array-like of float in [0, 1]
            Weights of class ``a``.

        Returns
        -------
        confidence : ndarray of the shape of ``lam``, dtype=float64
        """
        check_is_fitted(self, "pair_probabilities_")
        lam = np.asarray(lam, dtype=np.float64)
        if not np.all(np.isfinite(lam)) or np.any((lam < 0) | (lam > 1)):
            raise ValueError("lam must lie in [0, 1]")
        if self.confidence_map_ is None:
            return lam.copy()
        return self.confidence_map_.predict(lam.ravel()).reshape(lam.shape)

    def _draw_pairs(self, n, rng):
        K = len(self.classes_)
        flat = rng.choice(K * K, size=n, p=self.pair_probabilities_.ravel())
        values = self._lam_values()
        if values is None:
            lam = rng.beta(self.lam, self.lam, size=n)
        else:
            lam = values[rng.integers(values.size, size=n)]
        return flat // K, flat % K, lam

    def _draw(self, n, rng):
        """Pairs, ratios and images (in the training dtype) of ``n`` mixes."""
        a, b, lam = self._draw_pairs(n, rng)
        seed = int(rng.integers(2**63 - 1))
        return self._render(a, b, lam, seed), a, b, lam

    def _render(self, a, b, lam, random_state):
        n = lam.shape[0]
        W = np.zeros((n, len(self.classes_)))
        rows = np.arange(n)
        W[rows, a] = lam
        W[rows, b] += 1.0 - lam
        images = generate_images(self.generator, W, random_state, image_shape=self.image_shape_)
        if self.image_shape_ is None:
            self.image_shape_ = tuple(int(s) for s in images.shape[1:])
        return _as_dtype(images, self.input_dtype_)

    def _targets(self, a, b, lam):
        conf = self.confidence(lam)
        targets = np.zeros((lam.shape[0], len(self.classes_)), dtype=np.float32)
        rows = np.arange(lam.shape[0])
        targets[rows, a] = conf
        targets[rows, b] += 1.0 - conf
        return targets

    def mix(self, a, b, lam, random_state=None):
        """Images mixing classes ``a`` and ``b`` at ratios ``lam``, with their soft targets.

        Parameters
        ----------
        a, b : label or array-like of labels of shape (n_samples,)
            The two classes of each mix (labels from ``classes_``; scalars
            are broadcast).
        lam : float or array-like of float in [0, 1] of shape (n_samples,)
            Weight of ``a`` in each mix.
        random_state : None, int or numpy Generator, default=None
            Passed to the generator. The built-in generators draw the same
            noise (or source images) at each position for the same int, so
            ``mix(a, b, 0.25, 0)`` and ``mix(a, b, 0.75, 0)`` render the same
            noise under two conditionings.

        Returns
        -------
        images : ndarray of shape (n_samples, C, H, W)
            In ``input_dtype_``.
        soft_targets : ndarray of shape (n_samples, n_classes), dtype=float32
            ``confidence(lam)`` on ``a`` and the rest on ``b``.
        """
        check_is_fitted(self, "pair_probabilities_")
        lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
        if lam.ndim != 1 or not np.all(np.isfinite(lam)) or np.any((lam < 0) | (lam > 1)):
            raise ValueError(f"lam must be a 1-D array of ratios in [0, 1]; got {lam!r}")
        n = lam.shape[0]
        idx = []
        for name, labels in (("a", a), ("b", b)):
            labels = np.asarray(labels)
            if labels.ndim == 0:
                labels = np.repeat(labels, n)
            _, codes = encode_labels(labels, self.classes_, name=name, classes_name="classes_")
            if codes.shape[0] != n:
                raise ValueError(f"{name} has {codes.shape[0]} labels but lam has {n} ratios")
            idx.append(codes)
        a_idx, b_idx = idx
        if np.any(a_idx == b_idx):
            raise ValueError("a and b must be different classes in every mix")
        images = self._render(a_idx, b_idx, lam, random_state)
        return images, self._targets(a_idx, b_idx, lam)

    def sample(self, n_samples, random_state=None, *, return_pairs=False):
        """Generate ``n_samples`` mixes with their soft targets.

        Parameters
        ----------
        n_samples : int
            Number of mixes.
        random_state : None, int or numpy Generator, default=None
            Seeds the pairs, the ratios and the generator.
        return_pairs : bool, default=False
            Also return the classes and ratios of each mix.

        Returns
        -------
        images : ndarray of shape (n_samples, C, H, W)
            In ``input_dtype_``.
        soft_targets : ndarray of shape (n_samples, n_classes), dtype=float32
            ``confidence(lam)`` on column ``a``, the rest on ``b``.
        pairs : tuple of ndarray (a, b, lam), each of shape (n_samples,)
            Only with ``return_pairs``: column indices of the two classes and
            the ratio (weight of ``a``).
        """
        check_is_fitted(self, "pair_probabilities_")
        check_scalar_in_range(n_samples, "n_samples", lo=1, integer=True)
        rng = numpy_rng(random_state)
        images, a, b, lam = self._draw(n_samples, rng)
        targets = self._targets(a, b, lam)
        if return_pairs:
            return images, targets, (a, b, lam)
        return images, targets

    def augment(self, X, y, n_mixed, random_state=None):
        """Real samples followed by ``n_mixed`` mixes, with per-sample soft targets.

        Ready for ``SimilarityLSClassifier(similarity="onehot").fit(X_all,
        y_all, soft_targets=soft_targets)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W)
            Real images (dtype kept; the mixes are cast to it).
        y : array-like of shape (n_samples,)
            Their labels, among ``classes_``.
        n_mixed : int
            Number of mixes to add (0 adds none).
        random_state : None, int or numpy Generator, default=None
            Seeds the mixes.

        Returns
        -------
        X_all : ndarray of shape (n_samples + n_mixed, C, H, W)
        y_all : ndarray of shape (n_samples + n_mixed,)
            ``y``, then the class of largest target of each mix.
        soft_targets : ndarray of shape (n_samples + n_mixed, n_classes), float32
            One-hot rows for the real samples, then the mixes' targets.
        """
        check_is_fitted(self, "pair_probabilities_")
        check_scalar_in_range(n_mixed, "n_mixed", lo=0, integer=True)
        if _is_torch_tensor(X):
            X = X.detach().cpu().numpy()
        X = check_images(X, name="X")
        _, codes = encode_labels(y, self.classes_, name="y", classes_name="classes_")
        if codes.shape[0] != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {codes.shape[0]}")
        real_targets = np.eye(len(self.classes_), dtype=np.float32)[codes]
        y = np.asarray(y)
        if n_mixed == 0:
            return np.asarray(X), y, real_targets
        images, targets = self.sample(n_mixed, random_state)
        X_all = np.concatenate([np.asarray(X), _as_dtype(images, X.dtype)])
        y_all = np.concatenate([y, self.classes_[targets.argmax(axis=1)].astype(y.dtype)])
        return X_all, y_all, np.concatenate([real_targets, targets])


def _as_dtype(images, dtype):
    """Generated images in the dtype of the training images (uint8: rounded, clipped)."""
    if np.dtype(dtype) == np.uint8:
        return np.clip(np.rint(images), 0, 255).astype(np.uint8)
    return images.astype(dtype if np.dtype(dtype).kind == "f" else np.float32, copy=False)
