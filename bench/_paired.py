"""Methods compared seed by seed, and how sure a difference of medians is.

Medians of 20 seeds move by as much as the gaps between methods (the same
method's median moves between seed sets by more than most targets' margins),
so beside the medians a bench reports, per pair of methods on the same seeds:
the seeds the first wins (ties count as wins), the median of the per-seed
differences, and a bootstrap interval for the difference of the medians (seeds
resampled together, so the pairing is kept). An interval that straddles 0
says the medians are not told apart by these seeds.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

RESAMPLES = 2_000
LEVEL = 0.95


def paired(
    rows: list[dict[str, Any]], datasets: list[str], ours: list[str], anchors: list[str], key: str
) -> dict[str, dict[str, Any]]:
    """Each of `ours` against each of `anchors` on `key` (lower is better), on shared seeds."""
    found: dict[str, dict[str, Any]] = {}
    for name in datasets:
        value = {(r["method"], r["seed"]): r[key] for r in rows if r["dataset"] == name}
        for mine in ours:
            for anchor in anchors:
                pairs = [
                    (value[mine, s], value[anchor, s])
                    for m, s in value
                    if m == mine and (anchor, s) in value
                ]
                pairs = [p for p in pairs if not math.isnan(p[0] - p[1])]
                if pairs:
                    found[f"{name}/{mine} vs {anchor}"] = compare(pairs)
    return found


def compare(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """Seeds won, the median per-seed gap, and the difference of medians with its interval."""
    gaps = [mine - theirs for mine, theirs in pairs]
    low, high = _bootstrap_interval(pairs)
    return {
        "seeds": len(pairs),
        "wins": sum(gap <= 0 for gap in gaps),
        "median_gap": statistics.median(gaps),
        "median_difference": _median_difference(pairs),
        "interval": [low, high],
    }


def _median_difference(pairs: list[tuple[float, float]]) -> float:
    return statistics.median(p[0] for p in pairs) - statistics.median(p[1] for p in pairs)


def _bootstrap_interval(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    """A percentile bootstrap interval (seeded: the same runs give the same interval)."""
    draws = random.Random(0)
    differences = sorted(
        _median_difference(draws.choices(pairs, k=len(pairs))) for _ in range(RESAMPLES)
    )
    tail = (1 - LEVEL) / 2
    return differences[int(tail * RESAMPLES)], differences[int((1 - tail) * RESAMPLES) - 1]
