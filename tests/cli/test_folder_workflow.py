"""A user's folder of images through reproduce, evaluate (run folders) and predict."""

import csv
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")
pytest.importorskip("PIL")

from PIL import Image  # noqa: E402

from simcalib.cli import main  # noqa: E402

NAMES = ["cat", "dog", "car"]


@pytest.fixture(autouse=True)
def restore_threads():
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


def _write_photos(root, n=24, size=(14, 12), seed=0):
    rng = np.random.default_rng(seed)
    for k, name in enumerate(NAMES):
        (root / name).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 90, size=(size[1], size[0], 3)) + 70 * k
            Image.fromarray(pixels.astype(np.uint8)).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """One tiny reproduce run on a folder of images: (photos, out folder)."""
    base = tmp_path_factory.mktemp("folder-run")
    photos = _write_photos(base / "photos")
    out = base / "out"
    argv = ["reproduce", "--dataset", "folder", "--data-dir", str(photos), "--image-size", "8",
            "--model", "small", "--width", "4", "--epochs", "1", "--batch-size", "32",
            "--methods", "one-hot,ts,l2", "--no-sweeps", "--no-ood", "--threads", "1",
            "--quiet", "--out", str(out)]
    old = torch.get_num_threads()
    try:
        assert main(argv) == 0
    finally:
        torch.set_num_threads(old)
    return photos, out


def test_reproduce_on_a_folder(run_folder):
    photos, out = run_folder
    md = (out / "results.md").read_text()
    assert "--dataset folder" in md and "--image-size 8" in md
    assert "3 classes, shape (3, 8, 8)" in md
    outputs = np.load(out / "runs" / "one-hot" / "seed0" / "outputs.npz")
    assert {"logits_holdout", "logits_test", "y_holdout", "y_test"} <= set(outputs.files)
    assert outputs["y_test"].dtype == np.int64 and len(outputs["y_test"]) == 15  # 20 % of 72
    posthoc = np.load(out / "runs" / "ts" / "seed0" / "outputs.npz")
    assert {"probs_test", "y_test"} <= set(posthoc.files)


def test_evaluate_a_whole_run_folder_matches_results_csv(run_folder, capsys):
    _, out = run_folder
    assert main(["evaluate", str(out)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].endswith("3 runs, test split (15 samples, 3 classes), 15 bins")
    rows = {line.split()[0]: line.split() for line in text[3:6]}
    assert sorted(rows) == ["runs/l2-a0.1-b2/seed0", "runs/one-hot/seed0", "runs/ts/seed0"]
    assert text[-1].endswith("(paper's scale: 0-200 %, can exceed 100 %)")
    with open(out / "results.csv", newline="") as fh:
        recorded = {r["run"]: r for r in csv.DictReader(fh)}
    header = text[1].split()
    for run, cells in rows.items():
        rec = recorded[run.split("/")[1]]
        for column, key in [("Acc", "accuracy"), ("Hist", "hist_ece_p"), ("NLL", "nll")]:
            value = float(cells[header.index(column)])
            scale = 1.0 if key == "nll" else 100.0
            assert value == pytest.approx(scale * float(rec[key]), abs=6e-3 if scale > 1 else 6e-5)


def test_evaluate_one_run_and_the_holdout_split(run_folder, capsys):
    _, out = run_folder
    seed0 = out / "runs" / "one-hot" / "seed0"
    assert main(["evaluate", str(seed0), "--json"]) == 0
    test_report = json.loads(capsys.readouterr().out)
    assert test_report["n_samples"] == 15
    assert main(["evaluate", str(seed0 / "outputs.npz"), "--split", "holdout", "--json"]) == 0
    holdout = json.loads(capsys.readouterr().out)
    assert holdout["n_samples"] == 6  # 10 % of the 57 training images
    # the post-hoc runs store the test split only: skipped, and said so
    assert main(["evaluate", str(out), "--split", "holdout"]) == 0
    captured = capsys.readouterr()
    assert "2 runs, holdout split" in captured.out
    assert "1 runs store no outputs and labels of the holdout split: runs/ts/seed0" in captured.err
    assert main(["evaluate", str(out / "runs" / "ts" / "seed0"), "--split", "holdout"]) == 2
    assert "no outputs for the split 'holdout' (it stores test" in capsys.readouterr().err


def test_evaluate_folder_errors(run_folder, tmp_path, capsys):
    _, out = run_folder
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "no outputs.npz of simcalib reproduce runs" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--plot", str(tmp_path / "p.png")]) == 2
    assert "--plot draws one run" in capsys.readouterr().err
    # a run written before labels were stored with the outputs
    old = tmp_path / "old"
    old.mkdir()
    np.savez(old / "outputs.npz", logits_test=np.zeros((3, 2)), logits_holdout=np.zeros((2, 2)))
    assert main(["evaluate", str(old)]) == 2
    assert "no labels 'y_test' beside 'logits_test'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def saved_model(run_folder, tmp_path_factory):
    """A calibrated network trained on the photos, saved with save_model."""
    from sklearn.frozen import FrozenEstimator

    from simcalib import (
        CalibratedClassifier,
        SimilarityLSClassifier,
        TemperatureScaling,
        save_model,
    )
    from simcalib.datasets import load_image_folder

    photos, _ = run_folder
    data = load_image_folder(photos, image_size=8, labels="name", cache=False)
    net = SimilarityLSClassifier("small_cnn", module__width=4, max_epochs=2, batch_size=32,
                                 random_state=0, verbose=0, device="cpu")
    net.fit(data.X_train[::2], data.y_train[::2])
    model = CalibratedClassifier(FrozenEstimator(net), TemperatureScaling()).fit(
        data.X_train[1::2], data.y_train[1::2])
    folder = save_model(model, tmp_path_factory.mktemp("model") / "model")
    return folder, model, data


def test_predict_a_folder_to_csv(saved_model, run_folder, tmp_path, capsys):
    folder, model, data = saved_model
    photos, _ = run_folder
    out = tmp_path / "pred.csv"
    assert main(["predict", str(folder), str(photos), "--out", str(out)]) == 0
    assert "wrote calibrated probabilities of 72 images (3 classes)" in capsys.readouterr().out
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["file", "y_pred", "car", "cat", "dog"]
    assert len(rows) == 73 and rows[1][0] == "car/0.png"
    # the same numbers as the model on the same decoded images
    by_file = {f: x for f, x in zip(data.files_train + data.files_test,
                                    np.concatenate([data.X_train, data.X_test]))}
    X = np.stack([by_file[r[0]] for r in rows[1:]])
    probs = model.predict_proba(X)
    got = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    np.testing.assert_allclose(got, probs, rtol=1e-5, atol=1e-6)
    assert [r[1] for r in rows[1:]] == model.classes_[probs.argmax(1)].tolist()


def test_predict_an_array_to_npz(saved_model, tmp_path, capsys):
    folder, model, data = saved_model
    np.save(tmp_path / "X.npy", data.X_test)
    np.savez(tmp_path / "many.npz", X_test=data.X_test, other=data.X_test[:2])
    out = tmp_path / "pred.npz"
    assert main(["predict", str(folder), str(tmp_path / "X.npy"), "-o", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    with np.load(out) as saved:
        np.testing.assert_array_equal(saved["probs"], model.predict_proba(data.X_test))
        assert saved["labels"].tolist() == ["car", "cat", "dog"]
        assert saved["y_pred"].tolist() == model.predict(data.X_test).tolist()
        assert "files" not in saved.files
    assert main(["predict", str(folder), str(tmp_path / "many.npz"), "-o", str(out)]) == 2
    assert "choose one with --key" in capsys.readouterr().err
    assert main(["predict", str(folder), str(tmp_path / "many.npz"), "--key", "other",
                 "-o", str(out), "--quiet"]) == 0
    with np.load(out) as saved:
        assert saved["probs"].shape == (2, 3)


@pytest.mark.parametrize("make, args, message", [
    (None, ["MODEL", "nothing"], "nothing: no such file or folder"),
    (None, ["PHOTOS", "PHOTOS"], "is not a model saved by simcalib.save_model"),
    (None, ["MODEL", "PHOTOS", "--out", "x.txt"], "--out must end in .csv or .npz"),
    ("bad.npy", ["MODEL", "bad.npy"], "not a readable .npy / .npz file"),
    ("wrong.npy", ["MODEL", "wrong.npy"], "wrong.npy: X has images of size 5x5"),
])
def test_predict_user_errors(saved_model, run_folder, tmp_path, capsys, make, args, message):
    folder, _, _ = saved_model
    photos, _ = run_folder
    if make == "bad.npy":
        (tmp_path / make).write_bytes(b"garbage")
    elif make == "wrong.npy":
        np.save(tmp_path / make, np.zeros((2, 3, 5, 5), np.uint8))  # another image size
    subst = {"MODEL": str(folder), "PHOTOS": str(photos)}
    argv = ["predict"] + [subst.get(a, str(tmp_path / a) if a.endswith((".npy", "nothing"))
                                    else a) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simcalib predict: error:") and message in err
    assert len(err.splitlines()) == 1


def test_reproduce_folder_option_errors(tmp_path, capsys):
    base = ["reproduce", "--model", "small", "--epochs", "1", "--quiet", "--methods", "one-hot",
            "--out", str(tmp_path / "o")]
    assert main(base + ["--dataset", "digits", "--image-size", "16"]) == 2
    assert "--image-size is only used with dataset 'folder'" in capsys.readouterr().err
    assert main(base + ["--dataset", "folder", "--data-dir", str(tmp_path),
                        "--image-size", "2"]) == 2
    assert "--image-size must be >= 4" in capsys.readouterr().err
    assert main(base + ["--dataset", "folder", "--data-dir", str(tmp_path)]) == 2
    assert "no class folders in" in capsys.readouterr().err
