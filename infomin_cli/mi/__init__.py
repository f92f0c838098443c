"""Mutual-information estimation: bounds over score matrices, k-NN, known-MI sources, critics.

Every neural estimator here is a function of one score matrix `S[i, j] = f(x_i, y_j)` with the
positive pairs on the diagonal, so the same code scores a synthetic critic and a trained run's
encoders. `report.Estimate` carries what a number needs to be read: unit, K, log K, a 95 %
interval over held-out batches and the saturation flag.
"""

from infomin_cli.mi.estimators import ESTIMATORS, dv, infonce, nwj, smile
from infomin_cli.mi.report import Estimate

__all__ = ["ESTIMATORS", "Estimate", "dv", "infonce", "nwj", "smile"]
