"""The MLP-on-digits search space of DESIGN.md, defined once.

The demo tunes it, the benchmarks measure on it, and `examples/mlp-digits.yaml`
spells it for the CLI (a test keeps the file equal to this).
"""

from __future__ import annotations

from hyperdial.client import float_param, int_param
from hyperdial.v1 import hyperdial_pb2 as pb

MLP_DIGITS: tuple[pb.Parameter, ...] = (
    float_param("learning_rate", 1e-4, 1e-1, log=True),
    int_param("hidden_layers", 1, 4),
    int_param("units", 16, 256, log=True),
    int_param("batch_size", 16, 256, log=True),
    float_param("dropout", 0.0, 0.5),
    float_param("weight_decay", 1e-6, 1e-2, log=True),
)
