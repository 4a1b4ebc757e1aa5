"""What a network costs to keep and to run: the metrics a study trades accuracy against."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

LATENCY_BATCH = 256
WARMUP_RUNS = 3
TIMED_RUNS = 10


def parameter_count(model: nn.Module) -> int:
    """Trainable and frozen parameters alike: what the model weighs when deployed."""
    return sum(p.numel() for p in model.parameters())


def latency_per_sample(model: nn.Module, features: torch.Tensor, device: torch.device) -> float:
    """Seconds of inference per sample for a warm model on a batch of 256 rows.

    The batch is drawn from `features` (repeated when there are fewer rows);
    the median of several timed runs after warm-up runs, with the device
    synchronized around each, so the figure is steady enough to optimize.
    """
    rows = torch.arange(LATENCY_BATCH) % len(features)
    batch = features[rows].to(device)
    model.eval()
    timings = []
    with torch.inference_mode():
        for run in range(WARMUP_RUNS + TIMED_RUNS):
            _synchronize(device)
            started = time.perf_counter()
            model(batch)
            _synchronize(device)
            if run >= WARMUP_RUNS:
                timings.append(time.perf_counter() - started)
    return statistics.median(timings) / LATENCY_BATCH


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
