"""``simcalib demo``: the paper's comparison on scikit-learn's digits, in about a minute.

Trains a small CNN on scikit-learn's 8x8 digits (no download) with one-hot
labels, uniform label smoothing, mixup, and class-similarity label
smoothing from pixel L1 / L2 distances and autoencoder latents (and word
embeddings of ``zero`` ... ``nine`` with ``--word-vectors``), plus L2
smoothing whose alpha and beta are chosen by cross-validation on the
training images; applies temperature scaling, Dirichlet-ODIR and ensemble
temperature scaling to the one-hot network; prints the paper's table
(Hist / KDE ECE of the prediction and of all outputs, accuracy, NLL) with a
plain-language reading of it, and writes reliability diagrams.

Two regimes. ``overconfident`` (the default) trains on 4 images per class,
which the network memorises: like the paper's networks it is then
over-confident on new images, and smoothing helps. ``calibrated`` trains on
1212 images: the one-hot network is already calibrated, and smoothing
hurts.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from simcalib import progress
from simcalib.cli import CommandError
from simcalib.cli._reproduce import (
    check_threads,
    command_line,
    limit_threads,
    option_name,
    quiet_progress,
    require_torch,
)

__all__ = ["add_parser", "run", "DEMO_METHODS", "REGIMES", "Regime", "plain_reading"]

DEMO_METHODS = ("one-hot", "ts", "uniform", "mixup", "dir-odir", "ets", "l1", "l2", "ae")
#: The cross-validated column of the demo (pixel distances: no download).
CV_METHOD = "l2-cv"
#: The rows of the printed table: the paper's, with the mean confidence
#: beside the accuracy (their difference is the regime).
DEMO_ROWS = (
    ("Hist P", "hist_ece_p", 100.0, 2),
    ("Hist O", "hist_ece_o", 100.0, 2),
    ("KDE P", "kde_ece_p", 100.0, 2),
    ("KDE O", "kde_ece_o", 100.0, 2),
    ("Accuracy", "accuracy", 100.0, 2),
    ("Confidence", "confidence", 100.0, 2),
    ("NLL", "nll", 1.0, 3),
)


@dataclass(frozen=True)
class Regime:
    """The settings of one demo regime (see ``simcalib demo --help``)."""

    name: str
    summary: str
    train_per_class: int | None
    width: int
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    alpha: float
    beta: float
    holdout: float
    holdout_from: str
    cv_alphas: tuple
    cv_betas: tuple
    cv_folds: int

    def data_text(self):
        if self.train_per_class is None:
            return "1212 training images"
        return f"{10 * self.train_per_class} training images ({self.train_per_class} per class)"


#: The two regimes of the demo, measured over seeds 0-2 by
#: benchmarks/bench_demo.py (docs/results/demo-3-seeds.md and
#: demo-calibrated-3-seeds.md).
REGIMES = {
    # 4 images per class, trained to memorisation without weight decay: test
    # accuracy ~77 %, mean confidence ~85 %. The calibration and test images
    # are the other 1757, split in halves per class.
    "overconfident": Regime(
        "overconfident",
        "the one-hot network memorises 40 images and is over-confident on new ones, "
        "as the paper's networks are",
        train_per_class=4, width=32, epochs=100, batch_size=10, lr=1e-2, weight_decay=0.0,
        alpha=0.02, beta=2.0, holdout=0.5, holdout_from="test",
        cv_alphas=(0.01, 0.03, 0.1), cv_betas=(1.0, 4.0), cv_folds=4,
    ),
    # The demo of earlier versions: 1212 training images, 98 % accuracy.
    "calibrated": Regime(
        "calibrated",
        "when the baseline is already calibrated, smoothing hurts",
        train_per_class=None, width=16, epochs=20, batch_size=32, lr=5e-3, weight_decay=5e-4,
        alpha=0.1, beta=2.0, holdout=0.1, holdout_from="train",
        cv_alphas=(0.01, 0.03, 0.1), cv_betas=(1.0, 4.0), cv_folds=3,
    ),
}


def add_parser(subparsers):
    """Add the ``demo`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "demo",
        help="train and calibrate on scikit-learn's digits; print the paper's table",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--regime", choices=list(REGIMES), default="overconfident",
                        help="overconfident (default): 40 training images, the paper's regime; "
                             "calibrated: 1212 training images, where smoothing hurts")
    parser.add_argument("--out", default="simcalib-demo", metavar="DIR",
                        help="folder for the reliability diagrams and tables (default simcalib-demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the networks (default 0)")

    def regime_default(attr, fmt="{:g}"):
        over, cal = REGIMES["overconfident"], REGIMES["calibrated"]
        return (f"default {fmt.format(getattr(over, attr))} overconfident, "
                f"{fmt.format(getattr(cal, attr))} calibrated")

    parser.add_argument("--epochs", type=int, help=f"training epochs ({regime_default('epochs')})")
    parser.add_argument("--batch-size", type=int,
                        help=f"batch size ({regime_default('batch_size')})")
    parser.add_argument("--lr", type=float,
                        help=f"peak learning rate of AdamW + one-cycle ({regime_default('lr')})")
    parser.add_argument("--alpha", type=float,
                        help="smoothing mass of the uniform and similarity columns "
                             f"({regime_default('alpha')}; the CV column chooses its own)")
    parser.add_argument("--beta", type=float,
                        help=f"sharpness of the similarity softmax ({regime_default('beta')})")
    parser.add_argument("--word-vectors", metavar="PATH",
                        help="word2vec / GloVe file: adds the WE column "
                             "(e.g. glove.6B.50d.top100k.txt.gz)")
    parser.add_argument("--device", default="auto",
                        help="'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:1', ...")
    # threads=1: the tiny network gains nothing from more threads, and on a
    # busy machine several OpenMP threads make small batches many times slower.
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads per process (default 1)")
    parser.add_argument("--jobs", type=int,
                        help="processes of the cross-validated search (default: 2 when the "
                             "machine has 2 CPUs or more, else 1)")
    parser.add_argument("--quiet", action="store_true",
                        help="print only the table and its reading (no progress on stderr)")
    parser.set_defaults(func=run, _parser=parser)
    return parser


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def build_config(args):
    """The :class:`~simcalib.experiments.ExperimentConfig` of a demo invocation.

    Raises
    ------
    CommandError
        For the first bad option, named as on the command line.
    """
    from simcalib.experiments import ExperimentConfig
    from simcalib.experiments._config import check_config

    check_threads(args.threads)
    regime = REGIMES[args.regime]
    jobs = args.jobs if args.jobs is not None else min(2, os.cpu_count() or 1)
    if jobs < 1:
        raise CommandError(f"--jobs must be >= 1; got {jobs}")
    methods = DEMO_METHODS + (("we",) if args.word_vectors else ()) + (CV_METHOD,)

    def given(value, default):
        return default if value is None else value

    config = ExperimentConfig(
        dataset="digits", model="small_cnn", width=regime.width, methods=methods,
        seeds=(args.seed,), epochs=given(args.epochs, regime.epochs),
        batch_size=given(args.batch_size, regime.batch_size), lr=given(args.lr, regime.lr),
        weight_decay=regime.weight_decay, alpha=given(args.alpha, regime.alpha),
        beta=given(args.beta, regime.beta), holdout=regime.holdout,
        holdout_from=regime.holdout_from, max_train_per_class=regime.train_per_class,
        word_vectors=args.word_vectors, device=args.device, ae_epochs=None, ood=False,
        cv_alphas=regime.cv_alphas, cv_betas=regime.cv_betas, cv_folds=regime.cv_folds,
        cv_jobs=jobs, quiet=True,
    )
    try:
        check_config(config, name_of=lambda f: option_name(
            f, {"seeds": "--seed", "cv_jobs": "--jobs"}))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return regime, config


def run(args):
    """Run ``simcalib demo``; return the exit code."""
    from simcalib.experiments import format_table, run_experiment

    regime, config = build_config(args)
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {args.out} is an existing file, not a folder")
    blocker = next((p for p in out.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise CommandError(f"--out {args.out} cannot be created: {blocker} is a file")
    require_torch()

    def log(line):
        # the scratch folder is of no interest; --quiet silences the progress.
        # progress.write: a line printed under the run / CV bars keeps them intact
        if not args.quiet and not line.startswith("wrote "):
            progress.write(line, file=sys.stderr)

    start = time.monotonic()
    # Networks and checkpoints go to a scratch folder: a demo always starts fresh.
    # --quiet: no progress bar either (bars show only on a terminal anyway)
    with tempfile.TemporaryDirectory(prefix="simcalib-demo-") as scratch, \
            limit_threads(args.threads), quiet_progress(args.quiet):
        scratch = Path(scratch) / "run"
        log(f"simcalib demo ({regime.name} regime): digits, {regime.data_text()}, small CNN "
            f"(width {config.width}), {_plural(config.epochs, 'epoch')}, seed {args.seed}; "
            f"{len(config.methods)} methods")
        result = run_experiment(config, scratch, command=command_line(args, "demo"), log=log)
        out.mkdir(parents=True, exist_ok=True)
        for key, name in (("fig1", "fig1_reliability.png"), ("markdown", "results.md"),
                          ("csv", "results.csv")):
            if key in result.files:
                shutil.copyfile(result.files[key], out / name)
    seconds = time.monotonic() - start
    reading = plain_reading(result.summary, result.records, regime=regime, config=config)
    with open(out / "results.md", "a", encoding="utf-8") as fh:
        fh.write("\n## Reading\n\n" + "\n".join(reading) + "\n")
    print()
    # no one-line P/O legend under this table: the reading printed right
    # below it ends with the full explanation of P and O
    print(format_table(result.summary, rows=DEMO_ROWS, legend=False))
    print()
    print("\n".join(reading))
    figure = out / "fig1_reliability.png"
    print(f"\nECE, accuracy and confidence in %, NLL in nats; {len(result.records)} methods in "
          f"{seconds:.0f} s. Reliability diagrams: {figure}")
    return 0


def _pct(summary, method, key):
    return 100.0 * summary[method][key][0]


def plain_reading(summary, records, *, regime, config):
    """A short reading of a demo table, generated from its numbers.

    Says in which regime the one-hot network is (its mean confidence
    against its accuracy), which columns beat it on Hist ECE P and by how
    much (and whether those that do not are over- or under-confident),
    how class-similarity smoothing compares with uniform smoothing, what
    the cross-validated column chose, and what P and O mean.

    Parameters
    ----------
    summary : dict
        :func:`~simcalib.experiments.summarize` of the demo's records
        (one seed); ``"one-hot"`` must be in it, with ``confidence``.
    records : list of dict
        The records themselves (the chosen alpha and beta of the
        cross-validated column).
    regime : Regime
        The regime that was run.
    config : ExperimentConfig
        Its settings (alpha, the CV grid, the training size).

    Returns
    -------
    lines : list of str

    Examples
    --------
    >>> nan = float("nan")
    >>> row = lambda e, a, c: {"hist_ece_p": (e, nan, 1), "accuracy": (a, nan, 1),
    ...                        "confidence": (c, nan, 1)}
    >>> s = {"one-hot": row(0.08, 0.77, 0.85), "ts": row(0.02, 0.77, 0.78)}
    >>> from simcalib.experiments import ExperimentConfig
    >>> lines = plain_reading(s, [], regime=REGIMES["overconfident"], config=ExperimentConfig())
    >>> [line for line in lines if line.startswith("- Better")]
    ['- Better calibrated than one-hot (8.00 %) by Hist ECE P: TS 2.00 % (6.0 points lower).']
    """
    from simcalib.experiments import ALL_METHODS

    labels = {m.key: m.label for m in ALL_METHODS}
    ece0, acc0, conf0 = (_pct(summary, "one-hot", k)
                         for k in ("hist_ece_p", "accuracy", "confidence"))
    gap = conf0 - acc0
    if gap > 2.0:
        state = "over-confident"
    elif gap < -2.0:
        state = "under-confident"
    else:
        state = "close to calibrated"
    lines = ["What the table says (generated from these numbers; one seed, so differences of "
             "a point or two are noise):"]
    regime_line = (f"- Regime: the one-hot network is {state}: on the test images its mean "
                   f"confidence is {conf0:.1f} % against an accuracy of {acc0:.1f} % (Hist ECE P "
                   f"{ece0:.2f} %).")
    if regime.name == "calibrated":
        regime_line += (" When the baseline is already calibrated, smoothing hurts: it pushes the "
                        "network into under-confidence.")
    elif state == "over-confident":
        regime_line += (f" It has memorised its {regime.data_text().split(' (')[0]} and is sure "
                        "of itself on new ones, as the paper's networks are; this is where "
                        "smoothing and post-hoc calibration should help.")
    else:
        regime_line += (" The demo's settings aim at an over-confident network; with the options "
                        "given it is not one, so smoothing cannot be expected to help.")
    lines += _wrap(regime_line)
    better, worse = [], []
    for key in summary:
        if key == "one-hot" or "hist_ece_p" not in summary[key]:
            continue
        ece = _pct(summary, key, "hist_ece_p")
        label = labels.get(key, key)
        if ece < ece0:
            better.append((ece, f"{label} {ece:.2f} % ({ece0 - ece:.1f} points lower)"))
        else:
            conf, acc = _pct(summary, key, "confidence"), _pct(summary, key, "accuracy")
            why = "under-confident" if conf < acc else "over-confident"
            worse.append((ece, f"{label} {ece:.2f} % ({why}: confidence {conf:.0f} % vs "
                               f"accuracy {acc:.0f} %)"))
    if better:
        lines += _wrap(f"- Better calibrated than one-hot ({ece0:.2f} %) by Hist ECE P: "
                       + ", ".join(t for _, t in sorted(better)) + ".")
    else:
        lines += _wrap(f"- No column is better calibrated than one-hot ({ece0:.2f} %) by Hist "
                       "ECE P.")
    if worse:
        lines += _wrap("- Worse than one-hot: " + ", ".join(t for _, t in sorted(worse)) + ".")
    moved = [(key, _pct(summary, key, "accuracy")) for key in ("ts", "dir-odir", "ets")
             if key in summary and abs(_pct(summary, key, "accuracy") - acc0) > 2.0]
    for key, acc in moved:
        more = (", which here outnumber the network's training images"
                if regime.train_per_class is not None else "")
        lines += _wrap(f"- {labels[key]} also changes the predictions (accuracy {acc:.1f} % vs "
                       f"{acc0:.1f} %): its K x K map of the logits is a classifier of its own, "
                       f"fitted on the calibration images{more}.")
    sims = [k for k in ("l1", "l2", "ae", "we") if k in summary]
    if "uniform" in summary and sims:
        uni = _pct(summary, "uniform", "hist_ece_p")
        below = [labels[k] for k in sims if _pct(summary, k, "hist_ece_p") < uni]
        text = (f"- Same alpha ({config.alpha:g}), different smoothing: uniform {uni:.2f} %, "
                + ", ".join(f"{labels[k]} {_pct(summary, k, 'hist_ece_p'):.2f} %" for k in sims)
                + f"; {len(below)} of {len(sims)} similarity sources beat uniform smoothing.")
        lines += _wrap(text)
    if CV_METHOD in summary:
        picks = [(r["alpha"], r["beta"]) for r in records
                 if r.get("method") == CV_METHOD and r.get("alpha") is not None]
        chosen = ("; ".join(f"alpha {a:g}, beta {b:g}" for a, b in picks) if picks
                  else "its alpha and beta")
        lines += _wrap(
            f"- {labels[CV_METHOD]}: GridSearchCV chose {chosen} from alpha in "
            f"{{{', '.join(f'{a:g}' for a in config.cv_alphas)}}} x beta in "
            f"{{{', '.join(f'{b:g}' for b in config.cv_betas)}}} by {config.cv_folds}-fold "
            f"Hist ECE P on the training images alone; Hist ECE P "
            f"{_pct(summary, CV_METHOD, 'hist_ece_p'):.2f} % on the test images.")
    lines += _wrap(
        "- P is the ECE of the prediction: the top-label confidence against accuracy, "
        "0-100 %. O is the ECE of all outputs: every class probability of every image "
        "against whether that class is the true one, summed over the classes as in the "
        "paper, so it lies between 0 and 200 % (the paper's scale) and is not comparable "
        "with P. KDE rows estimate the same two with a kernel instead of 15 bins.")
    return lines


def _wrap(text, width=88):
    import textwrap

    return textwrap.wrap(text, width=width, subsequent_indent="  ")
