"""Time the exact class distances of PixelDistanceSimilarity against the old path.

Cases (``--cases``):

* ``cifar``: 10000 images of 3x32x32 in 100 classes. CIFAR-100 pixels are
  not available offline, so the images are random uint8 values; the cost of
  the blocked path does not depend on the pixel values (``n^2 d``
  multiply-adds), that of the histogram path not either (``n d`` counts and
  a ``K^2 d 255`` product).
* ``tiny``: the full Tiny-ImageNet-32 training set (100000 images of
  3x32x32, 200 classes) from ``--tiny-imagenet`` (the ``.tar.xz`` archive or
  an extracted folder), or random uint8 data of the same shape with
  ``--random-tiny``.

Each case runs every ``--metrics`` on every ``--devices`` (``cpu``,
``numpy``, ``cuda``; ``cuda`` is skipped without a GPU) twice in the same
process: the default path (uint8 data: L1 from per-class histograms, L2 from
exact integer squared distances -- int8 products through ``torch._int_mm``
on the CPU where it is present and exact, float64 products of the same
integers on ``numpy`` or without it; the ``path`` column says which ran)
and the general blocked float64 path that simcalib used for every input
before (``integer_paths=False``). The table reports both times, their ratio
and the largest relative difference between the two results. Where the old
path would take too long (``--old-max-images-l1``, default 20000: L1 on the
full Tiny-ImageNet set would take about 100 minutes; L2 runs on every image
by default) it runs on a random class-balanced subset of that many images
and the new path is timed on the same subset as well as on the full set. In
addition the result on a random subset of 600 images must equal a plain
row-by-row numpy computation (``subset err``).

The table is written to ``docs/benchmarks/similarity.txt`` (``--out``) with
the command and machine information at the top. Run from the repository
root (on a shared machine under a lock that keeps other heavy jobs away, e.g.
``flock ../compute.lock``)::

    PYTHONPATH=. python benchmarks/bench_similarity.py --cases cifar \\
        --metrics l1 l2 --devices cpu numpy
    PYTHONPATH=. python benchmarks/bench_similarity.py --cases tiny --metrics l1 l2 \\
        --tiny-imagenet ../shared/data/tinyimagenet/tiny-imagenet-200-32px.tar.xz --append
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

from simcalib.similarity import PixelDistanceSimilarity, _pixel

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
    """Tiny-ImageNet training images (uint8, NCHW) and labels (wnids.txt order).

    Through the project's loader, which caches the decoded arrays (the
    first load decodes the archive, later ones memory-map the cache).
    """
    try:  # the project's loader, when the datasets subpackage is there
        from simcalib.datasets import load_tiny_imagenet
    except ImportError:
        return _read_tiny_train(path)
    data = load_tiny_imagenet(path)
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


def _sync(device):
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def time_path(X, y, metric, device, batch_size, integer_paths):
    """(seconds, (K, K) distances) of one path, on ``device``."""
    y_idx = np.unique(y, return_inverse=True)[1].reshape(-1)
    _sync(device)
    t0 = time.perf_counter()
    means, _ = _pixel._mean_pairwise(
        X,
        y_idx,
        int(y_idx.max()) + 1,
        metric=metric,
        batch_size=batch_size,
        device=device,
        integer_paths=integer_paths,
    )
    _sync(device)
    return time.perf_counter() - t0, means


def path_name(X, metric, device):
    """Which computation the default path runs for these data."""
    if _pixel._byte_range_start(X.reshape(len(X), -1)) is None:
        return "general"
    if metric == "l1":
        return "histogram"
    torch, dev = _pixel._resolve_device(device)
    if torch is not None and dev.type != "cpu":
        return "general"
    d = int(np.prod(X.shape[1:]))
    return "int8" if _pixel._exact_int_mm(torch, d) is not None else "f64-int"


def balanced_subset(y, m, rng):
    """Indices of ``m`` images, the same number from every class (sorted)."""
    classes = np.unique(y)
    per = max(1, m // len(classes))
    idx = [rng.choice(np.flatnonzero(y == c), size=per, replace=False) for c in classes]
    return np.sort(np.concatenate(idx))


def rel_diff(a, b):
    off = ~np.eye(len(a), dtype=bool)
    return float(np.max(np.abs(a[off] - b[off]) / b[off]))


def machine_info(load_start):
    import scipy
    import sklearn

    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}",
        f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"load average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"
        + "".join(
            f", {v}={os.environ[v]}"
            for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
            if v in os.environ
        ),
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
    parser.add_argument(
        "--old-max-images-l1",
        type=int,
        default=20000,
        help="run the old L1 path on a class-balanced subset of at most this many "
        "images (it takes about 100 minutes on all of Tiny-ImageNet)",
    )
    parser.add_argument(
        "--old-max-images-l2",
        type=int,
        default=100000,
        help="the same for the old L2 path (default: every image)",
    )
    parser.add_argument(
        "--shared", action="store_true", help="note that the machine was shared"
    )
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
    load_start = os.getloadavg()[0]

    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False

    rows, skipped = [], []
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
            source = (
                "Tiny-ImageNet-32 train set (loaded in "
                f"{time.perf_counter() - t0:.0f} s, simcalib.datasets.load_tiny_imagenet)"
            )
        K = len(np.unique(y))
        print(f"{case}: {X.shape} {X.dtype}, {K} classes, {source}", file=sys.stderr)
        for device in args.devices:
            if device.startswith("cuda") and not has_cuda:
                print(f"  skip {device}: no GPU", file=sys.stderr)
                skipped.append(device)
                continue
            for metric in args.metrics:
                err = check_exact(X, y, metric, device, rng)
                t_new, d_new = time_path(X, y, metric, device, args.batch_size, True)
                print(f"  {metric} {device}: new {t_new:.1f} s", file=sys.stderr)
                n_old = X.shape[0]
                old_max = getattr(args, f"old_max_images_{metric}")
                if n_old > old_max:
                    sub = balanced_subset(y, old_max, rng)
                    Xs, ys = X[sub], y[sub]
                    n_old = len(sub)
                    t_new_sub, d_cmp = time_path(
                        Xs, ys, metric, device, args.batch_size, True
                    )
                else:
                    Xs, ys, t_new_sub, d_cmp = X, y, t_new, d_new
                t_old, d_old = time_path(Xs, ys, metric, device, args.batch_size, False)
                diff = rel_diff(d_cmp, d_old)
                print(
                    f"  {metric} {device}: old {t_old:.1f} s on {n_old} images "
                    f"(new {t_new_sub:.2f} s there), rel. diff {diff:.1e}",
                    file=sys.stderr,
                )
                rows.append(
                    dict(
                        case=case,
                        n=X.shape[0],
                        d=int(np.prod(X.shape[1:])),
                        K=K,
                        metric=metric,
                        device=device,
                        path=path_name(X, metric, device),
                        new=t_new,
                        n_old=n_old,
                        new_sub=t_new_sub,
                        old=t_old,
                        diff=diff,
                        err=err,
                        source=source,
                    )
                )

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cmd = "PYTHONPATH=. python benchmarks/bench_similarity.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        "# simcalib class-distance benchmark (PixelDistanceSimilarity, exact)",
        f"command: {cmd.strip()}",
        *machine_info(load_start),
        "",
    ]
    lines.append(
        f"{'case':6} {'n':>7} {'d':>5} {'K':>4} {'metric':6} {'device':7} "
        f"{'path':9} {'new s':>8} {'old on n':>8} {'new s':>8} {'old s':>8} {'ratio':>7} "
        f"{'old/new diff':>12} {'subset err':>10}"
    )
    for r in rows:
        lines.append(
            f"{r['case']:6} {r['n']:7d} {r['d']:5d} {r['K']:4d} {r['metric']:6} "
            f"{r['device']:7} {r['path']:9} {r['new']:8.2f} {r['n_old']:8d} {r['new_sub']:8.2f} "
            f"{r['old']:8.1f} {r['old'] / r['new_sub']:6.0f}x {r['diff']:12.1e} "
            f"{r['err']:10.1e}"
        )
    lines.append("")
    for source in dict.fromkeys(r["source"] for r in rows):
        lines.append(f"data: {source}")
    lines.append(
        "path: histogram = L1 from per-class cumulative histograms; int8 = L2 "
        "from torch._int_mm products; f64-int = L2 from float64 products of the "
        "same integers (no usable _int_mm); general = the blocked float64 path."
    )
    lines.append(
        "new s: the default path on all n images; old on n: images the old "
        "(general float64 blocked) path ran on, with the new path's time on the "
        "same images, the old time and their ratio; old/new diff: largest "
        "relative difference of the off-diagonal distances between the two."
    )
    lines.append(
        f"peak resident memory of the process: {peak_mb:.0f} MiB "
        "(includes the uint8 images; no n x n matrix is held)"
    )
    lines.append(
        "subset err: max relative difference, on 600 random images, between the "
        "default result and a plain row-by-row numpy computation."
    )
    for device in dict.fromkeys(skipped):
        lines.append(f"{device}: requested but no GPU is present here: unmeasured")
    if args.shared:
        lines.append(
            "the machine was shared with other jobs during this run "
            "(load average above shows how busy): compare the ratios, not "
            "absolute times"
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
