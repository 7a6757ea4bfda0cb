"""Time simcalib's post-hoc calibrators on (n, K) logits (default 10000 x 200).

* ``TemperatureScaling`` against scikit-learn's
  ``CalibratedClassifierCV(FrozenEstimator(...), method="temperature")`` (fed
  the same logits through a pass-through estimator) and netcal's
  ``TemperatureScaling`` (fed the softmax probabilities); the ratios
  reference time / simcalib time are printed with the fitted temperatures.
* ``EnsembleTemperatureScaling`` (MSE, the reference loss).
* ``DirichletCalibrator(reg="odir", reg_lambda=100, reg_mu=100)`` -- K * (K + 1)
  parameters, 40 200 for K = 200 -- with its number of L-BFGS-B iterations
  (default ``tol``). The iteration count grows as the penalty shrinks (about
  160 at lambda = mu = 100; the 1000-iteration cap at lambda = mu = 1, which
  also overfits these logits badly).

Targets of issue 3 (n = 10000, K = 200, 2 CPU cores): TS <= 0.5 s,
ETS <= 1 s, Dirichlet-ODIR <= 20 s. Each time is the best of ``--repeats``
fits (the Dirichlet fit runs once). The logits are synthetic and
overconfident (about 60 % top-1 accuracy, labels drawn from a tempered
softmax). The table goes to ``docs/benchmarks/calibration.txt`` with the
command and machine information at the top. Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_calibration.py                 # 10000 x 200
    PYTHONPATH=. python benchmarks/bench_calibration.py --n 2000 --k 20 # quick check
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
import scipy
import sklearn
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from simcalib.calibration import (
    DirichletCalibrator,
    EnsembleTemperatureScaling,
    TemperatureScaling,
)

ROOT = Path(__file__).resolve().parents[1]


class _PassThrough(ClassifierMixin, BaseEstimator):
    """Hands the given logits to scikit-learn's calibration code."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def decision_function(self, X):
        return X

    def predict(self, X):
        return self.classes_[np.argmax(X, axis=1)]


def _logits(n, k, seed=0):
    rng = np.random.default_rng(seed)
    z = 3.0 * rng.normal(size=(n, k))
    # labels from a softened (T = 2) softmax: the logits are overconfident
    cum = np.cumsum(softmax(z / 2.0, axis=1), axis=1)
    y = np.minimum((rng.uniform(size=(n, 1)) > cum).sum(axis=1), k - 1)
    return z, y


def _best_time(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _nll(log_p, y):
    return float(-np.mean(log_p[np.arange(len(y)), y]))


def _machine():
    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}",
        f"machine: {platform.platform()}, {os.cpu_count()} logical CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at start",
    ]
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


class _Rows(list):
    """Prints each row as it is measured (a slow fit shows what came before)."""

    def append(self, row):
        super().append(row)
        print(_format(row), flush=True)


def _format(row):
    name, seconds, result, extra = row
    return f"{name:<48} {seconds:9.3f}  {result}  {extra}".rstrip()


def run(n, k, repeats, skip_netcal=False, skip_dirichlet=False):
    Z, y = _logits(n, k)
    Zt, yt = _logits(n, k, seed=1)
    rows = _Rows()

    t_ts, ts = _best_time(lambda: TemperatureScaling().fit(Z, y), repeats)
    rows.append(("simcalib TemperatureScaling", t_ts, f"T = {ts.temperature_:.5f}", ""))

    def sk_fit():
        est = FrozenEstimator(_PassThrough().fit(Z, y))
        return CalibratedClassifierCV(est, method="temperature").fit(Z, y)

    t_sk, sk = _best_time(sk_fit, repeats)
    beta = float(sk.calibrated_classifiers_[0].calibrators[0].beta_)
    rows.append(
        (
            "sklearn CalibratedClassifierCV(temperature)",
            t_sk,
            f"T = {1 / beta:.5f}",
            f"{t_sk / t_ts:.2f}x simcalib",
        )
    )
    if not skip_netcal:
        try:
            from netcal.scaling import TemperatureScaling as NetcalTS
        except ImportError:  # pragma: no cover - optional
            NetcalTS = None
        if NetcalTS is not None:
            P = softmax(Z, axis=1)

            def nc_fit():
                m = NetcalTS()
                m.fit(P, y)
                return m

            t_nc, nc = _best_time(nc_fit, repeats)
            # netcal's "temperature" is the factor multiplying the logits, 1 / T
            t_val = 1.0 / float(np.ravel(nc.temperature)[0])
            rows.append(
                (
                    "netcal TemperatureScaling",
                    t_nc,
                    f"T = {t_val:.5f}",
                    f"{t_nc / t_ts:.2f}x simcalib",
                )
            )

    t_ets, ets = _best_time(lambda: EnsembleTemperatureScaling().fit(Z, y), repeats)
    w = ", ".join(f"{v:.3f}" for v in ets.weights_)
    rows.append(
        (
            "simcalib EnsembleTemperatureScaling (mse)",
            t_ets,
            f"T = {ets.temperature_:.4f}, w = ({w})",
            "",
        )
    )

    if not skip_dirichlet:

        def dir_fit():
            return DirichletCalibrator(reg="odir", reg_lambda=100.0, reg_mu=100.0).fit(
                Z, y
            )

        t_dir, dc = _best_time(dir_fit, 1)
        rows.append(
            (
                "simcalib DirichletCalibrator(odir, lambda=mu=100)",
                t_dir,
                f"{k * (k + 1)} params, {dc.n_iter_} L-BFGS-B iterations",
                f"held-out NLL {_nll(dc.predict_log_proba(Zt), yt):.4f}",
            )
        )
    rows.append(
        (
            "(uncalibrated held-out NLL)",
            float("nan"),
            f"{_nll(log_softmax(Zt, axis=1), yt):.4f}",
            f"TS {_nll(ts.predict_log_proba(Zt), yt):.4f}",
        )
    )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000, help="calibration samples")
    parser.add_argument("--k", type=int, default=200, help="classes")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many fits")
    parser.add_argument("--skip-netcal", action="store_true")
    parser.add_argument("--skip-dirichlet", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "benchmarks" / "calibration.txt"
    )
    args = parser.parse_args(argv)
    rows = run(args.n, args.k, args.repeats, args.skip_netcal, args.skip_dirichlet)
    command = "PYTHONPATH=. python benchmarks/bench_calibration.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    lines = [
        f"# command: {command.strip()}",
        *(f"# {line}" for line in _machine()),
        f"# n = {args.n}, K = {args.k}, best of {args.repeats} fits "
        "(Dirichlet: one fit); targets TS <= 0.5 s, ETS <= 1 s, Dirichlet-ODIR <= 20 s",
        "",
        f"{'method':<48} {'seconds':>9}  result",
    ]
    lines += [_format(row) for row in rows]
    text = "\n".join(lines) + "\n"
    print("", text, sep="\n", end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
