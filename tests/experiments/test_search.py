"""The cross-validated columns ("L2 (CV)", "WE (CV)"): GridSearchCV over alpha and
beta with ece_scorer, fitted on the training images only; and the "+ TS" columns."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402

from simcalib.classifier import SimilarityLSClassifier  # noqa: E402
from simcalib.experiments import ExperimentConfig, run_experiment  # noqa: E402
from simcalib.experiments._data import load_experiment_data  # noqa: E402
from simcalib.metrics import ece_scorer  # noqa: E402

DATA = dict(max_classes=3, max_train_per_class=12, holdout=0.5, holdout_from="test")


@pytest.fixture(autouse=True)
def one_thread():
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(old)


def tiny(**kwargs):
    base = dict(methods=("l2-cv",), seeds=(0,), epochs=1, batch_size=16, width=4,
                cv_alphas=(0.05, 0.3), cv_betas=(1.0, 3.0), cv_folds=2, ood=False,
                quiet=True, **DATA)
    base.update(kwargs)
    return ExperimentConfig(**base)


@pytest.fixture
def spy(monkeypatch):
    """Record every GridSearchCV fit and every network fit (inputs and alpha, beta)."""
    record = {"searches": [], "fits": []}
    search_fit, net_fit = GridSearchCV.fit, SimilarityLSClassifier.fit

    def spy_search(self, X, y=None, **params):
        record["searches"].append({"search": self, "X": np.array(X), "y": np.array(y)})
        return search_fit(self, X, y, **params)

    def spy_net(self, X, y=None, **params):
        record["fits"].append({"X": np.array(X), "alpha": self.alpha, "beta": self.beta})
        return net_fit(self, X, y, **params)

    monkeypatch.setattr(GridSearchCV, "fit", spy_search)
    monkeypatch.setattr(SimilarityLSClassifier, "fit", spy_net)
    return record


def _rows(X):
    return {row.tobytes() for row in np.asarray(X).reshape(len(X), -1)}


def test_cv_column_is_gridsearchcv_with_ece_scorer_on_training_data_only(tmp_path, spy):
    data = load_experiment_data("digits", **DATA)
    train, elsewhere = _rows(data.X_train), _rows(data.X_holdout) | _rows(data.X_test)
    assert not train & elsewhere  # the check below can tell the splits apart

    res = run_experiment(tiny(), tmp_path, log=lambda s: None)

    # One search: over alpha and beta, scored by ece_scorer, stratified folds.
    (call,) = spy["searches"]
    search = call["search"]
    assert search.param_grid == {"alpha": [0.05, 0.3], "beta": [1.0, 3.0]}
    assert search.scoring is ece_scorer
    assert isinstance(search.cv, StratifiedKFold) and search.cv.get_n_splits() == 2
    assert search.refit is False
    # It saw exactly the training images and labels ...
    np.testing.assert_array_equal(call["X"], data.X_train)
    np.testing.assert_array_equal(call["y"], data.y_train)
    # ... and each of its 4 pairs x 2 folds networks a part of them, never a
    # calibration or test image.
    inner, final = spy["fits"][:-1], spy["fits"][-1]
    assert len(inner) == 8
    assert sorted((f["alpha"], f["beta"]) for f in inner) == sorted(
        [(a, b) for a in (0.05, 0.3) for b in (1.0, 3.0)] * 2)
    for fit in inner:
        assert len(fit["X"]) == len(data.X_train) // 2
        assert _rows(fit["X"]) <= train
    # The column's network trains on all training images with the best pair.
    best = search.cv_results_["params"][int(np.argmax(search.cv_results_["mean_test_score"]))]
    np.testing.assert_array_equal(final["X"], data.X_train)
    assert (final["alpha"], final["beta"]) == (best["alpha"], best["beta"])
    (rec,) = res.records
    assert (rec["alpha"], rec["beta"]) == (best["alpha"], best["beta"])
    assert rec["cv_ece"] == pytest.approx(-search.best_score_)
    # The stored search says the same, and results.md reports it.
    stored = json.loads((tmp_path / "runs" / "l2-cv" / "seed0" / "search.json").read_text())
    assert stored["result"]["alpha"] == best["alpha"] and len(stored["result"]["grid"]) == 4
    assert "alpha and beta chosen by cross-validation" in (tmp_path / "results.md").read_text()


def test_interrupted_cv_column_resumes_without_searching_again(tmp_path, spy):
    run_experiment(tiny(), tmp_path, log=lambda s: None)
    folder = tmp_path / "runs" / "l2-cv" / "seed0"
    # the network's result is lost, the search result is kept
    (folder / "result.json").unlink()
    (folder / "outputs.npz").unlink()
    lines = []
    res = run_experiment(tiny(), tmp_path, log=lines.append)
    assert len(spy["searches"]) == 1 and res.n_trained == 1
    assert any("finished before" in line and "search" in line for line in lines)
    # another grid is another run: the folder refuses it instead of reusing it
    with pytest.raises(ValueError, match="other settings"):
        run_experiment(tiny(cv_betas=(1.0,)), tmp_path, log=lambda s: None)


def test_cv_folds_need_enough_training_images_per_class(tmp_path):
    with pytest.raises(ValueError, match="cv_folds=13 stratified folds"):
        run_experiment(tiny(cv_folds=13), tmp_path, log=lambda s: None)


@pytest.mark.parametrize("field, value, message", [
    ("cv_alphas", (), "cv_alphas is empty"),
    ("cv_betas", (1.0, 1.0), "cv_betas lists a value twice"),
    ("cv_alphas", (1.5,), "cv_alphas"),
    ("cv_folds", 1, "cv_folds must be >= 2"),
    ("cv_jobs", 0, "cv_jobs must be >= 1"),
])
def test_bad_grid_is_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        tiny(**{field: value}).validate()


def test_ts_on_a_smoothed_network(tmp_path):
    from simcalib.calibration import TemperatureScaling
    from simcalib.metrics import calibration_report

    cfg = tiny(methods=("l2", "l2+ts"))
    res = run_experiment(cfg, tmp_path, log=lambda s: None)
    assert [r["method"] for r in res.records] == ["l2", "l2+ts"]
    assert res.n_trained == 2  # the L2 network, shared with its column, and TS
    data = load_experiment_data("digits", **DATA)
    with np.load(tmp_path / "runs" / "l2-a0.1-b2" / "seed0" / "outputs.npz") as npz:
        ts = TemperatureScaling().fit(npz["logits_holdout"].astype(float), data.y_holdout)
        probs = ts.predict_proba(npz["logits_test"].astype(float))
    assert res.records[1]["hist_ece_p"] == pytest.approx(
        calibration_report(data.y_test, probs)["hist_ece_p"])
    assert "| ECE (%) | L2 | L2 + TS |" in (tmp_path / "results.md").read_text()
