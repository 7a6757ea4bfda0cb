"""Tests of the paper-layout tables against hand-computed values."""

import csv
import io
import math

import numpy as np

from simcalib.experiments import format_table, results_to_csv, summarize

KEYS = ("hist_ece_p", "hist_ece_o", "kde_ece_p", "kde_ece_o", "accuracy", "nll")


def _records():
    rng = np.random.default_rng(0)
    recs = []
    for method in ("we", "one-hot", "ts"):  # not in column order on purpose
        for seed in (0, 1, 2):
            recs.append({"method": method, "seed": seed, **{k: float(rng.random()) for k in KEYS}})
    return recs


def test_summarize_mean_and_sample_std():
    recs = _records()
    summary = summarize(recs)
    assert list(summary) == ["one-hot", "ts", "we"]  # the paper's order
    values = [r["hist_ece_o"] for r in recs if r["method"] == "ts"]
    mean, std, n = summary["ts"]["hist_ece_o"]
    assert n == 3
    assert math.isclose(mean, sum(values) / 3)
    m = sum(values) / 3
    assert math.isclose(std, math.sqrt(sum((v - m) ** 2 for v in values) / 2))
    assert "seed" not in summary["ts"]


def test_single_seed_has_no_std():
    summary = summarize([{"method": "ts", "nll": 0.5}])
    assert summary["ts"]["nll"][0] == 0.5 and math.isnan(summary["ts"]["nll"][1])
    assert "±" not in format_table(summary)


def test_text_and_markdown_layout():
    summary = summarize(_records())
    text = format_table(summary).splitlines()
    assert text[0].split() == ["ECE", "(%)", "One-hot", "TS", "WE"]
    assert [line.split()[0] for line in text[2:-1]] == ["Hist", "Hist", "KDE", "KDE", "Accuracy", "NLL"]
    assert text[-1].startswith("P = ECE of the predicted class") and "0-200 %" in text[-1]
    mean, std, _ = summary["we"]["kde_ece_o"]
    row = [line for line in text if line.startswith("KDE O")][0]
    assert row.endswith(f"{100 * mean:.2f} ± {100 * std:.2f}")
    md = format_table(summary, style="markdown").splitlines()
    assert md[0] == "| ECE (%) | One-hot | TS | WE |"
    assert md[1] == "|---|---:|---:|---:|"
    assert len(md) == 2 + 6


def test_csv_round_trip():
    recs = _records()
    rows = list(csv.DictReader(io.StringIO(results_to_csv(recs))))
    assert [r["method"] for r in rows] == ["one-hot"] * 3 + ["ts"] * 3 + ["we"] * 3
    assert list(rows[0])[:2] == ["method", "seed"]
    by = {(r["method"], r["seed"]): r for r in recs}
    for row in rows:
        assert float(row["nll"]) == by[(row["method"], int(row["seed"]))]["nll"]
