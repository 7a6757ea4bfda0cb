"""Fault injection into ``run_experiment`` output folders.

Every test damages a finished (or interrupted) folder the way a crash, a
full disk, a hand edit or a Ctrl-C would, runs the same experiment again,
and checks that the damage is reported on one line and that the numbers
are then identical to those of a run that was never disturbed (training
is bit-for-bit reproducible on the CPU).
"""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from skorch.callbacks import Callback  # noqa: E402

from simcalib.experiments import ExperimentConfig, run_experiment  # noqa: E402

#: Keys of a record that measure time, not results.
TIMING = ("train_seconds", "fit_seconds", "resumed_epoch")


@pytest.fixture(autouse=True)
def one_thread():
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True)
def no_figures(monkeypatch):
    # Figures are tested elsewhere and take most of a tiny run's time.
    from simcalib.experiments import _report

    monkeypatch.setattr(_report, "_figures", lambda *args: {})


def tiny(**kwargs):
    base = dict(methods=("one-hot", "ts", "l2"), seeds=(0,), epochs=2, batch_size=32,
                max_classes=4, max_train_per_class=30, holdout=0.2, width=4,
                ood=True, n_ood=8, quiet=True)
    base.update(kwargs)
    return ExperimentConfig(**base)


def run(cfg, out, **kwargs):
    lines = []
    res = run_experiment(cfg, out, log=lines.append, **kwargs)
    return res, lines


def numbers(res):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in res.records]


def outputs(out):
    arrays = {}
    for path in sorted((out / "runs").glob("*/seed*/outputs.npz")):
        with np.load(path) as npz:
            for k in npz.files:
                arrays[f"{path.parent.parent.name}/{k}"] = npz[k]
    return arrays


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A folder made by one undisturbed run, and its results."""
    from threadpoolctl import threadpool_limits

    # the same single thread as every test (one_thread is function-scoped and
    # would only start after this module-scoped fixture): with torch's
    # default thread count the float sums differ and nothing compares equal
    out = tmp_path_factory.mktemp("ref") / "out"
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            res, _ = run(tiny(), out)
    finally:
        torch.set_num_threads(old)
    return out, numbers(res), outputs(out)


@pytest.fixture
def copy(reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    return out


def assert_same_as_reference(res, out, reference):
    _, ref_numbers, ref_outputs = reference
    assert numbers(res) == ref_numbers
    got = outputs(out)
    assert sorted(got) == sorted(ref_outputs)
    for key, value in ref_outputs.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


ONE_HOT = "runs/one-hot/seed0"


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_byte(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x55
    path.write_bytes(bytes(raw))


def as_npy(path):
    with open(path, "wb") as fh:
        np.save(fh, np.zeros((3, 3)))


def garbage(path):
    path.write_bytes(b"\xff\xfe not what was written \x00")


def edit_result(change):
    def apply(path):
        result = json.loads(path.read_text())
        change(result)
        path.write_text(json.dumps(result))
    return apply


@pytest.mark.parametrize("name, damage, said", [
    ("outputs.npz", truncate, "outputs.npz has"),
    ("outputs.npz", flip_byte, "does not match its recorded SHA-256"),
    ("outputs.npz", as_npy, "outputs.npz has"),
    ("outputs.npz", lambda p: p.unlink(), "outputs.npz is missing"),
    ("result.json", truncate, "result.json is not valid JSON"),
    ("result.json", garbage, "result.json is not valid JSON"),
    ("result.json", lambda p: p.write_text("[1, 2]"), "not a JSON object"),
    ("result.json", edit_result(lambda r: r.pop("hist_ece_p")), "misses or garbles hist_ece_p"),
    ("result.json", edit_result(lambda r: r.update(nll="x")), "misses or garbles nll"),
    ("result.json", edit_result(lambda r: r["storage"].pop("files")), "checksum of outputs.npz"),
    ("result.json", edit_result(lambda r: r["storage"].update(settings={})),
     "other or incomplete settings"),
])
def test_damaged_training_run_is_reported_and_redone(copy, reference, name, damage, said):
    damage(copy / ONE_HOT / name)
    res, lines = run(tiny(), copy)
    reports = [line for line in lines if line.startswith(ONE_HOT)]
    assert len(reports) == 1 and said in reports[0] and "redoing this run" in reports[0]
    # the network is retrained to the same numbers, so TS is still valid
    assert (res.n_trained, res.n_skipped) == (1, 2)
    assert_same_as_reference(res, copy, reference)


def test_damaged_posthoc_run_is_refitted(copy, reference):
    flip_byte(copy / "runs/ts/seed0/outputs.npz")
    res, lines = run(tiny(), copy)
    assert any(line.startswith("runs/ts/seed0: outputs.npz does not match") for line in lines)
    assert (res.n_trained, res.n_skipped) == (1, 2)
    assert_same_as_reference(res, copy, reference)


def test_posthoc_run_of_an_older_network_is_refitted(copy, reference):
    # The one-hot run changed (as a GPU rerun might): its checksum no longer
    # matches the one TS recorded, so TS is fitted again.
    folder = copy / ONE_HOT
    with np.load(folder / "outputs.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["logits_test"] = arrays["logits_test"] * np.float32(1.5)
    np.savez(folder / "outputs.npz", **arrays)
    raw = (folder / "outputs.npz").read_bytes()
    import hashlib

    edit_result(lambda r: r["storage"]["files"]["outputs.npz"].update(
        size=len(raw), sha256=hashlib.sha256(raw).hexdigest()))(folder / "result.json")
    res, lines = run(tiny(), copy)
    assert any("runs/ts/seed0: fitted on an earlier version of the one-hot network" in line
               for line in lines)
    assert (res.n_trained, res.n_skipped) == (1, 2)
    ts = res.records[1]
    assert ts["method"] == "ts" and ts["nll"] != reference[1][1]["nll"]


@pytest.mark.parametrize("damage", [lambda p: p.unlink(), garbage, truncate,
                                    lambda p: p.write_text('["a list"]')])
def test_config_json_missing_or_damaged_is_rebuilt_from_the_runs(copy, reference, damage):
    damage(copy / "config.json")
    res, lines = run(tiny(), copy)
    assert (res.n_trained, res.n_skipped) == (0, 3)
    assert sum("config.json is" in line for line in lines) == 1
    assert json.loads((copy / "config.json").read_text())["epochs"] == 2
    assert_same_as_reference(res, copy, reference)


@pytest.mark.parametrize("damage", [lambda p: p.unlink(), garbage])
@pytest.mark.parametrize("change, diff", [
    ({"epochs": 3}, "epochs: 2 -> 3"),
    ({"alpha": 0.2}, "alpha: 0.1 -> 0.2"),
    ({"width": 8}, "width: 4 -> 8"),
    ({"max_train_per_class": 20}, "data: "),
])
def test_other_settings_are_refused_without_config_json(copy, damage, change, diff):
    damage(copy / "config.json")
    before = sorted(p.relative_to(copy) for p in copy.rglob("*"))
    with pytest.raises(ValueError, match="holds runs made with other settings") as info:
        run(tiny(**change), copy)
    assert diff in str(info.value) and "in runs/" in str(info.value)
    # nothing was written: not even config.json
    assert sorted(p.relative_to(copy) for p in copy.rglob("*")) == before


def test_settings_that_do_not_change_numbers_are_free(copy, reference):
    # more seeds, other device spelling, quiet: the finished runs are reused
    res, _ = run(tiny(device="cpu", seeds=(0,), methods=("one-hot", "ts", "l2", "uniform")), copy)
    assert (res.n_trained, res.n_skipped) == (1, 3)


def test_turning_ood_on_computes_what_is_missing(tmp_path, reference):
    out = tmp_path / "out"
    run(tiny(ood=False), out)
    res, lines = run(tiny(), out)
    assert sum("no stored outputs for the OOD inputs" in line for line in lines) == 3
    assert (res.n_trained, res.n_skipped) == (3, 0)
    assert_same_as_reference(res, out, reference)
    # and with other OOD inputs (another n_ood), they are computed again
    res, lines = run(tiny(n_ood=5), out)
    assert (res.n_trained, res.n_skipped) == (3, 0)
    with np.load(out / ONE_HOT / "outputs.npz") as npz:
        assert npz["logits_ood0"].shape == (5, 4)


def test_turning_ood_off_reuses_everything(copy):
    res, _ = run(tiny(ood=False), copy)
    assert (res.n_trained, res.n_skipped) == (0, 3)
    assert "out-of-distribution" not in (copy / "results.md").read_text()


class Interrupt(Callback):
    """Ctrl-C at a chosen moment: ``on_epoch_end`` of an epoch, or a batch of it."""

    def __init__(self, epoch, batch=None):
        self.epoch, self.batch = epoch, batch

    def initialize(self):
        self.batches_ = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.batch is not None and len(net.history) == self.epoch:
            self.batches_ += 1
            if self.batches_ == self.batch:
                raise KeyboardInterrupt

    def on_epoch_end(self, net, **kwargs):
        if self.batch is None and len(net.history) == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("epoch, batch", [
    (1, None),  # after the first epoch's checkpoint
    (2, None),  # after the last epoch's checkpoint, before the run was stored
    (2, 1),     # inside the last epoch: its history row exists, the epoch did not end
    (1, 1),     # inside the first epoch: nothing saved yet
])
def test_interrupted_training_is_never_stored_and_resumes(tmp_path, reference, epoch, batch):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt, match="was interrupted in epoch"):
        run(tiny(), out, callbacks=[Interrupt(epoch, batch)])
    assert not (out / ONE_HOT / "result.json").exists()
    res, lines = run(tiny(), out)
    resumed = batch is None or epoch > 1
    assert any("resuming from its checkpoint" in line for line in lines) == resumed
    assert_same_as_reference(res, out, reference)


@pytest.mark.parametrize("damage, said", [
    (truncate, "checkpoint.pt: damaged, it does not load"),
    (garbage, "checkpoint.pt: damaged, it does not load"),
    (lambda p: torch.save({"epoch": 7}, p), "checkpoint.pt: damaged, it lacks"),
])
def test_damaged_checkpoint_is_reported_and_training_restarts(tmp_path, reference, damage, said):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(tiny(), out, callbacks=[Interrupt(1)])
    damage(out / ONE_HOT / "checkpoint.pt")
    res, lines = run(tiny(), out)
    reports = [line for line in lines if "checkpoint.pt" in line]
    assert len(reports) == 1 and said in reports[0] and "from the start" in reports[0]
    assert_same_as_reference(res, out, reference)


def test_checkpoint_without_settings_and_config_is_not_trusted(tmp_path, reference):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(tiny(), out, callbacks=[Interrupt(1)])
    (out / ONE_HOT / "settings.json").unlink()
    (out / "config.json").unlink()
    res, lines = run(tiny(), out)
    assert any("no settings.json ties it to these settings" in line for line in lines)
    assert_same_as_reference(res, out, reference)


def test_interrupted_then_damaged_again_then_resumed(tmp_path, reference):
    """Several faults in a row, each survived."""
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run(tiny(), out, callbacks=[Interrupt(1)])
    (out / "config.json").write_text("{")
    with pytest.raises(KeyboardInterrupt):
        run(tiny(), out, callbacks=[Interrupt(2, 1)])
    res, _ = run(tiny(), out)
    truncate(out / "runs/l2-a0.1-b2/seed0/outputs.npz")
    (out / "config.json").unlink()
    res, _ = run(tiny(), out)
    assert_same_as_reference(res, out, reference)


def test_a_bad_option_does_not_lock_the_folder(tmp_path, reference):
    out = tmp_path / "out"
    for bad in ({"model": "resnet999"}, {"lr": float("nan")}, {"device": "bogus"}):
        with pytest.raises(ValueError):
            run(tiny(**bad), out)
        assert not out.exists()
    res, _ = run(tiny(), out)
    assert_same_as_reference(res, out, reference)


def test_runs_of_an_earlier_version_are_adopted_when_config_json_matches(copy, reference):
    # what simcalib wrote before runs stored their settings
    for result in copy.glob("runs/*/seed*/result.json"):
        edit_result(lambda r: r.pop("storage"))(result)
    for settings in copy.glob("runs/*/seed*/settings.json"):
        settings.unlink()
    res, lines = run(tiny(), copy)
    assert (res.n_trained, res.n_skipped) == (0, 3)
    assert sum("written by an earlier simcalib" in line for line in lines) == 3
    assert_same_as_reference(res, copy, reference)
    res, lines = run(tiny(), copy)  # now stored with their settings
    assert not any("earlier simcalib" in line for line in lines)


def test_runs_of_an_earlier_version_are_refused_without_config_json(copy):
    for result in copy.glob("runs/*/seed*/result.json"):
        edit_result(lambda r: r.pop("storage"))(result)
    for settings in copy.glob("runs/*/seed*/settings.json"):
        settings.unlink()
    (copy / "config.json").unlink()
    with pytest.raises(ValueError, match="without its settings, and config.json is missing"):
        run(tiny(), copy)


def test_other_word_vectors_are_refused(tmp_path):
    names = ["zero", "one", "two", "three"]
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("".join(f"{w} {i} 1 0\n" for i, w in enumerate(names)))
    b.write_text("".join(f"{w} 1 {i} 0\n" for i, w in enumerate(names)))
    cfg = dict(methods=("we",), epochs=1, ood=False)
    run(tiny(word_vectors=str(a), **cfg), tmp_path / "out")
    moved = tmp_path / "moved" / "a.txt"
    moved.parent.mkdir()
    shutil.copy(a, moved)  # the same vectors elsewhere are the same vectors
    res, _ = run(tiny(word_vectors=str(moved), **cfg), tmp_path / "out")
    assert res.n_skipped == 1
    with pytest.raises(ValueError, match=r"word_vectors: .*in runs/we-a0.1-b2/seed0"):
        run(tiny(word_vectors=str(b), **cfg), tmp_path / "out")


def test_stale_temporary_files_are_ignored(copy, reference):
    (copy / ONE_HOT / ".outputs.npz.abc.tmp").write_bytes(b"half")
    (copy / ONE_HOT / "checkpoint.pt.tmp").write_bytes(b"half")
    res, _ = run(tiny(), copy)
    assert (res.n_trained, res.n_skipped) == (0, 3)
    assert_same_as_reference(res, copy, reference)
