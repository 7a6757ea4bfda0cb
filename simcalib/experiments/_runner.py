"""Run the paper's comparison: every method x seed, resumable, then tables and figures.

The work is split by concern: :mod:`._config` (the settings and their
checks), :mod:`._plan` (which runs), :mod:`._store` (the output folder, see
its docstring for the layout and the integrity rules), :mod:`._execute`
(training a network, fitting a calibrator) and :mod:`._report` (tables and
figures). This module puts them in order.

A finished run is skipped; an unfinished training run resumes from its
checkpoint (written after every epoch), so an interruption loses at most the
current epoch.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from simcalib import progress
from simcalib._device import resolve_device
from simcalib.experiments._config import (
    ExperimentConfig,
    ExperimentResult,
    check_config,
)
from simcalib.experiments._data import load_experiment_data
from simcalib.experiments._execute import (
    calibrate,
    evaluate,
    ood_sets,
    preflight,
    train,
)
from simcalib.experiments._plan import describe, plan_runs
from simcalib.experiments._report import write_reports
from simcalib.experiments._store import (
    OUTPUT_SPLITS,
    OutputFolder,
    check_output_path,
    folder_settings,
    ood_key,
    run_settings,
)
from simcalib.experiments._tables import format_table, summarize

__all__ = ["ExperimentConfig", "ExperimentResult", "run_experiment"]


def _stderr(line):
    # through tqdm: a line printed while the run / epoch bars are on screen
    # clears them, prints, and redraws them below
    progress.write(line, file=sys.stderr)


def run_experiment(config, out, *, callbacks=(), log=None, command=None):
    """Train / calibrate every (method, seed), then write tables and figures.

    Every setting, the data, the network and the word vectors are checked
    before anything is written, so a bad setting leaves the output folder
    as it was.

    Parameters
    ----------
    config : ExperimentConfig
        What to run.
    out : str or os.PathLike
        Output folder (created). Rerunning with the same folder skips
        finished runs and resumes unfinished ones from their last epoch;
        damaged runs are reported and redone; a folder holding runs of other
        settings is refused.
    callbacks : sequence of skorch callbacks, default=()
        Added after the checkpoint callback of every training run.
    log : callable, default=None
        Receives progress lines; default prints to stderr.
    command : str, default=None
        The command line, recorded at the top of ``results.md``.

    Returns
    -------
    result : ExperimentResult

    Raises
    ------
    ValueError
        For bad settings, data or output folder, or an output folder holding
        other settings; nothing has been written then.
    KeyboardInterrupt
        When a training run was interrupted; it resumes on the next call.

    Examples
    --------
    >>> cfg = ExperimentConfig(methods=("one-hot", "ts"), epochs=1, ood=False)
    >>> res = run_experiment(cfg, "out")  # doctest: +SKIP
    >>> print(res.table)  # doctest: +SKIP
    """
    log = _stderr if log is None else log
    check_config(config)
    if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"callbacks must be a sequence of skorch callbacks; got {callbacks!r}")
    callbacks = list(callbacks)
    out = Path(out).expanduser()
    check_output_path(out)
    plan = plan_runs(config)
    started = time.monotonic()
    log(f"loading {config.dataset} ...")
    data = load_experiment_data(
        config.dataset, config.data_dir, max_classes=config.max_classes,
        max_train_per_class=config.max_train_per_class, holdout=config.holdout,
        holdout_from=config.holdout_from, verbose=not config.quiet,
        image_size=config.image_size,
    )
    log(f"{config.dataset}: {len(data.y_train)} train / {len(data.y_holdout)} held-out "
        f"(from the {config.holdout_from} split) / {len(data.y_test)} test images of shape "
        f"{data.image_shape}, {data.n_classes} classes; device {resolve_device(config.device)}")
    ood = ood_sets(config, data)
    preflight(plan.order, config, data, log)

    folder = OutputFolder(out, folder_settings(config, data), log)
    settings = {r.key: run_settings(r, folder.settings, config) for r in plan.order}
    folder.check(settings)
    folder.write_config()  # every check has passed

    key = ood_key(config, ood)
    ood_check = None if key is None else (key, [len(x) for x in ood.values()])
    n_rows = {split: len(getattr(data, f"y_{split}"))
              for split in set(OUTPUT_SPLITS["train"]) | set(OUTPUT_SPLITS["posthoc"])}
    done = {}
    n_trained = n_skipped = 0
    # a bar over the runs (on a terminal, unless bars are switched off: the
    # commands' --quiet); each network's epochs have their own (TrainingProgress,
    # a default callback of the classifier, shown when the epoch log is)
    runs = progress.progress_bar(plan.order, desc="runs", unit="run")
    for i, run in enumerate(runs, 1):
        prefix = f"[{i}/{len(plan.order)}] {describe(run)}, seed {run.seed}"
        base_sha = done[run.base.key].sha256 if run.posthoc else None
        found = folder.load(run, settings[run.key], n_rows=n_rows, n_classes=data.n_classes,
                            ood=ood_check, base_sha=base_sha)
        if found is not None:
            found.record.update(evaluate(found.outputs, data))
            done[run.key] = found
            n_skipped += 1
            log(f"{prefix}: finished before, skipped")
            continue
        resumed = folder.begin(run, settings[run.key], epochs=config.epochs)
        log(f"{prefix}: {'resuming from its checkpoint' if resumed else 'starting'}")
        t0 = time.monotonic()
        if run.posthoc:
            record, outputs = calibrate(run, config, data, done[run.base.key].outputs, len(ood))
        else:
            extra = {"settings": settings[run.key], "log": log} if run.search else {}
            record, outputs = train(run, config, data, ood, run.folder(out), callbacks, **extra)
        done[run.key] = folder.save(run, record, outputs, settings[run.key], ood=key,
                                    base_sha=base_sha)
        n_trained += 1
        log(f"{prefix}: done in {time.monotonic() - t0:.1f} s -- accuracy "
            f"{100 * record['accuracy']:.2f}%, Hist ECE P {100 * record['hist_ece_p']:.2f}%")

    records = [dict(done[r.key].record, method=r.method) for r in plan.main]
    summary = summarize([{k: v for k, v in rec.items() if k not in ("alpha", "beta")}
                         for rec in records])
    files = write_reports(config, data, plan, done, ood, summary, out, command=command,
                          elapsed=time.monotonic() - started, log=log, n_skipped=n_skipped)
    log(f"wrote {files['markdown']} and {files['csv']} "
        f"({time.monotonic() - started:.1f} s)")
    return ExperimentResult(records, summary, format_table(summary), files, n_trained, n_skipped)
