"""Bad inputs to every subcommand: one line naming the problem, exit code 2.

Each case is what a user might type or point the command at: missing,
empty, truncated or mislabelled files, files where folders belong, option
values out of range (NaN, infinity, negative, zero), unknown names, and
options that contradict each other. None may end in a traceback, and none
may be silently accepted.
"""

import gzip
import shutil

import numpy as np
import pytest

from simcalib.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(autouse=True)
def restore_threads():
    old = torch.get_num_threads()
    yield
    torch.set_num_threads(old)


@pytest.fixture
def files(tmp_path):
    """A folder of bad (and a few good) input files; returns a path factory."""
    d = tmp_path / "files"
    d.mkdir()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(40, 4))
    y = rng.integers(0, 4, 40)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.savez(d / "good.npz", y_true=y, logits=logits)
    raw = (d / "good.npz").read_bytes()
    (d / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    (d / "empty.npz").write_bytes(b"")
    (d / "text.npz").write_text("hello\n")
    with open(d / "npy.npz", "wb") as fh:
        np.save(fh, logits)
    np.savez(d / "complex.npz", y_true=y, logits=logits.astype(complex))
    np.savez(d / "strlogits.npz", y_true=y, logits=logits.astype(str))
    np.savez(d / "nanprobs.npz", y_true=y, probs=np.where(np.arange(4) == 1, np.nan, probs))
    np.savez(d / "object.npz", y_true=np.array([{"a": 1}] * 40, dtype=object), logits=logits)
    np.savez(d / "oor.npz", y_true=np.where(np.arange(40) == 0, 7, y), logits=logits)
    (d / "nonutf8.csv").write_bytes(b"y_true,a,b\n\xff\xfe,0.5,0.5\n")
    (d / "twoy.csv").write_text("y_true,y_true,b\n0,0.5,0.5\n")
    (d / "ragged.csv").write_text("y_true,a,b\n0,0.5,0.5\n1,0.5\n")
    (d / "preds.txt").write_text("y_true,a,b\n0,0.5,0.5\n")
    (d / "adir").mkdir()
    (d / "afile").write_text("x")
    (d / "vec_nonutf8.txt").write_bytes(b"2 3\nzero 1 0 0\n\xff\xfe 0 1 0\n")
    (d / "vec_empty.txt").write_bytes(b"")
    good_vectors = "".join(f"{w} {i} 0 1\n" for i, w in enumerate(DIGITS)).encode()
    gz = gzip.compress(good_vectors)
    (d / "vec_trunc.txt.gz").write_bytes(gz[:-12])
    (d / "vec_plain.txt.gz").write_bytes(good_vectors)
    (d / "vec_nan.txt").write_text("".join(
        f"{w} {'nan' if w == 'two' else i} 0 1\n" for i, w in enumerate(DIGITS)))
    (d / "vec_nonnum.txt").write_text("zero 1 0 0\none 0 x 0\n")
    (d / "vec_badheader.bin").write_bytes(b"x y\n")
    (d / "vec_few.txt").write_text("3 3\nzero 1 0 0\none 0 1 0\n")
    (d / "cifar_bad").mkdir()
    for name in ("train", "test", "meta"):
        (d / "cifar_bad" / name).write_bytes(b"\x80\x02garbage")
    return lambda name: str(d / name)


def one_line_error(capsys, argv, fragment):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert err and err[-1].startswith(f"simcalib {argv[0]}: error:"), err
    assert fragment in err[-1], err[-1]
    assert not any("starting" in line or "done in" in line for line in err), err
    return err[-1]


# ------------------------------------------------------------------ evaluate
@pytest.mark.parametrize("name, args, fragment", [
    ("nope.npz", [], "nope.npz: no such file"),
    ("adir", [], "adir: no outputs.npz of simcalib reproduce runs"),  # a folder is read as runs
    ("empty.npz", [], "empty.npz: not a readable .npz file"),
    ("text.npz", [], "text.npz: not a readable .npz file"),
    ("trunc.npz", [], "trunc.npz: not a readable .npz file"),
    ("npy.npz", [], "npy.npz: holds a single .npy array"),
    ("complex.npz", [], "complex.npz: 'logits' must hold real numbers"),
    ("strlogits.npz", [], "strlogits.npz: 'logits' must hold real numbers"),
    ("nanprobs.npz", [], "nanprobs.npz: y_prob contains NaN"),
    ("object.npz", [], "object.npz: not a readable .npz file"),
    ("oor.npz", [], "oor.npz:"),
    ("nonutf8.csv", [], "nonutf8.csv: not a readable CSV file"),
    ("twoy.csv", [], "twoy.csv: more than one 'y_true' column"),
    ("ragged.csv", [], "ragged.csv: line 3 has 2 fields"),
    ("preds.txt", [], "unsupported file type '.txt'"),
    ("good.npz", ["--n-bins", "0"], "--n-bins must be between 1 and"),
    ("good.npz", ["--n-bins", "1000000000"], "--n-bins must be between 1 and"),
    ("good.npz", ["--logits"], "--logits applies to CSV files only"),
    ("good.npz", ["--labels", "a", "b", "c", "d"], "--labels must be integers"),
    ("good.npz", ["--plot", "afile/x.png"], "cannot write plot"),
    ("good.npz", ["--plot", "x.unknownformat"], "cannot write plot"),
    ("good.npz", ["--plot", ""], "--plot needs a file name"),
])
def test_evaluate(capsys, files, name, args, fragment):
    args = [files(a) if "/" in a or a.startswith("x.") else a for a in args]
    one_line_error(capsys, ["evaluate", files(name), *args], fragment)


# ---------------------------------------------------------------------- demo
@pytest.mark.parametrize("args, fragment", [
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["--batch-size", "-5"], "--batch-size must be >= 1"),
    (["--lr", "nan"], "--lr must be a finite real number"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--lr", "inf"], "--lr must be a finite real number"),
    (["--alpha", "1.5"], "--alpha must be <= 1"),
    (["--alpha", "nan"], "--alpha must be a finite real number"),
    (["--beta", "-1"], "--beta must be >= 0"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--seed", str(2**40)], "--seed must be <= 4294967295"),
    (["--device", "cuda:99"], "--device="),
    (["--device", "foo"], "--device='foo' is not a valid torch device"),
    (["--threads", "0"], "--threads must be between 1 and the"),
    (["--threads", "1000000"], "--threads must be between 1 and the"),
    (["--word-vectors", "nope.txt"], "nope.txt does not exist"),
    (["--word-vectors", "adir"], "adir is not a file"),
])
def test_demo_options(capsys, tmp_path, files, args, fragment):
    args = [files(a) if a in ("nope.txt", "adir") else a for a in args]
    one_line_error(capsys, ["demo", "--out", str(tmp_path / "o"), *args], fragment)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("out, fragment", [
    ("afile", "is an existing file"),
    ("afile/sub", "cannot be created"),
])
def test_demo_out(capsys, files, out, fragment):
    one_line_error(capsys, ["demo", "--out", files(out)], fragment)


@pytest.mark.parametrize("vectors, fragment", [
    ("vec_nonutf8.txt", "vec_nonutf8.txt' is not UTF-8 text"),
    ("vec_empty.txt", "vec_empty.txt' holds no word vectors"),
    ("vec_trunc.txt.gz", "vec_trunc.txt.gz' is truncated or corrupt"),
    ("vec_plain.txt.gz", "vec_plain.txt.gz' is not a gzip file"),
    ("vec_nan.txt", "word 'two' has NaN or infinite values"),
])
def test_demo_bad_vector_files(capsys, tmp_path, files, vectors, fragment):
    one_line_error(capsys, ["demo", "--epochs", "1", "--out", str(tmp_path / "o"),
                            "--word-vectors", files(vectors)], fragment)


# ----------------------------------------------------------------- reproduce
TINY = ["reproduce", "--dataset", "digits", "--model", "small", "--width", "4",
        "--epochs", "1", "--batch-size", "32", "--max-classes", "3",
        "--max-train-per-class", "20", "--holdout", "0.2", "--threads", "1", "--quiet",
        "--methods", "one-hot", "--no-sweeps", "--no-ood"]


def without(argv, *flags):
    return [a for a in argv if a not in flags]


@pytest.mark.parametrize("args, fragment", [
    (["--model", "resnet999"], "'resnet999' is not a known network"),
    (["--width", "0"], "--width must be >= 1"),
    (["--width", "100000"], "with width 100000 cannot be built"),
    (["--model", "wrn28_10"], "'wrn28_10' does not take these options"),
    (["--lr", "1e39"], "--lr must be <= 3.40"),
    (["--methods", ""], "--methods: methods is empty"),
    (["--methods", "foo"], "unknown method 'foo'"),
    (["--seeds", "0,0"], "--seeds lists a seed twice"),
    (["--seeds", "-1"], "every seed in --seeds must be >= 0"),
    (["--seeds", "1.5"], "--seeds must be comma-separated integers"),
    (["--lr", "nan"], "--lr must be a finite real number"),
    (["--weight-decay", "-1"], "--weight-decay must be >= 0"),
    (["--alpha", "2"], "--alpha must be <= 1"),
    (["--beta", "nan"], "--beta must be a finite real number"),
    (["--mixup-alpha", "0"], "--mixup-alpha must be > 0"),
    (["--holdout", "1"], "--holdout must be < 1"),
    (["--holdout", "nan"], "--holdout must be a finite real number"),
    (["--max-classes", "1"], "--max-classes must be >= 2"),
    (["--max-classes", "1000"], "max_classes must be in [2, 10]"),
    (["--max-train-per-class", "1"], "--max-train-per-class must be >= 2"),
    (["--max-train-per-class", "2", "--holdout", "0.9"], "cannot give every class an image"),
    (["--similarity-samples", "0"], "--similarity-samples must be >= 1"),
    (["--ae-latent-dim", "0"], "--ae-latent-dim must be >= 1"),
    (["--ae-epochs", "0"], "--ae-epochs must be >= 1"),
    (["--device", "cuda:99"], "--device="),
    (["--threads", "0"], "--threads must be between 1 and the"),
    (["--data-dir", "adir"], "--data-dir is not used with dataset 'digits'"),
    (["--sweep-alphas", "0.1"], "--no-sweeps contradicts --sweep-alphas"),
    (["--ood-dataset", "digits"], "--no-ood contradicts --ood-dataset"),
    (["--methods", "we", "--word-vectors", "vec_nonutf8.txt"], "vec_nonutf8.txt' is not UTF-8"),
    (["--methods", "we", "--word-vectors", "vec_trunc.txt.gz"], "is truncated or corrupt"),
    (["--methods", "we", "--word-vectors", "vec_badheader.bin"], "not a word2vec binary file"),
    (["--methods", "we", "--word-vectors", "vec_nonnum.txt"], "line 2: the values of word 'one'"),
    (["--methods", "we", "--word-vectors", "vec_few.txt"], "header announces 3 words"),
    (["--methods", "we", "--word-vectors", "adir"], "adir is not a file"),
])
def test_reproduce_options(capsys, tmp_path, files, args, fragment):
    args = [files(a) if a.startswith(("vec_", "adir")) else a for a in args]
    one_line_error(capsys, TINY + ["--out", str(tmp_path / "o"), *args], fragment)
    assert not (tmp_path / "o").exists()  # a mistyped option never locks a folder


@pytest.mark.parametrize("args, fragment", [
    (["--sweep-alphas", "x"], "--sweep-alphas must be comma-separated numbers"),
    (["--sweep-alphas", "nan", "--methods", "one-hot,l2"], "--sweep-alphas must be a finite"),
    (["--sweep-alphas", "-1"], "--sweep-alphas must be >= 0"),
    (["--sweep-betas", "-1"], "--sweep-betas must be >= 0"),
    (["--sweep-method", "we"], "needs word vectors (--word-vectors"),
])
def test_reproduce_sweep_options(capsys, tmp_path, args, fragment):
    argv = without(TINY, "--no-sweeps") + ["--out", str(tmp_path / "o"), *args]
    one_line_error(capsys, argv, fragment)


@pytest.mark.parametrize("args, fragment", [
    (["--ood-dataset", "cifar100"], "--ood-dataset 'cifar100' needs --ood-data-dir"),
    (["--ood-data-dir", "adir"], "--ood-data-dir is only used with --ood-dataset"),
    (["--ood-dataset", "cifar100", "--ood-data-dir", "adir"], "CIFAR-100 not found in"),
])
def test_reproduce_ood_options(capsys, tmp_path, files, args, fragment):
    args = [files(a) if a == "adir" else a for a in args]
    argv = without(TINY, "--no-ood") + ["--out", str(tmp_path / "o"), *args]
    one_line_error(capsys, argv, fragment)


@pytest.mark.parametrize("dataset, data_dir, fragment", [
    ("cifar100", "adir", "CIFAR-100 not found in"),
    ("cifar100", "cifar_bad", "cannot read CIFAR-100 file"),
    ("cifar100", "nope", "--data-dir:"),
    ("tiny-imagenet", "afile", "is neither a Tiny-ImageNet folder, a zip nor a readable tar"),
    ("tiny-imagenet", "adir", "wrong Tiny-ImageNet layout: no wnids.txt"),
])
def test_reproduce_bad_data(capsys, tmp_path, files, dataset, data_dir, fragment):
    pytest.importorskip("PIL")
    argv = ["reproduce", "--dataset", dataset, "--data-dir", files(data_dir),
            "--methods", "one-hot", "--no-ood", "--no-sweeps", "--out", str(tmp_path / "o")]
    one_line_error(capsys, argv, fragment)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("out, fragment", [
    ("afile", "is an existing file"),
    ("afile/o", "is a file"),
])
def test_reproduce_out_is_a_file(capsys, files, out, fragment):
    one_line_error(capsys, TINY + ["--out", files(out)], fragment)


def test_reproduce_out_is_a_foreign_folder(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    one_line_error(capsys, TINY + ["--out", str(tmp_path)], "is not empty and holds no")
    (tmp_path / "notes.txt").unlink()
    (tmp_path / "runs").write_text("x")
    one_line_error(capsys, TINY + ["--out", str(tmp_path)], "runs is a file")


def test_reproduce_cuda_without_a_gpu(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    one_line_error(capsys, TINY + ["--out", str(tmp_path / "o"), "--device", "cuda"],
                   "--device='cuda' asks for a CUDA GPU, but torch sees none")
    one_line_error(capsys, ["demo", "--out", str(tmp_path / "d"), "--device", "cuda"],
                   "--device='cuda' asks for a CUDA GPU, but torch sees none")


def test_reproduce_corrupt_config_with_other_settings(capsys, tmp_path):
    out = tmp_path / "o"
    assert main(TINY + ["--out", str(out)]) == 0
    (out / "config.json").write_text("{")
    capsys.readouterr()
    one_line_error(capsys, TINY + ["--out", str(out), "--lr", "0.01"],
                   "holds runs made with other settings (lr: 0.002 -> 0.01, in runs/one-hot/seed0)")


def test_diverged_training_is_an_error_not_a_result(capsys, tmp_path):
    out = tmp_path / "o"
    argv = TINY + ["--out", str(out), "--lr", "1e30", "--epochs", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "training of one-hot (seed 0) diverged" in err and "lower --lr" in err
    assert not (out / "runs" / "one-hot" / "seed0" / "result.json").exists()


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["reproduce", "--dataset", "mnist", "--out", "x"])
    assert info.value.code == 2
    assert "invalid choice: 'mnist'" in capsys.readouterr().err


def test_interrupted_reproduce_exits_130_with_one_line(capsys, tmp_path, monkeypatch):
    from skorch.callbacks import Callback

    from simcalib.experiments import _runner

    class CtrlC(Callback):
        def on_epoch_end(self, net, **kwargs):
            raise KeyboardInterrupt

    train = _runner.train
    monkeypatch.setattr(_runner, "train", lambda *args: train(*args[:5], [CtrlC()]))
    out = tmp_path / "o"
    argv = TINY + ["--out", str(out), "--epochs", "2"]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"simcalib reproduce: interrupted; training of one-hot (seed 0) was "
                       f"interrupted in epoch 1 of 2; run the same command again to resume "
                       f"from {out}")
    assert not (out / "runs" / "one-hot" / "seed0" / "result.json").exists()
    monkeypatch.setattr(_runner, "train", train)
    assert main(argv) == 0
    assert "resuming from its checkpoint" in capsys.readouterr().err


def test_interrupted_demo_exits_130(capsys, tmp_path, monkeypatch):
    from simcalib.experiments import _runner

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_runner, "load_experiment_data", ctrl_c)
    assert main(["demo", "--out", str(tmp_path / "d")]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "simcalib demo: interrupted"
    shutil.rmtree(tmp_path / "d", ignore_errors=True)
