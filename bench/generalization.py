"""Generalization: the test loss of the configuration a study recommends, retrained.

MLP tuning on four bundled datasets of different noise (digits, wine, diabetes
as regression, and a `make_classification` set with 15% flipped labels), split
60/20/20 with a fixed seed, over a 7-parameter mixed space (learning rate
log, layers, units log-int, dropout, weight decay log, batch size log-int,
optimizer), 30 trials per run. Trial t of seed s trains with torch seed
1000 s + t whatever the method, so methods see the same training noise for
the same configuration. The suggesters are called directly (as in
`quality.py`), each finished trial with its validation curve as the trainers
report it (bayes models the curves, its default in the service); Optuna's
samplers run as shipped (GPSampler with greenlet).

Each run's recommended configuration is retrained as `hyperdial retrain`
does (train + validation, for its best validation epoch count) with 3 seeds,
and scored on the test split. The recommendation is the service's rule:
the model's best posterior mean for `random` and `bayes` (each trial with
its validation curve, so that a trial enters at its settled value), the
best observed value for `bayes-old` (the first defaults: final values
only, LogEI against the best observation, the observed best shipped) and
for Optuna (its `best_trial`). `bayes-repeats` is bayes re-evaluating its
recommended configuration every third draw (option `repeat_every` 3);
`bayes-design6` and `bayes-design10` open with 6 and 10 Sobol points instead
of the default 15 (2·7 + 1; Ax would open a 30-trial study with 6, Optuna's
samplers with 10); they run only when `--methods` names them.
For runs whose model pick differs from the observed best, the observed best
is retrained too (`test, observed pick` column), to show what the rule alone
changes.

Per method and dataset: the median best validation loss, the median test
loss of the recommended configuration (mean of its 3 retrains), and the
median optimism gap (test loss minus best validation loss). Then bayes
against each rival on the same seeds (`_paired`): seeds won, the difference
of the median test losses with a 95% bootstrap interval (under `test, pick`),
and the median per-seed difference (under `test, observed pick`).

    python bench/generalization.py [--seeds 10] [--first-seed 0] [--trials 30]
        [--datasets digits,wine] [--methods bayes,random]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import optuna
import torch

from _common import machine, noisy_classification, optuna_params, report
from _paired import paired
from hyperdial.server.algorithms.base import History, Observed, make_suggester
from hyperdial.server.algorithms.recommend import recommend
from hyperdial.server.domain import AlgorithmConfig, Measurement, OptionValue
from hyperdial.server.space import CategoricalParam, FloatParam, IntParam, ParamValue, SearchSpace
from hyperdial.trainers.data import Dataset, load_dataset
from hyperdial.trainers.final import train_and_test
from hyperdial.trainers.training import fit

DATASETS = ("digits", "wine", "diabetes", "noisy")
OURS: dict[str, dict[str, OptionValue]] = {
    "random": {},
    "bayes-old": {"incumbent": "observed", "model_curves": False, "settle": False},
    "bayes": {},
    "bayes-repeats": {"repeat_every": 3},
    "bayes-design6": {"initial_trials": 6},
    "bayes-design10": {"initial_trials": 10},
}
METHODS = (*OURS, "optuna-tpe", "optuna-gp")
# Measured once for the README ("Bayesian optimization"): run only when `--methods` names them.
VARIANTS = ("bayes-design6", "bayes-design10")
MODEL_PICK = ("random", "bayes", "bayes-repeats", "bayes-design6", "bayes-design10")
SPACE = SearchSpace(
    (
        FloatParam("learning_rate", 1e-4, 1e-1, log=True),
        IntParam("hidden_layers", 1, 3),
        IntParam("units", 16, 128, log=True),
        FloatParam("dropout", 0.0, 0.5),
        FloatParam("weight_decay", 1e-6, 1e-2, log=True),
        IntParam("batch_size", 16, 256, log=True),
        CategoricalParam("optimizer", ("adam", "adamw", "sgd")),
    )
)
EPOCHS, PATIENCE = 30, 5
RETRAINS = 3
RETRAIN_SEED = 100_000
CPU = torch.device("cpu")
# params, best validation loss, its epoch, the validation loss of every epoch
Trial = tuple[dict[str, ParamValue], float, int, list[float]]


def dataset_named(name: str, folder: Path) -> Dataset:
    """One of `DATASETS`, split 60/20/20 with seed 0 (the noisy set is written to `folder`)."""
    if name != "noisy":
        return load_dataset(name, seed=0)
    return load_dataset(str(noisy_classification(folder)), seed=0)


def _objective(dataset: Dataset, seed: int) -> Callable[[dict[str, ParamValue], int], Trial]:
    def train(params: dict[str, ParamValue], number: int) -> Trial:
        config = dict(params, epochs=EPOCHS, patience=PATIENCE)
        curve: list[float] = []

        def on_epoch(_epoch: int, loss: float, _accuracy: float) -> bool:
            curve.append(loss)
            return False

        result = fit(dataset, config, device=CPU, seed=1000 * seed + number, on_epoch=on_epoch)
        return params, result.best_loss, result.best_epoch, curve

    return train


def _ours(method: str, train: Callable[..., Trial], trials: int, seed: int) -> list[Trial]:
    """A study of ours; a trial whose loss never became finite is INFEASIBLE, as trainers say.

    Finished trials carry their validation curves, as the trainers report them, so
    bayes models (configuration, epoch) as it does in the service by default.
    """
    suggester = make_suggester(SPACE, AlgorithmConfig(method.split("-")[0], OURS[method]))
    observed: list[Observed] = []
    diverged: list[dict[str, ParamValue]] = []
    results: list[Trial] = []
    state = None
    for number in range(trials):
        history = History(number, tuple(observed), infeasible=tuple(diverged), model_state=state)
        batch = suggester.suggest(SPACE, history, 1, seed)
        state = batch.model_state or state
        result = train(dict(batch.suggestions[0].params), number)
        if math.isfinite(result[1]):
            observed.append(_observed(result))
        else:
            diverged.append(result[0])
        results.append(result)
    return results


def _optuna(method: str, train: Callable[..., Trial], trials: int, seed: int) -> list[Trial]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (
        optuna.samplers.TPESampler(seed=seed, multivariate=True)
        if method == "optuna-tpe"
        else optuna.samplers.GPSampler(seed=seed)
    )
    study = optuna.create_study(sampler=sampler)
    results: list[Trial] = []
    for number in range(trials):
        trial = study.ask()
        result = train(optuna_params(trial, SPACE), number)
        if math.isfinite(result[1]):
            study.tell(trial, result[1])
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        results.append(result)
    return results


def _test_loss(dataset: Dataset, trial: Trial) -> float:
    """The mean test loss of `RETRAINS` retrains, as `hyperdial retrain --repeats` runs them."""
    params, _, best_epoch, _ = trial
    runs = [
        train_and_test(dataset, params, best_epoch + 1, RETRAIN_SEED + k, CPU)[0]
        for k in range(RETRAINS)
    ]
    return statistics.fmean(r.test_loss for r in runs)


def _observed(trial: Trial) -> Observed:
    """A finished trial as the service's recommendation sees it: with its reported curve."""
    params, value, _, curve = trial
    return Observed(params, value, curve=tuple(Measurement(k, v) for k, v in enumerate(curve)))


def one_run(dataset_name: str, method: str, seed: int, trials: int) -> dict[str, Any]:
    """One study of `method` on `dataset_name`, its pick retrained (in a worker process)."""
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        dataset = dataset_named(dataset_name, Path(folder))
    train = _objective(dataset, seed)
    runner = _optuna if method.startswith("optuna") else _ours
    results = runner(method, train, trials, seed)
    values = [value if math.isfinite(value) else math.inf for _, value, _, _ in results]
    observed = values.index(min(values))
    picked, estimate = observed, None
    if method in MODEL_PICK:
        finished = [i for i, value in enumerate(values) if math.isfinite(value)]
        diverged = tuple(params for params, value, _, _ in results if not math.isfinite(value))
        history = History(
            len(results), tuple(_observed(results[i]) for i in finished), infeasible=diverged
        )
        found = recommend(SPACE, history, seed=seed)
        if found is not None:
            picked, estimate = finished[found.index], found.estimate
    test = _test_loss(dataset, results[picked])
    test_observed = test if picked == observed else _test_loss(dataset, results[observed])
    return {
        "dataset": dataset_name,
        "method": method,
        "seed": seed,
        "best_validation": values[observed],
        "observed": observed,
        "failed": sum(not math.isfinite(value) for value in values),
        "picked": picked,
        "picked_validation": values[picked],
        "estimate": estimate,
        "test": test,
        "test_observed_pick": test_observed,
        # Every trial (params, best validation loss, its epoch): other picks can be scored later.
        "trials": [[params, value, epoch] for params, value, epoch, _ in results],
    }


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "median_best_validation": statistics.median(r["best_validation"] for r in runs),
        "median_test": statistics.median(r["test"] for r in runs),
        "median_gap": statistics.median(r["test"] - r["best_validation"] for r in runs),
        "median_test_observed_pick": statistics.median(r["test_observed_pick"] for r in runs),
        "picks_not_observed_best": sum(r["picked"] != r["observed"] for r in runs),
        "seeds": len(runs),
    }


def _targets(summary: dict[str, dict[str, Any]], datasets: list[str]) -> dict[str, bool]:
    """The issue's targets: bayes' test loss and optimism gap against every other method."""
    met = {}
    for name in datasets:
        ours = summary.get(f"{name}/bayes")
        if ours is None:
            continue
        for rival in ("random", "optuna-tpe", "optuna-gp"):
            theirs = summary.get(f"{name}/{rival}")
            if theirs is not None:
                met[f"{name}: test <= {rival}"] = ours["median_test"] <= theirs["median_test"]
        gp = summary.get(f"{name}/optuna-gp")
        if gp is not None:
            met[f"{name}: gap <= optuna-gp"] = ours["median_gap"] <= gp["median_gap"]
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here on")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--methods", default=",".join(m for m in METHODS if m not in VARIANTS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    datasets = [d for d in DATASETS if d in args.datasets.split(",")]
    methods = [m for m in METHODS if m in args.methods.split(",")]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(d, m, s, args.trials) for s in seeds for d in datasets for m in methods]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(one_run, *zip(*jobs, strict=True)))
    summary, rows = {}, []
    for name in datasets:
        for method in methods:
            mine = [r for r in runs if r["dataset"] == name and r["method"] == method]
            result = summary[f"{name}/{method}"] = _summary(mine)
            rows.append(
                (
                    name,
                    method,
                    result["seeds"],
                    f"{result['median_best_validation']:.4g}",
                    f"{result['median_test']:.4g}",
                    f"{result['median_gap']:.4g}",
                    f"{result['median_test_observed_pick']:.4g}",
                    result["picks_not_observed_best"],
                )
            )
    targets = _targets(summary, datasets)
    rivals = [m for m in ("random", "optuna-tpe", "optuna-gp") if m in methods]
    pairs = paired(runs, datasets, ["bayes"] if "bayes" in methods else [], rivals, "test")
    for key, pair in pairs.items():
        low, high = pair["interval"]
        name, versus = key.split("/", 1)
        rows.append(
            (
                name,
                versus,
                f"{pair['wins']}/{pair['seeds']} won",
                "",
                f"{pair['median_difference']:+.4g} [{low:+.4g}, {high:+.4g}]",
                "",
                f"paired {pair['median_gap']:+.4g}",
                "",
            )
        )
    report(
        f"Generalization: {args.trials} trials, test loss of the pick retrained {RETRAINS}x",
        (
            "dataset",
            "method",
            "seeds",
            "best val",
            "test, pick",
            "gap",
            "test, observed pick",
            "picks != observed",
        ),
        rows,
        {
            "summary": summary,
            "targets": targets,
            "paired": pairs,
            "runs": runs,
            "machine": machine(),
            "args": vars(args),
        },
    )


if __name__ == "__main__":
    main()
