"""Smoke test of ``simcalib demo``."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from simcalib.cli import main  # noqa: E402


@pytest.fixture(autouse=True)
def restore_threads():
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


def test_demo_one_epoch(tmp_path, capsys, shared_data):
    vectors = shared_data / "wordvectors" / "glove.6B.50d.top100k.txt.gz"
    out = tmp_path / "demo"
    assert main(["demo", "--epochs", "1", "--out", str(out), "--word-vectors", str(vectors)]) == 0
    captured = capsys.readouterr()
    header = captured.out.strip().splitlines()[0].split()
    assert header[:4] == ["ECE", "(%)", "One-hot", "TS"] or header[:3] == ["ECE", "(%)", "One-hot"]
    for label in ("Uniform", "Mixup", "L1", "L2", "AE", "WE"):
        assert label in header
    rows = [line.split()[0] + (" " + line.split()[1] if line.split()[0] in ("Hist", "KDE") else "")
            for line in captured.out.strip().splitlines()[2:8]]
    assert rows == ["Hist P", "Hist O", "KDE P", "KDE O", "Accuracy", "NLL"]
    assert (out / "fig1_reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "results.md").is_file() and (out / "results.csv").is_file()
    assert "[1/" in captured.err


def test_demo_bad_word_vectors(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--word-vectors", str(tmp_path / "no.txt")]) == 2
    assert "no.txt does not exist" in capsys.readouterr().err
