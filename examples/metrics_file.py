"""A script that reports through `HYPERDIAL_METRICS_FILE`: its stdout is its own.

It reads its parameters from the JSON file in `HYPERDIAL_PARAMS_FILE` and
appends one JSON metric line per step, then a final one:

    hyperdial agent --study quadratic -- python examples/metrics_file.py
"""

from __future__ import annotations

import json
import os

with open(os.environ["HYPERDIAL_PARAMS_FILE"]) as params_file:
    params = json.load(params_file)
x = params["x"]
with open(os.environ["HYPERDIAL_METRICS_FILE"], "a") as metrics:
    for step in range(3):
        loss = (x - 1.0) ** 2 + 1.0 / (step + 1)
        print(f"step {step}: loss {loss:.4f}")  # ordinary output, not a metric line
        metrics.write(json.dumps({"hyperdial": {"step": step, "loss": loss}}) + "\n")
        metrics.flush()
    metrics.write(json.dumps({"hyperdial": {"final": True, "loss": (x - 1.0) ** 2}}) + "\n")
