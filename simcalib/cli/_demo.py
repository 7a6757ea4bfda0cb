"""``simcalib demo``: the paper's comparison on scikit-learn's digits, in about a minute.

Trains a small CNN on the 8x8 digits (shipped with scikit-learn, no download)
with one-hot labels, uniform label smoothing, mixup, and class-similarity
label smoothing from pixel L1 / L2 distances and autoencoder latents (and
word embeddings of ``zero`` ... ``nine`` with ``--word-vectors``); applies
temperature scaling, Dirichlet-ODIR and ensemble temperature scaling to the
one-hot network; prints the paper's table (Hist / KDE ECE of the prediction
and of all outputs, accuracy, NLL) and writes reliability diagrams.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from simcalib.cli import CommandError
from simcalib.cli._reproduce import (
    add_training_arguments,
    check_threads,
    command_line,
    limit_threads,
    option_name,
    require_torch,
)

__all__ = ["add_parser", "run", "DEMO_METHODS"]

DEMO_METHODS = ("one-hot", "ts", "uniform", "mixup", "dir-odir", "ets", "l1", "l2", "ae")


def add_parser(subparsers):
    """Add the ``demo`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "demo",
        help="train and calibrate on scikit-learn's digits; print the paper's table",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--out", default="simcalib-demo", metavar="DIR",
                        help="folder for the reliability diagrams and tables (default simcalib-demo)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    # threads=1: the tiny network gains nothing from more threads, and on a
    # busy machine several OpenMP threads make small batches many times slower.
    add_training_arguments(parser, epochs=20, batch_size=32, lr=5e-3, threads=1)
    parser.set_defaults(func=run, _parser=parser)
    return parser


def _log(line):
    if not line.startswith("wrote "):  # the scratch folder is of no interest
        print(line, file=sys.stderr, flush=True)


def run(args):
    """Run ``simcalib demo``; return the exit code."""
    from simcalib.experiments import ExperimentConfig, run_experiment
    from simcalib.experiments._config import check_config

    check_threads(args.threads)
    methods = DEMO_METHODS + (("we",) if args.word_vectors else ())
    config = ExperimentConfig(
        dataset="digits", model="small_cnn", width=16, methods=methods, seeds=(args.seed,),
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        alpha=args.alpha, beta=args.beta, word_vectors=args.word_vectors, device=args.device,
        ae_epochs=None, ood=False, quiet=True,
    )
    try:
        check_config(config, name_of=lambda f: option_name(f, {"seeds": "--seed"}))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {args.out} is an existing file, not a folder")
    blocker = next((p for p in out.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise CommandError(f"--out {args.out} cannot be created: {blocker} is a file")
    require_torch()
    start = time.monotonic()
    # Networks and checkpoints go to a scratch folder: a demo always starts fresh.
    with tempfile.TemporaryDirectory(prefix="simcalib-demo-") as scratch, \
            limit_threads(args.threads):
        scratch = Path(scratch) / "run"
        print(f"simcalib demo: digits, small CNN, {args.epochs} epochs, seed {args.seed}; "
              f"{len(methods)} methods", file=sys.stderr, flush=True)
        result = run_experiment(config, scratch, command=command_line(args, "demo"),
                                log=_log)
        out.mkdir(parents=True, exist_ok=True)
        for key, name in (("fig1", "fig1_reliability.png"), ("markdown", "results.md"),
                          ("csv", "results.csv")):
            if key in result.files:
                shutil.copyfile(result.files[key], out / name)
    print()
    print(result.table)
    figure = out / "fig1_reliability.png"
    print(f"\nECE and accuracy in %, NLL in nats; {len(result.records)} methods in "
          f"{time.monotonic() - start:.0f} s. Reliability diagrams: {figure}")
    return 0
