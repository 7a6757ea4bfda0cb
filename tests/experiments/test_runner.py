"""End-to-end tests of the resumable experiment runner on tiny digits runs."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from skorch.callbacks import Callback  # noqa: E402

from simcalib.experiments import ExperimentConfig, run_experiment  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny networks and calibrators: more threads only add contention.
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(old)


class InterruptAfter(Callback):
    """Simulates Ctrl-C at the end of epoch ``epoch`` (after the checkpoint)."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def tiny(**kwargs):
    base = dict(methods=("one-hot", "l2"), seeds=(0,), epochs=2, batch_size=32,
                max_classes=4, max_train_per_class=30, holdout=0.2, width=4,
                ood=False, quiet=True)
    base.update(kwargs)
    return ExperimentConfig(**base)


def test_run_writes_results_and_second_run_skips(tmp_path):
    lines = []
    cfg = tiny(seeds=(0, 1))
    res = run_experiment(cfg, tmp_path, log=lines.append)
    assert res.n_trained == 4 and res.n_skipped == 0
    assert [r["method"] for r in res.records] == ["one-hot", "l2", "one-hot", "l2"]
    for rec in res.records:
        assert 0.0 <= rec["hist_ece_p"] <= 1.0 and rec["epochs"] == 2
    # The per-run files are there and the checkpoint of a finished run is gone.
    run = tmp_path / "runs" / "l2-a0.1-b2" / "seed1"
    assert json.loads((run / "result.json").read_text())["method"] == "l2"
    assert not (run / "checkpoint.pt").exists()
    assert (tmp_path / "fig1_reliability.png").is_file()
    md = (tmp_path / "results.md").read_text()
    assert "| ECE (%) | One-hot | L2 |" in md and "±" in md
    csv_rows = (tmp_path / "results.csv").read_text().strip().splitlines()
    assert len(csv_rows) == 1 + 4
    # Mean over the two seeds is what the table shows.
    vals = [r["nll"] for r in res.records if r["method"] == "l2"]
    assert res.summary["l2"]["nll"][0] == pytest.approx(np.mean(vals))

    lines.clear()
    again = run_experiment(cfg, tmp_path, log=lines.append)
    assert again.n_trained == 0 and again.n_skipped == 4
    assert sum("skipped" in line for line in lines) == 4
    assert again.records == res.records


# the classifier warns that its fit was interrupted; the runner then stops
def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    cfg = tiny(methods=("one-hot",))
    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "a", callbacks=[InterruptAfter(1)], log=lambda s: None)
    run = tmp_path / "a" / "runs" / "one-hot" / "seed0"
    assert (run / "checkpoint.pt").is_file()
    assert not (run / "result.json").exists()

    lines = []
    resumed = run_experiment(cfg, tmp_path / "a", log=lines.append)
    assert any("resuming from its checkpoint" in line for line in lines)
    assert resumed.records[0]["resumed_epoch"] == 1

    straight = run_experiment(cfg, tmp_path / "b", log=lambda s: None)
    assert straight.records[0]["resumed_epoch"] == 0
    with np.load(run / "outputs.npz") as a, \
            np.load(tmp_path / "b" / "runs" / "one-hot" / "seed0" / "outputs.npz") as b:
        np.testing.assert_array_equal(a["logits_test"], b["logits_test"])


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    run_experiment(tiny(methods=("one-hot",), epochs=1), tmp_path, log=lambda s: None)
    with pytest.raises(ValueError, match=r"other settings \(epochs: 1 -> 2\)"):
        run_experiment(tiny(methods=("one-hot",), epochs=2), tmp_path, log=lambda s: None)
    # More methods or seeds with the same settings are fine.
    res = run_experiment(tiny(methods=("one-hot", "uniform"), epochs=1), tmp_path,
                         log=lambda s: None)
    assert (res.n_trained, res.n_skipped) == (1, 1)


def test_sweeps_and_ood_figures(tmp_path):
    cfg = tiny(methods=("one-hot", "uniform", "l2"), epochs=1, sweep_alphas=(0.05, 0.1),
               sweep_betas=(4.0,), ood=True, n_ood=20)
    res = run_experiment(cfg, tmp_path, log=lambda s: None)
    # 3 main + uniform/l2 at alpha 0.05 + l2 at beta 4 (alpha 0.1 runs are shared)
    assert res.n_trained == 6
    assert {"fig1", "fig2", "fig3"} <= set(res.files)
    md = (tmp_path / "results.md").read_text()
    assert "## Sweep over alpha" in md and "## Sweep over beta" in md
    assert "| Uniform | 0.05 |" in md and "| L2 | 4 |" in md
    assert "uniform noise" in md and "sample photo crops" in md
    with np.load(tmp_path / "runs" / "one-hot" / "seed0" / "outputs.npz") as npz:
        assert npz["logits_ood1"].shape == (20, 4)


def test_posthoc_methods_use_the_one_hot_network(tmp_path):
    pytest.importorskip("simcalib.calibration")
    from simcalib.calibration import TemperatureScaling
    from simcalib.experiments._data import load_experiment_data
    from simcalib.metrics import calibration_report

    cfg = tiny(methods=("ts", "dir-odir", "ets"), epochs=1)
    res = run_experiment(cfg, tmp_path, log=lambda s: None)
    assert [r["method"] for r in res.records] == ["ts", "dir-odir", "ets"]
    assert res.n_trained == 4  # the one-hot network, a dependency, and 3 calibrators
    # TS refitted by hand on the one-hot network's held-out logits gives the
    # same test report.
    d = load_experiment_data("digits", max_classes=4, max_train_per_class=30, holdout=0.2)
    with np.load(tmp_path / "runs" / "one-hot" / "seed0" / "outputs.npz") as npz:
        ts = TemperatureScaling().fit(npz["logits_holdout"].astype(float), d.y_holdout)
        probs = ts.predict_proba(npz["logits_test"].astype(float))
    expected = calibration_report(d.y_test, probs)
    assert res.records[0]["hist_ece_p"] == pytest.approx(expected["hist_ece_p"])
    assert res.records[0]["nll"] == pytest.approx(expected["nll"])
    assert "| ECE (%) | TS | Dir-ODIR | ETS |" in (tmp_path / "results.md").read_text()


def test_missing_word_vectors_fail_before_training(tmp_path):
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("2 3\nzero 1 0 0\none 0 1 0\n")
    cfg = tiny(methods=("one-hot", "we"), word_vectors=str(vectors))
    with pytest.raises(ValueError, match="'two'.*'three'"):
        run_experiment(cfg, tmp_path / "out", log=lambda s: None)
    assert not (tmp_path / "out" / "runs").exists()
