"""Scale-out with existing engines: joblib's dask backend and accelerate."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.model_selection import GridSearchCV  # noqa: E402

from simcalib.metrics import ece_scorer  # noqa: E402
from simcalib.similarity import PixelDistanceSimilarity  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_grid_search_on_a_dask_cluster(digits, monkeypatch, tiny):
    distributed = pytest.importorskip("distributed")
    joblib = pytest.importorskip("joblib")
    X, y = digits[0][:400], digits[1][:400]
    # the worker processes inherit these: simcalib importable, one thread each
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    grid = GridSearchCV(
        tiny(similarity=PixelDistanceSimilarity(), max_epochs=2),
        {"alpha": [0.05, 0.2], "similarity__metric": ["l1", "l2"]},
        scoring=ece_scorer, cv=2, n_jobs=-1,
    )
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:
        with joblib.parallel_backend("dask"):
            grid.fit(X, y)
        # the candidates ran on the workers, not in this process
        workers = client.run(lambda: "simcalib.classifier" in __import__("sys").modules)
        assert len(workers) == 2 and any(workers.values())
    assert len(grid.cv_results_["params"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    # same numbers as a local run: the fits are seeded
    local = GridSearchCV(grid.estimator, grid.param_grid, scoring=ece_scorer, cv=2).fit(X, y)
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-5)


def test_accelerate_single_process_matches_the_plain_classifier(digits, tiny):
    accelerate = pytest.importorskip("accelerate")
    from simcalib.classifier.accelerate import AccelerateSimilarityLSClassifier

    X, y = digits[0][:300], digits[1][:300]
    kw = dict(module="small_cnn", module__width=8, similarity="uniform", augment="crop",
              mixup_alpha=0.2, max_epochs=2, batch_size=64, random_state=0, verbose=0)
    plain = tiny(**kw).fit(X, y)
    acc = AccelerateSimilarityLSClassifier(
        accelerator=accelerate.Accelerator(cpu=True), **kw).fit(X, y)
    for (k, v), w in zip(plain.module_.state_dict().items(), acc.module_.state_dict().values()):
        torch.testing.assert_close(v, w, msg=k)
    np.testing.assert_allclose(acc.predict_proba(X[:10]), plain.predict_proba(X[:10]))


def test_data_parallel_shards_are_disjoint_and_equal_sized():
    from simcalib.classifier import DeviceBatchIterator, ImageTensorDataset

    ds = ImageTensorDataset(torch.zeros(11, 1, 2, 2), torch.arange(11))
    seen = []
    for rank in range(3):
        g = torch.Generator().manual_seed(5)  # every process: same seed
        it = DeviceBatchIterator(ds, batch_size=2, shuffle=True, generator=g,
                                 num_replicas=3, rank=rank)
        labels = torch.cat([yb for _, yb in it]).tolist()
        assert len(labels) == 11 // 3 and len(it) == 2
        seen.append(set(labels))
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2]) and not (seen[0] & seen[2])


@pytest.mark.slow
def test_multi_gpu_script_runs_in_one_process(capsys):
    pytest.importorskip("accelerate")
    path = ROOT / "benchmarks" / "train_multi_gpu.py"
    spec = importlib.util.spec_from_file_location("train_multi_gpu", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--model", "small_cnn", "--digits", "--epochs", "3", "--cpu",
                        "--batch-size", "64", "--lr", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "processes: 1" in out
    accuracy = float(out.split("held-out accuracy ")[1].split(",")[0])
    assert accuracy > 0.5
