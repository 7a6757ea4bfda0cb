"""``simcalib evaluate`` through main() and its file loaders."""

import json

import numpy as np
import pytest

import simcalib.cli as cli
from simcalib.cli import CommandError
from simcalib.cli._evaluate import EXAMPLE_PREDICTIONS, format_table, load_predictions
from simcalib.metrics import calibration_report


@pytest.fixture(autouse=True)
def _evaluate_only(monkeypatch):
    # main() imports every subcommand module; this file tests `evaluate`
    # alone, independent of the other subcommands being present.
    monkeypatch.setattr(cli, "_SUBCOMMANDS", ("evaluate",))


def _run(capsys, *argv):
    code = cli.main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.fixture
def npz_file(tmp_path, rng):
    logits = rng.normal(size=(120, 4)) * 3
    y = rng.integers(0, 4, 120)
    path = tmp_path / "preds.npz"
    np.savez(path, y_true=y, logits=logits)
    return path, y, _softmax(logits)


def test_table_for_npz_logits(capsys, npz_file):
    path, y, p = npz_file
    code, out, err = _run(capsys, str(path))
    assert code == 0 and err == ""
    report = calibration_report(y, p)
    assert "preds.npz: 120 samples, 4 classes, 15 bins" in out
    lines = out.splitlines()
    for name, key in [("Hist ECE P", "hist_ece_p"), ("KDE ECE O", "kde_ece_o"), ("MCE", "mce")]:
        line = next(line for line in lines if line.startswith(name + " "))
        assert line.split()[-1] == f"{100 * report[key]:.2f}%"
    nll = next(line for line in lines if line.startswith("NLL"))
    assert nll.split()[-1] == f"{report['nll']:.4f}"
    # aligned: every value ends in the same column; then one line on P and O
    table = lines[1:-1]
    assert len({len(line) for line in table}) == 1
    assert lines[-1].startswith("P = ECE of the predicted class, O = ECE of all outputs")
    assert "can exceed 100 %" in lines[-1]


def test_json_output(capsys, npz_file):
    path, y, p = npz_file
    code, out, _ = _run(capsys, str(path), "--json", "--n-bins", "10")
    assert code == 0
    data = json.loads(out)
    expected = calibration_report(y, p, n_bins=10)
    for key, value in expected.items():
        assert data[key] == pytest.approx(value, rel=1e-12)
    assert data["n_samples"] == 120 and data["n_classes"] == 4 and data["n_bins"] == 10


def test_plot(capsys, npz_file, tmp_path):
    pytest.importorskip("matplotlib")
    path, _, _ = npz_file
    png = tmp_path / "rel.png"
    code, out, _ = _run(capsys, str(path), "--plot", str(png))
    assert code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(png) in out


def test_probs_npz_and_string_labels(capsys, tmp_path, rng):
    p = _softmax(rng.normal(size=(50, 3)))
    names = np.array(["ant", "bee", "cat"])
    y = rng.integers(0, 3, 50)
    path = tmp_path / "p.npz"
    np.savez(path, y_true=names[y], probs=p, labels=names)
    code, out, _ = _run(capsys, str(path), "--json")
    assert code == 0
    assert json.loads(out)["brier"] == pytest.approx(calibration_report(y, p)["brier"])


def test_csv_with_label_headers(capsys, tmp_path, rng):
    p = _softmax(rng.normal(size=(30, 3)))
    y = rng.integers(0, 3, 30)
    names = ["cat", "dog", "bird"]
    lines = ["y_true," + ",".join(names)]
    lines += [f"{names[t]}," + ",".join(f"{v:.17g}" for v in row) for t, row in zip(y, p)]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    code, out, _ = _run(capsys, str(path), "--json")
    assert code == 0
    assert json.loads(out)["hist_ece_p"] == pytest.approx(calibration_report(y, p)["hist_ece_p"])
    # the same file as a spreadsheet program writes it: UTF-8 with a BOM
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, out2, _ = _run(capsys, str(path), "--json")
    assert code == 0 and json.loads(out2)["hist_ece_p"] == json.loads(out)["hist_ece_p"]


def test_csv_with_indices_and_logits(tmp_path, rng):
    z = rng.normal(size=(20, 4))
    y = rng.integers(0, 4, 20)
    lines = ["logit_a,logit_b,y_true,logit_c,logit_d"]
    lines += [f"{r[0]},{r[1]},{t},{r[2]},{r[3]}" for t, r in zip(y, z)]
    path = tmp_path / "z.csv"
    path.write_text("\n".join(lines))
    y_true, y_prob, labels = load_predictions(path, logits=True)
    assert labels is None
    np.testing.assert_array_equal(y_true, y)
    np.testing.assert_allclose(y_prob, _softmax(z))


def test_labels_option_for_binary_indices(capsys, tmp_path, rng):
    p1 = rng.uniform(size=40)
    y = np.where(rng.uniform(size=40) < p1, 7, 3)
    path = tmp_path / "b.npz"
    np.savez(path, y_true=y, probs=np.column_stack([1 - p1, p1]))
    code, out, _ = _run(capsys, str(path), "--json", "--labels", "3", "7")
    assert code == 0
    expected = calibration_report((y == 7).astype(int), p1)
    assert json.loads(out)["accuracy"] == pytest.approx(expected["accuracy"])
    code, _, err = _run(capsys, str(path), "--labels", "three", "seven")
    assert code == 2 and "--labels must be integers" in err


def test_bundled_example_is_default(capsys):
    code, out, _ = _run(capsys)
    assert code == 0
    assert EXAMPLE_PREDICTIONS.name in out and "10 classes" in out
    assert EXAMPLE_PREDICTIONS.stat().st_size < 200_000


def test_bundled_example_is_reproducible():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "digits_predictions", Path(__file__).with_name("digits_predictions.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    y, logits = module.make_digits_predictions()
    with np.load(EXAMPLE_PREDICTIONS) as data:
        np.testing.assert_array_equal(data["y_true"], y)
        np.testing.assert_allclose(data["logits"], logits, rtol=1e-3, atol=1e-3)
    assert 300 <= len(y) <= 1000


# ------------------------------------------------------------------ errors


def _bad_files(tmp_path):
    files = {}
    files["missing"] = (tmp_path / "nope.npz", "no such file")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    files["junk"] = (tmp_path / "junk.npz", "not a readable .npz")
    np.savez(tmp_path / "nolabels.npz", logits=np.zeros((3, 2)))
    files["nolabels"] = (tmp_path / "nolabels.npz", "missing array 'y_true'")
    np.savez(tmp_path / "both.npz", y_true=[0], logits=[[0, 1]], probs=[[0.5, 0.5]])
    files["both"] = (tmp_path / "both.npz", "exactly one of")
    np.savez(tmp_path / "rows.npz", y_true=[0, 1], probs=[[0.9, 0.9], [0.5, 0.5]])
    files["rows"] = (tmp_path / "rows.npz", "sum to 1")
    np.savez(tmp_path / "range.npz", y_true=[0, 5], probs=[[0.1, 0.9], [0.5, 0.5]])
    files["range"] = (tmp_path / "range.npz", "class indices")
    (tmp_path / "ragged.csv").write_text("y_true,a,b\n0,0.5,0.5\n1,0.5\n")
    files["ragged"] = (tmp_path / "ragged.csv", "line 3 has 2 fields")
    (tmp_path / "text.csv").write_text("y_true,a,b\n0,x,0.5\n")
    files["text"] = (tmp_path / "text.csv", "must be numeric")
    (tmp_path / "nocol.csv").write_text("label,a,b\n0,0.5,0.5\n")
    files["nocol"] = (tmp_path / "nocol.csv", "no 'y_true' column")
    (tmp_path / "empty.csv").write_text("")
    files["empty"] = (tmp_path / "empty.csv", "header row")
    (tmp_path / "p.txt").write_text("1 2 3")
    files["suffix"] = (tmp_path / "p.txt", "unsupported file type")
    files["dir"] = (tmp_path, "no outputs.npz of simcalib reproduce runs")  # read as runs
    return files


@pytest.mark.parametrize(
    "case",
    ["missing", "junk", "nolabels", "both", "rows", "range", "ragged", "text", "nocol",
     "empty", "suffix", "dir"],
)
def test_bad_files_give_one_line_error_and_exit_2(capsys, tmp_path, case):
    path, message = _bad_files(tmp_path)[case]
    code, out, err = _run(capsys, str(path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("simcalib evaluate: error:")
    assert message in err
    assert "Traceback" not in err


def test_bad_n_bins(capsys, npz_file):
    path, _, _ = npz_file
    code, _, err = _run(capsys, str(path), "--n-bins", "0")
    assert code == 2 and "--n-bins" in err


def test_loader_raises_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        load_predictions(tmp_path / "x.npz")


def test_format_table_alignment():
    text = format_table({"accuracy": 0.12345, "brier": 1.5, "mce": 1.0}, title="t")
    assert text.splitlines() == [
        "t",
        "metric      value",
        "--------  -------",
        "Accuracy   12.35%",
        "Brier      1.5000",
        "MCE       100.00%",
    ]
