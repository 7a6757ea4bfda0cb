"""Post-hoc calibration of classifier outputs.

Every calibrator is a scikit-learn classifier whose input ``X`` is the
(n_samples, n_classes) logits of an already trained model on a held-out set
(or its probabilities, with ``input_type="probabilities"``):

- :class:`TemperatureScaling` -- ``softmax(z / T)``;
- :class:`EnsembleTemperatureScaling` -- mixture of the scaled, raw and
  uniform predictions;
- :class:`VectorScaling` and :class:`MatrixScaling` -- per-class and full
  linear maps on logits;
- :class:`DirichletCalibrator` (and :class:`DirichletCalibratorCV`) --
  ``softmax(W log p + b)`` with the ODIR penalty;
- :class:`NetcalCalibrator` -- netcal's binning methods (needs ``netcal``).

:class:`CalibratedClassifier` chains a classifier on raw features with one
of them.
"""

from simcalib.calibration._dirichlet import (
    DirichletCalibrator,
    DirichletCalibratorCV,
    dirichlet_reg_grid,
)
from simcalib.calibration._linear import MatrixScaling, VectorScaling
from simcalib.calibration._netcal import NetcalCalibrator
from simcalib.calibration._temperature import (
    EnsembleTemperatureScaling,
    TemperatureScaling,
)
from simcalib.calibration._wrapper import CalibratedClassifier

__all__ = [
    "CalibratedClassifier",
    "DirichletCalibrator",
    "DirichletCalibratorCV",
    "EnsembleTemperatureScaling",
    "MatrixScaling",
    "NetcalCalibrator",
    "TemperatureScaling",
    "VectorScaling",
    "dirichlet_reg_grid",
]
