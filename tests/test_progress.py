"""Progress bars only on terminals; no ANSI escape or carriage return in a pipe or a file."""

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simcalib import progress

ROOT = Path(__file__).resolve().parents[1]
#: An ANSI escape (colours, cursor movement) or a carriage return (bar redraws).
CONTROL = re.compile(r"\x1b|\r")


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def test_bar_drawn_only_on_a_terminal(monkeypatch):
    monkeypatch.delenv("SIMCALIB_PROGRESS", raising=False)
    pipe, tty = io.StringIO(), FakeTerminal()
    for stream in (pipe, tty):
        # mininterval=0: draw every step (tqdm otherwise redraws at most every 0.1 s)
        for _ in progress.progress_bar(range(3), desc="work", file=stream, mininterval=0):
            pass
    assert pipe.getvalue() == ""
    assert "work" in tty.getvalue() and "3/3" in tty.getvalue() and "\r" in tty.getvalue()


@pytest.mark.parametrize("switch", ["function", "context", "env", "caller"])
def test_bars_can_be_switched_off(monkeypatch, switch):
    monkeypatch.delenv("SIMCALIB_PROGRESS", raising=False)
    tty = FakeTerminal()
    kwargs = {}
    if switch == "env":
        monkeypatch.setenv("SIMCALIB_PROGRESS", "0")
    elif switch == "caller":
        kwargs["enabled"] = False
    previous = progress.set_progress_bars(False) if switch == "function" else None
    try:
        with progress.progress_bars(False) if switch == "context" else _null():
            bar = progress.progress_bar(total=2, file=tty, **kwargs)
            bar.update(2)
            bar.close()
    finally:
        if previous is not None:
            progress.set_progress_bars(previous)
    assert tty.getvalue() == ""
    assert progress.progress_bars_enabled() is (switch != "env")


def _null():
    return contextlib.nullcontext()


def test_set_progress_bars_checks_its_argument():
    with pytest.raises(ValueError, match="enabled must be True or False"):
        progress.set_progress_bars("no")


def test_write_keeps_lines_plain_in_a_pipe():
    out = io.StringIO()
    progress.write("line one", file=out)
    assert out.getvalue() == "line one\n"


def test_joblib_progress_counts_the_fits_of_a_grid_search():
    from joblib import parallel_backend
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = load_iris(return_X_y=True)
    tty = FakeTerminal()
    search = GridSearchCV(LogisticRegression(max_iter=300), {"C": [0.1, 1.0, 10.0]}, cv=3)
    with parallel_backend("threading", n_jobs=2), \
            progress.joblib_progress(total=9, desc="grid", file=tty) as bar:
        search.fit(X, y)
    assert bar.n == 9 and "grid:" in tty.getvalue() and "/9 [" in tty.getvalue()
    # restored: later joblib calls are not counted
    import joblib

    assert joblib.Parallel.print_progress.__name__ == "print_progress"
    assert joblib.Parallel.print_progress.__qualname__.startswith("Parallel.")


def test_dirichlet_grid_shows_a_bar_on_a_terminal(monkeypatch):
    from simcalib.calibration import DirichletCalibratorCV

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    Z = rng.normal(size=(240, 3)) + 2 * np.eye(3)[y]
    bars = []

    @contextlib.contextmanager
    def without_delay(**kwargs):  # so that the bar shows in a quick test
        with progress.joblib_progress(**{**kwargs, "delay": 0.0}) as bar:
            bars.append(bar)
            yield bar

    # the namespace the fit uses (a doctest run may import the module a second time)
    monkeypatch.setitem(DirichletCalibratorCV._fit_validated.__globals__, "joblib_progress",
                        without_delay)
    grid = {"reg_lambda": [0.01, 1.0], "reg_mu": [0.1]}
    for stream, drawn in [(io.StringIO(), False), (FakeTerminal(), True)]:
        monkeypatch.setattr(sys, "stderr", stream)
        DirichletCalibratorCV(param_grid=grid, cv=3).fit(Z, y)
        assert ("Dirichlet grid" in stream.getvalue()) is drawn
    # one step per fold (each walks the 2 candidates, warm-started)
    assert bars[-1].n == 3 and "/3 [" in stream.getvalue()


@pytest.mark.parametrize("metric, dtype", [("l1", np.uint8), ("l2", np.uint8),
                                           ("l1", np.float64), ("l2", np.float64)])
def test_class_distances_bar_on_a_terminal_and_not_in_a_pipe(monkeypatch, metric, dtype):
    """Every path of the class distances (exact uint8 paths and the general one)."""
    from simcalib.similarity import _pixel

    # small data ends before the usual 2 s delay; patched in the namespace the
    # function uses (a doctest run may import the module a second time)
    namespace = _pixel.mean_pairwise_class_distances.__globals__
    shown = namespace["progress_bar"]
    monkeypatch.setitem(namespace, "progress_bar",
                        lambda *a, **kw: shown(*a, **{**kw, "delay": 0.0, "mininterval": 0}))
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(60, 3 * 8 * 8)).astype(dtype)
    y = np.repeat(np.arange(3), 20)
    results = []
    for stream, drawn in [(io.StringIO(), False), (FakeTerminal(), True)]:
        monkeypatch.setattr(sys, "stderr", stream)
        results.append(_pixel.mean_pairwise_class_distances(X, y, metric=metric, batch_size=16,
                                                            device="cpu"))
        assert ("class distances" in stream.getvalue()) is drawn, stream.getvalue()
    np.testing.assert_array_equal(results[0][0], results[1][0])  # the bar changes nothing


def test_decoding_bar_on_a_terminal_and_not_in_a_pipe(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    from PIL import Image

    from simcalib.datasets import load_image_folder

    for name in "ab":
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.new("RGB", (4, 4), (i, 0, 0)).save(tmp_path / name / f"{i}.png")
    for stream, drawn in [(io.StringIO(), False), (FakeTerminal(), True)]:
        monkeypatch.setattr(sys, "stderr", stream)
        load_image_folder(tmp_path, image_size=4, test_size=0.5, cache=False, verbose=True)
        text = stream.getvalue()
        assert ("decoding train" in text) is drawn
        assert bool(CONTROL.search(text)) is drawn
        assert "3 train / 3 test images" in text  # the plain messages either way


torch = pytest.importorskip("torch")
pytest.importorskip("skorch")


@pytest.fixture
def tiny_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:200].reshape(-1, 1, 8, 8).astype(np.float32), y[:200]


def _fit(X, y, **kwargs):
    from simcalib.classifier import SimilarityLSClassifier

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        params = dict(module="small_cnn", module__width=4, max_epochs=3, batch_size=64,
                      random_state=0, similarity="uniform", verbose=1)
        params.update(kwargs)
        return SimilarityLSClassifier(**params).fit(X, y)
    finally:
        torch.set_num_threads(old)


def test_classifier_log_has_no_escape_codes_when_captured(capsys, tiny_digits):
    _fit(*tiny_digits)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out  # the epoch table is printed ...
    assert not CONTROL.search(captured.out + captured.err)  # ... without colour or bars


def test_classifier_colours_and_bar_on_a_terminal(monkeypatch, tiny_digits):
    monkeypatch.delenv("SIMCALIB_PROGRESS", raising=False)
    out, err = FakeTerminal(), FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    clf = _fit(*tiny_digits, callbacks__progress__delay=0.0)
    assert "\x1b[" in out.getvalue()  # skorch's colours, as on any terminal
    # one bar over 3 epochs x 4 batches, named by epoch
    assert re.search(r"epoch [123]/3", err.getvalue()) and "/12 [" in err.getvalue()
    assert dict(clf.callbacks_)["progress"].bar_ is None  # closed at the end of training


def test_verbose_zero_prints_nothing_even_on_a_terminal(monkeypatch, tiny_digits):
    out, err = FakeTerminal(), FakeTerminal()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    _fit(*tiny_digits, verbose=0, callbacks__progress__delay=0.0)
    assert out.getvalue() == "" and err.getvalue() == ""


def test_print_log_with_a_custom_sink_gets_no_colour(tiny_digits):
    from simcalib.classifier import PrintLog

    lines = []
    _fit(*tiny_digits, verbose=0, callbacks__print_log=PrintLog(sink=lines.append))
    assert len(lines) == 2 + 3 and not any(CONTROL.search(line) for line in lines)


def test_runs_and_cross_validation_grid_bars_on_a_terminal(tmp_path, monkeypatch):
    """run_experiment: a bar over the runs and one over the fits of a CV column's grid."""
    pytest.importorskip("skorch")
    import torch

    from simcalib.experiments import ExperimentConfig, run_experiment

    monkeypatch.delenv("SIMCALIB_PROGRESS", raising=False)
    err = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", err)
    # a tiny grid ends before the usual 1 s delay; patched in the namespace the
    # search runs in (that of train; a doctest run may import a module twice)
    namespace = run_experiment.__globals__["train"].__globals__
    shown = namespace["joblib_progress"]
    monkeypatch.setitem(namespace, "joblib_progress",
                        lambda **kw: shown(**{**kw, "delay": 0.0, "mininterval": 0}))
    config = ExperimentConfig(methods=("l2-cv",), seeds=(0,), epochs=1, batch_size=16,
                              width=4, cv_alphas=(0.05, 0.3), cv_betas=(1.0,), cv_folds=2,
                              ood=False, quiet=True, max_classes=3, max_train_per_class=12,
                              holdout=0.5, holdout_from="test")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_experiment(config, tmp_path, log=lambda line: None)
    finally:
        torch.set_num_threads(old)
    text = err.getvalue()
    assert re.search(r"CV l2-cv\S*: .*4/4", text), text  # 2 alphas x 1 beta x 2 folds
    assert "runs:" in text


def _cli(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("SIMCALIB_PROGRESS", None)
    done = subprocess.run([sys.executable, "-m", "simcalib", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    return done


def test_cli_output_in_a_pipe_has_no_escape_codes(tmp_path):
    """reproduce (epoch tables, run log) and evaluate, with stdout and stderr piped."""
    done = _cli("reproduce", "--dataset", "digits", "--model", "small", "--width", "4",
                "--epochs", "2", "--batch-size", "64", "--max-classes", "3",
                "--max-train-per-class", "20", "--holdout", "0.2", "--methods", "one-hot,ae",
                "--ae-epochs", "1", "--no-sweeps", "--no-ood", "--threads", "1",
                "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "train_loss" in done.stdout and "[1/2]" in done.stderr  # logs are there ...
    assert not CONTROL.search(done.stdout + done.stderr)  # ... plain
    done = _cli("evaluate", "out", cwd=tmp_path)
    assert done.returncode == 0 and "Hist P" in done.stdout
    assert not CONTROL.search(done.stdout + done.stderr)
