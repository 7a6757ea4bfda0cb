"""Training on real samples plus mixes regenerated every epoch."""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from simcalib._validation import check_scalar_in_range
from simcalib.mixing._generators import numpy_rng
from simcalib.mixing._mixer import _as_dtype

__all__ = ["MixedSampleRefresh", "SemanticMixingClassifier"]


class MixedSampleRefresh(Callback):
    """skorch callback: replace the last ``n_mixed`` training samples by fresh mixes each epoch.

    The training data of the classifier must end with ``n_mixed`` mixes and
    carry per-sample soft targets (as returned by
    :meth:`SemanticMixer.augment`). At the start of every epoch after the
    first, the callback draws ``n_mixed`` new mixes from ``mixer`` and writes
    their images, labels and targets (``soft_targets @ soft_labels_``, the
    classifier's rule) over those rows of the training dataset, in place:
    the network sees ``n_real`` real samples and ``n_mixed`` never-seen
    mixes per epoch, at the memory cost of one epoch's mixes.

    Parameters
    ----------
    mixer : SemanticMixer
        A fitted mixer whose ``classes_`` are the classifier's.
    n_mixed : int
        Number of mixes at the end of the training data.
    random_state : None, int or numpy Generator, default=None
        Seeds the mixes of epochs 2, 3, ...
    copy : bool, default=True
        Copy the training images and labels at the start of training before
        overwriting rows of them: on the CPU the dataset shares memory with
        the arrays given to ``fit``, which would otherwise change.
        :class:`SemanticMixingClassifier` owns its arrays and passes False.

    Notes
    -----
    Works with :class:`~simcalib.classifier.SimilarityLSClassifier` and its
    device batch iterator, without an internal validation split
    (``train_split=None``): a split would scatter the mixes over both sides.
    """

    def __init__(self, mixer, n_mixed, random_state=None, copy=True):
        self.mixer = mixer
        self.n_mixed = n_mixed
        self.random_state = random_state
        self.copy = copy

    def initialize(self):
        check_scalar_in_range(self.n_mixed, "n_mixed", lo=1, integer=True)
        self.rng_ = numpy_rng(self.random_state)
        self.epochs_seen_ = 0
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from simcalib.classifier import ImageTensorDataset

        # before the batch iterator takes references to the tensors
        if self.copy and isinstance(X, ImageTensorDataset):
            X.X = X.X.clone()
            if X.y is not None:
                X.y = X.y.clone()

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        import torch

        from simcalib.classifier import ImageTensorDataset

        self.epochs_seen_ += 1
        if self.epochs_seen_ == 1:
            return  # the first epoch trains on the mixes the data came with
        if not isinstance(dataset_train, ImageTensorDataset) or dataset_train.soft_targets is None:
            raise ValueError(
                "MixedSampleRefresh needs the whole training set as one dataset with "
                "per-sample soft targets: fit(X, y, soft_targets=...) with train_split=None "
                "and the default DeviceBatchIterator"
            )
        n = self.n_mixed
        if n > len(dataset_train):
            raise ValueError(
                f"n_mixed={n} exceeds the {len(dataset_train)} training samples"
            )
        if not np.array_equal(self.mixer.classes_, net.classes_):
            raise ValueError("the mixer and the classifier have different classes")
        images, targets = self.mixer.sample(n, self.rng_)
        X = dataset_train.X
        if X.dtype == torch.uint8:  # round, never truncate, into uint8 rows
            images = _as_dtype(images, np.uint8)
        new_x = torch.as_tensor(images).to(device=X.device, dtype=X.dtype)
        Q = torch.as_tensor(net.soft_labels_, dtype=torch.float64)
        new_t = (torch.as_tensor(targets, dtype=torch.float64) @ Q).float()
        X[-n:] = new_x
        dataset_train.soft_targets[-n:] = new_t.to(dataset_train.soft_targets.device)
        if dataset_train.y is not None:
            labels = torch.as_tensor(targets.argmax(axis=1), dtype=dataset_train.y.dtype)
            dataset_train.y[-n:] = labels.to(dataset_train.y.device)


class SemanticMixingClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """A classifier trained on real samples plus semantic mixes with soft targets.

    ``fit`` appends ``n_mixed`` mixes from ``mixer`` to the training data
    (one-hot targets for the real samples, the mixer's soft targets for the
    mixes) and fits a clone of ``estimator`` with ``soft_targets``; with
    ``refresh=True`` a :class:`MixedSampleRefresh` callback replaces the
    mixes by fresh ones at every epoch, otherwise the same mixes serve every
    epoch (a pre-generated set). Prediction is the fitted estimator's.

    Parameters
    ----------
    estimator : SimilarityLSClassifier
        The classifier (any ``similarity``: the targets of a mix are then
        ``soft_targets @ soft_labels_``; CSM trains with
        ``similarity="onehot"`` and ``criterion=CrossEntropyL2``).
    mixer : SemanticMixer
        Used as given when fitted (its generator and annotator are never
        refitted); an unfitted one is fitted on a shallow copy, on ``(X, y)``.
    n_mixed : int, default=1000
        Mixes per epoch.
    refresh : bool, default=True
        Draw new mixes every epoch.
    random_state : None or int, default=None
        Seeds the mixes.

    Attributes
    ----------
    estimator_ : SimilarityLSClassifier
        The fitted classifier.
    mixer_ : SemanticMixer
        The fitted mixer.
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    References
    ----------
    .. [1] H. Luo, L. Tao, M. Dong and C. Xu, "Beyond One-Hot Labels:
       Semantic Mixing for Model Calibration", ICML 2025.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from simcalib.classifier import SimilarityLSClassifier
    >>> from simcalib.mixing import PixelMixGenerator, SemanticMixer
    >>> from simcalib.nn import CrossEntropyL2
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X[:200].reshape(-1, 1, 8, 8).astype(np.float32); y = y[:200]
    >>> mixer = SemanticMixer(PixelMixGenerator().fit(X, y), labels="lambda").fit(X, y)
    >>> clf = SimilarityLSClassifier("small_cnn", similarity="onehot", alpha=0.0,
    ...                              criterion=CrossEntropyL2, max_epochs=2,
    ...                              random_state=0, verbose=0)
    >>> model = SemanticMixingClassifier(clf, mixer, n_mixed=50, random_state=0).fit(X, y)
    >>> model.predict_proba(X[:3]).shape
    (3, 10)
    """

    def __init__(self, estimator, mixer, *, n_mixed=1000, refresh=True, random_state=None):
        self.estimator = estimator
        self.mixer = mixer
        self.n_mixed = n_mixed
        self.refresh = refresh
        self.random_state = random_state

    def fit(self, X, y):
        """Fit the classifier on ``X``, ``y`` plus ``n_mixed`` mixes (per epoch).

        Parameters
        ----------
        X : array-like of shape (n_samples, C, H, W)
            Real training images.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        self : SemanticMixingClassifier
        """
        check_scalar_in_range(self.n_mixed, "n_mixed", lo=1, integer=True)
        if not isinstance(self.refresh, bool | np.bool_):
            raise ValueError(f"refresh must be True or False; got {self.refresh!r}")
        rng = numpy_rng(self.random_state)
        mixer = self.mixer
        if not hasattr(mixer, "pair_probabilities_"):
            mixer = copy.copy(mixer).fit(X, y)
        estimator = clone(self.estimator)
        if getattr(estimator, "train_split", None) is not None and self.refresh:
            raise ValueError(
                "refresh=True needs estimator.train_split=None (an internal validation "
                "split would mix refreshed mixes into the validation side)"
            )
        X_all, y_all, soft_targets = mixer.augment(X, y, self.n_mixed, rng)
        if self.refresh:
            callbacks = estimator.callbacks
            callbacks = [] if callbacks in (None, "disable") else list(callbacks)
            callbacks.append(
                ("mixed_refresh", MixedSampleRefresh(mixer, self.n_mixed, rng, copy=False))
            )
            estimator.set_params(callbacks=callbacks)
        estimator.fit(X_all, y_all, soft_targets=soft_targets)
        self.estimator_ = estimator
        self.mixer_ = mixer
        return self

    @property
    def classes_(self):
        """The class labels, in column order."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    def predict_proba(self, X):
        """Class probabilities of the fitted classifier, shape (n, n_classes)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def decision_function(self, X):
        """Logits of the fitted classifier, shape (n, n_classes)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)

    def predict(self, X):
        """Most probable class labels."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)
