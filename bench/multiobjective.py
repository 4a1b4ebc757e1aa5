"""Multi-objective quality: hypervolume after 50 trials on BraninCurrin and DTLZ2.

Our random and bayes suggesters (called directly, as in bench/quality.py)
against Optuna's NSGAIISampler and GPSampler (multi-objective), in the same
run: median and IQR of the hypervolume over the seeds, with each problem's
reference point from `botorch.test_functions.multi_objective` (both objectives
minimized). Then the MLP-on-digits task with objectives (validation loss,
parameter count), tuned by bayes for 30 trials: its Pareto front is printed.

    python bench/multiobjective.py [--seeds 10] [--trials 50] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import optuna
import torch
from botorch.test_functions.multi_objective import DTLZ2, BraninCurrin

from _common import machine, mlp_digits_space, quartiles, report
from hyperdial.server.algorithms.base import History, Observed, make_suggester
from hyperdial.server.domain import AlgorithmConfig, Goal, Objective
from hyperdial.server.pareto import hypervolume, non_dominated
from hyperdial.server.space import FloatParam, ParamValue, SearchSpace

RESULTS = Path(__file__).parent / "results"
METHODS = ("random", "bayes", "optuna-nsga2", "optuna-gp")
PROBLEMS = {"branin-currin": BraninCurrin(), "dtlz2": DTLZ2(dim=6, num_objectives=2)}
MINIMIZE_BOTH = (Objective("f0", Goal.MINIMIZE), Objective("f1", Goal.MINIMIZE))
MLP_SPACE = mlp_digits_space()

Evaluate = Callable[[Mapping[str, ParamValue]], tuple[float, ...]]


def _synthetic(name: str) -> tuple[SearchSpace, Evaluate]:
    problem = PROBLEMS[name]
    dims = problem.dim
    space = SearchSpace(tuple(FloatParam(f"x{i}", 0.0, 1.0) for i in range(dims)))

    def evaluate(params: Mapping[str, ParamValue]) -> tuple[float, ...]:
        point = torch.tensor([[float(params[f"x{i}"]) for i in range(dims)]], dtype=torch.float64)
        return tuple(problem(point)[0].tolist())

    return space, evaluate


def _ours(
    method: str, space: SearchSpace, evaluate: Evaluate, trials: int, seed: int
) -> list[tuple[dict[str, ParamValue], tuple[float, ...]]]:
    suggester = make_suggester(space, AlgorithmConfig(method, {}))
    observed: list[Observed] = []
    results = []
    state = None  # the model state the server would pass on (warm-started fits)
    for draw in range(trials):
        history = History(draw, tuple(observed), objectives=MINIMIZE_BOTH, model_state=state)
        batch = suggester.suggest(space, history, 1, seed)
        state = batch.model_state or state
        params = dict(batch.suggestions[0].params)
        values = evaluate(params)
        observed.append(Observed(params, values[0], values))
        results.append((params, values))
    return results


def _optuna(
    method: str, space: SearchSpace, evaluate: Evaluate, trials: int, seed: int
) -> list[tuple[dict[str, ParamValue], tuple[float, ...]]]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (
        optuna.samplers.NSGAIISampler(seed=seed)
        if method == "optuna-nsga2"
        else optuna.samplers.GPSampler(seed=seed)
    )
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    results = []
    for _ in range(trials):
        trial = study.ask()
        params: dict[str, ParamValue] = {}
        for p in space.params:
            if isinstance(p, FloatParam):
                params[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        values = evaluate(params)
        study.tell(trial, values)
        results.append((params, values))
    return results


def one_run(problem: str, method: str, seed: int, trials: int) -> dict[str, Any]:
    """Runs one method on one problem for one seed (in a worker process)."""
    torch.set_num_threads(1)
    space, evaluate = _synthetic(problem)
    runner = _optuna if method.startswith("optuna") else _ours
    points = [values for _, values in runner(method, space, evaluate, trials, seed)]
    reference = PROBLEMS[problem].ref_point.tolist()
    front = [points[i] for i in non_dominated(points)]
    return {
        "problem": problem,
        "method": method,
        "seed": seed,
        "hypervolume": hypervolume(front, reference),
        "max_hypervolume": PROBLEMS[problem].max_hv,
    }


def mlp_front(trials: int, seed: int) -> list[dict[str, Any]]:
    """Tunes (validation loss, parameter count) on digits with bayes; the front found."""
    from hyperdial.trainers.cost import parameter_count
    from hyperdial.trainers.data import load_dataset
    from hyperdial.trainers.training import fit, pick_device

    torch.set_num_threads(1)
    digits, device = load_dataset("digits"), pick_device("cpu")
    objectives = (Objective("val_loss", Goal.MINIMIZE), Objective("param_count", Goal.MINIMIZE))
    suggester = make_suggester(MLP_SPACE, AlgorithmConfig("bayes", {}))
    observed: list[Observed] = []
    rows = []
    for draw in range(trials):
        history = History(draw, tuple(observed), objectives=objectives)
        params = dict(suggester.suggest(MLP_SPACE, history, 1, seed).suggestions[0].params)
        result = fit(digits, dict(params, epochs=15, patience=3), device=device, seed=seed)
        values = (result.best_loss, float(parameter_count(result.model)))
        observed.append(Observed(params, values[0], values))
        rows.append(
            {
                "params": params,
                "val_loss": values[0],
                "param_count": values[1],
                "val_accuracy": result.best_accuracy,
                "trial": draw + 1,
            }
        )
    front = non_dominated([(r["val_loss"], r["param_count"]) for r in rows])
    return sorted((rows[i] for i in front), key=lambda r: r["param_count"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--mlp-trials", type=int, default=30)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 trials, MLP 12")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.trials, args.mlp_trials = 2, 20, 12
    jobs = [
        (problem, method, seed, args.trials)
        for problem in PROBLEMS
        for method in METHODS
        for seed in range(args.seeds)
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs = []
    with (
        ProcessPoolExecutor(args.workers) as pool,
        (RESULTS / "multiobjective-runs.jsonl").open("w") as log,
    ):
        front_job = pool.submit(mlp_front, args.mlp_trials, 0)
        for run in pool.map(one_run, *zip(*jobs, strict=True)):
            runs.append(run)
            log.write(json.dumps(run) + "\n")
            log.flush()
        front = front_job.result()
    rows, summary = [], {}
    for problem in PROBLEMS:
        for method in METHODS:
            mine = [
                r["hypervolume"] for r in runs if (r["problem"], r["method"]) == (problem, method)
            ]
            q1, median, q3 = quartiles(mine)
            summary[f"{problem}/{method}"] = {
                f"median_hypervolume_{args.trials}": median,
                "iqr": [q1, q3],
                "max_hypervolume": PROBLEMS[problem].max_hv,
                "seeds": len(mine),
            }
            rows.append(
                (
                    problem,
                    method,
                    len(mine),
                    f"{median:.4f}",
                    f"{q1:.4f} .. {q3:.4f}",
                    f"{PROBLEMS[problem].max_hv:.4f}",
                )
            )
    for row in front:
        rows.append(
            (
                "mlp-digits front",
                f"trial {row['trial']}",
                "",
                f"loss {row['val_loss']:.4f}",
                f"{row['param_count']:.0f} params",
                f"acc {row['val_accuracy']:.4f}",
            )
        )
    wins = {
        problem: all(
            summary[f"{problem}/bayes"][f"median_hypervolume_{args.trials}"]
            >= summary[f"{problem}/{other}"][f"median_hypervolume_{args.trials}"]
            for other in ("optuna-nsga2", "optuna-gp")
        )
        for problem in PROBLEMS
    }
    report(
        f"Hypervolume after {args.trials} trials (median, IQR over {args.seeds} seeds); "
        f"MLP-digits front after {args.mlp_trials}",
        ("problem", "method", "seeds", "median", "IQR", "max"),
        rows,
        {
            "summary": summary,
            "bayes_beats_optuna": wins,
            "mlp_front": front,
            "runs": runs,
            "machine": machine(),
            "args": vars(args),
        },
    )


if __name__ == "__main__":
    main()
