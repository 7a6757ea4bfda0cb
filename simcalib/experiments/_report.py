"""Reporting of a finished comparison: results.csv, results.md and Figs. 1-3."""

from __future__ import annotations

import json
import platform

import numpy as np

from simcalib._device import resolve_device
from simcalib.datasets._cache import atomic_write_text
from simcalib.experiments._execute import SEARCH, probabilities
from simcalib.experiments._methods import ALL_METHODS
from simcalib.experiments._tables import TABLE_ROWS, format_table, results_to_csv

__all__ = ["write_reports", "OOD_SHOWN", "split_accuracy", "search_results"]

_LABELS = {m.key: m.label for m in ALL_METHODS}
#: Columns drawn in Fig. 3 (the post-hoc ones barely change the one-hot curve).
OOD_SHOWN = ("one-hot", "uniform", "mixup", "l1", "l2", "ae", "we")


def write_reports(config, data, plan, done, ood, summary, out, *, command, elapsed, log,
                  n_skipped=0):
    """Write ``results.csv``, the figures and ``results.md``; return the files.

    Parameters
    ----------
    config : ExperimentConfig
    data : ExperimentData
    plan : Plan
    done : dict of (name, seed) -> Stored
        Every finished run of the plan.
    ood : dict of str -> ndarray
        The OOD inputs (their names label Fig. 3).
    summary : dict
        :func:`~simcalib.experiments.summarize` of the main records.
    out : pathlib.Path
        The output folder.
    command : str or None
        Shown at the top of ``results.md``.
    elapsed : float
        Seconds this invocation took so far.
    log : callable
        Receives a line when matplotlib is missing.
    n_skipped : int, default=0
        Runs found finished from earlier invocations (said so in the time
        line when there are any).

    Returns
    -------
    files : dict of str -> pathlib.Path
    """
    records = [dict(done[r.key].record, method=r.method) for r in plan.main]
    files = {"csv": out / "results.csv"}
    atomic_write_text(files["csv"], results_to_csv(records))
    seed0 = config.seeds[0]
    first = {r.method: done[r.key].outputs for r in plan.main if r.seed == seed0}
    files.update(_figures(config, data, first, plan.sweeps, done, ood, out, log))
    files["markdown"] = out / "results.md"
    atomic_write_text(files["markdown"], _markdown(
        config, summary, plan, done, first, ood, command, elapsed, files, data, out,
        n_skipped))
    return files


def split_accuracy(plan, done, data):
    """Accuracy and mean confidence of every trained column on the held-out and test splits.

    The calibrators are fitted on the held-out split and judged on the test
    split: the two should come from one distribution. This shows whether
    they do.

    Returns
    -------
    rows : dict of str -> dict of str -> list of float
        ``rows[method]["holdout_acc" | "holdout_conf" | "test_acc" |
        "test_conf"]``: one value per seed, for the training methods of the
        main table in column order.
    """
    rows = {}
    for run in plan.main:
        if run.posthoc:
            continue
        outputs = done[run.key].outputs
        row = rows.setdefault(run.method, {})
        for split in ("holdout", "test"):
            p = probabilities(outputs, split)
            y = getattr(data, f"y_{split}")
            row.setdefault(f"{split}_acc", []).append(float(np.mean(p.argmax(axis=1) == y)))
            row.setdefault(f"{split}_conf", []).append(float(p.max(axis=1).mean()))
    return rows


def search_results(plan, out):
    """The stored search of every cross-validated run of the main table.

    Returns
    -------
    results : dict of str -> list of (seed, dict)
        Per method, the seed and the ``result`` of its ``search.json``.
    """
    found = {}
    for run in plan.main:
        if not run.search:
            continue
        try:
            stored = json.loads((run.folder(out) / SEARCH).read_text())
            result = stored["result"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.setdefault(run.method, []).append((run.seed, result))
    return found


def _sweep_points(sweeps, done, which):
    points = {}
    for run in sweeps[which]:
        value = run.alpha if which == "alpha" else run.beta
        points.setdefault(run.method, []).append((value, done[run.key].record))
    return points


def _figures(config, data, first, sweeps, done, ood, out, log):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("matplotlib is not installed: no figures (pip install simcalib[plot])")
        return {}
    from simcalib.experiments._figures import (
        plot_ood_confidence,
        plot_reliability_grid,
        plot_sweeps,
    )

    files = {}
    title = f"{config.dataset}, {config.model}, seed {config.seeds[0]}"
    files["fig1"] = out / "fig1_reliability.png"
    plot_reliability_grid({k: probabilities(v, "test") for k, v in first.items()},
                          data.y_test, files["fig1"], suptitle=title)
    if sweeps["alpha"] or sweeps["beta"]:
        files["fig2"] = out / "fig2_sweeps.png"
        plot_sweeps(_sweep_points(sweeps, done, "alpha"), _sweep_points(sweeps, done, "beta"),
                    files["fig2"])
    shown = [k for k in first if k in OOD_SHOWN]
    if ood and shown:
        conf = {kind: {k: probabilities(first[k], f"ood{i}").max(axis=1) for k in shown}
                for i, kind in enumerate(ood)}
        files["fig3"] = out / "fig3_ood.png"
        plot_ood_confidence(conf, files["fig3"])
    return files


def _protocol(config, data):
    """One line saying where the calibration images come from."""
    if data.holdout_from == "test":
        return (f"- calibration split: {len(data.y_holdout)} images drawn per class from the "
                f"test split (fraction {config.holdout:g}, fixed seed), which keeps the other "
                f"{len(data.y_test)}; the networks train on all {len(data.y_train)} training "
                "images, and calibration and test images come from one distribution")
    return (f"- calibration split: {len(data.y_holdout)} images held out per class from the "
            f"training images (fraction {config.holdout:g}, fixed seed); the networks train "
            f"on the other {len(data.y_train)}")


def _mean_std(values, scale=100.0, decimals=1):
    values = np.asarray(values, dtype=float) * scale
    text = f"{values.mean():.{decimals}f}"
    if len(values) > 1:
        text += f" ± {values.std(ddof=1):.{decimals}f}"
    return text


def _markdown(config, summary, plan, done, first, ood, command, elapsed, files, data, out,
              n_skipped):
    sweeps = plan.sweeps
    lines = [f"# simcalib results: {config.dataset}, {config.model}", ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    run_s, search_s = _run_seconds(done), _search_seconds(done)
    earlier = (f" ({n_skipped} of them finished by earlier invocations)" if n_skipped else "")
    width = "" if config.width is None else f" (width {config.width})"
    lines += [
        f"- data: {len(data.y_train)} training / {len(data.y_holdout)} held-out "
        f"(post-hoc calibration) / {len(data.y_test)} test images, {data.n_classes} classes, "
        f"shape {data.image_shape}",
        _protocol(config, data),
        f"- training: {config.model}{width}, {config.epochs} epochs, batch {config.batch_size}, "
        f"lr {config.lr:g}, weight decay {config.weight_decay:g}, alpha {config.alpha:g}, "
        f"beta {config.beta:g}, mixup alpha {config.mixup_alpha:g}",
        f"- seeds: {', '.join(map(str, config.seeds))}; entries are mean ± std over seeds",
        f"- device: {_device_name(config)}; python {platform.python_version()}, "
        f"{platform.machine()}",
        f"- time: {run_s:.0f} s of training and calibration summed over the {len(done)} "
        f"runs{earlier}" + (f", {search_s:.0f} s of it in cross-validated searches"
                            if search_s else "")
        + f"; this invocation took {elapsed:.0f} s",
        "",
        "ECE and accuracy in %, NLL in nats (15 bins; KDE: triweight kernel). P: the "
        "top-label prediction; O: all K outputs pooled, on the paper's scale (0-200 %).",
        "",
        format_table(summary, style="markdown", rows=TABLE_ROWS),
        "",
    ]
    rows = split_accuracy(plan, done, data)
    if rows:
        lines += ["## Held-out and test split", "",
                  "Accuracy and mean confidence (%, mean ± std over seeds) of each network on "
                  "the split its calibrators are fitted on and on the test split.", "",
                  "| method | held-out accuracy | test accuracy | held-out confidence | "
                  "test confidence |", "|---|---:|---:|---:|---:|"]
        for key, row in rows.items():
            lines.append(f"| {_LABELS.get(key, key)} | " + " | ".join(
                _mean_std(row[k]) for k in ("holdout_acc", "test_acc", "holdout_conf",
                                            "test_conf")) + " |")
        lines.append("")
    searched = search_results(plan, out)
    for key, results in searched.items():
        folds = results[0][1].get("folds", "?")
        lines += [f"## {_LABELS.get(key, key)}: alpha and beta chosen by cross-validation", "",
                  f"GridSearchCV with `ece_scorer` (Hist ECE P) over {folds} stratified folds "
                  "of the training images only; then one network trained on all of them "
                  "with the chosen pair.", "",
                  "| seed | alpha | beta | CV Hist ECE P | search time (s) |",
                  "|---:|---:|---:|---:|---:|"]
        for seed, res in results:
            lines.append(f"| {seed} | {res['alpha']:g} | {res['beta']:g} | "
                         f"{100 * res['cv_ece']:.2f} | {res['search_seconds']:.0f} |")
        grid = {}
        for _, res in results:
            for point in res["grid"]:
                grid.setdefault((point["alpha"], point["beta"]), []).append(point["cv_ece"])
        alphas = sorted({a for a, _ in grid})
        betas = sorted({b for _, b in grid})
        lines += ["", f"Mean CV Hist ECE P (%) of every pair over {len(results)} seed(s):", "",
                  "| alpha \\ beta | " + " | ".join(f"{b:g}" for b in betas) + " |",
                  "|---:|" + "---:|" * len(betas)]
        for a in alphas:
            lines.append(f"| {a:g} | " + " | ".join(
                f"{100 * np.mean(grid[(a, b)]):.2f}" if (a, b) in grid else "-"
                for b in betas) + " |")
        lines.append("")
    for which in ("alpha", "beta"):
        points = _sweep_points(sweeps, done, which)
        if not points:
            continue
        lines += [f"## Sweep over {which} (seed {config.seeds[0]})", "",
                  f"| method | {which} | Hist P | Hist O | KDE P | KDE O | Accuracy |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        best = []
        for key, pts in points.items():
            pts = sorted(pts, key=lambda t: t[0])
            for value, rep in pts:
                lines.append(
                    f"| {_LABELS.get(key, key)} | {value:g} | " + " | ".join(
                        f"{100 * rep[m]:.2f}" for m in
                        ("hist_ece_p", "hist_ece_o", "kde_ece_p", "kde_ece_o", "accuracy")) + " |")
            value, rep = min(pts, key=lambda t: t[1]["hist_ece_p"])
            best.append(f"{_LABELS.get(key, key)} at {which} = {value:g} "
                        f"({100 * rep['hist_ece_p']:.2f} %)")
        lines += ["", "Lowest Hist P: " + "; ".join(best) + ".", ""]
    if ood:
        lines += [f"## Mean confidence on out-of-distribution inputs (seed {config.seeds[0]})", "",
                  "| method | " + " | ".join(ood) + " |", "|---|" + "---:|" * len(ood)]
        for key, outputs in first.items():
            cells = [f"{probabilities(outputs, f'ood{i}').max(axis=1).mean():.3f}"
                     for i in range(len(ood))]
            lines.append(f"| {_LABELS.get(key, key)} | " + " | ".join(cells) + " |")
        lines.append("")
    figs = [(k, files[k]) for k in ("fig1", "fig2", "fig3") if k in files]
    if figs:
        lines += ["## Figures", ""] + [f"![{k}]({p.name})" for k, p in figs] + [""]
    return "\n".join(lines)


def _run_seconds(done):
    """Seconds of training, calibration and cross-validated search of every run."""
    return sum(float(s.record.get("train_seconds") or s.record.get("fit_seconds") or 0.0)
               + _search_seconds({0: s}) for s in done.values())


def _search_seconds(done):
    return sum(float(s.record.get("search_seconds") or 0.0) for s in done.values())


def _device_name(config):
    device = resolve_device(config.device)
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(0)})"
    return f"{device} ({platform.processor() or platform.machine()})"
