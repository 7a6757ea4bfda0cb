"""Reporting of a finished comparison: results.csv, results.md and Figs. 1-3."""

from __future__ import annotations

import platform

from simcalib._device import resolve_device
from simcalib.datasets._cache import atomic_write_text
from simcalib.experiments._execute import probabilities
from simcalib.experiments._methods import METHODS
from simcalib.experiments._tables import TABLE_ROWS, format_table, results_to_csv

__all__ = ["write_reports", "OOD_SHOWN"]

_LABELS = {m.key: m.label for m in METHODS}
#: Columns drawn in Fig. 3 (the post-hoc ones barely change the one-hot curve).
OOD_SHOWN = ("one-hot", "uniform", "mixup", "l1", "l2", "ae", "we")


def write_reports(config, data, plan, done, ood, summary, out, *, command, elapsed, log):
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
        config, summary, plan.sweeps, done, first, ood, command, elapsed, files, data))
    return files


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


def _markdown(config, summary, sweeps, done, first, ood, command, elapsed, files, data):
    lines = [f"# simcalib results: {config.dataset}, {config.model}", ""]
    if command:
        lines += ["Command:", "", "```", command, "```", ""]
    lines += [
        f"- data: {len(data.y_train)} training / {len(data.y_holdout)} held-out "
        f"(post-hoc calibration) / {len(data.y_test)} test images, {data.n_classes} classes, "
        f"shape {data.image_shape}",
        f"- training: {config.epochs} epochs, batch {config.batch_size}, lr {config.lr:g}, "
        f"alpha {config.alpha:g}, beta {config.beta:g}, mixup alpha {config.mixup_alpha:g}",
        f"- seeds: {', '.join(map(str, config.seeds))}; entries are mean ± std over seeds",
        f"- device: {_device_name(config)}; python {platform.python_version()}, "
        f"{platform.machine()}",
        f"- time: {_run_seconds(done):.0f} s of training and calibration summed over the "
        f"{len(done)} runs (also those finished by earlier invocations); this invocation "
        f"took {elapsed:.0f} s",
        "",
        "ECE and accuracy in %, NLL in nats (15 bins; KDE: triweight kernel).",
        "",
        format_table(summary, style="markdown", rows=TABLE_ROWS),
        "",
    ]
    for which in ("alpha", "beta"):
        points = _sweep_points(sweeps, done, which)
        if not points:
            continue
        lines += [f"## Sweep over {which} (seed {config.seeds[0]})", "",
                  f"| method | {which} | Hist P | Hist O | KDE P | KDE O | Accuracy |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for key, pts in points.items():
            for value, rep in sorted(pts, key=lambda t: t[0]):
                lines.append(
                    f"| {_LABELS.get(key, key)} | {value:g} | " + " | ".join(
                        f"{100 * rep[m]:.2f}" for m in
                        ("hist_ece_p", "hist_ece_o", "kde_ece_p", "kde_ece_o", "accuracy")) + " |")
        lines.append("")
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
    return sum(float(s.record.get("train_seconds") or s.record.get("fit_seconds") or 0.0)
               for s in done.values())


def _device_name(config):
    device = resolve_device(config.device)
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(0)})"
    return f"{device} ({platform.processor() or platform.machine()})"
