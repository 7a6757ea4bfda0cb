"""Vector and matrix scaling: per-class and full linear maps on logits.

The full-matrix fit (also used by Dirichlet calibration) minimises the mean
NLL of ``softmax(F W^T + b)`` plus an optional penalty with L-BFGS-B and the
analytic gradient ``dW = G^T F``, ``db = sum_i G_i`` where ``G`` is the
(n, K) gradient of the loss with respect to the logits -- two matrix products
per evaluation, so K = 200 (40 200 parameters) stays cheap.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from simcalib._validation import check_scalar_in_range
from simcalib.calibration._base import BaseCalibrator, nll_and_grad_logits
from simcalib.calibration._fitting import (
    check_logit_magnitude,
    fit_then_commit,
    report_convergence,
)
from simcalib.calibration._temperature import _fit_log_beta

__all__ = ["VectorScaling", "MatrixScaling"]

_REGS = ("odir", "l2", "none")


#: Largest accepted penalty weight: beyond it the penalty (~1e12 times the
#: NLL) leaves the off-diagonal entries at 0 anyway, and much larger values
#: overflow the L-BFGS updates.
MAX_REG = 1e12


def _check_optimiser_params(est):
    check_scalar_in_range(est.max_iter, "max_iter", lo=1, integer=True)
    # tol is L-BFGS-B's relative decrease of the loss, which is below 1: a
    # tol of 1 or more would stop after the first iteration
    check_scalar_in_range(est.tol, "tol", lo=0, lo_open=True, hi=1, hi_open=True)


def _check_reg_params(est):
    if not isinstance(est.reg, str) or est.reg not in _REGS:
        raise ValueError(f"reg must be one of {_REGS}; got {est.reg!r}")
    check_scalar_in_range(est.reg_lambda, "reg_lambda", lo=0, hi=MAX_REG)
    if est.reg_mu is not None:
        check_scalar_in_range(est.reg_mu, "reg_mu", lo=0, hi=MAX_REG)
    _check_optimiser_params(est)


def _penalty_weights(reg, reg_lambda, reg_mu, k):
    """(weight on W entries (K, K), weight on b) of the quadratic penalty.

    ``odir``: lambda / (K (K - 1)) on off-diagonal W, mu / K on b (Kull et al.
    2019, normalised form). ``l2``: lambda / (K (K + 1)) on every parameter.
    """
    if reg == "none":
        return None, 0.0
    if reg == "odir":
        mu = reg_lambda if reg_mu is None else reg_mu
        w_pen = np.full((k, k), reg_lambda / (k * (k - 1)))
        np.fill_diagonal(w_pen, 0.0)
        return w_pen, mu / k
    c = reg_lambda / (k * (k + 1))
    return np.full((k, k), c), c


def fit_full_linear(
    F,
    y,
    *,
    reg="none",
    reg_lambda=0.0,
    reg_mu=None,
    max_iter=1000,
    tol=1e-7,
    init_scale=1.0,
):
    """Fit ``softmax(F W^T + b)`` by penalised mean NLL; return (W, b, result).

    Starts from ``W = init_scale * I``, ``b = 0``. Without a penalty the
    optimiser works on standardised columns ``(F - m) / s`` --
    log-probabilities of an overconfident model have large, shifted columns
    that make L-BFGS crawl (about 5x more iterations) -- and maps the
    solution back exactly: ``W = W' / s``, ``b = b' - W m``.
    """
    n, k = F.shape
    m = F.mean(axis=0)
    w_pen, b_pen = _penalty_weights(reg, reg_lambda, reg_mu, k)
    if w_pen is None:
        s = F.std(axis=0)
        s[s < 1e-12] = 1.0
    else:
        # with a penalty on b, b = b' - W m couples every weight to the bias
        # term and conditions worse than the raw parameters: no change there
        m = np.zeros(k)
        s = np.ones(k)
    Fs = (F - m) / s
    u = m / s
    if w_pen is not None:
        w_pen_s = w_pen / (s * s)[None, :]

    def fun(theta):
        Ws = theta[: k * k].reshape(k, k)
        bs = theta[k * k :]
        loss, G = nll_and_grad_logits(Fs @ Ws.T + bs, y)
        gW = G.T @ Fs
        gb = G.sum(axis=0)
        if w_pen is not None:
            b = bs - Ws @ u  # the bias in original units
            loss += float(np.sum(w_pen_s * Ws * Ws)) + b_pen * float(b @ b)
            gW += 2.0 * w_pen_s * Ws - 2.0 * b_pen * np.outer(b, u)
            gb += 2.0 * b_pen * b
        return loss, np.concatenate([gW.ravel(), gb])

    # W = init_scale * I, b = 0 in the original units
    theta0 = np.concatenate([(init_scale * np.diag(s)).ravel(), init_scale * m])
    res = minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": tol, "gtol": tol * 1e-2},
    )
    Ws = res.x[: k * k].reshape(k, k)
    W = Ws / s[None, :]
    b = res.x[k * k :] - Ws @ u
    return W, b, res


def fit_vector(F, y, *, max_iter=1000, tol=1e-7, init_scale=1.0):
    """Fit ``softmax(F * w + b)`` by mean NLL; return (w, b, result)."""
    n, k = F.shape

    def fun(theta):
        w, b = theta[:k], theta[k:]
        loss, G = nll_and_grad_logits(F * w + b, y)
        return loss, np.concatenate([np.einsum("ij,ij->j", G, F), G.sum(axis=0)])

    theta0 = np.concatenate([np.full(k, init_scale), np.zeros(k)])
    res = minimize(
        fun,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "ftol": tol, "gtol": tol * 1e-2},
    )
    return res.x[:k].copy(), res.x[k:].copy(), res


class VectorScaling(BaseCalibrator):
    """Vector scaling: ``softmax(w * z + b)`` with one scale and one bias per class.

    Fitted by mean NLL with L-BFGS-B (analytic gradient), starting from the
    temperature-scaling solution ``w = 1 / T``, ``b = 0``.

    Vector scaling is one of the extensions of temperature scaling studied by Guo et al. [1]_.

    Parameters
    ----------
    input_type : {"logits", "probabilities"}, default="logits"
        What the columns of ``X`` hold; probabilities are mapped to
        ``log(clip(p, 1e-12, 1))``.
    classes : array-like of shape (n_classes,), default=None
        Label of each column of ``X``; by default the sorted labels of ``y``.
    max_iter : int, default=1000
        Maximum number of L-BFGS-B iterations (>= 1); stopping there, or in a
        failed line search, warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning`.
    tol : float, default=1e-7
        Relative loss decrease at which L-BFGS-B stops (its ``ftol``), in
        (0, 1).

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes,)
        Per-class scale ``w``.
    intercept_ : ndarray of shape (n_classes,)
        Per-class bias ``b``.
    classes_ : ndarray of shape (n_classes,)
        Class label of each column.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.
    n_iter_ : int
        Number of L-BFGS-B iterations run.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of modern neural networks", *ICML*, PMLR 70, pp. 1321-1330, 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.calibration import VectorScaling
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> logits = rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[y]
    >>> vs = VectorScaling().fit(logits, y)
    >>> vs.coef_.shape, vs.intercept_.shape
    ((3,), (3,))
    """

    def __init__(self, *, input_type="logits", classes=None, max_iter=1000, tol=1e-7):
        self.input_type = input_type
        self.classes = classes
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y):
        """Fit the per-class scales and biases.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Logits (or probabilities) on the calibration set.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        self : VectorScaling
        """
        _check_optimiser_params(self)
        return fit_then_commit(self, X, y)

    def _fit_validated(self, X, y):
        Z, y = self._validate_fit_data(X, y)
        check_logit_magnitude(Z)
        beta = np.exp(_fit_log_beta(Z, y))
        self.coef_, self.intercept_, res = fit_vector(
            Z, y, max_iter=self.max_iter, tol=self.tol, init_scale=beta
        )
        report_convergence(res, f"{type(self).__name__} (L-BFGS-B)", self.max_iter)
        self.n_iter_ = int(res.nit)

    def _predict_log_proba(self, Z):
        return log_softmax(Z * self.coef_ + self.intercept_, axis=1)


class _FullLinearCalibrator(BaseCalibrator):
    """``softmax(W f(X) + b)`` with a full (K, K) matrix ``W``."""

    def _features(self, Z):
        return Z

    def fit(self, X, y):
        """Fit the linear map on a held-out calibration set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Logits (or probabilities) on the calibration set.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        self : estimator
        """
        _check_reg_params(self)
        return fit_then_commit(self, X, y)

    def _fit_validated(self, X, y):
        Z, y = self._validate_fit_data(X, y)
        check_logit_magnitude(Z)
        F = self._features(Z)
        # start from temperature scaling: W = I / T reproduces softmax(z / T)
        beta = np.exp(_fit_log_beta(F, y))
        self.coef_, self.intercept_, res = fit_full_linear(
            F,
            y,
            reg=self.reg,
            reg_lambda=self.reg_lambda,
            reg_mu=self.reg_mu,
            max_iter=self.max_iter,
            tol=self.tol,
            init_scale=beta,
        )
        report_convergence(res, f"{type(self).__name__} (L-BFGS-B)", self.max_iter)
        self.n_iter_ = int(res.nit)

    def _predict_log_proba(self, Z):
        return log_softmax(self._features(Z) @ self.coef_.T + self.intercept_, axis=1)


class MatrixScaling(_FullLinearCalibrator):
    """Matrix scaling: ``softmax(W z + b)`` with a full (K, K) matrix on logits.

    Fitted by penalised mean NLL with L-BFGS-B (analytic gradient), starting
    from the temperature-scaling solution ``W = I / T``, ``b = 0``. With many
    classes an unregularised matrix overfits; the ODIR penalty (Kull et al.
    2019) shrinks only the off-diagonal entries and the bias.

    Matrix scaling is studied by Guo et al. [1]_; the ODIR penalty is that of Kull et al. [2]_.

    Parameters
    ----------
    reg : {"odir", "l2", "none"}, default="odir"
        Penalty added to the mean NLL: ``"odir"`` is
        ``lambda / (K (K-1)) * sum_{i != j} W_ij^2 + mu / K * sum_j b_j^2``;
        ``"l2"`` is ``lambda / (K (K+1)) * (sum W_ij^2 + sum b_j^2)``.
    reg_lambda : float, default=1.0
        ``lambda`` above, in [0, 1e12].
    reg_mu : float or None, default=None
        ``mu`` above (ODIR only), in [0, 1e12]; ``None`` uses ``reg_lambda``.
    input_type : {"logits", "probabilities"}, default="logits"
        What the columns of ``X`` hold; probabilities are mapped to
        ``log(clip(p, 1e-12, 1))``.
    classes : array-like of shape (n_classes,), default=None
        Label of each column of ``X``; by default the sorted labels of ``y``.
    max_iter : int, default=1000
        Maximum number of L-BFGS-B iterations (>= 1); stopping there, or in a
        failed line search, warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning`.
    tol : float, default=1e-6
        Relative loss decrease at which L-BFGS-B stops (its ``ftol``), in
        (0, 1).

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_classes)
        The matrix ``W``; calibrated logits are ``z @ coef_.T + intercept_``.
    intercept_ : ndarray of shape (n_classes,)
        The bias ``b``.
    classes_ : ndarray of shape (n_classes,)
        Class label of each column.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.
    n_iter_ : int
        Number of L-BFGS-B iterations run.

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of modern neural networks", *ICML*, PMLR 70, pp. 1321-1330, 2017.
    .. [2] M. Kull, M. Perello-Nieto, M. Kängsepp, T. Silva Filho, H. Song and P. Flach, "Beyond temperature scaling: obtaining well-calibrated multi-class probabilities with Dirichlet calibration", *NeurIPS*, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.calibration import MatrixScaling
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> logits = rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[y]
    >>> ms = MatrixScaling(reg_lambda=0.1).fit(logits, y)
    >>> ms.coef_.shape
    (3, 3)
    """

    def __init__(
        self,
        *,
        reg="odir",
        reg_lambda=1.0,
        reg_mu=None,
        input_type="logits",
        classes=None,
        max_iter=1000,
        tol=1e-6,
    ):
        self.reg = reg
        self.reg_lambda = reg_lambda
        self.reg_mu = reg_mu
        self.input_type = input_type
        self.classes = classes
        self.max_iter = max_iter
        self.tol = tol
