import numpy as np
import pytest
from sklearn.base import clone

from simcalib.curation import FLAGS, ReferenceCurator, make_noisy_labels

torch = pytest.importorskip("torch")


def identity(Z):
    return np.asarray(Z)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _brute_force_vote(Z, Z_pool, pool_labels, K, k, T, exclude=None):
    """The vote written out with numpy: k nearest by cosine, softmax(sim / T), summed per class."""
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    Pn = Z_pool / np.linalg.norm(Z_pool, axis=1, keepdims=True)
    S = Zn @ Pn.T
    if exclude is not None:
        for i, j in enumerate(exclude):
            if j >= 0:
                S[i, j] = -np.inf
    out = np.zeros((len(Z), K))
    for i in range(len(Z)):
        nn = np.argsort(-S[i], kind="stable")[:k]
        w = _softmax(S[i, nn] / T)
        np.add.at(out[i], pool_labels[nn], w)
    return out


def _clusters(n_per_class=30, K=4, d=8, spread=0.3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(K, d)) * 3
    y = np.repeat(np.arange(K), n_per_class)
    X = centers[y] + spread * rng.normal(size=(len(y), d))
    return X, y, centers


# ------------------------------------------------------ the right answer
def test_soft_label_is_the_softmax_of_similarities_when_every_reference_votes():
    """Known answer: references on the axes, a sample at angle theta between two of them."""
    T = 0.2
    refs = np.eye(3)
    theta = np.linspace(0.1, np.pi / 2 - 0.1, 7)
    X = np.stack([np.cos(theta), np.sin(theta), np.zeros_like(theta)], axis=1)
    noisy = np.array([2, 2, 2, 2, 2, 2, 2])  # the given labels do not enter the vote
    cur = ReferenceCurator(identity, n_neighbors=3, temperature=T, n_rounds=1).fit(
        X, noisy, refs, [0, 1, 2])
    want = _softmax(np.stack([np.cos(theta), np.sin(theta), np.zeros_like(theta)], 1) / T)
    np.testing.assert_allclose(cur.soft_labels_, want, rtol=1e-6)
    # the mass moves from class 0 to class 1 as the sample turns
    assert np.all(np.diff(cur.soft_labels_[:, 1]) > 0)


@pytest.mark.parametrize("rounds, augment", [(1, 0), (2, 3), (3, 5)])
def test_vote_matches_a_brute_force_knn_vote(rounds, augment):
    X, y, centers = _clusters()
    rng = np.random.default_rng(1)
    noisy = make_noisy_labels(y, 0.4, random_state=0)
    X_ref = centers[[0, 1, 2, 3, 0, 1]] + 0.5 * rng.normal(size=(6, 8))
    y_ref = np.array([0, 1, 2, 3, 0, 1])
    cur = ReferenceCurator(identity, n_neighbors=4, temperature=0.3, n_rounds=rounds,
                           augment_per_class=augment, chunk_size=7).fit(X, noisy, X_ref, y_ref)
    aug = cur.augmented_
    pool = np.concatenate([X_ref, X[aug]])
    labels = np.concatenate([y_ref, noisy[aug]])
    exclude = np.full(len(X), -1)
    exclude[aug] = 6 + np.arange(len(aug))
    want = _brute_force_vote(X, pool, labels, 4, 4, 0.3, exclude)
    np.testing.assert_allclose(cur.soft_labels_, want, atol=1e-6)
    np.testing.assert_array_equal(cur.pool_labels_, labels)
    # no sample supports itself
    for i, j in enumerate(exclude):
        assert j < 0 or j not in cur.supporters_[i]


def test_noisy_labels_of_separated_clusters_are_recovered_with_one_reference_per_class():
    X, y, centers = _clusters(n_per_class=50)
    noisy = make_noisy_labels(y, 0.6, random_state=0)
    cur = ReferenceCurator(identity, temperature=0.05).fit(X, noisy, centers, np.arange(4))
    assert np.mean(cur.labels_ == y) > 0.97
    np.testing.assert_allclose(cur.soft_labels_.sum(axis=1), 1.0)
    right, wrong = noisy == y, noisy != y
    assert np.mean(cur.flags_[right] == "clean") > 0.9
    assert np.all(cur.flags_[wrong] != "clean")
    assert set(cur.flags_) <= set(FLAGS)


# ------------------------------------------------- one reference per class
@pytest.mark.parametrize("rounds", [1, 2])
def test_one_reference_per_class_gives_defined_votes_and_flags(digits, rounds):
    X, y = digits
    X_ref = np.stack([X[y == c][0] for c in range(10)])
    train = np.concatenate([np.flatnonzero(y == c)[1:31] for c in range(10)])
    noisy = make_noisy_labels(y[train], 0.5, random_state=0)
    cur = ReferenceCurator("pixels", n_rounds=rounds).fit(X[train], noisy, X_ref, np.arange(10))
    assert np.all(np.isfinite(cur.soft_labels_))
    np.testing.assert_allclose(cur.soft_labels_.sum(axis=1), 1.0)
    assert np.isfinite(cur.ood_threshold_) and cur.reference_ood_scores_.shape == (10,)
    assert set(np.unique(cur.flags_)) <= set(FLAGS)
    assert np.array_equal(cur.flags_, np.asarray(FLAGS, dtype=object)[cur.flag_codes_])
    assert cur.supporters_.shape == (300, 10) and np.all(cur.supporters_ >= 0)
    np.testing.assert_allclose(cur.supporter_weights_.sum(axis=1), 1.0)
    # better than chance, even from one image per class in pixel space
    assert np.mean(cur.labels_ == y[train]) > 0.5
    if rounds == 1:
        assert cur.reference_accuracy_ == 0.0  # the right class has no other reference


# ----------------------------------------------------------------- OOD
def test_the_ood_flag_catches_noise_images(digits):
    X, y = digits
    rng = np.random.default_rng(0)
    # random references (digits is ordered by writer: the first images of a
    # class are unusually alike, and an OOD threshold needs typical ones)
    ref_idx = np.concatenate([rng.choice(np.flatnonzero(y == c), 5, replace=False)
                              for c in range(10)])
    train_idx = rng.permutation(np.setdiff1d(np.arange(len(y)), ref_idx))[:600]
    noise = rng.uniform(0, 16, size=(60, 1, 8, 8)).astype(np.float32)
    X_train = np.concatenate([X[train_idx], noise])
    labels = np.concatenate([y[train_idx], rng.integers(0, 10, 60)])
    cur = ReferenceCurator("pixels").fit(X_train, labels, X[ref_idx], y[ref_idx])
    is_noise = np.r_[np.zeros(600, bool), np.ones(60, bool)]
    assert np.mean(cur.flags_[is_noise] == "ood") > 0.9
    assert np.mean(cur.flags_[~is_noise] == "ood") < 0.15
    assert cur.ood_score_[is_noise].min() > np.median(cur.ood_score_[~is_noise])
    assert np.array_equal(cur.in_distribution_, cur.flags_ != "ood")
    # the threshold is the quantile of the references' leave-one-out scores
    assert cur.ood_threshold_ == pytest.approx(np.quantile(cur.reference_ood_scores_, 0.95))


def test_ood_scores_are_distances_to_the_nearest_trusted_reference():
    X, y, centers = _clusters()
    cur = ReferenceCurator(identity).fit(X, y, centers, np.arange(4))
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Cn = centers / np.linalg.norm(centers, axis=1, keepdims=True)
    np.testing.assert_allclose(cur.ood_score_, 1 - (Xn @ Cn.T).max(axis=1), atol=1e-6)
    S = Cn @ Cn.T
    np.fill_diagonal(S, -np.inf)
    np.testing.assert_allclose(cur.reference_ood_scores_, 1 - S.max(axis=1), atol=1e-6)


# ---------------------------------------------------- augmentation, explain
def test_reference_augmentation_adds_the_most_confident_clean_samples_per_class():
    X, y, centers = _clusters(n_per_class=40)
    cur = ReferenceCurator(identity, n_rounds=2, augment_per_class=6).fit(
        X, y, centers, np.arange(4))
    aug = cur.augmented_
    assert len(aug) == 24 and np.all(np.bincount(y[aug], minlength=4) == 6)
    first = ReferenceCurator(identity, n_rounds=1).fit(X, y, centers, np.arange(4))
    assert np.all(first.flags_[aug] == "clean")
    for c in range(4):
        members = np.flatnonzero((y == c) & (first.flags_ == "clean"))
        conf = first.soft_labels_[members, c]
        assert np.all(first.soft_labels_[aug[y[aug] == c], c] >= np.sort(conf)[-6])
    assert [r["n_augmented"] for r in cur.rounds_] == [0, 24]


def test_explain_names_the_supporters():
    X, y, centers = _clusters()
    cur = ReferenceCurator(identity, n_rounds=2, augment_per_class=5).fit(
        X, y, centers, np.arange(4))
    for i in range(0, len(X), 13):
        info = cur.explain(i, top_k=3, n_supporters=4)
        assert list(info.top_probabilities) == sorted(info.top_probabilities, reverse=True)
        np.testing.assert_array_equal(info.top_classes[0], cur.labels_[i])
        for src, idx, lab, pool in zip(info.supporter_source, info.supporter_index,
                                       info.supporter_labels, info.supporter_pool):
            if src == "reference":
                assert pool < 4 and idx == pool and lab == idx
            else:
                assert cur.augmented_[pool - 4] == idx and lab == y[idx] and idx != i
        np.testing.assert_allclose(info.supporter_weights, cur.supporter_weights_[i][:4])
    with pytest.raises(ValueError, match="index must be <="):
        cur.explain(len(X))


def test_chunking_and_tensors_do_not_change_the_result():
    X, y, centers = _clusters()
    a = ReferenceCurator(identity).fit(X, y, centers, np.arange(4))
    b = ReferenceCurator(identity, chunk_size=3).fit(
        torch.as_tensor(X), torch.as_tensor(y), torch.as_tensor(centers), np.arange(4))
    np.testing.assert_allclose(a.soft_labels_, b.soft_labels_, atol=1e-12)
    np.testing.assert_array_equal(a.flags_, b.flags_)


# --------------------------------------------------------- embeddings
def _tiny_classifier(**kwargs):
    from simcalib.classifier import SimilarityLSClassifier

    return SimilarityLSClassifier("small_cnn", module__width=4, max_epochs=1, batch_size=64,
                                  random_state=0, verbose=0, similarity="onehot", **kwargs)


def _digit_split(digits, n=200, r=2):
    X, y = digits
    ref = np.concatenate([np.flatnonzero(y == c)[:r] for c in range(10)])
    train = np.setdiff1d(np.arange(len(y)), ref)[:n]
    return X[train], y[train], X[ref], y[ref]


def test_classifier_embedding_fitted_or_not(digits):
    X, y, X_ref, y_ref = _digit_split(digits)
    template = _tiny_classifier()
    cur = ReferenceCurator(template).fit(X, y, X_ref, y_ref)
    assert not hasattr(template, "module_")  # the template is cloned, not fitted
    assert cur.embedding_ is not template and hasattr(cur.embedding_, "module_")
    fitted = _tiny_classifier().fit(X, y)
    cur2 = ReferenceCurator(fitted).fit(X, y, X_ref, y_ref)
    assert cur2.embedding_ is fitted
    # a seeded template trains the same network as fitting it directly
    np.testing.assert_allclose(cur.soft_labels_, cur2.soft_labels_, atol=1e-6)


def test_autoencoder_embedding(digits):
    from simcalib.similarity import AutoencoderSimilarity

    X, y, X_ref, y_ref = _digit_split(digits)
    ae = AutoencoderSimilarity(epochs=1, random_state=0, verbose=0)
    cur = ReferenceCurator(ae, n_rounds=1).fit(X, y, X_ref, y_ref)
    assert not hasattr(ae, "autoencoder_") and hasattr(cur.embedding_, "autoencoder_")
    assert cur.soft_labels_.shape == (len(y), 10)
    default = ReferenceCurator(random_state=0, n_rounds=1)
    default.set_params(embedding=AutoencoderSimilarity(epochs=1, random_state=0, verbose=0))
    assert default.fit(X, y, X_ref, y_ref).soft_labels_.shape == (len(y), 10)


def test_co_evolution_trains_the_estimator_on_the_curated_labels(digits):
    X, y, X_ref, y_ref = _digit_split(digits)
    noisy = make_noisy_labels(y, 0.3, random_state=0)
    cur = ReferenceCurator("pixels", estimator=_tiny_classifier(), n_rounds=2).fit(
        X, noisy, X_ref, y_ref)
    est = cur.estimator_
    assert est is not None and list(est.classes_) == list(range(10))
    assert len(cur.rounds_) == 2 and est.completed_epochs_ == 1
    # trained on the in-distribution samples only, not on the references
    assert est.history[-1]["train_batch_count"] == int(np.ceil(cur.in_distribution_.sum() / 64))


def test_clone_and_params():
    cur = ReferenceCurator("pixels", n_neighbors=3)
    assert clone(cur).get_params()["n_neighbors"] == 3


# ----------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_neighbors=0), "n_neighbors must be >= 1"),
        (dict(temperature=0.0), "temperature must be > 0.0"),
        (dict(temperature=float("nan")), "temperature must be a finite real number"),
        (dict(ood_quantile=1.5), "ood_quantile must be <= 1.0"),
        (dict(clean_threshold=-0.1), "clean_threshold must be >= 0.0"),
        (dict(n_rounds=0), "n_rounds must be >= 1"),
        (dict(augment_per_class=2.5), "augment_per_class must be an integer"),
        (dict(chunk_size=0), "chunk_size must be >= 1"),
        (dict(estimator="resnet"), "estimator must be a SimilarityLSClassifier"),
        (dict(embedding="latents"), "embedding must be None, 'pixels'"),
        (dict(embedding=42), "embedding must be None, 'pixels'.*got int"),
    ],
)
def test_bad_parameters(params, match):
    X, y, centers = _clusters()
    with pytest.raises(ValueError, match=match):
        ReferenceCurator(**{"embedding": identity, **params}).fit(X, y, centers, np.arange(4))


def test_bad_data():
    X, y, centers = _clusters()
    cur = ReferenceCurator(identity)
    with pytest.raises(ValueError, match=r"classes without one: \[3\]"):
        cur.fit(X, y, centers[:3], np.arange(3))
    with pytest.raises(ValueError, match="X has 120 samples but y has 119"):
        cur.fit(X, y[:-1], centers, np.arange(4))
    with pytest.raises(ValueError, match="X_reference has 4 samples but y_reference has 3"):
        cur.fit(X, y, centers, np.arange(3))
    with pytest.raises(ValueError, match="X_reference is required"):
        cur.fit(X, y, None, np.arange(4))
    with pytest.raises(ValueError, match="at least 2 classes"):
        cur.fit(X, np.zeros(len(X), int), centers[:1], [0])
    bad = ReferenceCurator(lambda Z: np.asarray(Z)[:, :2] if len(Z) == 4 else np.asarray(Z))
    with pytest.raises(ValueError, match="the embedding of X_reference has 2 features"):
        bad.fit(X, y, centers, np.arange(4))
    with pytest.raises(ValueError, match="the embedding of X has 3 rows for 120 samples"):
        ReferenceCurator(lambda Z: np.ones((3, 2))).fit(X, y, centers, np.arange(4))
    with pytest.raises(ValueError, match="the embedding of X contains NaN"):
        ReferenceCurator(lambda Z: np.full((len(Z), 2), np.nan)).fit(X, y, centers, np.arange(4))
    assert not hasattr(cur, "soft_labels_")


def test_docstring_examples():
    import doctest

    from simcalib.classifier import estimator
    from simcalib.curation import _curator, _embedding, _neighbors, _noise
    from simcalib.plotting import _curation

    for module in (_curator, _embedding, _neighbors, _noise, _curation):
        assert doctest.testmod(module, raise_on_error=False).failed == 0, module.__name__
    finder = doctest.DocTestFinder()
    (test,) = [t for t in finder.find(estimator.SimilarityLSClassifier.embed, "embed",
                                      globs=vars(estimator))]
    assert doctest.DocTestRunner().run(test).failed == 0
