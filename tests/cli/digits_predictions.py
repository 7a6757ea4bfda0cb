"""Make the bundled example predictions of ``simcalib evaluate``.

Logistic regression on scikit-learn's digits (bundled with scikit-learn, no
download), trained on 75 % of the images; the file holds the logits and the
labels of the 450 held-out images. Regenerate with::

    PYTHONPATH=. python tests/cli/digits_predictions.py
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

TARGET = (
    Path(__file__).resolve().parents[2] / "simcalib" / "cli" / "data"
    / "digits_logreg_predictions.npz"
)


def make_digits_predictions():
    """Return ``(y_true, logits)`` of the held-out digits, int64 and float32."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=450, random_state=0, stratify=y
    )
    model = LogisticRegression(C=10.0, max_iter=5000).fit(X_train, y_train)
    return y_test.astype(np.int64), model.decision_function(X_test).astype(np.float32)


def main(path=TARGET):
    y_true, logits = make_digits_predictions()
    np.savez_compressed(path, y_true=y_true, logits=logits)
    return path


if __name__ == "__main__":
    print(main())
