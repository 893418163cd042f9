"""NumPy network simulator: layers with hand-written BPTT, training, tasks.

Arrays are batch-major ``(batch, time, features)``; time steps are ``dt``
seconds.  Hardware effects enter through the layers' parameters (delays,
time constants, weight noise), never through SPICE.
"""

from pycircuits.network.layers import (
    LIF,
    DelayedDense,
    DelayedSynapses,
    Dense,
    Layer,
    LeakyIntegrator,
    RecurrentLIF,
    add_weight_noise,
    alpha_from_tau,
)
from pycircuits.network.tasks import delay_pattern, ecg_anomaly, load_shd, mts_xor
from pycircuits.network.training import (
    Adam,
    Sequential,
    TrainHistory,
    evaluate,
    predict,
    softmax_cross_entropy,
    train,
)

__all__ = [
    "LIF",
    "Adam",
    "DelayedDense",
    "DelayedSynapses",
    "Dense",
    "Layer",
    "LeakyIntegrator",
    "RecurrentLIF",
    "Sequential",
    "TrainHistory",
    "add_weight_noise",
    "alpha_from_tau",
    "delay_pattern",
    "ecg_anomaly",
    "evaluate",
    "load_shd",
    "mts_xor",
    "predict",
    "softmax_cross_entropy",
    "train",
]
