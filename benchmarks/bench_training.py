"""Training throughput: SimilarityLSClassifier's engine vs plain skorch, one run.

Trains the same network for ``--epochs`` epochs twice and reports training
images per second of each epoch:

* ``simcalib``: :class:`simcalib.classifier.SimilarityLSClassifier` (soft
  targets, images kept on the device as uint8, on-device random crop + flip,
  bf16 autocast and channels-last on CUDA, optional ``torch.compile``,
  one-cycle schedule, ``--batch-size``);
* ``skorch``: plain :class:`skorch.NeuralNetClassifier` with its defaults
  (fp32, batch 128, ``DataLoader`` over a float32 numpy array, no
  augmentation), ``criterion=CrossEntropyLoss`` and ``train_split=None`` so
  that both count training images only.

The first epoch includes warm-up (cuDNN autotuning, compilation); the last
epoch is the steady-state figure. Data: Tiny-ImageNet-32 (100000 images,
200 classes) from ``../shared/data/tinyimagenet`` through
:func:`simcalib.datasets.load_tiny_imagenet` when available, else random
uint8 images of the same shape (flagged in the output), or ``--data-x`` /
``--data-y`` .npy files.

Examples::

    # GPU, the full benchmark (ResNet-18, 100k images)
    python benchmarks/bench_training.py
    # CPU, small network and subset
    python benchmarks/bench_training.py --model small_cnn --n-samples 4096

The table goes to ``docs/benchmarks/training.txt`` (``--out``), headed by the
command and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simcalib.classifier import SimilarityLSClassifier  # noqa: E402
from simcalib.nn import build_network, resolve_device  # noqa: E402

DEFAULT_ROOT = ROOT.parent / "shared" / "data" / "tinyimagenet" / "tiny-imagenet-200-32px.tar.xz"


def _shown_path(path):
    """``path`` relative to the repository when it lies beside it (``../shared/...``).

    The report is committed: a machine's absolute paths would not let a
    reader rerun the command.
    """
    path = Path(path).resolve()
    try:
        return os.path.relpath(path, ROOT) if path.is_relative_to(ROOT.parent) else str(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def load_data(args):
    """Return (X uint8 (n, 3, 32, 32), y int64, description)."""
    if args.data_x:
        X, y = np.load(args.data_x), np.load(args.data_y)
        desc = f"npy files {_shown_path(args.data_x)}, {_shown_path(args.data_y)}"
    else:
        X = y = None
        if not args.random_data:
            try:
                from simcalib.datasets import load_tiny_imagenet

                data = load_tiny_imagenet(args.root)
                X, y = data.X_train, data.y_train
                desc = f"Tiny-ImageNet train split from {_shown_path(args.root)}"
            except (ImportError, OSError, ValueError) as exc:
                print(f"Tiny-ImageNet not loaded ({exc}); using random data", file=sys.stderr)
        if X is None:
            n = args.n_samples or 100_000
            rng = np.random.default_rng(0)
            X = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
            y = rng.integers(0, 200, size=n)
            desc = "RANDOM uint8 images of Tiny-ImageNet-32's shape (real data not available)"
    if args.n_samples:
        # a random subset keeps every class (the archive is ordered by class)
        keep = np.random.default_rng(0).permutation(len(y))[: args.n_samples]
        X, y = X[np.sort(keep)], y[np.sort(keep)]
    return np.ascontiguousarray(X), np.asarray(y, dtype=np.int64), desc


def machine_info(device):
    lines = [
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"{platform.platform()}",
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
        f"torch threads {torch.get_num_threads()}",
    ]
    if device.startswith("cuda"):
        lines.append(f"GPU: {torch.cuda.get_device_name(0)}")
    return lines


def _epoch_rates(net, n):
    return [n / row["dur"] for row in net.history]


def run_simcalib(args, X, y, device, n_classes):
    net = SimilarityLSClassifier(
        args.model,
        similarity="uniform",  # soft targets through the same gather as class similarity
        alpha=0.1,
        augment="crop_flip",
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        optimizer__nesterov=True,
        optimizer__weight_decay=5e-4,
        lr=0.1,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        compile=args.compile,
        device=device,
        random_state=0,
        verbose=0,
    )
    net.fit(X, y)
    return _epoch_rates(net, len(X))


def run_plain_skorch(args, X, y, device, n_classes):
    from skorch import NeuralNetClassifier

    # skorch's defaults: fp32, batch 128, DataLoader over numpy, SGD
    X_float = X.astype(np.float32) / 255.0
    torch.manual_seed(0)
    net = NeuralNetClassifier(
        build_network(args.model, X.shape[1], n_classes),
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=args.epochs,
        train_split=None,
        device=device,
        verbose=0,
    )
    net.fit(X_float, y)
    return _epoch_rates(net, len(X))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet18", help="simcalib.nn network name")
    parser.add_argument("--n-samples", type=int, default=None, help="use the first N images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="simcalib batch size (default 512 on GPU, 128 on CPU)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the module")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--root", default=str(DEFAULT_ROOT), help="Tiny-ImageNet source")
    parser.add_argument("--random-data", action="store_true", help="skip loading real data")
    parser.add_argument("--data-x", help="uint8 images (n, 3, H, W) as .npy")
    parser.add_argument("--data-y", help="labels (n,) as .npy")
    parser.add_argument("--skip-plain", action="store_true", help="only time simcalib")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "training.txt"))
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.batch_size is None:
        args.batch_size = 512 if device.startswith("cuda") else 128
    X, y, desc = load_data(args)
    n_classes = int(y.max()) + 1

    # untimed warm-up of both paths on a few batches (thread pools, allocator,
    # cuDNN/oneDNN kernel choice), so that running first is no handicap
    warm = argparse.Namespace(**{**vars(args), "epochs": 1})
    n_warm = min(len(X), 4 * args.batch_size)
    run_simcalib(warm, X[:n_warm], y[:n_warm], device, n_classes)
    if not args.skip_plain:
        run_plain_skorch(warm, X[:n_warm], y[:n_warm], device, n_classes)

    def timed(fn):
        # process CPU time as well as wall time: on a shared CPU machine the
        # wall-clock figures move with other users' load, CPU time much less
        start = time.process_time()
        rates = fn(args, X, y, device, n_classes)
        return rates, len(X) * args.epochs / (time.process_time() - start)

    rows = [("simcalib", args.batch_size, *timed(run_simcalib))]
    if not args.skip_plain:
        rows.append(("plain skorch", 128, *timed(run_plain_skorch)))

    command = "python benchmarks/" + Path(__file__).name + " " + " ".join(
        sys.argv[1:] if argv is None else argv)
    on_cpu = not device.startswith("cuda")
    lines = [
        "# Training throughput: SimilarityLSClassifier vs plain skorch NeuralNetClassifier",
        f"# command: {command.strip()}",
        f"# date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        *[f"# {line}" for line in machine_info(device)],
        f"# device: {device}; model: {args.model}; data: {desc}; "
        f"{len(X)} images x {X.shape[1:]} , {n_classes} classes",
        "",
        f"{'engine':<14}{'batch':>7}" + "".join(
            f"{'epoch ' + str(i + 1) + ' img/s':>18}" for i in range(args.epochs))
        + (f"{'img/s per CPU-s':>18}" if on_cpu else ""),
    ]
    for name, bs, rates, cpu_rate in rows:
        lines.append(f"{name:<14}{bs:>7}" + "".join(f"{r:>18.0f}" for r in rates)
                     + (f"{cpu_rate:>18.0f}" if on_cpu else ""))
    if len(rows) == 2:
        lines.append("")
        lines.append(f"speed-up, last epoch (wall clock): {rows[0][2][-1] / rows[1][2][-1]:.2f}x")
        if on_cpu:
            lines.append(f"speed-up, CPU time: {rows[0][3] / rows[1][3]:.2f}x")
    lines.append("")
    lines.append("img/s = training images / epoch wall time (skorch history 'dur'); the first "
                 "epoch includes warm-up.")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
