"""Time the exact class distances of PixelDistanceSimilarity.

Cases (``--cases``):

* ``cifar``: 10000 images of 3x32x32 in 100 classes (goal: L2 in <= 30 s on
  2 CPU cores). CIFAR-100 pixels are not available offline, so the images are
  random uint8 values; the cost does not depend on the pixel values
  (``n^2 d`` multiply-adds, no data-dependent branch).
* ``tiny``: the full Tiny-ImageNet-32 training set (100000 images of
  3x32x32, 200 classes) from ``--tiny-imagenet`` (the ``.tar.xz`` archive or
  an extracted folder), or random uint8 data of the same shape with
  ``--random-tiny``.

Each case runs with every ``--metrics`` on every ``--devices`` (``cpu``,
``numpy``, ``cuda``; ``cuda`` is skipped without a GPU). The exact result is
checked once per case: on a random subset of 600 images the blocked torch
result must equal a plain numpy computation to 1e-9 (relative).

The table is written to ``docs/benchmarks/similarity.txt`` (``--out``) with
the command and machine information at the top. Run from the repository
root::

    PYTHONPATH=. python benchmarks/bench_similarity.py --cases cifar
    PYTHONPATH=. python benchmarks/bench_similarity.py --cases cifar tiny \\
        --tiny-imagenet ../shared/data/tinyimagenet/tiny-imagenet-200-32px.tar.xz
    PYTHONPATH=. python benchmarks/bench_similarity.py --cases tiny --random-tiny \\
        --metrics l1 l2 --devices cuda --append
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import shlex
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

from simcalib.similarity import PixelDistanceSimilarity

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TINY = (
    ROOT.parent / "shared" / "data" / "tinyimagenet" / "tiny-imagenet-200-32px.tar.xz"
)


def random_images(n, n_classes, shape=(3, 32, 32), seed=0):
    """Balanced labels and random uint8 images."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8), y


def load_tiny_train(path):
    """Tiny-ImageNet training images (uint8, NCHW) and labels (wnids.txt order)."""
    try:  # the project's loader, when the datasets subpackage is there
        from simcalib.datasets import load_tiny_imagenet
    except ImportError:
        return _read_tiny_train(path)
    data = load_tiny_imagenet(path, cache=False)
    return np.asarray(data.X_train), np.asarray(data.y_train)


def _read_tiny_train(path):
    """A tiny fallback reader: decode train/<wnid>/images/*.JPEG with Pillow."""
    from PIL import Image

    path = Path(path)
    images, wnid_of = [], []

    def add(name, data):
        parts = name.split("/")
        if (
            len(parts) >= 4
            and parts[-4] == "train"
            and parts[-2] == "images"
            and name.endswith(".JPEG")
        ):
            img = Image.open(io.BytesIO(data)).convert("RGB")
            images.append(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))
            wnid_of.append(parts[-3])

    if path.is_dir():
        for f in sorted(path.rglob("*.JPEG")):
            add(f.as_posix(), f.read_bytes())
    else:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".JPEG"):
                    add(member.name, tar.extractfile(member).read())
    wnids = sorted(set(wnid_of))
    index = {w: i for i, w in enumerate(wnids)}
    return np.stack(images), np.array([index[w] for w in wnid_of])


def check_exact(X, y, metric, device, rng):
    """Blocked result on a subset == a plain numpy computation, one row at a time."""
    idx = rng.choice(len(X), size=min(600, len(X)), replace=False)
    Xs, ys = X[idx], y[idx]
    got = PixelDistanceSimilarity(metric, device=device, batch_size=128).fit(Xs, ys)
    F = Xs.reshape(len(Xs), -1).astype(np.float64)
    p = 2 if metric == "l2" else 1
    # one row of the full distance matrix at a time keeps the check small
    D = np.stack([np.linalg.norm(F - f, ord=p, axis=1) for f in F])
    classes, inv = np.unique(ys, return_inverse=True)
    onehot = np.eye(len(classes))[inv]
    mean = onehot.T @ D @ onehot / np.outer(onehot.sum(0), onehot.sum(0))
    off = ~np.eye(len(classes), dtype=bool)
    return float(np.max(np.abs(got.distances_[off] - mean[off]) / mean[off]))


def machine_info():
    import scipy
    import sklearn

    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}",
        f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} logical CPUs",
    ]
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        lines.append(f"cpu: {cpu}")
    except (OSError, StopIteration):
        pass
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
        lines.append(
            f"torch {torch.__version__}, {torch.get_num_threads()} threads, GPU: {gpu}"
        )
    except ImportError:
        lines.append("torch: not installed")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--cases", nargs="+", choices=["cifar", "tiny"], default=["cifar"]
    )
    parser.add_argument("--metrics", nargs="+", choices=["l1", "l2"], default=["l2"])
    parser.add_argument(
        "--devices", nargs="+", default=["cpu"], help="cpu, numpy, cuda"
    )
    parser.add_argument(
        "--n-images", type=int, default=10000, help="images in the cifar case"
    )
    parser.add_argument(
        "--tiny-imagenet", default=str(DEFAULT_TINY), help="archive or folder"
    )
    parser.add_argument(
        "--random-tiny", action="store_true", help="random data for the tiny case"
    )
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--out", default=str(ROOT / "docs" / "benchmarks" / "similarity.txt")
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="add this run as a new section of --out instead of replacing it",
    )
    args = parser.parse_args(argv)

    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False

    rows = []
    rng = np.random.default_rng(0)
    for case in args.cases:
        if case == "cifar":
            X, y = random_images(args.n_images, 100)
            source = "random uint8 (CIFAR-100 pixels are not available offline)"
        elif args.random_tiny:
            X, y = random_images(100000, 200, seed=1)
            source = "random uint8 with Tiny-ImageNet-32's shape"
        else:
            t0 = time.perf_counter()
            X, y = load_tiny_train(args.tiny_imagenet)
            source = f"Tiny-ImageNet-32 train set (decoded in {time.perf_counter() - t0:.0f} s)"
        K = len(np.unique(y))
        print(f"{case}: {X.shape} {X.dtype}, {K} classes, {source}", file=sys.stderr)
        for device in args.devices:
            if device.startswith("cuda") and not has_cuda:
                print(f"  skip {device}: no GPU", file=sys.stderr)
                continue
            for metric in args.metrics:
                err = check_exact(X, y, metric, device, rng)
                sim = PixelDistanceSimilarity(
                    metric, device=device, batch_size=args.batch_size
                )
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                sim.fit(X, y)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                seconds = time.perf_counter() - t0
                print(
                    f"  {metric} {device}: {seconds:.1f} s (subset rel. error {err:.1e})",
                    file=sys.stderr,
                )
                rows.append(
                    (
                        case,
                        X.shape[0],
                        int(np.prod(X.shape[1:])),
                        K,
                        metric,
                        device,
                        args.batch_size,
                        seconds,
                        err,
                        source,
                    )
                )

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cmd = "PYTHONPATH=. python benchmarks/bench_similarity.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# simcalib class-distance benchmark (PixelDistanceSimilarity, exact)",
        f"command: {cmd.strip()}",
        *machine_info(),
        "",
    ]
    lines.append(
        f"{'case':6} {'n':>7} {'d':>5} {'K':>4} {'metric':6} {'device':7} "
        f"{'batch':>5} {'seconds':>8} {'subset rel err':>14}"
    )
    for case, n, d, K, metric, device, batch, seconds, err, _ in rows:
        lines.append(
            f"{case:6} {n:7d} {d:5d} {K:4d} {metric:6} {device:7} {batch:5d} "
            f"{seconds:8.1f} {err:14.1e}"
        )
    lines.append("")
    for source in dict.fromkeys(r[9] for r in rows):
        lines.append(f"data: {source}")
    lines.append(
        f"peak resident memory of the process: {peak_mb:.0f} MiB "
        "(includes the uint8 images; no n x n matrix is held)"
    )
    lines.append(
        "subset rel err: max relative difference, on 600 random images, between the "
        "blocked result and a plain row-by-row numpy computation."
    )
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.append and out.exists():
        text = out.read_text() + "\n" + text
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
