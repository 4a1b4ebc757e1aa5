"""Validation signal: how much a dataset's validation loss says about its test loss.

A tuner can only ship a better model where a lower validation loss means a
lower test loss. `generalization.py` scores each method by the test loss of
its pick on one fixed 60/20/20 split; where that split's validation loss stops
ranking configurations the way the test split does, the search that tunes
hardest gains nothing, and methods differ by luck. This measures where that
happens, without any tuner: random configurations of the same 7-parameter
space, each trained with 3 seeds (validation loss: their mean best epoch
loss) and retrained 3 times on train + validation for its best epoch count
(test loss: their mean), as `generalization.py` retrains a pick. Configurations
with a non-finite loss are left out.

Per dataset: Spearman's rank correlation between validation and test loss
over all configurations, over the best half and the best quarter by
validation; the median within-configuration sd of the validation loss
(training noise); the test loss of the configuration with the lowest
validation loss; and the best half by validation cut into fifths, from the
best, with each fifth's median test loss: where validation carries signal
among good configurations, it falls from the last fifth to the first.

    python bench/validation_signal.py [--configurations 400] [--datasets noisy,diabetes]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
from scipy.stats import spearmanr

from _common import machine, report
from generalization import CPU, DATASETS, EPOCHS, PATIENCE, SPACE, dataset_named
from hyperdial.server.algorithms.base import History, make_suggester
from hyperdial.server.domain import AlgorithmConfig
from hyperdial.server.space import ParamValue
from hyperdial.trainers.final import train_and_test
from hyperdial.trainers.training import fit

SEEDS = 3
SAMPLER_SEED = 12_345


def one_configuration(
    name: str, number: int, params: dict[str, ParamValue]
) -> tuple[float, float, float] | None:
    """(mean validation loss, its sd over seeds, mean test loss) of configuration `number`."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        dataset = dataset_named(name, Path(folder))
    validation, test = [], []
    for seed in range(SEEDS):
        config = dict(params, epochs=EPOCHS, patience=PATIENCE)
        result = fit(dataset, config, device=CPU, seed=10 * number + seed)
        if not math.isfinite(result.best_loss):
            return None  # diverged: nothing to retrain
        run, _ = train_and_test(dataset, params, result.best_epoch + 1, 50_000 + seed, CPU)
        if not math.isfinite(run.test_loss):
            return None
        validation.append(result.best_loss)
        test.append(run.test_loss)
    return statistics.fmean(validation), statistics.stdev(validation), statistics.fmean(test)


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (SciPy's)."""
    return float(spearmanr(x, y).statistic)


def signal(rows: list[tuple[float, float, float]]) -> dict[str, Any]:
    """The correlations, and the median test loss in each fifth of the best half by validation."""
    rows = sorted(rows)
    validation = [r[0] for r in rows]
    test = [r[2] for r in rows]
    half, quarter = len(rows) // 2, len(rows) // 4
    fifths = [test[half * k // 5 : half * (k + 1) // 5] for k in range(5)]
    return {
        "configurations": len(rows),
        "spearman_all": spearman(validation, test),
        "spearman_best_half": spearman(validation[:half], test[:half]),
        "spearman_best_quarter": spearman(validation[:quarter], test[:quarter]),
        "median_validation_sd": statistics.median(r[1] for r in rows),
        "test_of_best_validation": test[0],
        "median_test_by_fifth_of_best_half": [
            statistics.median(f) if f else math.nan for f in fifths
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configurations", type=int, default=400)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if args.configurations < 20:
        parser.error(
            f"--configurations: at least 20 (fifths of the best half), got {args.configurations}"
        )
    datasets = [d for d in DATASETS if d in args.datasets.split(",")]
    sampler = make_suggester(SPACE, AlgorithmConfig("random", {}))
    drawn = sampler.suggest(SPACE, History(0), args.configurations, SAMPLER_SEED).suggestions
    configurations = [dict(s.params) for s in drawn]
    numbers = range(len(configurations))
    results: dict[str, Any] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for name in datasets:
            found = pool.map(one_configuration, [name] * len(numbers), numbers, configurations)
            results[name] = signal([row for row in found if row is not None])
    columns = (
        "dataset",
        "configs",
        "rho all",
        "rho best half",
        "rho best quarter",
        "val sd (seeds)",
        "test, best val",
        "median test, fifths of the best half",
    )
    rows = [
        (
            name,
            r["configurations"],
            f"{r['spearman_all']:.2f}",
            f"{r['spearman_best_half']:.2f}",
            f"{r['spearman_best_quarter']:.2f}",
            f"{r['median_validation_sd']:.4g}",
            f"{r['test_of_best_validation']:.4g}",
            " ".join(f"{v:.4g}" for v in r["median_test_by_fifth_of_best_half"]),
        )
        for name, r in results.items()
    ]
    title = f"Validation signal: {SEEDS} seeds and {SEEDS} retrains of random configurations"
    report(title, columns, rows, {"datasets": results, "machine": machine(), "args": vars(args)})


if __name__ == "__main__":
    main()
