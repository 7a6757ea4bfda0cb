"""Tests of ``simcalib demo`` (one-epoch smoke runs; the regime itself is measured in
docs/results/demo-3-seeds.md, not here)."""

import argparse
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from simcalib.cli import main  # noqa: E402
from simcalib.cli._demo import REGIMES, add_parser, build_config, plain_reading  # noqa: E402
from simcalib.experiments import ExperimentConfig  # noqa: E402


@pytest.fixture(autouse=True)
def restore_threads():
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    return parser.parse_args(["demo", *argv])


def test_demo_one_epoch(tmp_path, capsys, shared_data):
    vectors = shared_data / "wordvectors" / "glove.6B.50d.top100k.txt.gz"
    out = tmp_path / "demo"
    assert main(["demo", "--epochs", "1", "--jobs", "1", "--out", str(out),
                 "--word-vectors", str(vectors)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    header = lines[0].split()
    assert header[:4] == ["ECE", "(%)", "One-hot", "TS"]
    for label in ("Uniform", "Mixup", "Dir-ODIR", "ETS", "L1", "L2", "AE", "WE", "(CV)"):
        assert label in header
    rows = [line.split()[0] + (" " + line.split()[1] if line.split()[0] in ("Hist", "KDE") else "")
            for line in lines[2:9]]
    assert rows == ["Hist P", "Hist O", "KDE P", "KDE O", "Accuracy", "Confidence", "NLL"]
    # the reading under the table
    text = " ".join(captured.out.split())
    assert "What the table says" in text and "- Regime: the one-hot network is" in text
    assert "GridSearchCV chose alpha" in text and "between 0 and 200 %" in text
    assert "1 epoch," in captured.err and "1 epochs" not in captured.err
    # captured output is not a terminal: no colour, no bar, no carriage return
    assert "\x1b" not in captured.out + captured.err and "\r" not in captured.err
    assert "[1/" in captured.err
    assert (out / "fig1_reliability.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "results.md").read_text()
    assert "## Reading" in md and "drawn per class from the test split" in md
    assert "earlier invocations" not in md  # a demo always starts fresh
    assert (out / "results.csv").is_file()


def test_demo_quiet_prints_nothing_on_stderr(tmp_path, capsys, monkeypatch):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    # stderr says it is a terminal: without --quiet the run and CV bars would be drawn there
    monkeypatch.delenv("SIMCALIB_PROGRESS", raising=False)
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["demo", "--epochs", "1", "--jobs", "1", "--quiet", "--regime", "calibrated",
                 "--out", str(tmp_path / "q")]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and err.getvalue() == ""
    assert "smoothing hurts" in captured.out


def test_regimes_set_the_data_and_the_protocol():
    over, cfg = build_config(parse())
    assert over.name == "overconfident"
    assert (cfg.max_train_per_class, cfg.holdout_from, cfg.holdout) == (4, "test", 0.5)
    assert cfg.weight_decay == 0 and cfg.methods[-1] == "l2-cv"
    assert cfg.cv_folds == over.cv_folds and cfg.cv_alphas == over.cv_alphas
    cal, cfg = build_config(parse("--regime", "calibrated", "--epochs", "3", "--alpha", "0.2"))
    assert (cfg.max_train_per_class, cfg.holdout_from, cfg.width) == (None, "train", 16)
    assert (cfg.epochs, cfg.alpha, cfg.batch_size) == (3, 0.2, cal.batch_size)


def _row(ece, acc, conf):
    return {"hist_ece_p": (ece, math.nan, 1), "accuracy": (acc, math.nan, 1),
            "confidence": (conf, math.nan, 1)}


def test_reading_follows_the_numbers():
    summary = {"one-hot": _row(0.09, 0.77, 0.86), "ts": _row(0.03, 0.77, 0.79),
               "uniform": _row(0.05, 0.79, 0.74), "l2": _row(0.035, 0.77, 0.75),
               "mixup": _row(0.12, 0.78, 0.66), "l2-cv": _row(0.03, 0.77, 0.77),
               "dir-odir": _row(0.025, 0.87, 0.86)}
    records = [{"method": "l2-cv", "alpha": 0.01, "beta": 4.0}]
    text = "\n".join(plain_reading(summary, records, regime=REGIMES["overconfident"],
                                   config=ExperimentConfig()))
    assert "over-confident: on the test images its mean confidence is 86.0 % against an " \
           "accuracy of 77.0 %" in " ".join(text.split())
    flat = " ".join(text.split())
    assert "TS 3.00 % (6.0 points lower)" in flat and "L2 3.50 % (5.5 points lower)" in flat
    assert "Mixup 12.00 % (under-confident: confidence 66 % vs accuracy 78 %)" in flat
    assert "1 of 1 similarity sources beat uniform smoothing" in flat
    assert "chose alpha 0.01, beta 4" in flat
    assert "Dir-ODIR also changes the predictions (accuracy 87.0 % vs 77.0 %)" in flat
    assert "TS also changes" not in flat


def test_reading_of_a_calibrated_baseline():
    summary = {"one-hot": _row(0.01, 0.985, 0.99), "uniform": _row(0.11, 0.99, 0.88)}
    text = " ".join(" ".join(plain_reading(summary, [], regime=REGIMES["calibrated"],
                                           config=ExperimentConfig())).split())
    assert "close to calibrated" in text and "smoothing hurts" in text
    assert "No column is better calibrated than one-hot" in text


def test_demo_bad_word_vectors(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--word-vectors", str(tmp_path / "no.txt")]) == 2
    assert "no.txt does not exist" in capsys.readouterr().err


def test_demo_bad_jobs(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--jobs", "0"]) == 2
    assert "--jobs must be >= 1" in capsys.readouterr().err
