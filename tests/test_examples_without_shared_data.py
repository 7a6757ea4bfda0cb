"""The gallery examples that read ../shared/data cope without it (a fresh clone)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("matplotlib")


def _run_example(rel, tmp_path):
    env = {**os.environ, "SIMCALIB_SHARED_DATA": str(tmp_path / "no-such-folder"),
           "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / rel)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_label_matrix_example_falls_back_to_the_digits(tmp_path):
    done = _run_example("examples/smoothing/plot_label_matrix.py", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "digits, pixel L2 distances (../shared/data not found)" in done.stdout
    assert "(10, 10) rows sum to [1.]" in done.stdout


def test_class_similarity_example_says_what_it_needs(tmp_path):
    done = _run_example("examples/similarity/plot_class_similarity.py", tmp_path)
    assert done.returncode == 1  # SystemExit with a message, not a traceback
    assert "needs the offline data folder 'shared/data'" in done.stderr
    assert "Traceback" not in done.stderr
