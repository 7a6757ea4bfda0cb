"""Adapter that puts netcal's binning calibrators behind the simcalib interface.

netcal (the ``netcal`` extra) is imported only when an adapter is fitted.
"""

from __future__ import annotations

import inspect
from importlib import import_module

import numpy as np
from scipy.special import softmax

from simcalib._validation import check_scalar_in_range
from simcalib.calibration._base import BaseCalibrator
from simcalib.calibration._fitting import check_logit_magnitude, fit_then_commit

__all__ = ["NetcalCalibrator"]

#: method name -> (netcal module, class name)
_METHODS = {
    "histogram": ("netcal.binning", "HistogramBinning"),
    "isotonic": ("netcal.binning", "IsotonicRegression"),
    "bbq": ("netcal.binning", "BBQ"),
    "enir": ("netcal.binning", "ENIR"),
    "beta": ("netcal.scaling", "BetaCalibration"),
}


class NetcalCalibrator(BaseCalibrator):
    """A netcal calibrator (histogram binning, isotonic, BBQ, ENIR, beta).

    netcal works on probabilities; with ``input_type="logits"`` (the
    default, as for every simcalib calibrator) the adapter applies a softmax
    first. Multi-class problems are calibrated one-vs-all by netcal and
    renormalised; labels are encoded to column indices for netcal and
    decoded in :meth:`predict`.

    Parameters
    ----------
    method : {"histogram", "isotonic", "bbq", "enir", "beta"}, default="histogram"
        netcal class: ``netcal.binning.HistogramBinning``,
        ``netcal.binning.IsotonicRegression``, ``netcal.binning.BBQ``,
        ``netcal.binning.ENIR`` or ``netcal.scaling.BetaCalibration``.
    method_params : dict or None, default=None
        Keyword arguments for the netcal class (for example ``{"bins": 15}``).
        Keys are checked against the class's signature and ``bins`` must be
        an integer >= 1; an error inside netcal is re-raised as a
        ``ValueError`` naming the parameters.
    input_type : {"logits", "probabilities"}, default="logits"
        What the columns of ``X`` hold.
    classes : array-like of shape (n_classes,), default=None
        Label of each column of ``X``; by default the sorted labels of ``y``.

    Attributes
    ----------
    model_ : object
        The fitted netcal calibrator.
    classes_ : ndarray of shape (n_classes,)
        Class label of each column.
    n_features_in_ : int
        Number of columns of ``X`` seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from simcalib.calibration import NetcalCalibrator
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> logits = rng.normal(size=(300, 3)) + 2.0 * np.eye(3)[y]
    >>> cal = NetcalCalibrator("histogram", method_params={"bins": 5}).fit(logits, y)
    >>> cal.predict_proba(logits[:2]).shape
    (2, 3)
    """

    def __init__(
        self,
        method="histogram",
        *,
        method_params=None,
        input_type="logits",
        classes=None,
    ):
        self.method = method
        self.method_params = method_params
        self.input_type = input_type
        self.classes = classes

    def _netcal_input(self, Z):
        # Z is log(clip(p)) in probability mode: exp gives p back (zeros as 1e-12)
        P = np.exp(Z) if self.input_type == "probabilities" else softmax(Z, axis=1)
        return np.clip(P, 0.0, 1.0)

    def fit(self, X, y):
        """Fit the netcal calibrator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_classes) or (n_samples, 1)
            Logits (or probabilities) on the calibration set.
        y : array-like of shape (n_samples,)
            True labels.

        Returns
        -------
        self : NetcalCalibrator
        """
        if not isinstance(self.method, str) or self.method not in _METHODS:
            raise ValueError(
                f"method must be one of {sorted(_METHODS)}; got {self.method!r}"
            )
        if self.method_params is not None and not isinstance(self.method_params, dict):
            raise ValueError(
                f"method_params must be a dict; got {self.method_params!r}"
            )
        cls = _netcal_class(self.method)
        _check_method_params(cls, self.method, self.method_params or {})
        return fit_then_commit(self, X, y)

    def _fit_validated(self, X, y):
        Z, y = self._validate_fit_data(X, y)
        check_logit_magnitude(Z)
        cls = _netcal_class(self.method)
        params = self.method_params or {}
        try:
            self.model_ = cls(**params)
            self.model_.fit(self._netcal_input(Z), y)
        except Exception as exc:
            # netcal checks little itself: a bad value fails deep inside it,
            # with any exception type (re-raised with the cause chained)
            raise ValueError(
                f"netcal's {cls.__name__} could not be fitted with method_params="
                f"{params!r}: {type(exc).__name__}: {exc}"
            ) from exc

    def _predict_log_proba(self, Z):
        P = np.asarray(self.model_.transform(self._netcal_input(Z)), dtype=np.float64)
        if P.ndim == 1:  # binary: netcal returns the positive-class probability
            P = np.column_stack([1.0 - P, P])
        P = np.clip(P, 0.0, 1.0)
        sums = P.sum(axis=1, keepdims=True)
        # a row whose one-vs-all calibrated values are all 0 becomes uniform
        P = np.where(sums > 0, P / np.where(sums > 0, sums, 1.0), 1.0 / P.shape[1])
        # floor at the smallest normal float so that log-probabilities stay finite
        return np.log(np.maximum(P, np.finfo(np.float64).tiny))


def _netcal_class(method):
    module, name = _METHODS[method]
    try:
        return getattr(import_module(module), name)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "NetcalCalibrator needs netcal: pip install 'simcalib[netcal]'"
        ) from exc


#: Integer parameters of the netcal classes that must be at least 1.
_POSITIVE_INTEGERS = ("bins",)


def _init_parameters(cls):
    """Keyword parameters of ``cls.__init__``, following ``**kwargs`` up the MRO.

    Returns None when a ``**kwargs`` is never resolved (then any name may be
    valid and netcal itself has the last word).
    """
    names = []
    for klass in cls.__mro__:
        if "__init__" not in vars(klass) or klass is object:
            continue
        parameters = inspect.signature(klass.__init__).parameters.values()
        names += [
            p.name for p in parameters
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            return sorted(set(names))
    return None


def _check_method_params(cls, method, params):
    """Names that the netcal class takes, and the values simcalib can check."""
    accepted = _init_parameters(cls)
    unknown = [] if accepted is None else sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"method_params has keys {unknown} that netcal's {cls.__name__} "
            f"(method={method!r}) does not take; it takes {accepted}"
        )
    for name in _POSITIVE_INTEGERS:
        if name not in params:
            continue
        values = params[name]
        # a sequence gives one value per dimension (netcal's detection mode)
        for value in values if isinstance(values, (list, tuple, np.ndarray)) else [values]:
            check_scalar_in_range(value, f"method_params[{name!r}]", lo=1, integer=True)
