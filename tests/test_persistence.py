"""save_model / load_model: networks, calibrators and stacks, loaded in a fresh process."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from simcalib.calibration import (
    CalibratedClassifier,
    DirichletCalibrator,
    EnsembleTemperatureScaling,
    MatrixScaling,
    TemperatureScaling,
    VectorScaling,
)
from simcalib.persistence import MODEL_FILE, load_model, save_model

ROOT = Path(__file__).resolve().parents[1]


def _logits(seed=0, n=300, k=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    return rng.normal(size=(n, k)) * 2 + 3 * np.eye(k)[y], y


def _fresh_process(code, cwd):
    """Run ``code`` in a new interpreter (this checkout first on the path); its stdout."""
    script = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(code)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                          text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("calibrator", [
    TemperatureScaling(), VectorScaling(), MatrixScaling(), DirichletCalibrator(),
    EnsembleTemperatureScaling(),
])
def test_calibrators_round_trip(tmp_path, calibrator):
    Z, y = _logits()
    cal = calibrator.fit(Z, y)
    folder = save_model(cal, tmp_path / "cal")
    manifest = json.loads((folder / MODEL_FILE).read_text())
    assert manifest["networks"] == [] and manifest["model"] == type(cal).__name__
    again = load_model(folder)
    assert type(again) is type(cal)
    np.testing.assert_array_equal(again.predict_proba(Z), cal.predict_proba(Z))


def test_save_refuses_foreign_folders_and_replaces_its_own(tmp_path):
    Z, y = _logits()
    cal = TemperatureScaling().fit(Z, y)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        save_model(cal, tmp_path / "file")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        save_model(cal, tmp_path / "busy")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "keep me"
    save_model(cal, tmp_path / "m")
    other = TemperatureScaling().fit(Z * 3, y)
    save_model(other, tmp_path / "m")  # a model folder is replaced
    assert load_model(tmp_path / "m").temperature_ == pytest.approx(other.temperature_)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "file", "m"]  # no leftovers


def test_load_refuses_damaged_and_foreign_folders(tmp_path):
    Z, y = _logits()
    folder = save_model(TemperatureScaling().fit(Z, y), tmp_path / "m")
    with pytest.raises(ValueError, match="not a model saved"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match="not a folder"):
        load_model(tmp_path / "missing")
    manifest = json.loads((folder / MODEL_FILE).read_text())
    (folder / MODEL_FILE).write_text(json.dumps({**manifest, "estimator": "../elsewhere.pkl"}))
    with pytest.raises(ValueError, match=r"names files without a checksum: \['../elsewhere.pkl'\]"):
        load_model(folder)
    (folder / MODEL_FILE).write_text(json.dumps(manifest))
    pkl = folder / "estimator.pkl"
    pkl.write_bytes(pkl.read_bytes()[:-3])
    with pytest.raises(ValueError, match="estimator.pkl does not match its recorded SHA-256"):
        load_model(folder)
    pkl.unlink()
    with pytest.raises(ValueError, match="estimator.pkl is missing"):
        load_model(folder)
    (folder / MODEL_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="not readable JSON"):
        load_model(folder)


torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.frozen import FrozenEstimator  # noqa: E402

from simcalib.classifier import SimilarityLSClassifier  # noqa: E402
from simcalib.datasets import load_digits_images  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here trains: one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="module")
def digits():
    data = load_digits_images()
    return data, np.array(data.class_names)


def _net(**kwargs):
    params = dict(module="small_cnn", module__width=8, max_epochs=2, batch_size=64,
                  random_state=0, verbose=0, device="cpu")
    params.update(kwargs)
    return SimilarityLSClassifier(**params)


def test_network_round_trip_in_a_fresh_process(tmp_path, digits):
    data, _ = digits
    net = _net().fit(data.X_train[:400], data.y_train[:400])
    folder = save_model(net, tmp_path / "net")
    np.save(tmp_path / "X.npy", data.X_test)
    np.save(tmp_path / "p.npy", net.predict_proba(data.X_test))
    out = _fresh_process("""
        import numpy as np
        from simcalib import load_model
        net = load_model("net")
        p = net.predict_proba(np.load("X.npy"))
        print(np.array_equal(p, np.load("p.npy")), type(net).__name__, net.device_,
              len(net.history_), net.classes_.tolist() == list(range(10)))
    """, tmp_path)
    assert out.split() == ["True", "SimilarityLSClassifier", "cpu", "2", "True"]
    # the weights are a plain state_dict that the safe loader reads
    state = torch.load(folder / "network-0.pt", weights_only=True)
    assert set(state) == set(net.module_.state_dict())
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_calibrated_stack_with_string_labels_in_a_fresh_process(tmp_path, digits):
    data, names = digits
    X, y = data.X_train, names[data.y_train]
    net = _net().fit(X[:500], y[:500])
    model = CalibratedClassifier(FrozenEstimator(net), TemperatureScaling()).fit(
        X[500:900], y[500:900])
    folder = save_model(model, tmp_path / "stack")
    manifest = json.loads((folder / MODEL_FILE).read_text())
    assert len(manifest["networks"]) == 1  # referenced twice, written once
    np.save(tmp_path / "X.npy", data.X_test)
    np.save(tmp_path / "p.npy", model.predict_proba(data.X_test))
    out = _fresh_process("""
        import numpy as np
        from simcalib.persistence import load_model
        model = load_model("stack", device="cpu")
        X = np.load("X.npy")
        p = model.predict_proba(X)
        pairs = model.calibrated_classifiers_
        print(np.array_equal(p, np.load("p.npy")), " ".join(model.classes_[:3]),
              model.predict(X[:2]).tolist() == model.classes_[p[:2].argmax(1)].tolist(),
              pairs[0][0].estimator is model.estimator.estimator)
    """, tmp_path)
    assert out.split() == ["True", "eight", "five", "four", "True", "True"]


def test_loaded_network_keeps_training(tmp_path, digits):
    data, _ = digits
    net = _net(warm_start=True).fit(data.X_train[:300], data.y_train[:300])
    again = load_model(save_model(net, tmp_path / "n"))
    before = {k: v.clone() for k, v in again.module_.state_dict().items()}
    again.partial_fit(data.X_train[:300], data.y_train[:300])
    assert len(again.history_) == 4
    assert any(not torch.equal(before[k], v) for k, v in again.module_.state_dict().items())


def test_gpu_device_saved_loads_on_this_machine(tmp_path, digits):
    """A network whose device parameter this machine lacks loads on the CPU, with a warning."""
    data, _ = digits
    net = _net().fit(data.X_train[:200], data.y_train[:200])
    p = net.predict_proba(data.X_test)
    net.device = "cuda:7"  # as if fitted on a machine with eight GPUs
    folder = save_model(net, tmp_path / "n")
    if torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    with pytest.warns(RuntimeWarning, match="device='cuda:7'.*loading it on the CPU"):
        again = load_model(folder)
    assert again.device == "cpu" and again.device_ == "cpu"
    np.testing.assert_array_equal(again.predict_proba(data.X_test), p)
    with pytest.raises(ValueError, match="cuda:7"):
        load_model(folder, device="cuda:7")


def test_auto_device_stays_auto(tmp_path, digits):
    data, _ = digits
    net = _net(device=None).fit(data.X_train[:200], data.y_train[:200])
    again = load_model(save_model(net, tmp_path / "n"))
    assert again.device is None
    assert again.device_ == ("cuda" if torch.cuda.is_available() else "cpu")


def test_unfitted_network_round_trip(tmp_path):
    net = _net(alpha=0.3)
    again = load_model(save_model(net, tmp_path / "n"))
    assert again.alpha == 0.3 and not getattr(again, "initialized_", False)
    with pytest.raises(Exception, match="not initialized|not fitted"):
        again.predict_proba(np.zeros((1, 1, 8, 8), np.float32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_round_trip(tmp_path, digits):
    """Trained on the GPU, loaded on the CPU (and the reverse) with the same outputs."""
    data, _ = digits
    net = _net(device="cuda").fit(data.X_train[:400], data.y_train[:400])
    p_gpu = net.predict_proba(data.X_test)
    folder = save_model(net, tmp_path / "gpu")
    cpu = load_model(folder, device="cpu")
    assert next(cpu.module_.parameters()).device.type == "cpu"
    np.testing.assert_allclose(cpu.predict_proba(data.X_test), p_gpu, atol=2e-3)
    back = load_model(save_model(cpu, tmp_path / "cpu"), device="cuda")
    assert next(back.module_.parameters()).device.type == "cuda"
    np.testing.assert_allclose(back.predict_proba(data.X_test), p_gpu, atol=2e-3)
