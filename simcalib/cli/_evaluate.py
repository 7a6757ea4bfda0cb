"""``simcalib evaluate``: calibration report of saved predictions.

Input formats
-------------
``.npz``
    Arrays ``y_true`` (n,) and exactly one of ``logits`` (n, K) or
    ``probs`` (n, K); optionally ``labels`` (K,), the class of each column.
    Logits go through a softmax.
``outputs.npz`` of ``simcalib reproduce``
    A run's arrays ``logits_<split>`` or ``probs_<split>`` with the labels
    ``y_<split>``; ``--split`` picks the split (``test`` by default,
    ``holdout`` for the networks' held-out logits).
a folder
    A run folder (``runs/<run>/seed<s>``) or any folder above it, up to the
    whole ``--out`` folder of ``simcalib reproduce``: every ``outputs.npz``
    below it is evaluated, one row per run.
``.csv``
    A header row, then one row per sample. The column named ``y_true``
    holds the true labels; every other column holds the probability of one
    class, in column order, and its header is that class's label. With
    ``--logits`` the other columns are logits instead. ``y_true`` may hold
    column indices (0 .. K-1) or the header labels::

        y_true,cat,dog,bird
        dog,0.2,0.7,0.1
        cat,0.9,0.05,0.05

Without ``PREDICTIONS`` the command evaluates a small bundled example
(logistic regression on scikit-learn's digits, held-out split).
"""

from __future__ import annotations

import csv
import json
import re
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
from scipy.special import softmax

from simcalib.cli import CommandError
from simcalib.metrics._report import ECE_LEGEND

__all__ = ["add_parser", "load_predictions", "format_table", "format_runs_table", "run_files",
           "run", "EXAMPLE_PREDICTIONS"]

#: The file of a ``simcalib reproduce`` run that holds its outputs and labels.
OUTPUTS = "outputs.npz"

#: Bundled example: logits of a logistic regression on a held-out split of
#: scikit-learn's digits (see ``tests/cli/digits_predictions.py``).
EXAMPLE_PREDICTIONS = Path(__file__).resolve().parent / "data" / "digits_logreg_predictions.npz"

_ROWS = (
    # key, display name, shown as a percentage
    ("accuracy", "Accuracy", True),
    ("nll", "NLL", False),
    ("brier", "Brier", False),
    ("hist_ece_p", "Hist ECE P", True),
    ("hist_ece_o", "Hist ECE O", True),
    ("kde_ece_p", "KDE ECE P", True),
    ("kde_ece_o", "KDE ECE O", True),
    ("classwise_ece", "Classwise ECE", True),
    ("mce", "MCE", True),
)


def add_parser(subparsers):
    """Add the ``evaluate`` subcommand to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "evaluate",
        help="calibration report (accuracy, NLL, Brier, ECEs) of saved predictions",
        description=(
            "Print accuracy, NLL, Brier score, histogram and KDE ECE (prediction P "
            "and output O, on the paper's tables' scale), classwise ECE and MCE of "
            "saved predictions. PREDICTIONS is an .npz with arrays y_true and "
            "logits or probs (optional labels), or a CSV with a header, a y_true "
            "column and one probability column per class whose header is the class "
            "label. PREDICTIONS may also be a run's outputs.npz written by simcalib "
            "reproduce, or a folder (a run, or a whole reproduce --out folder): every "
            "outputs.npz below it is evaluated, one row per run. Without PREDICTIONS, a "
            "bundled example is evaluated."
        ),
    )
    parser.add_argument(
        "predictions", metavar="PREDICTIONS", nargs="?", default=None,
        help="an .npz or .csv file, or a folder of simcalib reproduce runs "
             "(default: the bundled digits example)",
    )
    parser.add_argument(
        "--split", default="test", choices=["test", "holdout"],
        help="outputs.npz of simcalib reproduce: the split to evaluate (default test)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--plot", metavar="FILE.png", default=None,
        help="write reliability diagrams (prediction and output) to this image",
    )
    parser.add_argument(
        "--n-bins", type=int, default=15, metavar="N",
        help="number of bins of the histogram metrics (default: 15)",
    )
    parser.add_argument(
        "--labels", nargs="+", default=None, metavar="LABEL",
        help="class label of each probability column, when y_true holds labels",
    )
    parser.add_argument(
        "--logits", action="store_true",
        help="CSV only: the class columns hold logits, not probabilities",
    )
    parser.set_defaults(func=run)
    return parser


#: Upper bound of ``--n-bins``: the histogram metrics allocate per bin, and
#: far fewer bins than this already leave most of them empty.
MAX_BINS = 100_000


def _numeric(values, name, path):
    """``values`` as float64; refuse strings, objects and complex numbers."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise CommandError(f"{path}: '{name}' must hold real numbers; got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _softmax(logits, path):
    if logits.ndim != 2:
        raise CommandError(f"{path}: logits must be 2-D (n, K); got shape {logits.shape}")
    if not np.all(np.isfinite(logits)):
        raise CommandError(f"{path}: logits contain NaN or infinity")
    return softmax(logits.astype(np.float64), axis=1)


def _load_npz(path, split="test"):
    # np.load leaves its own file handle open when the zip is unreadable:
    # open the file here so it is always closed.
    try:
        with open(path, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise CommandError(
                    f"{path}: holds a single .npy array, not an .npz archive of named "
                    "arrays (save with np.savez(path, y_true=..., logits=...))"
                )
            with data:
                arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise CommandError(f"{path}: not a readable .npz file ({exc})") from None
    if "y_true" not in arrays and _is_run_output(arrays):
        return _run_arrays(path, arrays, split)
    if "y_true" not in arrays:
        raise CommandError(f"{path}: missing array 'y_true' (found {sorted(arrays)})")
    has = [key for key in ("probs", "logits") if key in arrays]
    if len(has) != 1:
        raise CommandError(
            f"{path}: needs exactly one of the arrays 'probs' or 'logits' "
            f"(found {sorted(arrays)})"
        )
    values = _numeric(arrays[has[0]], has[0], path)
    y_prob = _softmax(values, path) if has[0] == "logits" else values
    labels = arrays.get("labels")
    return arrays["y_true"], y_prob, labels


def _is_run_output(arrays):
    """Whether the arrays are a ``simcalib reproduce`` run's ``outputs.npz``."""
    return any(k.startswith(("logits_", "probs_")) for k in arrays)


def _run_arrays(path, arrays, split):
    """``(y_true, y_prob, None)`` of ``split`` from a run's ``outputs.npz``."""
    splits = sorted({k.split("_", 1)[1] for k in arrays if k.startswith(("logits_", "probs_"))
                     and not k.split("_", 1)[1].startswith("ood")})
    has = [f"{kind}_{split}" for kind in ("logits", "probs") if f"{kind}_{split}" in arrays]
    if not has:
        raise CommandError(f"{path}: no outputs for the split {split!r} (it stores "
                           f"{', '.join(splits) or 'none'}; choose one with --split)")
    if f"y_{split}" not in arrays:
        raise CommandError(
            f"{path}: no labels 'y_{split}' beside '{has[0]}'; the run was written by a "
            "simcalib that did not store them: run its simcalib reproduce command again "
            "in a new --out folder"
        )
    values = _numeric(arrays[has[0]], has[0], path)
    y_prob = _softmax(values, path) if has[0].startswith("logits") else values
    return arrays[f"y_{split}"], y_prob, None


def _as_int_labels(values):
    try:
        ints = np.array([int(v) for v in values])
    except ValueError:
        return None
    return ints


def _load_csv(path, logits):
    try:
        # utf-8-sig: spreadsheet programs start UTF-8 CSV files with a BOM
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CommandError(f"{path}: not a readable CSV file ({exc})") from None
    rows = [row for row in rows if row]
    if len(rows) < 2:
        raise CommandError(f"{path}: needs a header row and at least one data row")
    header = [name.strip() for name in rows[0]]
    if header.count("y_true") != 1:
        what = "no" if "y_true" not in header else "more than one"
        raise CommandError(f"{path}: {what} 'y_true' column in the header {header}")
    if len(header) < 3:
        raise CommandError(f"{path}: needs 'y_true' and at least two class columns")
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise CommandError(
                f"{path}: line {lineno} has {len(row)} fields, the header has {len(header)}"
            )
    target = header.index("y_true")
    columns = [j for j in range(len(header)) if j != target]
    y_raw = [row[target].strip() for row in rows[1:]]
    try:
        values = np.array([[float(row[j]) for j in columns] for row in rows[1:]])
    except ValueError as exc:
        raise CommandError(f"{path}: class columns must be numeric ({exc})") from None
    y_prob = _softmax(values, path) if logits else values
    names = np.array([header[j] for j in columns])
    y_int = _as_int_labels(y_raw)
    if y_int is not None and not set(y_raw) <= set(names.tolist()):
        return y_int, y_prob, None
    return np.array(y_raw), y_prob, names


def load_predictions(path, *, logits=False, split="test"):
    """Read ``(y_true, y_prob, labels)`` from an ``.npz`` or ``.csv`` file.

    Parameters
    ----------
    path : str or Path
        The file; its suffix selects the format (see the module docstring).
    logits : bool, default=False
        CSV only: the class columns hold logits.
    split : {"test", "holdout"}, default="test"
        A ``simcalib reproduce`` run's ``outputs.npz`` only: which split.

    Returns
    -------
    y_true : ndarray of shape (n_samples,)
    y_prob : ndarray of shape (n_samples, n_classes), dtype=float64
    labels : ndarray of shape (n_classes,) or None
        Class label of each column, when the file names them.

    Raises
    ------
    CommandError
        On a missing, unreadable or malformed file.

    Examples
    --------
    >>> from simcalib.cli._evaluate import EXAMPLE_PREDICTIONS, load_predictions
    >>> y, p, labels = load_predictions(EXAMPLE_PREDICTIONS)
    >>> p.shape[1], labels is None
    (10, True)
    """
    path = Path(path)
    if not path.exists():
        raise CommandError(f"{path}: no such file")
    if path.is_dir():
        raise CommandError(f"{path}: is a directory, expected an .npz or .csv file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path, split)
    if suffix == ".csv":
        return _load_csv(path, logits)
    raise CommandError(f"{path}: unsupported file type {suffix!r}; use .npz or .csv")


def format_table(report, *, title=None):
    """Align the report as a two-column text table (ECEs and accuracy in %).

    When the report holds a prediction (P) or output (O) ECE, a last line
    says what the two mean and that O can exceed 100 %.

    Examples
    --------
    >>> print(format_table({"accuracy": 0.5, "nll": 0.69}))
    metric     value
    --------  ------
    Accuracy  50.00%
    NLL       0.6900
    """
    rows = [
        (name, f"{100 * report[key]:.2f}%" if percent else f"{report[key]:.4f}")
        for key, name, percent in _ROWS
        if key in report
    ]
    width = max(len("metric"), *(len(name) for name, _ in rows))
    vwidth = max(len("value"), *(len(value) for _, value in rows))
    lines = [] if title is None else [title]
    lines.append(f"{'metric':<{width}}  {'value':>{vwidth}}")
    lines.append(f"{'-' * width}  {'-' * vwidth}")
    lines += [f"{name:<{width}}  {value:>{vwidth}}" for name, value in rows]
    if any(key.endswith(("_p", "_o")) and key in report for key, _, _ in _ROWS):
        lines.append(ECE_LEGEND)
    return "\n".join(lines)


def _plot(path, y_true, y_prob, labels, n_bins, name):
    try:
        import matplotlib
    except ImportError:
        raise CommandError(
            "--plot needs matplotlib: pip install 'simcalib[plot]'"
        ) from None
    matplotlib.use("Agg")  # a command line run: never open a window
    import matplotlib.pyplot as plt

    from simcalib.plotting import ReliabilityDisplay

    displays = [
        ReliabilityDisplay(
            *_display_bins(y_true, y_prob, labels, n_bins, mode), mode=mode, name=name
        )
        for mode in ("prediction", "output")
    ]
    fig, _ = ReliabilityDisplay.plot_grid(displays)
    try:
        fig.savefig(path, dpi=120)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot write plot {path}: {exc}") from None
    finally:
        plt.close(fig)


def _display_bins(y_true, y_prob, labels, n_bins, mode):
    from simcalib._validation import check_prediction_inputs
    from simcalib.metrics._common import output_scale
    from simcalib.metrics._histogram import bin_statistics

    y, p = check_prediction_inputs(y_true, y_prob, labels=labels)
    stats = bin_statistics(y, p, n_bins=n_bins, mode=mode)
    ece = stats.error("l1", output_scale(mode, "n", p.shape[1]))
    return stats.edges, stats.accuracy, stats.confidence, stats.counts, ece


def run_files(folder):
    """The ``outputs.npz`` files of the ``simcalib reproduce`` runs in ``folder``.

    Parameters
    ----------
    folder : pathlib.Path
        A run folder (holding ``outputs.npz``) or any folder above run folders.

    Returns
    -------
    files : list of pathlib.Path
        Sorted by run name and seed.
    """
    if (folder / OUTPUTS).is_file():
        return [folder / OUTPUTS]
    return sorted(folder.rglob(OUTPUTS), key=lambda p: [
        int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.as_posix())])


#: Columns of the table of several runs: (report key, header, percent).
_WIDE = (("accuracy", "Acc", True), ("nll", "NLL", False), ("brier", "Brier", False),
         ("hist_ece_p", "Hist P", True), ("hist_ece_o", "Hist O", True),
         ("kde_ece_p", "KDE P", True), ("kde_ece_o", "KDE O", True),
         ("classwise_ece", "Classwise", True), ("mce", "MCE", True))


def format_runs_table(rows):
    """A text table with one row per run and one column per metric.

    Parameters
    ----------
    rows : list of (str, dict)
        Run name and its :func:`~simcalib.metrics.calibration_report`.

    Returns
    -------
    table : str
        Accuracy and ECEs in %, then a line saying what P and O mean.

    Examples
    --------
    >>> print(format_runs_table([("ts/seed0", {"accuracy": 0.5, "nll": 0.69})]).splitlines()[2])
    ts/seed0  50.00  0.6900
    """
    keys = [(k, h, pct) for k, h, pct in _WIDE if any(k in r for _, r in rows)]
    header = ["run"] + [h for _, h, _ in keys]
    body = [[name] + [("-" if k not in r else f"{100 * r[k]:.2f}" if pct else f"{r[k]:.4f}")
                      for k, _, pct in keys] for name, r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fmt(line):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(line, widths)))

    lines = [fmt(header), "  ".join("-" * w for w in widths)] + [fmt(line) for line in body]
    lines.append("Accuracy and ECEs in %, NLL and Brier as is. " + ECE_LEGEND)
    return "\n".join(lines)


def _evaluate_folder(args, folder):
    from simcalib.metrics import calibration_report

    files = run_files(folder)
    if not files:
        raise CommandError(f"{folder}: no {OUTPUTS} of simcalib reproduce runs in this folder "
                           "or below it")
    if args.plot is not None and len(files) > 1:
        raise CommandError(f"--plot draws one run; {folder} holds {len(files)} (give one "
                           "run folder, e.g. runs/one-hot/seed0)")
    if args.labels is not None or args.logits:
        raise CommandError("--labels and --logits do not apply to simcalib reproduce outputs")
    rows, skipped = [], []
    for path in files:
        try:
            y_true, y_prob, _ = _load_npz(path, args.split)
        except CommandError:
            if len(files) == 1:
                raise
            skipped.append(path.parent.relative_to(folder).as_posix())
            continue
        try:
            report = calibration_report(y_true, y_prob, labels=np.arange(y_prob.shape[1]),
                                        n_bins=args.n_bins)
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}") from None
        name = path.parent.relative_to(folder).as_posix() if path.parent != folder \
            else folder.name
        rows.append((name, report, y_true, y_prob))
    if not rows:
        raise CommandError(f"{folder}: no run stores outputs and labels of the split "
                           f"{args.split!r}")
    if len(files) == 1:
        name, report, y_true, y_prob = rows[0]
        _print_single(args, files[0], report, y_true, y_prob, None)
        return 0
    if args.json:
        print(json.dumps([{"run": name, "n_samples": int(len(p)), "n_classes": int(p.shape[1]),
                           "split": args.split, "n_bins": args.n_bins, **report}
                          for name, report, _, p in rows], indent=2))
    else:
        n, k = len(rows[0][3]), rows[0][3].shape[1]
        print(f"{folder}: {len(rows)} runs, {args.split} split ({n} samples, {k} classes), "
              f"{args.n_bins} bins")
        print(format_runs_table([(name, report) for name, report, _, _ in rows]))
    if skipped:
        print(f"simcalib evaluate: {len(skipped)} runs store no outputs and labels of the "
              f"{args.split} split: {', '.join(skipped)}", file=sys.stderr)
    return 0


def _print_single(args, path, report, y_true, y_prob, labels):
    n = len(y_prob)
    k = y_prob.shape[1] if y_prob.ndim == 2 else 2  # 1-D: binary positive class
    if args.plot is not None:
        _plot(args.plot, y_true, y_prob, labels, args.n_bins, path.parent.name
              if path.name == OUTPUTS else path.stem)
    if args.json:
        out = {"file": str(path), "n_samples": int(n), "n_classes": int(k),
               "n_bins": args.n_bins, **report}
        print(json.dumps(out, indent=2))
    else:
        title = f"{path.name}: {n} samples, {k} classes, {args.n_bins} bins"
        if path.name == OUTPUTS:
            title = f"{path}: {args.split} split, {n} samples, {k} classes, {args.n_bins} bins"
        print(format_table(report, title=title))
        if args.plot is not None:
            print(f"reliability diagrams written to {args.plot}")


def run(args):
    """Execute ``simcalib evaluate``; return the exit code."""
    from simcalib.metrics import calibration_report

    path = EXAMPLE_PREDICTIONS if args.predictions is None else Path(args.predictions)
    if not 1 <= args.n_bins <= MAX_BINS:
        raise CommandError(f"--n-bins must be between 1 and {MAX_BINS}; got {args.n_bins}")
    if args.plot is not None and not args.plot.strip():
        raise CommandError("--plot needs a file name such as reliability.png")
    if path.is_dir():
        return _evaluate_folder(args, path)
    if args.logits and path.suffix.lower() != ".csv":
        raise CommandError(f"--logits applies to CSV files only; {path} states its own "
                           "'logits' or 'probs' array")
    y_true, y_prob, labels = load_predictions(path, logits=args.logits, split=args.split)
    if args.labels is not None:
        labels = np.array(args.labels)
        if np.asarray(y_true).dtype.kind in "iu":
            labels = _as_int_labels(args.labels)
            if labels is None:
                raise CommandError(
                    f"{path}: y_true holds integers, so --labels must be integers; "
                    f"got {args.labels}"
                )
    try:
        report = calibration_report(y_true, y_prob, labels=labels, n_bins=args.n_bins)
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None
    _print_single(args, path, report, y_true, y_prob, labels)
    return 0
