"""``simcalib demo`` over several seeds: its regime, its table and its wall time.

Runs the demo command once per seed, exactly as a user would (a fresh
process each time, ``python -m simcalib demo --seed S --quiet``), times
each run from start to exit, and writes a summary: the one-hot network's
Hist ECE P, accuracy and mean confidence per seed (the demo promises an
over-confident network: Hist ECE P >= 5 % as the mean over seeds), every
column's Hist ECE P as mean ± std over seeds, and the wall times.

Examples::

    python benchmarks/bench_demo.py                      # seeds 0,1,2, default regime
    python benchmarks/bench_demo.py --regime calibrated --out docs/results/demo-calibrated-3-seeds.md
    python benchmarks/bench_demo.py --keep docs/results/demo   # also keep the first seed's files

The summary goes to ``docs/results/demo-3-seeds.md`` (``--out``), headed by
the command and the machine. Run it on an otherwise idle machine: the
wall time is part of the result. With ``--keep DIR`` the first seed's demo
writes its files (figure, results.md, results.csv) to ``DIR`` and its
printed table and reading to ``DIR/output.txt``.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: (column of results.csv, row label, scale)
ROWS = (("hist_ece_p", "Hist P", 100.0), ("hist_ece_o", "Hist O", 100.0),
        ("kde_ece_p", "KDE P", 100.0), ("kde_ece_o", "KDE O", 100.0),
        ("accuracy", "Accuracy", 100.0), ("confidence", "Confidence", 100.0))


def run_demo(seed, regime, out, extra, keep=False):
    """Run one demo in a fresh process; return (wall seconds, rows of its results.csv).

    With ``keep`` its printed output is written to ``out/output.txt``.
    """
    cmd = [sys.executable, "-m", "simcalib", "demo", "--seed", str(seed), "--regime", regime,
           "--out", str(out), "--quiet", *extra]
    start = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)
    seconds = time.monotonic() - start
    if keep:
        (out / "output.txt").write_text(done.stdout)
    with open(out / "results.csv", newline="") as fh:
        return seconds, list(csv.DictReader(fh))


def mean_std(values):
    values = np.asarray(values, dtype=float)
    std = values.std(ddof=1) if len(values) > 1 else float("nan")
    return f"{values.mean():.2f} ± {std:.2f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--regime", default="overconfident")
    parser.add_argument("--word-vectors", help="passed to the demo (adds the WE column)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results" / "demo-3-seeds.md"))
    parser.add_argument("--keep", metavar="DIR",
                        help="the first seed's demo writes its files here (relative to the "
                             "repository root), plus its printed output as output.txt")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    extra = ["--word-vectors", args.word_vectors] if args.word_vectors else []
    runs = {}
    load_before, started = os.getloadavg(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory() as tmp:
        for i, seed in enumerate(seeds):
            keep = bool(args.keep) and i == 0
            out = Path(args.keep) if keep else Path(tmp) / f"seed{seed}"
            runs[seed] = run_demo(seed, args.regime, out, extra, keep=keep)
            print(f"seed {seed}: {runs[seed][0]:.1f} s", file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    methods = [r["method"] for r in runs[seeds[0]][1]]
    value = {(seed, r["method"], key): float(r[key]) * scale
             for seed, (_, rows) in runs.items() for r in rows for key, _, scale in ROWS}
    label = {"one-hot": "One-hot", "ts": "TS", "uniform": "Uniform", "mixup": "Mixup",
             "dir-odir": "Dir-ODIR", "ets": "ETS", "l1": "L1", "l2": "L2", "ae": "AE",
             "we": "WE", "l2-cv": "L2 (CV)"}
    onehot = [value[(s, "one-hot", "hist_ece_p")] for s in seeds]
    shown = " ".join(["python benchmarks/bench_demo.py", *(argv if argv is not None
                                                          else sys.argv[1:])])
    lines = [
        f"# simcalib demo ({args.regime} regime) over seeds {args.seeds}", "",
        "Command (from the repository root):", "", "```", shown.strip(), "```", "",
        "Each seed is one `python -m simcalib demo --seed S --regime "
        f"{args.regime} --quiet{' --word-vectors ...' if extra else ''}` in a fresh process; "
        "the time is its wall time from start to exit (imports, data, every network, the "
        "figure).", "",
        f"- machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"python {platform.python_version()}, torch threads 1 (the demo's default), "
        "cross-validated search in 2 processes (its default on 2 CPUs)",
        f"- started {started}; load average (1, 5, 15 min) before "
        + "/".join(f"{x:.2f}" for x in load_before) + ", after "
        + "/".join(f"{x:.2f}" for x in load_after)
        + " (the load includes this benchmark; other jobs raise it and the wall times)",
        "- wall time per seed: " + ", ".join(f"seed {s} {runs[s][0]:.1f} s" for s in seeds)
        + f" (max {max(r[0] for r in runs.values()):.1f} s)",
        "- one-hot Hist ECE P per seed: "
        + ", ".join(f"{v:.2f} %" for v in onehot)
        + f"; **mean {np.mean(onehot):.2f} %** "
        + ("(the demo promises >= 5 %)" if args.regime == "overconfident"
           else "(already calibrated: when the baseline is calibrated, smoothing hurts)"),
        "- one-hot accuracy / mean confidence per seed: " + ", ".join(
            f"{value[(s, 'one-hot', 'accuracy')]:.1f} / {value[(s, 'one-hot', 'confidence')]:.1f} %"
            for s in seeds),
        "",
        f"Mean ± std over the {len(seeds)} seeds (%):", "",
        "| | " + " | ".join(label.get(m, m) for m in methods) + " |",
        "|---|" + "---:|" * len(methods),
    ]
    for key, name, _ in ROWS:
        lines.append(f"| {name} | " + " | ".join(
            mean_std([value[(s, m, key)] for s in seeds]) for m in methods) + " |")
    lines += ["", "Hist ECE P per seed (%):", "",
              "| seed | " + " | ".join(label.get(m, m) for m in methods) + " |",
              "|---:|" + "---:|" * len(methods)]
    for s in seeds:
        lines.append(f"| {s} | " + " | ".join(
            f"{value[(s, m, 'hist_ece_p')]:.2f}" for m in methods) + " |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
