"""Result tables in the layout of the paper's Tables 1-2 (methods as columns)."""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from simcalib.experiments._methods import ALL_METHODS
from simcalib.metrics._report import ECE_LEGEND

__all__ = ["TABLE_ROWS", "summarize", "format_table", "results_to_csv"]

#: (row label, report key, scale, decimals). ECEs and accuracy in %.
TABLE_ROWS = (
    ("Hist P", "hist_ece_p", 100.0, 2),
    ("Hist O", "hist_ece_o", 100.0, 2),
    ("KDE P", "kde_ece_p", 100.0, 2),
    ("KDE O", "kde_ece_o", 100.0, 2),
    ("Accuracy", "accuracy", 100.0, 2),
    ("NLL", "nll", 1.0, 3),
)

_LABELS = {m.key: m.label for m in ALL_METHODS}
_ORDER = {m.key: i for i, m in enumerate(ALL_METHODS)}


def summarize(records):
    """Mean, standard deviation and count over seeds of every metric.

    Parameters
    ----------
    records : list of dict
        One per (method, seed) run, each with a ``"method"`` key and the
        metric keys of :func:`simcalib.metrics.calibration_report`.

    Returns
    -------
    summary : dict of str -> dict of str -> (float, float, int)
        ``summary[method][metric] = (mean, std, n_seeds)``; the std is the
        sample standard deviation (ddof=1), NaN for a single seed. Methods
        come in the paper's column order.

    Examples
    --------
    >>> s = summarize([{"method": "ts", "nll": 1.0}, {"method": "ts", "nll": 3.0}])
    >>> s["ts"]["nll"]
    (2.0, 1.4142135623730951, 2)
    """
    grouped = {}
    for rec in records:
        grouped.setdefault(rec["method"], []).append(rec)
    summary = {}
    for method in sorted(grouped, key=lambda k: (_ORDER.get(k, len(_ORDER)), k)):
        runs = grouped[method]
        keys = [k for k in runs[0] if isinstance(runs[0][k], (int, float))
                and not isinstance(runs[0][k], bool) and k not in ("seed",)]
        summary[method] = {}
        for key in keys:
            values = np.array([r[key] for r in runs if key in r], dtype=float)
            std = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
            summary[method][key] = (float(np.mean(values)), std, len(values))
    return summary


def _cell(stats, scale, decimals):
    if stats is None:
        return "-"
    mean, std, _ = stats
    text = f"{mean * scale:.{decimals}f}"
    if not math.isnan(std):
        text += f" ± {std * scale:.{decimals}f}"
    return text


def format_table(summary, *, style="text", rows=TABLE_ROWS, legend=True):
    """Format a :func:`summarize` result with methods as columns.

    Parameters
    ----------
    summary : dict
        Output of :func:`summarize`.
    style : {"text", "markdown"}, default="text"
        Aligned plain text (for the terminal) or a GitHub markdown table.
    rows : sequence of (label, key, scale, decimals), default=TABLE_ROWS
        The rows: Hist P, Hist O, KDE P, KDE O (ECE, %), accuracy (%), NLL.
    legend : bool, default=True
        End a text table that has P or O rows with the line saying what P
        and O mean (:data:`~simcalib.metrics._report.ECE_LEGEND`). False for
        a caller that explains them itself right below the table.

    Returns
    -------
    table : str
        Entries are ``mean ± std`` over seeds (just the mean for one seed).
        The text table ends with a line saying what P and O mean when it
        has such rows (see ``legend``).

    Examples
    --------
    >>> s = summarize([{"method": "one-hot", "hist_ece_p": 0.2, "hist_ece_o": 0.4,
    ...                 "kde_ece_p": 0.2, "kde_ece_o": 0.3, "accuracy": 0.5, "nll": 2.0}])
    >>> print(format_table(s).splitlines()[2])
    Hist P      20.00
    """
    if style not in ("text", "markdown"):
        raise ValueError(f"style must be 'text' or 'markdown'; got {style!r}")
    methods = list(summary)
    header = ["ECE (%)"] + [_LABELS.get(m, m) for m in methods]
    body = [
        [label] + [_cell(summary[m].get(key), scale, dec) for m in methods]
        for label, key, scale, dec in rows
    ]
    if style == "markdown":
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join(["---"] + ["---:"] * len(methods)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    def fmt(r):
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))
        ).rstrip()
    rule = "-" * len(fmt(header))
    has_po = any(label.endswith((" P", " O")) for label, *_ in rows)
    below = [ECE_LEGEND] if legend and has_po else []
    return "\n".join([fmt(header), rule] + [fmt(r) for r in body] + below)


def results_to_csv(records, columns=None):
    """One CSV row per (method, seed) run with every recorded value.

    Parameters
    ----------
    records : list of dict
        Per-run records (see :func:`summarize`).
    columns : list of str, default=None
        Column order; default: ``method``, ``seed`` then the other keys sorted.

    Returns
    -------
    text : str

    Examples
    --------
    >>> print(results_to_csv([{"method": "ts", "seed": 0, "nll": 0.5}]).strip())
    method,seed,nll
    ts,0,0.5
    """
    if columns is None:
        keys = sorted({k for r in records for k in r} - {"method", "seed"})
        columns = ["method", "seed"] + keys
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    order = sorted(records, key=lambda r: (_ORDER.get(r["method"], 99), r["method"], r.get("seed", 0)))
    for rec in order:
        writer.writerow(rec)
    return out.getvalue()
