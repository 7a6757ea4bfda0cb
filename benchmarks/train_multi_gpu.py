"""Data-parallel training of SimilarityLSClassifier on several GPUs with accelerate.

Each process holds the images on its own GPU and trains on a disjoint shard
of every epoch (skorch's ``AccelerateMixin`` wraps the module in
DistributedDataParallel); the same script runs as a single process on one
GPU or on the CPU. It prints the training throughput and the held-out
accuracy and ECE of the main process's model.

Run it::

    # 4 GPUs on one machine
    accelerate launch --multi_gpu --num_processes 4 benchmarks/train_multi_gpu.py \\
        --model resnet18 --epochs 2
    # one process (GPU if present, else CPU), tiny
    python benchmarks/train_multi_gpu.py --model small_cnn --n-samples 2048 --epochs 1

Data: Tiny-ImageNet-32 through :func:`simcalib.datasets.load_tiny_imagenet`
when available, else random uint8 images (flagged), else digits
(``--digits``, 1x8x8, 10 classes, for a quick check that learning happens).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simcalib.classifier.accelerate import AccelerateSimilarityLSClassifier  # noqa: E402

DEFAULT_ROOT = ROOT.parent / "shared" / "data" / "tinyimagenet" / "tiny-imagenet-200-32px.tar.xz"


def load(args):
    """Return X_train, y_train, X_test, y_test, description."""
    if args.digits:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X = (X.reshape(-1, 1, 8, 8) * (255 / 16)).astype(np.uint8)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=0,
                                                  stratify=y)
        return X_tr, y_tr, X_te, y_te, "scikit-learn digits"
    try:
        from simcalib.datasets import load_tiny_imagenet

        d = load_tiny_imagenet(args.root)
        X_tr, y_tr, X_te, y_te = d.X_train, d.y_train, d.X_test, d.y_test
        desc = "Tiny-ImageNet-32"
    except (ImportError, OSError, ValueError) as exc:
        print(f"Tiny-ImageNet not loaded ({exc}); using random data", file=sys.stderr)
        rng = np.random.default_rng(0)
        n = args.n_samples or 100_000
        X_tr = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        y_tr = rng.integers(0, 200, size=n)
        X_te, y_te = X_tr[:1000], y_tr[:1000]
        desc = "RANDOM images (Tiny-ImageNet not available)"
    if args.n_samples:
        X_tr, y_tr = X_tr[: args.n_samples], y_tr[: args.n_samples]
    return np.ascontiguousarray(X_tr), y_tr, np.ascontiguousarray(X_te), y_te, desc


def main(argv=None):
    from accelerate import Accelerator

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256, help="per process")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--digits", action="store_true", help="train on sklearn digits")
    parser.add_argument("--root", default=str(DEFAULT_ROOT))
    parser.add_argument("--cpu", action="store_true", help="force the CPU")
    args = parser.parse_args(argv)

    # mixed precision is the classifier's own bf16 autocast (amp="auto")
    accelerator = Accelerator(cpu=args.cpu, mixed_precision="no")
    X_tr, y_tr, X_te, y_te, desc = load(args)
    clf = AccelerateSimilarityLSClassifier(
        args.model,
        accelerator=accelerator,
        similarity="uniform" if not args.digits else None,
        alpha=args.alpha,
        augment="crop_flip" if not args.digits else None,
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        optimizer__nesterov=True,
        optimizer__weight_decay=5e-4,
        lr=args.lr,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        random_state=0,
        verbose=int(accelerator.is_main_process),
    )
    start = time.perf_counter()
    clf.fit(X_tr, y_tr)
    elapsed = time.perf_counter() - start
    if accelerator.is_main_process:
        from simcalib.metrics import expected_calibration_error

        proba = clf.predict_proba(X_te)
        acc = float(np.mean(clf.classes_[proba.argmax(1)] == y_te))
        ece = expected_calibration_error(y_te, proba, labels=clf.classes_)
        rates = [len(X_tr) / row["dur"] for row in clf.history]
        print(
            f"data: {desc}; processes: {accelerator.num_processes}; "
            f"device: {accelerator.device}; model: {args.model}\n"
            f"train images/s per epoch (all processes): {[round(r) for r in rates]}; "
            f"total {elapsed:.1f} s\n"
            f"held-out accuracy {acc:.3f}, ECE {ece:.3f}"
        )
    accelerator.wait_for_everyone()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
