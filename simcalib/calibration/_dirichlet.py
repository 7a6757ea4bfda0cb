"""Dirichlet calibration (Kull et al. 2019) and its cross-validated variant."""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax
from sklearn.metrics import log_loss, make_scorer
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold
from sklearn.utils.validation import check_is_fitted, validate_data

from simcalib._validation import check_scalar_in_range
from simcalib.calibration._base import BaseCalibrator
from simcalib.calibration._linear import _FullLinearCalibrator
from simcalib.progress import joblib_progress

__all__ = ["DirichletCalibrator", "DirichletCalibratorCV", "dirichlet_reg_grid"]


class DirichletCalibrator(_FullLinearCalibrator):
    """Dirichlet calibration: ``softmax(W log p + b)``.

    ``log p`` is the log-softmax of the logits (or the clipped log of the
    given probabilities). Fitted by penalised mean NLL with L-BFGS-B and the
    analytic gradient, starting from the temperature-scaling solution
    ``W = I / T``, ``b = 0``. ``reg="odir"`` is Dir-ODIR of the paper's
    comparison; ``reg="none"`` is multinomial logistic regression on
    ``log p``.

    Dirichlet calibration and its ODIR regularisation are the method of Kull et al. [1]_.

    Parameters
    ----------
    reg : {"odir", "l2", "none"}, default="odir"
        Penalty added to the mean NLL: ``"odir"`` is
        ``lambda / (K (K-1)) * sum_{i != j} W_ij^2 + mu / K * sum_j b_j^2``
        (the normalised form of Kull et al.); ``"l2"`` is
        ``lambda / (K (K+1)) * (sum W_ij^2 + sum b_j^2)``; ``"none"`` adds
        nothing.
    reg_lambda : float, default=1.0
        ``lambda`` above.
    reg_mu : float or None, default=None
        ``mu`` above (ODIR only); ``None`` uses ``reg_lambda``.
    input_type : {"logits", "probabilities"}, default="logits"
        What the columns of ``X`` hold.
    classes : array-like of shape (n_classes,), default=None
        Label of each column of ``X``; by default the sorted labels of ``y``.
    max_iter : int, default=1000
        Maximum number of L-BFGS-B iterations.
    tol : float, default=1e-6
        Relative loss decrease at which L-BFGS-B stops (its ``ftol``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_classes, n_classes)
        The matrix ``W``; calibrated logits are ``log p @ coef_.T + intercept_``.
    intercept_ : ndarray of shape (n_classes,)
        The bias ``b``.
    classes_ : ndarray of shape (n_classes,)
        Class label of each column.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.
    n_iter_ : int
        Number of L-BFGS-B iterations run.

    See Also
    --------
    DirichletCalibratorCV : chooses ``reg_lambda`` and ``reg_mu`` by
        cross-validation.

    References
    ----------
    .. [1] M. Kull, M. Perello-Nieto, M. Kängsepp, T. Silva Filho, H. Song and P. Flach, "Beyond temperature scaling: obtaining well-calibrated multi-class probabilities with Dirichlet calibration", *NeurIPS*, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.calibration import DirichletCalibrator
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> logits = rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[y]
    >>> dc = DirichletCalibrator(reg_lambda=0.1).fit(logits, y)
    >>> dc.predict_proba(logits[:2]).shape
    (2, 3)
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

    def _features(self, Z):
        if self.input_type == "probabilities":
            return Z  # already log(clip(p))
        return log_softmax(Z, axis=1)


def dirichlet_reg_grid(lambda_exponents=(-1, 0, 1, 2), mu_exponents=(-1, 1)):
    """The regularisation grid of the Dirichlet-calibration experiments.

    ``lambda`` runs over ``{0.25, 0.5, 1} x 10^i`` and ``mu`` over ``10^i``
    (Kull et al. 2019), for the given exponents ``i``.

    Parameters
    ----------
    lambda_exponents : iterable of int, default=(-1, 0, 1, 2)
        Decades of ``reg_lambda``.
    mu_exponents : iterable of int, default=(-1, 1)
        Decades of ``reg_mu``.

    Returns
    -------
    grid : dict
        ``{"reg_lambda": [...], "reg_mu": [...]}``, usable as
        ``param_grid`` of :class:`DirichletCalibratorCV` or GridSearchCV.

    Examples
    --------
    >>> dirichlet_reg_grid([0], [0])
    {'reg_lambda': [0.25, 0.5, 1.0], 'reg_mu': [1.0]}
    """
    lambdas = [float(c * 10.0**i) for i in lambda_exponents for c in (0.25, 0.5, 1.0)]
    mus = [float(10.0**i) for i in mu_exponents]
    return {"reg_lambda": lambdas, "reg_mu": mus}


class DirichletCalibratorCV(BaseCalibrator):
    """Dirichlet calibration with ``reg_lambda`` and ``reg_mu`` chosen by CV.

    Every pair of the grid is scored by stratified k-fold cross-validation
    on the calibration set (mean fold log-loss, as in the reference
    experiments of Kull et al. 2019); the best pair is refitted on the
    whole set.

    The grid and the cross-validated choice follow the experiments of Kull et al. [1]_.

    Parameters
    ----------
    param_grid : dict or None, default=None
        ``{"reg_lambda": [...], "reg_mu": [...]}``. ``None`` uses
        :func:`dirichlet_reg_grid` with its defaults: lambda in
        ``{0.25, 0.5, 1} x 10^i`` for ``i`` in (-1, 0, 1, 2) and mu in
        ``10^i`` for ``i`` in (-1, 1) -- 24 pairs, kept small so that the
        search is quick; pass e.g. ``dirichlet_reg_grid(range(-3, 4),
        range(-3, 4))`` for a wider one. Many classes with few samples each
        need the large values: on the 10000 x 200 benchmark logits even
        lambda = mu = 100 still overfits.
    reg : {"odir", "l2"}, default="odir"
        Penalty of the underlying :class:`DirichletCalibrator`.
    cv : int or cross-validation generator, default=5
        Number of stratified folds (shuffled with seed 0), or a splitter.
    input_type : {"logits", "probabilities"}, default="logits"
        What the columns of ``X`` hold.
    classes : array-like of shape (n_classes,), default=None
        Label of each column of ``X``; by default the sorted labels of ``y``.
    max_iter : int, default=1000
        Maximum number of L-BFGS-B iterations per fit.
    tol : float, default=1e-6
        Relative loss decrease at which L-BFGS-B stops.
    n_jobs : int, default=None
        Parallel fits, passed to :class:`~sklearn.model_selection.GridSearchCV`.

    Attributes
    ----------
    calibrator_ : DirichletCalibrator
        The calibrator refitted on the whole set with the best parameters.
    best_params_ : dict
        The chosen ``reg_lambda`` and ``reg_mu``.
    cv_results_ : dict
        The grid search results (see GridSearchCV).
    coef_ : ndarray of shape (n_classes, n_classes)
        ``calibrator_.coef_``.
    intercept_ : ndarray of shape (n_classes,)
        ``calibrator_.intercept_``.
    classes_ : ndarray of shape (n_classes,)
        Class label of each column.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.

    References
    ----------
    .. [1] M. Kull, M. Perello-Nieto, M. Kängsepp, T. Silva Filho, H. Song and P. Flach, "Beyond temperature scaling: obtaining well-calibrated multi-class probabilities with Dirichlet calibration", *NeurIPS*, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.calibration import DirichletCalibratorCV
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> logits = rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[y]
    >>> grid = {"reg_lambda": [0.01, 1.0], "reg_mu": [0.1]}
    >>> cal = DirichletCalibratorCV(param_grid=grid, cv=3).fit(logits, y)
    >>> sorted(cal.best_params_)
    ['reg_lambda', 'reg_mu']
    """

    def __init__(
        self,
        *,
        param_grid=None,
        reg="odir",
        cv=5,
        input_type="logits",
        classes=None,
        max_iter=1000,
        tol=1e-6,
        n_jobs=None,
    ):
        self.param_grid = param_grid
        self.reg = reg
        self.cv = cv
        self.input_type = input_type
        self.classes = classes
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Search the grid by cross-validation, then refit the best pair.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Logits (or probabilities) on the calibration set.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        self : DirichletCalibratorCV
        """
        if self.reg not in ("odir", "l2"):
            raise ValueError(f"reg must be 'odir' or 'l2'; got {self.reg!r}")
        # validates X, y and sets classes_ / n_features_in_; the search runs
        # on column indices so that any column order of classes_ works
        _, y_idx = self._validate_fit_data(X, y)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        cv = self.cv
        if isinstance(cv, int) or hasattr(cv, "__index__"):
            check_scalar_in_range(cv, "cv", lo=2, integer=True)
            cv = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=0)
        grid = dirichlet_reg_grid() if self.param_grid is None else self.param_grid
        base = DirichletCalibrator(
            reg=self.reg,
            input_type=self.input_type,
            # every fold calibrator knows all columns, even if a fold lacks a class
            classes=np.arange(len(self.classes_)),
            max_iter=self.max_iter,
            tol=self.tol,
        )
        # log-loss with all columns as labels: a fold may lack a class
        scoring = make_scorer(
            log_loss,
            response_method="predict_proba",
            greater_is_better=False,
            labels=np.arange(len(self.classes_)),
        )
        search = GridSearchCV(
            base,
            grid,
            scoring=scoring,
            cv=cv,
            n_jobs=self.n_jobs,
            error_score="raise",
        )
        n_fits = None
        if hasattr(cv, "get_n_splits"):
            n_fits = len(ParameterGrid(grid)) * cv.get_n_splits(X, y_idx)
        # a bar over the grid's fits, on a terminal only (simcalib.progress)
        with joblib_progress(total=n_fits, desc="Dirichlet grid", delay=1.0):
            search.fit(X, y_idx)
        self.best_params_ = search.best_params_
        self.cv_results_ = search.cv_results_
        self.calibrator_ = search.best_estimator_
        self.coef_ = self.calibrator_.coef_
        self.intercept_ = self.calibrator_.intercept_
        return self

    def _predict_log_proba(self, Z):
        check_is_fitted(self)
        return self.calibrator_._predict_log_proba(Z)
