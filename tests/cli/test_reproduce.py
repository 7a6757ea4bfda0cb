"""Tests of ``simcalib reproduce`` on tiny digits runs."""

import csv

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from simcalib.cli import main  # noqa: E402

TINY = ["reproduce", "--dataset", "digits", "--model", "small", "--width", "4",
        "--epochs", "1", "--batch-size", "32", "--max-classes", "3",
        "--max-train-per-class", "25", "--holdout", "0.2", "--threads", "1", "--quiet"]


@pytest.fixture(autouse=True)
def restore_threads():
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


def test_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "out"
    argv = TINY + ["--methods", "one-hot,l2", "--seeds", "0,1", "--out", str(out),
                   "--sweep-alphas", "0.2", "--sweep-betas", ""]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "One-hot" in captured.out and "L2" in captured.out and "±" in captured.out
    assert "6 runs computed, 0 found finished" in captured.out  # 4 main + 2 sweep
    assert "[1/6]" in captured.err  # progress
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["method"], r["seed"]) for r in rows) == [
        ("l2", "0"), ("l2", "1"), ("one-hot", "0"), ("one-hot", "1")]
    md = (out / "results.md").read_text()
    assert "simcalib reproduce --dataset digits" in md and "--seeds 0,1" in md
    for name in ("fig1_reliability.png", "fig2_sweeps.png", "fig3_ood.png"):
        assert (out / name).stat().st_size > 1000

    assert main(argv) == 0
    assert "0 runs computed, 6 found finished" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--dataset", "cifar100"], "--data-dir is required"),
    (["--methods", "one-hot,foo"], "unknown method 'foo'"),
    (["--methods", "we"], "needs word vectors (--word-vectors"),
    (["--seeds", "0,x"], "--seeds must be comma-separated integers"),
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["--data-dir", "/nonexistent/x", "--dataset", "tiny-imagenet"], "/nonexistent/x does not exist"),
])
def test_user_errors_are_one_line_exit_2(tmp_path, capsys, extra, message):
    argv = TINY + ["--methods", "one-hot", "--out", str(tmp_path / "o")] + extra
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("simcalib reproduce: error:") and message in err
    assert len(err.splitlines()) == 1


def test_changed_settings_in_same_out_folder(tmp_path, capsys):
    out = str(tmp_path / "o")
    base = TINY + ["--methods", "one-hot", "--out", out, "--no-sweeps", "--no-ood"]
    assert main(base) == 0
    assert main(base[:] + ["--alpha", "0.3"]) == 2
    assert "other settings (alpha: 0.1 -> 0.3)" in capsys.readouterr().err


def test_written_command_has_no_absolute_path(tmp_path, monkeypatch):
    # results.md must be rerunnable elsewhere: data paths relative to where
    # the command ran, an output folder outside it by its name alone
    from simcalib.cli import build_parser
    from simcalib.cli._reproduce import command_line

    repo, shared, scratch = tmp_path / "repo", tmp_path / "shared" / "data", tmp_path / "scratch"
    for folder in (repo, shared, scratch):
        folder.mkdir(parents=True)
    monkeypatch.chdir(repo)
    args = build_parser().parse_args(
        ["reproduce", "--dataset", "tiny-imagenet", "--data-dir", str(shared / "ti.tar.xz"),
         "--word-vectors", str(shared / "glove.txt"), "--out", str(scratch / "ti_run"),
         "--ood-data-dir", "relative/as/typed"])
    command = command_line(args, "reproduce")
    assert str(tmp_path) not in command
    assert "--data-dir ../shared/data/ti.tar.xz" in command
    assert "--word-vectors ../shared/data/glove.txt" in command
    assert "--out ti_run" in command and "--ood-data-dir relative/as/typed" in command
    inside = build_parser().parse_args(
        ["reproduce", "--dataset", "digits", "--out", str(repo / "runs" / "d")])
    assert "--out runs/d" in command_line(inside, "reproduce")
