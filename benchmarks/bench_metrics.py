"""Time simcalib's calibration metrics against netcal, torchmetrics and KDEpy.

On one (n, K) matrix of softmax probabilities (default 100000 x 200):

* prediction (top-label) histogram ECE: simcalib vs netcal ``ECE(15)`` and
  torchmetrics ``multiclass_calibration_error``;
* output (pooled) histogram ECE: simcalib vs netcal on the flattened
  probabilities and one-hot labels, and torchmetrics
  ``binary_calibration_error`` on the same flattened pairs;
* KDE ECE (prediction and output): simcalib vs the reference procedure
  transcribed with KDEpy's ``FFTKDE`` (as in ``tests/metrics/test_kde.py``,
  with the grid loop vectorised). netcal and torchmetrics have no KDE ECE.

simcalib's times include its input validation (finiteness, range and row
sums of all n*K probabilities); the references validate less or nothing.

Each timing is the best of ``--repeats`` runs; the values are printed next
to the times so the implementations can be seen to agree. The table is
written to ``docs/benchmarks/metrics.txt`` with the command and machine
information at the top. Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_metrics.py            # 100000 x 200
    PYTHONPATH=. python benchmarks/bench_metrics.py --n 10000  # quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from simcalib.metrics import expected_calibration_error, kde_calibration_error

ROOT = Path(__file__).resolve().parents[1]


def _probabilities(n, k, seed=0):
    rng = np.random.default_rng(seed)
    p = np.empty((n, k))
    y = np.empty(n, dtype=np.int64)
    step = 10000
    for start in range(0, n, step):  # chunks keep the temporaries small
        z = rng.normal(size=(min(step, n - start), k)) * 3.0
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        block = e / e.sum(axis=1, keepdims=True)
        p[start : start + len(block)] = block
        # labels drawn from a tempered version: the probabilities are overconfident
        soft = np.exp(z / 2.0)
        soft /= soft.sum(axis=1, keepdims=True)
        u = rng.uniform(size=(len(block), 1))
        y[start : start + len(block)] = np.minimum((u > soft.cumsum(1)).sum(1), k - 1)
    return y, p


def _best(func, repeats):
    best, value = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - t0)
    return best, float(value)


def _kdepy_reference(conf, hits, n_pairs):
    """Reference KDE ECE with KDEpy densities (grid loop vectorised)."""
    import KDEpy

    x = np.linspace(-0.6, 1.6, 2**14)
    sigma = np.std(conf[hits])
    bw = sigma * (2 * n_pairs) ** -0.2

    def density(d):
        m = np.concatenate((-d[d < 0.5], d, 2.0 - d[d >= 0.5]))
        pp = KDEpy.FFTKDE(bw=bw, kernel="triweight").fit(m).evaluate(x)
        pp[(x <= 0) | (x >= 1)] = 0
        return 2 * pp

    pp1, pp2 = density(conf[hits]), density(conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.where(pp2 > 0, np.minimum(hits.mean() * pp1 / pp2, 1.0), 1.0)
    valid = np.maximum(pp1, pp2) > 1e-6
    integrand = np.where(valid, np.abs(x - acc) * pp2, 0.0)
    integrand = integrand[np.maximum.accumulate(np.where(valid, np.arange(x.size), 0))]
    inside = (x >= 0) & (x <= 1)
    from scipy.integrate import trapezoid

    return trapezoid(integrand[inside], x[inside]) / trapezoid(pp2[inside], x[inside])


def _warm_up():
    """Import the reference libraries outside the timed calls (torch is slow to import)."""
    for name in ("netcal.metrics", "torch", "torchmetrics.functional.classification", "KDEpy"):
        try:
            __import__(name)
        except ImportError:
            pass


def run(n, k, repeats):
    _warm_up()
    y, p = _probabilities(n, k)
    rows = []  # (metric, implementation, seconds, value)

    def add(metric, impl, func, reps=repeats):
        try:
            seconds, value = _best(func, reps)
        except ImportError as exc:
            print(f"skipping {impl}: {exc}", file=sys.stderr)
            return
        rows.append((metric, impl, seconds, value))
        print(f"{metric:<22} {impl:<38} {seconds:9.3f} s  value={value:.6f}", flush=True)

    # --- prediction ECE
    add("hist ECE prediction", "simcalib", lambda: expected_calibration_error(y, p))

    def netcal_p():
        from netcal.metrics import ECE

        return ECE(bins=15).measure(p, y)

    add("hist ECE prediction", "netcal ECE(15)", netcal_p)

    def torchmetrics_p():
        import torch
        from torchmetrics.functional.classification import multiclass_calibration_error

        return multiclass_calibration_error(
            torch.from_numpy(p), torch.from_numpy(y), num_classes=k, n_bins=15
        ).item()

    add("hist ECE prediction", "torchmetrics multiclass (float64)", torchmetrics_p)

    # --- output ECE (nK-normalised, the scale both references return)
    add(
        "hist ECE output",
        "simcalib (nK)",
        lambda: expected_calibration_error(y, p, mode="output", output_normalization="nK"),
    )
    onehot = np.zeros((n, k), dtype=np.int64)
    onehot[np.arange(n), y] = 1

    def netcal_o():
        from netcal.metrics import ECE

        return ECE(bins=15).measure(p.reshape(-1), onehot.reshape(-1))

    add("hist ECE output", "netcal ECE(15) flattened", netcal_o, reps=1)

    def torchmetrics_o():
        import torch
        from torchmetrics.functional.classification import binary_calibration_error

        return binary_calibration_error(
            torch.from_numpy(p.reshape(-1)), torch.from_numpy(onehot.reshape(-1)), n_bins=15
        ).item()

    add("hist ECE output", "torchmetrics binary flattened", torchmetrics_o, reps=1)

    # --- KDE ECE
    add("KDE ECE prediction", "simcalib", lambda: kde_calibration_error(y, p))

    def kdepy_p():  # includes the top-label extraction, as simcalib's time does
        pred = p.argmax(1)
        return _kdepy_reference(p[np.arange(n), pred], pred == y, n)

    add("KDE ECE prediction", "reference procedure with KDEpy", kdepy_p)
    add(
        "KDE ECE output",
        "simcalib (nK)",
        lambda: kde_calibration_error(y, p, mode="output", output_normalization="nK"),
    )

    def kdepy_o():
        hits = np.zeros((n, k), dtype=bool)
        hits[np.arange(n), y] = True
        return _kdepy_reference(p.reshape(-1), hits.reshape(-1), n * k)

    add("KDE ECE output", "reference procedure with KDEpy", kdepy_o, reps=1)
    return rows


def _machine():
    import scipy
    import sklearn

    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}",
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} logical CPUs",
    ]
    for name in ("netcal", "torchmetrics", "torch", "KDEpy"):
        try:
            module = __import__(name)
            lines.append(f"{name} {getattr(module, '__version__', '?')}")
        except ImportError:
            lines.append(f"{name}: not installed")
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        lines.insert(1, f"cpu: {model}")
    except (OSError, StopIteration):
        pass
    return lines


def _table(rows, n, k, repeats, argv):
    lines = [
        "# simcalib metrics benchmark",
        "command: PYTHONPATH=. python " + " ".join(shlex.quote(a) for a in argv),
        *_machine(),
        f"input: {n} x {k} softmax probabilities (n*K = {n * k} class outputs), 15 bins, "
        f"best of {repeats} (1 run for the flattened/output references)",
        "",
        f"{'metric':<22} {'implementation':<38} {'seconds':>9} {'value':>10} {'speed-up':>9}",
    ]
    ours = {metric: sec for metric, impl, sec, _ in rows if impl.startswith("simcalib")}
    for metric, impl, sec, value in rows:
        ratio = "" if impl.startswith("simcalib") else f"{sec / ours[metric]:8.1f}x"
        lines.append(f"{metric:<22} {impl:<38} {sec:9.3f} {value:10.6f} {ratio:>9}")
    lines += [
        "",
        "speed-up = reference time / simcalib time (> 1: simcalib is faster).",
        "Values agree up to bin-edge conventions (see REFERENCE.md section 2); the KDE",
        "reference uses the same procedure, so its values agree to ~1e-6.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="samples (default 100000)")
    parser.add_argument("--k", type=int, default=200, help="classes (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="best of (default 3)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "benchmarks" / "metrics.txt",
        help="where to write the table",
    )
    args = parser.parse_args(argv)
    rows = run(args.n, args.k, args.repeats)
    text = _table(rows, args.n, args.k, args.repeats, [sys.argv[0], *(argv or sys.argv[1:])])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print()
    print(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
