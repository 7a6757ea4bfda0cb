"""Fit on a scratch copy, then commit: a failed refit leaves the old fit intact.

A calibrator's ``fit`` validates its parameters, its data and then runs an
optimiser; any of these can fail after an earlier successful fit. Fitting a
clone and copying its fitted attributes only at the end means that nothing
on the estimator changes until everything has succeeded: after a failed
``fit`` (bad data, a bad parameter, an interrupted optimiser) the estimator
predicts exactly as before.

Also here: the convergence report shared by the optimisers, and the bound
on the size of the logits.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

__all__ = ["fit_then_commit", "check_logit_magnitude", "report_convergence"]

#: Largest accepted ``|X|`` in ``fit``. Squares and products of larger values
#: overflow float64 inside the optimisers (at about 1e154), which then stop
#: at their starting point; no classifier produces logits anywhere near this.
MAX_ABS_INPUT = 1e100


def _is_fitted_attribute(name):
    return name.endswith("_") and not name.startswith("__")


def fit_then_commit(estimator, X, y):
    """Fit a clone of ``estimator`` with ``_fit_validated(X, y)``, then copy its fit over.

    Returns ``estimator``. The fitted attributes of an earlier fit are
    replaced only once the new fit has succeeded (attributes the new fit
    does not set are removed, so no stale value survives).
    """
    scratch = clone(estimator)
    scratch._fit_validated(X, y)
    for name in [n for n in vars(estimator) if _is_fitted_attribute(n)]:
        delattr(estimator, name)
    for name, value in vars(scratch).items():
        if _is_fitted_attribute(name):
            setattr(estimator, name, value)
    return estimator


def check_logit_magnitude(Z):
    """Refuse scores whose size would overflow the fit (see :data:`MAX_ABS_INPUT`)."""
    largest = float(np.max(np.abs(Z)))
    if largest > MAX_ABS_INPUT:
        raise ValueError(
            f"X holds values up to {largest:.3g} in absolute value; a calibrator accepts "
            f"at most {MAX_ABS_INPUT:g} (the fit squares and multiplies them, which "
            "overflows float64 above about 1e154). Pass logits of a usual size."
        )


def report_convergence(result, what, max_iter):
    """Warn when a scipy optimiser stopped without converging.

    A fit that stops (at its iteration limit, or in a failed line search) is
    not silent: it warns with the optimiser's message, as scikit-learn's
    estimators do, and says when the result is the starting point.
    """
    if getattr(result, "success", True):
        return
    nit = int(getattr(result, "nit", -1))
    where = (
        " after 0 iterations: the result is the starting point"
        if nit == 0
        else f" after {nit} iterations (max_iter={max_iter})"
    )
    warnings.warn(
        f"{what} did not converge{where}: {result.message}. Increase max_iter, or "
        "check the scale of X.",
        ConvergenceWarning,
        stacklevel=3,
    )
