"""Time simcalib's post-hoc calibrators on (n, K) logits (default 10000 x 200).

* ``TemperatureScaling`` against scikit-learn's
  ``CalibratedClassifierCV(FrozenEstimator(...), method="temperature")`` (fed
  the same logits through a pass-through estimator) and netcal's
  ``TemperatureScaling`` (fed the softmax probabilities); the ratios
  reference time / simcalib time are printed with the fitted temperatures.
* ``EnsembleTemperatureScaling`` (MSE, the reference loss).
* ``DirichletCalibrator()`` with its defaults (ODIR, lambda = mu = 1; K (K + 1)
  parameters, 40 200 for K = 200): the Newton-CG solver against the
  L-BFGS-B solver of simcalib 0.1 (``solver="lbfgs"``), in the same process,
  on two kinds of logits:

  - ``separated``: informative, overconfident logits ``4 (N(0, 1) + 3.5
    e_y)`` (about 90 % top-1 accuracy);
  - ``distorted``: labels drawn from ``softmax(z*)`` with ``z* = N(0, 1) +
    6 e_c`` for a random class c, observed logits ``a_k z*_k + b_k`` with
    per-class scales ``a_k`` log-uniform in [0.3, 4] and offsets ``b_k ~
    N(0, 1)`` -- a class-dependent distortion, the case Dirichlet
    calibration exists for.

  Each row gives the time, iterations, the penalised objective and the mean
  NLL on the calibration set, the gap of the objective to a tightly
  converged Newton fit (``tol=1e-10``), and the held-out NLL. The old
  solver stops (its default ``tol``) before the optimum; to check that both
  solvers minimise the same objective, its fit is then *continued* with
  L-BFGS-B on the old objective code (``ftol=1e-15``, at most
  ``--lbfgs-continue`` more iterations), and the NLL of that converged old
  solution is compared with the default Newton fit (the issue asks for
  1e-4). The old benchmark row (lambda = mu = 100 on the tempered logits of
  the TS rows) is kept for comparison.
* ``DirichletCalibratorCV()`` with its defaults (24 pairs, 5 folds,
  screening, refit) on the ``distorted`` logits; with ``--cv-exact`` also
  ``screen=False`` (every fold fit to ``tol``) in the same process, with
  whether both choose the same pair and the largest difference of their
  refitted coefficients. Its competitor, the simcalib 0.1 CV (a
  GridSearchCV of cold L-BFGS-B fits), would take hours; it is *estimated*
  from L-BFGS-B fits of three grid pairs (the strongest, a middle and the
  weakest penalty) on the first fold's training set: their mean time times
  the 121 fits of the search (``--skip-old-cv`` leaves it out).

Targets of issue 15 (n = 10000, K = 200, 2 CPU cores): default Dirichlet fit
<= 10 s, default CV <= 2 minutes, same optimum as the old solver to 1e-4 in
NLL. TS / ETS times are the best of ``--repeats`` fits; every Dirichlet fit
runs once. The table goes to ``docs/benchmarks/calibration.txt`` with the
command and machine information at the top. Run from the repository root
(on a shared machine under a lock that keeps other heavy jobs away, e.g.
``flock ../compute.lock``)::

    PYTHONPATH=. python benchmarks/bench_calibration.py                 # 10000 x 200
    PYTHONPATH=. python benchmarks/bench_calibration.py --n 2000 --k 20 # quick check
    # only the Newton-CG rows, the screened CV against the exhaustive one,
    # appended as a new section of the output
    PYTHONPATH=. python benchmarks/bench_calibration.py --skip-lbfgs --cv-exact --append
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
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator

from simcalib.calibration import (
    DirichletCalibrator,
    DirichletCalibratorCV,
    EnsembleTemperatureScaling,
    TemperatureScaling,
    dirichlet_reg_grid,
)
from simcalib.calibration._base import nll_and_grad_logits
from simcalib.calibration._linear import _penalty_weights

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


def separated_logits(n, k, seed=0):
    """Informative, overconfident logits: 4 (N(0, 1) + 3.5 e_y)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, size=n)
    z = rng.normal(size=(n, k)) + 3.5 * np.eye(k)[y]
    return 4.0 * z, y


def distorted_logits(n, k, seed=0):
    """Labels from softmax(z*); logits a_k z*_k + b_k (class-dependent distortion)."""
    rng = np.random.default_rng(seed)
    z_true = rng.normal(size=(n, k))
    z_true[np.arange(n), rng.integers(0, k, size=n)] += 6.0
    cum = np.cumsum(softmax(z_true, axis=1), axis=1)
    y = np.minimum((rng.random(n)[:, None] > cum).sum(axis=1), k - 1)
    # the distortion is one per data set, not per seed: calibration and
    # held-out logits share it
    dist = np.random.default_rng(12345)
    a = np.exp(dist.uniform(np.log(0.3), np.log(4.0), size=k))
    b = dist.normal(size=k)
    return z_true * a + b, y


def _objective(dc, Z, y):
    """(penalised mean NLL, mean NLL) of a fitted DirichletCalibrator on (Z, y)."""
    k = Z.shape[1]
    F = log_softmax(Z, axis=1)
    nll = _nll(log_softmax(F @ dc.coef_.T + dc.intercept_, axis=1), y)
    w_pen, b_pen = _penalty_weights(dc.reg, dc.reg_lambda, dc.reg_mu, k)
    pen = np.sum(w_pen * dc.coef_**2) + b_pen * np.sum(dc.intercept_**2)
    return nll + float(pen), nll


def lbfgs_continued(dc, Z, y, max_iter):
    """Continue the L-BFGS-B fit of ``dc`` on the penalised objective to ftol=1e-15.

    The objective and its gradient are those of simcalib 0.1's solver
    (``nll_and_grad_logits`` plus the ODIR penalty on the raw parameters).
    Returns (seconds, iterations, W, b).
    """
    from scipy.optimize import minimize

    k = Z.shape[1]
    F = log_softmax(Z, axis=1)
    w_pen, b_pen = _penalty_weights(dc.reg, dc.reg_lambda, dc.reg_mu, k)

    def fun(theta):
        W, b = theta[: k * k].reshape(k, k), theta[k * k :]
        loss, G = nll_and_grad_logits(F @ W.T + b, y)
        loss += float(np.sum(w_pen * W * W)) + b_pen * float(b @ b)
        gW = G.T @ F + 2.0 * w_pen * W
        gb = G.sum(axis=0) + 2.0 * b_pen * b
        return loss, np.concatenate([gW.ravel(), gb])

    t0 = time.perf_counter()
    res = minimize(
        fun,
        np.concatenate([dc.coef_.ravel(), dc.intercept_]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": 1e-15, "gtol": 1e-10},
    )
    seconds = time.perf_counter() - t0
    return seconds, int(res.nit), res.x[: k * k].reshape(k, k), res.x[k * k :]


def _fit_once(est, X, y):
    """(seconds, fitted estimator) of one fit."""
    t0 = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - t0, est


def _best_time(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _nll(log_p, y):
    return float(-np.mean(log_p[np.arange(len(y)), y]))


def _machine(load_start):
    threads = ", ".join(
        f"{v}={os.environ[v]}"
        for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        if v in os.environ
    )
    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}",
        f"machine: {platform.platform()}, {os.cpu_count()} logical CPUs, "
        f"load average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end"
        + (f"; {threads}" if threads else ""),
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


def dirichlet_rows(n, k, skip_old_cv, lbfgs_continue, skip_lbfgs=False, cv_exact=False):
    """Default Dirichlet fits, old and new solver, and the default CV."""
    rows = _Rows()
    solvers = ("newton-cg",) if skip_lbfgs else ("lbfgs", "newton-cg")
    for data, make in (
        ("separated", separated_logits),
        ("distorted", distorted_logits),
    ):
        Z, y = make(n, k)
        Zt, yt = make(n, k, seed=1)
        t_ref, ref = _fit_once(DirichletCalibrator(tol=1e-10), Z, y)
        f_ref, nll_ref = _objective(ref, Z, y)
        times, fits = {}, {}
        for solver in solvers:
            t, dc = _fit_once(DirichletCalibrator(solver=solver), Z, y)
            times[solver], fits[solver] = t, dc
            f, nll = _objective(dc, Z, y)
            extra = f"held-out NLL {_nll(dc.predict_log_proba(Zt), yt):.4f}"
            extra += f"  |NLL - reference NLL| = {abs(nll - nll_ref):.1e}"
            if solver == "newton-cg" and not skip_lbfgs:
                extra += f"  {times['lbfgs'] / t:.1f}x faster than lbfgs"
            rows.append(
                (
                    f"Dirichlet() {solver}, {data}",
                    t,
                    f"{dc.n_iter_} it, objective {f:.7f} (gap {f - f_ref:+.1e}), "
                    f"NLL {nll:.7f}",
                    extra,
                )
            )
        rows.append(
            (
                f"Dirichlet(tol=1e-10) newton-cg, {data}",
                t_ref,
                f"{ref.n_iter_} it, objective {f_ref:.7f}, NLL {nll_ref:.7f}",
                "(the reference optimum)",
            )
        )
        if lbfgs_continue and not skip_lbfgs:
            old = fits["lbfgs"]
            t, it, W, b = lbfgs_continued(old, Z, y, lbfgs_continue)
            cont = clone(old)
            cont.coef_, cont.intercept_ = W, b
            f, nll = _objective(cont, Z, y)
            _, nll_new = _objective(fits["newton-cg"], Z, y)
            rows.append(
                (
                    f"  lbfgs continued to ftol=1e-15, {data}",
                    times["lbfgs"] + t,
                    f"{old.n_iter_}+{it} it, objective {f:.7f} (gap {f - f_ref:+.1e}), "
                    f"NLL {nll:.7f}",
                    f"|NLL - default newton NLL| = {abs(nll - nll_new):.1e}",
                )
            )
    Z, y = distorted_logits(n, k)
    cvs = {}
    for screen in (True, False) if cv_exact else (True,):
        t_cv, cv = _fit_once(DirichletCalibratorCV(screen=screen), Z, y)
        cvs[screen] = t_cv, cv
        best = ", ".join(f"{key}={v:g}" for key, v in sorted(cv.best_params_.items()))
        extra = (
            f"fold fits {np.sum(cv.cv_results_['mean_fit_time']) * 5:.0f} s, "
            f"best mean fold NLL {-cv.best_score_:.6f}"
        )
        if not screen:
            t_fast, fast = cvs[True]
            same = fast.best_params_ == cv.best_params_
            extra += (
                f"  same choice as screening: {'yes' if same else 'NO'}, "
                f"max |coef_ difference| {np.max(np.abs(fast.coef_ - cv.coef_)):.1e}, "
                f"|best score difference| {abs(fast.best_score_ - cv.best_score_):.1e}, "
                f"max |mean score difference| over the grid "
                f"{np.max(np.abs(fast.cv_results_['mean_test_score'] - cv.cv_results_['mean_test_score'])):.1e}, "
                f"{t_cv / t_fast:.1f}x the screened CV's time"
            )
        rows.append(
            (
                f"DirichletCalibratorCV(screen={screen}), distorted",
                t_cv,
                f"24 pairs x 5 folds + refit, best {best}",
                extra,
            )
        )
    t_cv = cvs[True][0]
    if not skip_old_cv and not skip_lbfgs:
        from sklearn.model_selection import StratifiedKFold

        train, _ = next(StratifiedKFold(5, shuffle=True, random_state=0).split(Z, y))
        grid = dirichlet_reg_grid()
        lams = sorted(grid["reg_lambda"])
        pairs = [
            (lams[-1], max(grid["reg_mu"])),
            (1.0, 0.1),
            (lams[0], min(grid["reg_mu"])),
        ]
        fit_times = []
        for lam, mu in pairs:
            est = DirichletCalibrator(reg_lambda=lam, reg_mu=mu, solver="lbfgs")
            t, _ = _fit_once(est, Z[train], y[train])
            fit_times.append(t)
        n_fits = 5 * len(grid["reg_lambda"]) * len(grid["reg_mu"]) + 1
        estimate = float(np.mean(fit_times)) * n_fits
        rows.append(
            (
                "simcalib 0.1 CV (lbfgs GridSearchCV), ESTIMATE",
                estimate,
                "mean of lbfgs fits at "
                + ", ".join(
                    f"({lam:g}, {mu:g}): {t:.1f} s"
                    for (lam, mu), t in zip(pairs, fit_times)
                )
                + f" x {n_fits} fits",
                f"{estimate / t_cv:.0f}x the new CV",
            )
        )
    return rows


def run(
    n,
    k,
    repeats,
    skip_netcal=False,
    skip_dirichlet=False,
    skip_old_cv=False,
    lbfgs_continue=2000,
    skip_lbfgs=False,
    cv_exact=False,
):
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
        rows.extend(
            dirichlet_rows(n, k, skip_old_cv, lbfgs_continue, skip_lbfgs, cv_exact)
        )
        solvers = ("newton-cg",) if skip_lbfgs else ("lbfgs", "newton-cg")
        fitted = {
            solver: _fit_once(
                DirichletCalibrator(reg_lambda=100.0, reg_mu=100.0, solver=solver), Z, y
            )
            for solver in solvers
        }
        dc_old = fitted.get("lbfgs")
        for name, (t, dc) in fitted.items():
            f, _ = _objective(dc, Z, y)
            rows.append(
                (
                    f"Dirichlet {name}, lambda=mu=100, tempered",
                    t,
                    f"{dc.n_iter_} iterations, objective {f:.6f}",
                    f"held-out NLL {_nll(dc.predict_log_proba(Zt), yt):.4f}"
                    + (
                        f"  {dc_old[0] / t:.1f}x faster"
                        if name == "newton-cg" and dc_old is not None
                        else ""
                    ),
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
        "--skip-old-cv", action="store_true", help="no estimate of the old CV time"
    )
    parser.add_argument(
        "--lbfgs-continue",
        type=int,
        default=2000,
        help="most L-BFGS-B iterations that continue the old fit to ftol=1e-15 "
        "(0: not run)",
    )
    parser.add_argument(
        "--skip-lbfgs",
        action="store_true",
        help="no L-BFGS-B fits (old solver, its continuation, the old CV estimate)",
    )
    parser.add_argument(
        "--cv-exact",
        action="store_true",
        help="also run DirichletCalibratorCV(screen=False), every fold fit to tol, "
        "and compare its choice and refit with the screened CV",
    )
    parser.add_argument(
        "--append",
        action="store_true",
        help="append the table to --out (after a blank line) instead of replacing it",
    )
    parser.add_argument(
        "--shared", action="store_true", help="note that the machine was shared"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "benchmarks" / "calibration.txt"
    )
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    rows = run(
        args.n,
        args.k,
        args.repeats,
        args.skip_netcal,
        args.skip_dirichlet,
        args.skip_old_cv,
        args.lbfgs_continue,
        args.skip_lbfgs,
        args.cv_exact,
    )
    command = "PYTHONPATH=. python benchmarks/bench_calibration.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    lines = [
        f"# command: {command.strip()}",
        *(f"# {line}" for line in _machine(load_start)),
        f"# n = {args.n}, K = {args.k}, best of {args.repeats} fits "
        "(Dirichlet: one fit); targets TS <= 0.5 s, ETS <= 1 s, default "
        "Dirichlet-ODIR <= 10 s, default DirichletCalibratorCV <= 120 s",
        *(
            [
                "# the machine was shared with other jobs during this run (see the "
                "load average): compare ratios, not absolute times"
            ]
            if args.shared
            else []
        ),
        "",
        f"{'method':<48} {'seconds':>9}  result",
    ]
    lines += [_format(row) for row in rows]
    text = "\n".join(lines) + "\n"
    print("", text, sep="\n", end="")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.append and args.out.exists():
        text = args.out.read_text().rstrip("\n") + "\n\n" + text
    args.out.write_text(text)


if __name__ == "__main__":
    main()
