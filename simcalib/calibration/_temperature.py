"""Temperature scaling (Guo et al. 2017) and ensemble temperature scaling
(Zhang et al. 2020)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp
from sklearn.exceptions import ConvergenceWarning

from simcalib._validation import check_scalar_in_range
from simcalib.calibration._base import BaseCalibrator
from simcalib.calibration._fitting import (
    check_logit_magnitude,
    fit_then_commit,
    report_convergence,
)

__all__ = ["TemperatureScaling", "EnsembleTemperatureScaling"]

#: The inverse temperature is searched in exp([-10, 10]), as scikit-learn does.
LOG_BETA_BOUNDS = (-10.0, 10.0)


def _shift_rows(Z, y):
    """Subtract each row's max (softmax is shift invariant; exp never
    overflows for beta > 0) and pick the true-class entries."""
    Zs = Z - Z.max(axis=1, keepdims=True)
    return Zs, Zs[np.arange(Z.shape[0]), y]


def _mse_log_beta(log_beta, Zs, Y):
    """Mean squared error (over n*K entries) between softmax(beta * Z) and
    one-hot Y, and its derivative in log(beta) -- the reference ETS loss."""
    beta = np.exp(log_beta[0])
    E = np.exp(beta * Zs)
    P = E / E.sum(axis=1, keepdims=True)
    R = P - Y
    loss = float(np.mean(R * R))
    # dp_k/dbeta = p_k (z_k - E_p[z])
    mean_z = np.einsum("ij,ij->i", P, Zs)
    dP = P * (Zs - mean_z[:, None])
    grad = beta * 2.0 * float(np.mean(R * dP))
    return loss, np.array([grad])


def _nll_beta_derivatives(beta, Zs, Zs2, zs_y):
    """First and second derivative in beta of the mean NLL of softmax(beta z).

    g'(beta) = mean(E_p[z] - z_y) and g''(beta) = mean(Var_p[z]) >= 0: the
    loss is convex in beta, and g' is increasing.
    """
    E = np.exp(beta * Zs)
    s = E.sum(axis=1)
    m1 = np.einsum("ij,ij->i", E, Zs) / s
    m2 = np.einsum("ij,ij->i", E, Zs2) / s
    return float(np.mean(m1 - zs_y)), float(np.mean(m2 - m1 * m1))


def _newton_log_beta(Z, y, *, max_iter=100, rtol=1e-10):
    """Root of the increasing g'(beta) on exp(LOG_BETA_BOUNDS): Newton steps
    safeguarded by bisection in log(beta), usually 5-8 passes over the data.

    A Newton step is taken only when it stays inside the bracket and shrinks
    the step at least by half (the safeguard of Numerical Recipes'
    ``rtsafe``); otherwise the bracket is bisected. Without it, data the
    logits separate perfectly (the loss keeps falling as T -> 0) made Newton
    creep by ~0.01 per iteration and stop, unconverged, half-way to the
    bound.

    Returns ``(log_beta, converged)``.
    """
    Zs, zs_y = _shift_rows(Z, y)
    Zs2 = Zs * Zs
    lo, hi = LOG_BETA_BOUNDS
    a = 0.0  # log(beta), start at T = 1
    step_before = hi - lo
    for _ in range(max_iter):
        beta = np.exp(a)
        d1, d2 = _nll_beta_derivatives(beta, Zs, Zs2, zs_y)
        if d1 == 0.0:
            return float(a), True
        if d1 > 0:
            hi = a
        else:
            lo = a
        # Newton on a = log(beta): dg/da = beta g', d2g/da2 = beta^2 g'' + beta g'
        da1 = beta * d1
        da2 = beta * beta * d2 + da1
        newton = da2 > 0 and lo < a - da1 / da2 < hi and abs(2.0 * da1) <= abs(step_before * da2)
        a_new = a - da1 / da2 if newton else (lo + hi) / 2
        step_before = abs(a_new - a)
        if step_before < rtol or hi - lo < rtol:
            return float(np.clip(a_new, *LOG_BETA_BOUNDS)), True
        a = a_new
    return float(np.clip(a, *LOG_BETA_BOUNDS)), False


def _fit_log_beta(Z, y, *, loss="nll", max_iter=100, tol=1e-10):
    """Return log(1 / T) minimising ``loss`` over the bounded interval.

    The squared-error fit starts from the NLL solution, not from T = 1 as
    the reference code does: with saturated logits the squared error is flat
    around T = 1 (every softmax is one-hot), and a search started there
    stops after 0 iterations at its starting point.
    """
    log_beta, converged = _newton_log_beta(Z, y, max_iter=max_iter)
    if not converged:
        warnings.warn(
            f"temperature scaling did not converge in max_iter={max_iter} Newton "
            "iterations; increase max_iter",
            ConvergenceWarning,
            stacklevel=3,
        )
    if loss == "nll":
        return log_beta
    Zs, _ = _shift_rows(Z, y)
    Y = np.zeros_like(Zs)
    Y[np.arange(Z.shape[0]), y] = 1.0
    res = minimize(
        _mse_log_beta,
        np.array([log_beta]),
        args=(Zs, Y),
        jac=True,
        method="L-BFGS-B",
        bounds=[LOG_BETA_BOUNDS],
        options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-8},
    )
    report_convergence(res, "the squared-error temperature fit (L-BFGS-B)", max_iter)
    return float(res.x[0])


class TemperatureScaling(BaseCalibrator):
    """Temperature scaling: ``softmax(z / T)`` with one ``T > 0``.

    ``T`` minimises the mean negative log-likelihood of the calibration
    labels over ``log(1 / T)`` in [-10, 10], like scikit-learn's
    ``CalibratedClassifierCV(method="temperature")``, which it matches. The
    loss is convex in ``1 / T``; a Newton iteration with the analytic first
    and second derivatives, safeguarded by bisection, needs a handful of
    passes over the logits.

    Temperature scaling was introduced for deep networks by Guo et al. [1]_.

    Parameters
    ----------
    input_type : {"logits", "probabilities"}, default="logits"
        What the columns of ``X`` hold. With ``"probabilities"`` the
        log-probabilities ``log(clip(p, 1e-12, 1))`` are scaled instead.
    classes : array-like of shape (n_classes,), default=None
        Label of each column of ``X``. By default the sorted unique labels of
        ``y``, which must then contain every class.
    max_iter : int, default=100
        Maximum number of Newton iterations (>= 1); reaching it warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning`.

    Attributes
    ----------
    temperature_ : float
        The fitted temperature ``T``; ``T > 1`` softens overconfident logits.
    classes_ : ndarray of shape (n_classes,)
        Class label of each column.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.

    See Also
    --------
    EnsembleTemperatureScaling : mixes the scaled, the raw and the uniform
        prediction.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of modern neural networks", *ICML*, PMLR 70, pp. 1321-1330, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.calibration import TemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> logits = rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[y]
    >>> ts = TemperatureScaling().fit(5.0 * logits, y)  # overconfident
    >>> bool(ts.temperature_ > 1)
    True
    >>> ts.predict_proba(5.0 * logits[:2]).sum(axis=1)
    array([1., 1.])
    """

    def __init__(self, *, input_type="logits", classes=None, max_iter=100):
        self.input_type = input_type
        self.classes = classes
        self.max_iter = max_iter

    def fit(self, X, y):
        """Fit the temperature on a held-out calibration set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Logits (or probabilities) of the classifier on the calibration
            set; one column for a binary decision value.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        self : TemperatureScaling
        """
        check_scalar_in_range(self.max_iter, "max_iter", lo=1, integer=True)
        return fit_then_commit(self, X, y)

    def _fit_validated(self, X, y):
        Z, y = self._validate_fit_data(X, y)
        check_logit_magnitude(Z)
        log_beta = _fit_log_beta(Z, y, loss="nll", max_iter=self.max_iter)
        self.temperature_ = float(np.exp(-log_beta))

    def _predict_log_proba(self, Z):
        return log_softmax(Z / self.temperature_, axis=1)


class EnsembleTemperatureScaling(BaseCalibrator):
    """Ensemble temperature scaling (ETS, Zhang et al. 2020).

    ``p = w1 softmax(z / T) + w2 softmax(z) + w3 / K`` with ``w >= 0`` and
    ``w1 + w2 + w3 = 1``. ``T`` is fitted first, then ``w`` with SLSQP
    started at (1, 0, 0), as in the reference code (Mix-n-Match). The
    squared-error search for ``T`` starts at the NLL temperature, where the
    reference code starts at ``T = 1``: with saturated logits (every softmax
    one-hot) the squared error is flat around ``T = 1`` and a search started
    there stops after 0 iterations.

    Ensemble temperature scaling is the method of Zhang et al. [1]_.

    Parameters
    ----------
    loss : {"mse", "nll"}, default="mse"
        Criterion for both ``T`` and ``w``. ``"mse"`` -- the squared error
        between ``p`` and the one-hot labels, averaged over all n * K
        entries -- is what the reference code uses and the default;
        ``"nll"`` is the mean negative log-likelihood.
    input_type : {"logits", "probabilities"}, default="logits"
        What the columns of ``X`` hold (see :class:`TemperatureScaling`).
    classes : array-like of shape (n_classes,), default=None
        Label of each column of ``X``; by default the sorted labels of ``y``.
    max_iter : int, default=100
        Maximum number of iterations of each optimiser (>= 1); reaching it
        warns with a :class:`~sklearn.exceptions.ConvergenceWarning`.

    Attributes
    ----------
    temperature_ : float
        Temperature of the first mixture component.
    weights_ : ndarray of shape (3,)
        Mixture weights of (temperature-scaled, uncalibrated, uniform)
        predictions; non-negative, summing to 1.
    classes_ : ndarray of shape (n_classes,)
        Class label of each column.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.

    Notes
    -----
    :meth:`decision_function` returns ``log p``, the logits whose softmax is
    the mixture.

    References
    ----------
    .. [1] J. Zhang, B. Kailkhura and T. Y.-J. Han, "Mix-n-Match: ensemble and compositional methods for uncertainty calibration in deep learning", *ICML*, PMLR 119, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.calibration import EnsembleTemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> logits = 5.0 * (rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[y])
    >>> ets = EnsembleTemperatureScaling().fit(logits, y)
    >>> ets.weights_.shape, bool(abs(ets.weights_.sum() - 1) < 1e-6)
    ((3,), True)
    """

    def __init__(self, *, loss="mse", input_type="logits", classes=None, max_iter=100):
        self.loss = loss
        self.input_type = input_type
        self.classes = classes
        self.max_iter = max_iter

    def fit(self, X, y):
        """Fit the temperature, then the mixture weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Logits (or probabilities) on the calibration set.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        self : EnsembleTemperatureScaling
        """
        if not isinstance(self.loss, str) or self.loss not in ("mse", "nll"):
            raise ValueError(f"loss must be 'mse' or 'nll'; got {self.loss!r}")
        check_scalar_in_range(self.max_iter, "max_iter", lo=1, integer=True)
        return fit_then_commit(self, X, y)

    def _fit_validated(self, X, y):
        Z, y = self._validate_fit_data(X, y)
        check_logit_magnitude(Z)
        log_beta = _fit_log_beta(Z, y, loss=self.loss, max_iter=self.max_iter)
        self.temperature_ = float(np.exp(-log_beta))
        self.weights_ = _fit_ets_weights(
            Z, y, self.temperature_, loss=self.loss, max_iter=self.max_iter
        )

    def _predict_log_proba(self, Z):
        return _ets_log_proba(Z, self.temperature_, self.weights_)


def _ets_log_proba(Z, temperature, weights):
    n, k = Z.shape
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    parts = np.stack(
        [
            log_w[0] + log_softmax(Z / temperature, axis=1),
            log_w[1] + log_softmax(Z, axis=1),
            np.full((n, k), log_w[2] - np.log(k)),
        ]
    )
    # a log-sum-exp over the components: no underflow for extreme logits
    return logsumexp(parts, axis=0)


def _fit_ets_weights(Z, y, temperature, *, loss="mse", max_iter=100):
    n, k = Z.shape
    rows = np.arange(n)
    P0 = np.exp(log_softmax(Z / temperature, axis=1))
    P1 = np.exp(log_softmax(Z, axis=1))
    if loss == "mse":
        # ||sum_j w_j P_j - Y||^2 = w'Aw - 2c'w + n with the 3x3 Gram matrix A
        # of (P0, P1, uniform): the SLSQP steps then cost O(1)
        s01 = float(np.sum(P0 * P1))
        A = np.array(
            [
                [float(np.sum(P0 * P0)), s01, n / k],
                [s01, float(np.sum(P1 * P1)), n / k],
                [n / k, n / k, n / k],
            ]
        )
        c = np.array([P0[rows, y].sum(), P1[rows, y].sum(), n / k])
        scale = 1.0 / (n * k)

        def fun(w):
            return scale * (w @ A @ w - 2.0 * c @ w + n), scale * (
                2.0 * A @ w - 2.0 * c
            )

    else:
        Py = np.column_stack([P0[rows, y], P1[rows, y], np.full(n, 1.0 / k)])

        def fun(w):
            p = np.maximum(Py @ w, np.finfo(np.float64).tiny)
            return -float(np.mean(np.log(p))), -np.mean(Py / p[:, None], axis=0)

    res = minimize(
        fun,
        np.array([1.0, 0.0, 0.0]),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * 3,
        constraints={
            "type": "eq",
            "fun": lambda w: np.sum(w) - 1.0,
            "jac": lambda w: np.ones(3),
        },
        options={"maxiter": max_iter, "ftol": 1e-12},
    )
    report_convergence(res, "the ensemble weights (SLSQP)", max_iter)
    w = np.clip(res.x, 0.0, None)
    return w / w.sum()
