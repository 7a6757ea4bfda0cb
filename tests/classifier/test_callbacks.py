import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skorch.callbacks import Callback  # noqa: E402
from skorch.dataset import ValidSplit  # noqa: E402

from simcalib.classifier import (  # noqa: E402
    EarlyStopping,
    EpochECE,
    LRSchedule,
    ProgressBar,
    TrainingCheckpoint,
)
from simcalib.exceptions import TrainingInterruptedWarning  # noqa: E402
from simcalib.metrics import expected_calibration_error  # noqa: E402


class _StopAfter(Callback):
    """Simulate an interruption (Ctrl-C) after ``epoch`` epochs."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


# everything random at once: shuffling, crop/flip, mixup, dropout (WRN), schedule
RUN = dict(
    module="wrn10_1", module__dropout=0.2, similarity="uniform", augment="crop_flip",
    mixup_alpha=0.3, lr_schedule="onecycle", max_epochs=4, batch_size=50,
    train_split=ValidSplit(4, stratified=True),
)


def test_resume_finishes_with_the_uninterrupted_weights(digits, tmp_path, tiny):
    X, y = digits[0][:250], digits[1][:250]
    full = tiny(**RUN).fit(X, y)

    ckpt = dict(dirname=tmp_path, f_name="run.pt")
    cut = tiny(**RUN, callbacks=[("ckpt", TrainingCheckpoint(**ckpt)), ("stop", _StopAfter(2))])
    with pytest.warns(TrainingInterruptedWarning, match="after 2 of 4 epochs"):
        cut.fit(X, y)
    assert cut.interrupted_ and cut.completed_epochs_ == 2
    assert len(cut.history) == 2 and (tmp_path / "run.pt").is_file()

    resumed = tiny(**RUN, callbacks=[("ckpt", TrainingCheckpoint(**ckpt, resume=True))])
    resumed.fit(X, y)
    assert resumed.callbacks_[-2][1].resumed_epoch_ == 2
    assert not resumed.interrupted_ and resumed.completed_epochs_ == 2
    assert len(resumed.history) == 4
    for (k, v), w in zip(full.module_.state_dict().items(), resumed.module_.state_dict().values()):
        assert torch.equal(v, w), k
    np.testing.assert_array_equal(resumed.history[:, "train_loss"], full.history[:, "train_loss"])
    # without restoring the generators the run diverges: the test can fail
    with pytest.warns(TrainingInterruptedWarning):
        fresh = tiny(**RUN, callbacks=[("stop", _StopAfter(2))]).fit(X, y)
    fresh.set_params(max_epochs=2)
    fresh.partial_fit(X, y)
    assert not torch.equal(fresh.module_.fc.weight, full.module_.fc.weight)


def test_epoch_ece_records_the_held_out_ece(digits, tiny):
    X, y = digits[0][:400], digits[1][:400]
    split = ValidSplit(4, stratified=True)
    clf = tiny(similarity="uniform", max_epochs=2, train_split=split,
               callbacks=[EpochECE()]).fit(X, y)
    _, valid = split(np.arange(len(y)), y)
    idx = np.asarray(valid.indices)
    want = expected_calibration_error(y[idx], clf.predict_proba(X[idx]), n_bins=15)
    np.testing.assert_allclose(clf.history[-1, "valid_ece"], want, rtol=1e-6)
    assert 0 <= clf.history[0, "valid_ece"] <= 1


def test_early_stopping_stops(digits, tiny):
    X, y = digits[0][:200], digits[1][:200]
    clf = tiny(similarity="uniform", max_epochs=30, train_split=ValidSplit(4, stratified=True),
               lr=1e-9, lr_schedule=None,
               callbacks=[EarlyStopping(monitor="valid_loss", patience=2, threshold=1e-3)])
    clf.fit(X, y)  # no TrainingInterruptedWarning: warnings are errors here
    assert len(clf.history) < 30
    assert not clf.interrupted_ and clf.completed_epochs_ == len(clf.history)


@pytest.mark.parametrize("kind", ["onecycle", "cosine"])
def test_lr_schedule_shape(digits, kind, tiny):
    X, y = digits[0][:256], digits[1][:256]
    clf = tiny(similarity="uniform", lr=0.01, max_epochs=4, lr_schedule=kind).fit(X, y)
    lrs = np.array([b["lr"] for epoch in clf.history for b in epoch["batches"]])
    assert len(lrs) == 4 * 4
    sched = LRSchedule(kind).initialize()
    expected = [sched.rate(t / 16, 0.01) for t in range(16)]
    np.testing.assert_allclose(lrs, expected)
    assert lrs.max() <= 0.01 + 1e-12 and lrs[-1] < 0.01 / 10
    if kind == "onecycle":
        assert lrs[0] == pytest.approx(0.01 / 25) and lrs.argmax() in (3, 4)
    else:
        assert lrs[0] == pytest.approx(0.01) and np.all(np.diff(lrs) < 0)


def test_progress_bar_shows_the_batches(digits, capsys, tiny):
    X, y = digits[0][:128], digits[1][:128]
    clf = tiny(similarity="uniform", max_epochs=1, batch_size=32, callbacks=[ProgressBar()])
    clf.fit(X, y)
    err = capsys.readouterr().err
    # tqdm's bar on stderr, sized from the length of our batch iterator
    assert "0/4 [" in err and "it/s" in err, err[-500:]


def test_checkpoint_every_is_validated(digits, tiny):
    with pytest.raises(ValueError, match="every"):
        tiny(callbacks=[TrainingCheckpoint("x", every=0)]).fit(digits[0][:50], digits[1][:50])
