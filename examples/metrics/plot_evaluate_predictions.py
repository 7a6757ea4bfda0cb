"""
=====================================================
Evaluating saved predictions and reliability diagrams
=====================================================

A model's predictions are usually evaluated long after it was trained, from
a file of labels and probabilities (or logits). This example saves the
predictions of two scikit-learn classifiers on the digits, loads them back,
computes the calibration metrics of :mod:`simcalib.metrics` and draws
reliability diagrams with :class:`~simcalib.ReliabilityDisplay`, for the top
label ("prediction") and for all class outputs ("output").
"""

# %%
# Predictions to evaluate
# -----------------------
# Gaussian naive Bayes is a famously over-confident model: it treats the 64
# strongly correlated pixels as independent evidence. Strongly regularised
# logistic regression errs the other way, towards too little confidence.
# Both are fitted on half of the digits,
# and their test-set probabilities are saved the way ``simcalib evaluate``
# reads them: an ``.npz`` file with the arrays ``y_true`` and ``probs``.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)

models = {
    "naive Bayes": GaussianNB(),
    "logistic regression": make_pipeline(StandardScaler(), LogisticRegression(C=0.1)),
}
folder = Path(tempfile.mkdtemp())
for name, model in models.items():
    model.fit(X_train, y_train)
    np.savez(
        folder / f"{name.replace(' ', '_')}.npz",
        y_true=y_test,
        probs=model.predict_proba(X_test),
    )
sorted(p.name for p in folder.iterdir())

# %%
# Metrics
# -------
# Histogram ECE with 15 equal-width bins, for the top label and pooled over
# all class outputs (on the scale of the paper's tables, see
# :ref:`output-ece-normalisation`), and its kernel density counterpart.
from simcalib.metrics import (
    brier_score,
    expected_calibration_error,
    kde_calibration_error,
    negative_log_likelihood,
)

saved = {}
for name in models:
    data = np.load(folder / f"{name.replace(' ', '_')}.npz")
    saved[name] = (data["y_true"], data["probs"])

for name, (labels, probs) in saved.items():
    print(
        f"{name:>20}: accuracy {np.mean(probs.argmax(1) == labels):.3f}  "
        f"NLL {negative_log_likelihood(labels, probs):.3f}  "
        f"Brier {brier_score(labels, probs):.3f}  "
        f"ECE-P {expected_calibration_error(labels, probs):.3f}  "
        f"ECE-O {expected_calibration_error(labels, probs, mode='output'):.3f}  "
        f"KDE-P {kde_calibration_error(labels, probs):.3f}"
    )

# %%
# All metrics at once
# -------------------
# :func:`~simcalib.metrics.calibration_report` computes the table that
# ``simcalib evaluate`` prints.
from simcalib.metrics import calibration_report

labels, probs = saved["naive Bayes"]
calibration_report(labels, probs)

# %%
# The same from the command line
# ------------------------------
# ``simcalib evaluate FILE.npz`` prints the report for a saved file (``.npz``
# with ``y_true`` and ``logits`` or ``probs``, or a CSV with one column per
# class); ``--json`` prints it as JSON, ``--plot FILE.png`` draws the
# reliability diagrams, and without a file it reports on a small bundled
# example. It is called here through :func:`simcalib.cli.main`, which takes
# the arguments as a list.
from simcalib.cli import main

main(["evaluate", str(folder / "naive_Bayes.npz")])

# %%
# Reliability diagrams
# --------------------
# Bars show the accuracy in each confidence bin, the shaded gap the distance
# to the diagonal, and the histogram below the share of samples per bin. The
# naive Bayes bars sit below the diagonal at high confidence: it is right
# less often than it claims. The logistic regression bars sit above it.
from simcalib import ReliabilityDisplay

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True, layout="constrained")
for ax, (name, (labels, probs)) in zip(axes, saved.items()):
    ReliabilityDisplay.from_predictions(labels, probs, name=name, ax=ax)

# %%
# Output calibration
# ------------------
# With ``mode="output"`` the diagram pools all ``n * K`` class probabilities.
# Most of them are near zero, so the first bin holds almost all pairs.
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharey=True, layout="constrained")
for ax, (name, (labels, probs)) in zip(axes, saved.items()):
    ReliabilityDisplay.from_predictions(labels, probs, mode="output", name=name, ax=ax)
plt.show()
