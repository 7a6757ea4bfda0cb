"""Per-sample soft targets: ``fit(X, y, soft_targets=S)`` trains towards ``S @ Q``."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sklearn  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from skorch.dataset import ValidSplit  # noqa: E402

from simcalib.classifier import SimilarityLSClassifier  # noqa: E402
from simcalib.nn import SoftTargetCrossEntropy  # noqa: E402
from simcalib.similarity import PixelDistanceSimilarity  # noqa: E402

N = 300  # digits images used in the training comparisons


@pytest.fixture
def data(digits):
    return digits[0][:N], digits[1][:N]


def _random_rows(n, k, seed=0):
    return np.random.default_rng(seed).dirichlet(np.full(k, 0.5), size=n).astype(np.float32)


def _same_training(a, b):
    """Bit-identical weights and per-epoch history of two fitted classifiers."""
    for (name, p), q in zip(a.module_.state_dict().items(), b.module_.state_dict().values()):
        assert torch.equal(p, q), name
    keys = [k for k in ("train_loss", "valid_loss", "valid_acc") if k in a.history[-1]]
    assert a.history[:, keys] == b.history[:, keys]


# --------------------------------------------------- same as class level
@pytest.mark.parametrize(
    "extra",
    [
        {},
        dict(mixup_alpha=0.4, augment="crop_flip"),
        dict(train_split=ValidSplit(3, stratified=True)),
        dict(iterator_train=torch.utils.data.DataLoader,
             iterator_valid=torch.utils.data.DataLoader),
    ],
    ids=["plain", "mixup-augment", "valid-split", "dataloader"],
)
def test_identical_rows_per_class_train_exactly_like_class_level_targets(data, tiny, extra):
    """The issue's requirement: same row for every sample of a class == class-level targets."""
    X, y = data
    smooth = dict(similarity=PixelDistanceSimilarity(), alpha=0.3, **extra)
    ref = tiny(**smooth).fit(X, y)
    Q = ref.soft_labels_
    assert not np.allclose(Q, np.eye(10))  # a real class-level smoothing
    # one-hot rows combined with Q give Q[y] ...
    onehot_rows = tiny(**smooth).fit(X, y, soft_targets=np.eye(10)[y])
    _same_training(ref, onehot_rows)
    # ... and the rows Q[y] themselves, used as they are by one-hot training
    class_rows = tiny(similarity="onehot", **extra).fit(X, y, soft_targets=Q[y])
    _same_training(ref, class_rows)
    # a tensor works like the array
    as_tensor = tiny(similarity="onehot", **extra).fit(X, y, soft_targets=torch.from_numpy(Q[y]))
    _same_training(ref, as_tensor)


def test_different_rows_change_the_training(data, tiny):
    X, y = data
    ref = tiny(similarity="onehot").fit(X, y)
    other = tiny(similarity="onehot").fit(X, y, soft_targets=_random_rows(N, 10))
    assert not torch.equal(ref.module_.fc.weight, other.module_.fc.weight)


# ------------------------------------------------------ what the loss sees
class _Recording(SoftTargetCrossEntropy):
    """The soft-target cross-entropy, recording the targets it is given."""

    seen = []

    def forward(self, logits, targets):
        type(self).seen.append(targets.detach().clone())
        return super().forward(logits, targets)


@pytest.mark.parametrize("similarity, alpha", [("onehot", 0.1), (None, 0.0), ("uniform", 0.3)])
def test_the_loss_sees_soft_targets_times_the_class_matrix(data, tiny, similarity, alpha):
    X, y = data
    S = _random_rows(N, 10)
    _Recording.seen = []
    clf = tiny(similarity=similarity, alpha=alpha, criterion=_Recording, batch_size=N,
               iterator_train__shuffle=False, max_epochs=1)
    clf.fit(X, y, soft_targets=S)
    (targets,) = _Recording.seen
    Q = clf.soft_labels_.astype(np.float64)
    if similarity == "onehot" or alpha == 0:
        assert np.array_equal(Q, np.eye(10))
        assert np.array_equal(targets.numpy(), S)  # the rows themselves
    else:
        want = (S.astype(np.float64) @ Q).astype(np.float32)
        assert np.array_equal(targets.numpy(), want)
        assert not np.allclose(want, S, atol=1e-3)


def test_mixup_mixes_the_per_sample_targets(data, tiny):
    X, y = data
    S = _random_rows(N, 10)
    clf = tiny(similarity="uniform", alpha=0.2, mixup_alpha=0.5, batch_size=N,
               iterator_train__shuffle=False, max_epochs=1)
    calls = []
    original = clf._mixup

    def recording_mixup(x, targets):
        # replay the two generators from their states before the call
        beta_rng = np.random.default_rng()
        beta_rng.bit_generator.state = clf.mixup_rng_.bit_generator.state
        perm_rng = torch.Generator().set_state(clf.data_rng_.get_state())
        mixed_x, mixed = original(x, targets)
        calls.append((targets.clone(), mixed.clone(), beta_rng, perm_rng))
        return mixed_x, mixed

    clf._mixup = recording_mixup
    clf.fit(X, y, soft_targets=S)
    ((targets, mixed, beta_rng, perm_rng),) = calls
    Q = clf.soft_labels_.astype(np.float64)
    np.testing.assert_array_equal(targets.numpy(), (S.astype(np.float64) @ Q).astype(np.float32))
    lam = beta_rng.beta(0.5, 0.5)
    perm = torch.randperm(N, generator=perm_rng)
    np.testing.assert_allclose(
        mixed.numpy(), lam * targets.numpy() + (1 - lam) * targets.numpy()[perm], atol=1e-6
    )


def test_partial_fit_takes_soft_targets(data, tiny):
    X, y = data
    S = _random_rows(N, 10)
    clf = tiny(similarity="uniform", alpha=0.2, criterion=_Recording, batch_size=N,
               iterator_train__shuffle=False, max_epochs=1)
    _Recording.seen = []
    clf.partial_fit(X, y, soft_targets=S)  # not fitted yet: a fit
    clf.partial_fit(X, y, soft_targets=S[::-1].copy())  # keeps the Q of that fit
    first, second = _Recording.seen
    Q = clf.soft_labels_.astype(np.float64)
    assert np.array_equal(first.numpy(), (S.astype(np.float64) @ Q).astype(np.float32))
    assert np.array_equal(second.numpy(), first.numpy()[::-1])


# ------------------------------------------------------------- routing
class _Spy(SimilarityLSClassifier):
    """Records the soft targets each fit receives (clones share the list)."""

    received = []

    def fit(self, X, y, soft_targets=None, **fit_params):
        type(self).received.append(None if soft_targets is None else np.asarray(soft_targets))
        return super().fit(X, y, soft_targets=soft_targets, **fit_params)


def _spy():
    return _Spy("small_cnn", module__width=4, max_epochs=1, batch_size=64,
                random_state=0, verbose=0)


def _check_cv_rows(S, y, cv, refit_rows):
    train_rows = [S[train] for train, _ in cv.split(np.zeros(len(y)), y)]
    got = _Spy.received
    assert len(got) == 2 * len(train_rows) + 1  # 2 candidates x folds, then the refit
    for i, rows in enumerate(got[:-1]):
        np.testing.assert_array_equal(rows, train_rows[i % len(train_rows)])
    np.testing.assert_array_equal(got[-1], refit_rows)


def test_grid_search_with_metadata_routing_indexes_soft_targets_per_split(data):
    X, y = data[0][:120], data[1][:120]
    S = _random_rows(len(y), 10)
    cv = StratifiedKFold(2)
    _Spy.received = []
    with sklearn.config_context(enable_metadata_routing=True):
        est = _spy().set_fit_request(soft_targets=True)
        GridSearchCV(est, {"lr": [1e-3, 2e-3]}, cv=cv).fit(X, y, soft_targets=S)
    _check_cv_rows(S, y, cv, S)


def test_grid_search_without_routing_passes_soft_targets_as_fit_params(data):
    X, y = data[0][:120], data[1][:120]
    S = _random_rows(len(y), 10)
    cv = StratifiedKFold(2)
    _Spy.received = []
    GridSearchCV(_spy(), {"lr": [1e-3, 2e-3]}, cv=cv).fit(X, y, soft_targets=S)
    _check_cv_rows(S, y, cv, S)


def test_routing_refuses_soft_targets_the_classifier_did_not_request(data):
    X, y = data[0][:120], data[1][:120]
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(ValueError, match="soft_targets"):
            GridSearchCV(_spy(), {"lr": [1e-3]}, cv=2).fit(
                X, y, soft_targets=_random_rows(len(y), 10)
            )


def _flat_pipeline(est):
    flatten = FunctionTransformer(lambda X: X.reshape(len(X), -1))
    return Pipeline([("flatten", flatten), ("clf", est.set_params(input_shape=(1, 8, 8)))])


def test_pipeline_routes_soft_targets_with_and_without_routing(data):
    X, y = data[0][:120], data[1][:120]
    S = _random_rows(len(y), 10)
    _Spy.received = []
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = _flat_pipeline(_spy().set_fit_request(soft_targets=True))
        pipe.fit(X, y, soft_targets=S)
        assert pipe.predict(X[:5]).shape == (5,)
    _flat_pipeline(_spy()).fit(X, y, clf__soft_targets=S)
    assert len(_Spy.received) == 2
    for rows in _Spy.received:
        np.testing.assert_array_equal(rows, S)


# ----------------------------------------------------------- bad input
def _bad_cases(n, k):
    good = np.full((n, k), 1.0 / k)
    neg = good.copy()
    neg[3, :2] = [-0.1, 0.1 + 1.0 / k]
    short = good.copy()
    short[4] *= 0.5
    nan = good.copy()
    nan[1, 0] = np.nan
    inf = good.copy()
    inf[2, 1] = np.inf
    return [
        (good[:, 0], r"soft_targets must be 2-D \(n_samples, n_classes\); got shape"),
        (good[:-1], rf"soft_targets has {n - 1} rows but X has {n} samples"),
        (good[:, :-1] * k / (k - 1), rf"soft_targets has {k - 1} columns but there are {k} classes"),
        (nan, r"soft_targets contains NaN or infinity \(1 entries\)"),
        (inf, r"soft_targets contains NaN or infinity"),
        (neg, r"soft_targets must be non-negative; got -0.1 \(e.g. in row 3\)"),
        (short, r"rows of soft_targets must sum to 1 .*1 rows do not, e.g. row 4 sums to 0.5"),
        (np.full((n, k), "a"), r"soft_targets must be a numeric array"),
        (good.astype(np.complex64), r"soft_targets must be a numeric array"),
        (torch.ones(n, k, dtype=torch.complex64) / k, r"soft_targets must be real"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_bad_soft_targets_are_refused_before_anything_changes(data, tiny, case):
    X, y = data[0][:64], data[1][:64]
    bad, match = _bad_cases(len(y), 10)[case]
    fresh = tiny(similarity="onehot", max_epochs=1)
    with pytest.raises(ValueError, match=match):
        fresh.fit(X, y, soft_targets=bad)
    assert not hasattr(fresh, "soft_labels_")
    fitted = tiny(similarity="onehot", max_epochs=1).fit(X, y)
    before = {k: v.clone() for k, v in fitted.module_.state_dict().items()}
    for method in (fitted.fit, fitted.partial_fit):
        with pytest.raises(ValueError, match=match):
            method(X, y, soft_targets=bad)
    for k, v in fitted.module_.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_columns_follow_the_given_classes(data, tiny):
    X, y = data[0][:64], data[1][:64]
    classes = np.arange(12)  # two classes without samples
    S = np.zeros((len(y), 12), np.float32)
    S[np.arange(len(y)), y] = 1.0
    clf = tiny(similarity="onehot", classes=classes, max_epochs=1).fit(X, y, soft_targets=S)
    assert clf.predict_proba(X[:2]).shape == (2, 12)
    with pytest.raises(ValueError, match="has 10 columns but there are 12 classes"):
        clf.fit(X, y, soft_targets=S[:, :10])


def test_integer_one_hot_rows_are_accepted(data, tiny):
    X, y = data[0][:64], data[1][:64]
    clf = tiny(similarity="onehot", max_epochs=1)
    clf.fit(X, y, soft_targets=np.eye(10, dtype=np.int64)[y])
    assert clf.completed_epochs_ == 1
