"""Training on real samples plus mixes: per-epoch refresh and the pre-generated set."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skorch.callbacks import Callback  # noqa: E402

from simcalib.classifier import SimilarityLSClassifier  # noqa: E402
from simcalib.mixing import (  # noqa: E402
    MixedSampleRefresh,
    PixelMixGenerator,
    SemanticMixer,
    SemanticMixingClassifier,
)
from simcalib.nn import CrossEntropyL2  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:150].reshape(-1, 1, 8, 8).astype(np.float32), y[:150]


@pytest.fixture
def mixer(digits):
    X, y = digits
    return SemanticMixer(PixelMixGenerator().fit(X, y), labels="lambda").fit(X, y)


class Recorder(Callback):
    """Copies the training rows (images, labels, targets) seen in every epoch."""

    def initialize(self):
        self.epochs = []
        return self

    def on_epoch_end(self, net, dataset_train=None, **kwargs):
        self.epochs.append((dataset_train.X.clone(), dataset_train.y.clone(),
                            dataset_train.soft_targets.clone()))


class SpyMixer:
    """Delegates to a mixer and keeps what sample() returned."""

    def __init__(self, mixer):
        self.mixer, self.samples = mixer, []
        self.classes_ = mixer.classes_

    def sample(self, n, random_state=None):
        out = self.mixer.sample(n, random_state)
        self.samples.append(out)
        return out


def _clf(**kwargs):
    params = dict(module__width=4, max_epochs=3, random_state=0, verbose=0,
                  similarity="onehot", alpha=0.0)
    params.update(kwargs)
    return SimilarityLSClassifier("small_cnn", **params)


def test_refresh_replaces_the_mixes_every_epoch_and_keeps_the_real_rows(digits, mixer):
    X, y = digits
    rec = Recorder()
    spy = SpyMixer(mixer)
    X_all, y_all, T_all = mixer.augment(X, y, 40, random_state=0)
    X_given, y_given = X_all.copy(), y_all.copy()
    clf = _clf(similarity="uniform", alpha=0.2,
               callbacks=[("rec", rec), ("refresh", MixedSampleRefresh(spy, 40, 1))])
    clf.fit(X_all, y_all, soft_targets=T_all)
    assert len(rec.epochs) == 3 and len(spy.samples) == 2  # epochs 2 and 3
    Q = torch.tensor(clf.soft_labels_, dtype=torch.float64)
    for e, (Xe, ye, Te) in enumerate(rec.epochs):
        torch.testing.assert_close(Xe[:150], torch.from_numpy(X))
        torch.testing.assert_close(Te[:150], Q[y].float())  # one-hot rows @ Q
        if e == 0:
            images, targets = X_all[150:], T_all[150:]
        else:
            images, targets = spy.samples[e - 1]
        torch.testing.assert_close(Xe[150:], torch.from_numpy(images))
        torch.testing.assert_close(Te[150:], (torch.from_numpy(targets).double() @ Q).float())
        np.testing.assert_array_equal(ye[150:].numpy(), targets.argmax(1))
    assert not torch.equal(rec.epochs[0][0][150:], rec.epochs[1][0][150:])
    # the caller's arrays are left alone
    np.testing.assert_array_equal(X_all, X_given)
    np.testing.assert_array_equal(y_all, y_given)


def test_wrapper_without_refresh_equals_the_pre_generated_set(digits, mixer):
    X, y = digits
    model = SemanticMixingClassifier(_clf(criterion=CrossEntropyL2), mixer, n_mixed=30,
                                     refresh=False, random_state=4).fit(X, y)
    X_all, y_all, T_all = mixer.augment(X, y, 30, random_state=np.random.default_rng(4))
    manual = _clf(criterion=CrossEntropyL2).fit(X_all, y_all, soft_targets=T_all)
    np.testing.assert_array_equal(model.predict_proba(X[:20]), manual.predict_proba(X[:20]))
    np.testing.assert_array_equal(model.classes_, np.arange(10))
    np.testing.assert_array_equal(model.predict(X[:5]), manual.predict(X[:5]))
    assert model.decision_function(X[:5]).shape == (5, 10)
    assert model.mixer_ is mixer and isinstance(model.estimator_.criterion_, CrossEntropyL2)


def test_wrapper_with_refresh_differs_and_fits_an_unfitted_mixer(digits):
    X, y = digits
    unfitted = SemanticMixer(PixelMixGenerator().fit(X, y), labels="lambda")
    model = SemanticMixingClassifier(_clf(), unfitted, n_mixed=30, random_state=4).fit(X, y)
    assert not hasattr(unfitted, "pair_probabilities_")  # a copy was fitted
    assert hasattr(model.mixer_, "pair_probabilities_")
    fixed = SemanticMixingClassifier(_clf(), unfitted, n_mixed=30, refresh=False,
                                     random_state=4).fit(X, y)
    assert not np.array_equal(model.predict_proba(X[:20]), fixed.predict_proba(X[:20]))


def test_wrapper_bad_inputs(digits, mixer):
    from skorch.dataset import ValidSplit

    X, y = digits
    with pytest.raises(ValueError, match="n_mixed"):
        SemanticMixingClassifier(_clf(), mixer, n_mixed=0).fit(X, y)
    with pytest.raises(ValueError, match="refresh must be True or False"):
        SemanticMixingClassifier(_clf(), mixer, refresh="yes").fit(X, y)
    with pytest.raises(ValueError, match="train_split=None"):
        SemanticMixingClassifier(_clf(train_split=ValidSplit(3)), mixer, n_mixed=5).fit(X, y)
    X_all, y_all, T_all = mixer.augment(X, y, 10, random_state=0)
    with pytest.raises(ValueError, match="per-sample soft targets"):
        _clf(callbacks=[("r", MixedSampleRefresh(mixer, 10))]).fit(X_all, y_all)
    with pytest.raises(ValueError, match="n_mixed"):
        _clf(callbacks=[("r", MixedSampleRefresh(mixer, 0))]).fit(X_all, y_all,
                                                               soft_targets=T_all)
