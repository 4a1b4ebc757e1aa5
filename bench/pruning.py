"""Pruning: MLP on digits, 30 trials, 3 seeds; no stopping vs median, successive halving, model.

Each run is a study served by a real server and tuned by two `hyperdial trainer`
processes over the MLP-on-digits space, with Sobol random search or (`--algorithm
bayes`) Bayesian optimization; bayes runs each rule twice, seeing its stopped
trials (the default) and blind to them (`model_pruned: false`, as before they
were modelled). The anchors `tpe-median` and `tpe-hyperband` are Optuna's TPE with
its MedianPruner and HyperbandPruner on the same training code, one trial at a
time. Reports the best validation loss, the validation accuracy of that
configuration, and the epochs trained in all (from the learning curves).

    python bench/pruning.py [--trials 30] [--seeds 3] [--algorithm random|bayes]
        [--rules none,median,successive halving,model,tpe-median,tpe-hyperband]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import optuna

from _common import machine, mlp_digits_space, optuna_params, report
from hyperdial.client import Client, median_stopping, model_stopping, successive_halving
from hyperdial.client.tools.local import LocalServer
from hyperdial.trainers.data import load_dataset
from hyperdial.trainers.spaces import MLP_DIGITS
from hyperdial.trainers.training import fit, pick_device

RULES = {
    "none": None,
    "median": median_stopping(min_trials=5, warmup_steps=2),
    "successive halving": successive_halving(min_step=1, reduction_factor=3),
    "model": model_stopping(min_probability=0.05, min_trials=5, warmup_steps=2),
}


BLIND = ", stopped trials unseen"
# The anchors: Optuna's TPE with its own pruners, as Optuna ships them, training with the same
# code and seed, one trial at a time (hyperdial's runs have two trainers).
OPTUNA_PRUNERS = {
    "tpe-median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
    "tpe-hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3),
}


def _variants(algorithm: str, rules: list[str]) -> list[str]:
    """The rules, and for bayes the median and halving rules again without the stopped trials."""
    if algorithm != "bayes":
        return rules
    blind = [r + BLIND for r in rules if r in ("median", "successive halving")]
    return rules + blind


def run_optuna(variant: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One Optuna study: TPE seeded like hyperdial's, the pruner `variant` names."""
    dataset, device, space = load_dataset("digits"), pick_device("cpu"), mlp_digits_space()
    study = optuna.create_study(
        sampler=optuna.samplers.TPESampler(seed=seed), pruner=OPTUNA_PRUNERS[variant]()
    )
    epochs = 0

    def objective(trial: optuna.Trial) -> float:
        nonlocal epochs

        def on_epoch(epoch: int, loss: float, _accuracy: float) -> bool:
            nonlocal epochs
            epochs += 1
            trial.report(loss, epoch)
            return trial.should_prune()

        result = fit(dataset, optuna_params(trial, space), device=device, on_epoch=on_epoch)
        if result.stopped_by_server:
            raise optuna.TrialPruned()
        return result.best_loss

    study.optimize(objective, n_trials=args.trials)
    best = study.best_trial
    return _result(variant, seed, best.params, best.value, epochs)


def _result(
    variant: str, seed: int, params: dict[str, Any], best_loss: float, epochs: int
) -> dict[str, Any]:
    """A run's row: its best loss, that configuration's validation accuracy, its epochs."""
    accuracy = fit(load_dataset("digits"), params, device=pick_device("cpu")).best_accuracy
    return {
        "rule": variant,
        "seed": seed,
        "best_loss": best_loss,
        "accuracy": accuracy,
        "epochs": epochs,
    }


def run(
    server: LocalServer, client: Client, variant: str, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    if variant in OPTUNA_PRUNERS:
        return run_optuna(variant, seed, args)
    rule = variant.removesuffix(BLIND)
    options: dict[str, Any] = {"sampler": "sobol"}
    if args.algorithm == "bayes":
        options = {"model_pruned": not variant.endswith(BLIND)}
    name = f"pruning-{args.algorithm}-{variant.replace(' ', '-').replace(',', '')}-{seed}"
    client.create_study(
        name,
        list(MLP_DIGITS),
        algorithm=args.algorithm,
        options=options,
        seed=seed,
        max_trials=args.trials,
        stopping=RULES[rule],
    )
    command = [sys.executable, "-m", "hyperdial.trainers", "--server", server.address]
    trainers = [
        subprocess.Popen([*command, "--study", name, "--device", "cpu"], stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    for trainer in trainers:
        trainer.wait()
    study = client.study(name)
    (best,) = study.best_trials(1)
    return _result(variant, seed, best.params, best.value, study.info().steps_reported)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--algorithm", choices=("random", "bayes"), default="random")
    known = [*RULES, *OPTUNA_PRUNERS]
    parser.add_argument(
        "--rules",
        default=",".join(RULES),
        help=f"comma-separated, among: {', '.join(known)} (none is always run: the baseline)",
    )
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    chosen = [r.strip() for r in args.rules.split(",") if r.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        parser.error(f"--rules: unknown {', '.join(unknown)}")
    variants = _variants(args.algorithm, ["none", *(r for r in chosen if r != "none")])
    runs = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(f"sqlite:///{Path(tmp) / 'p.db'}") as server,
        Client(server.address) as client,
    ):
        for seed in range(args.seeds):
            for variant in variants:
                runs.append(run(server, client, variant, seed, args))
    summary = {}
    for rule in variants:
        mine = [r for r in runs if r["rule"] == rule]
        summary[rule] = {
            "median_best_loss": statistics.median(r["best_loss"] for r in mine),
            "median_accuracy": statistics.median(r["accuracy"] for r in mine),
            "total_epochs": sum(r["epochs"] for r in mine),
        }
    base = summary["none"]
    for rule in variants:
        summary[rule]["loss_vs_none"] = (
            summary[rule]["median_best_loss"] / base["median_best_loss"]
        )
        summary[rule]["epochs_vs_none"] = summary[rule]["total_epochs"] / base["total_epochs"]
        summary[rule]["accuracy_points_vs_none"] = 100 * (
            summary[rule]["median_accuracy"] - base["median_accuracy"]
        )
    report(
        f"MLP on digits, {args.trials} trials x {args.seeds} seeds, {args.algorithm}",
        (
            "rule",
            "median best loss",
            "vs none",
            "median accuracy",
            "points vs none",
            "epochs",
            "epochs vs none",
        ),
        [
            (
                rule,
                s["median_best_loss"],
                s["loss_vs_none"],
                s["median_accuracy"],
                s["accuracy_points_vs_none"],
                s["total_epochs"],
                s["epochs_vs_none"],
            )
            for rule, s in summary.items()
        ],
        {"summary": summary, "runs": runs, "machine": machine()},
    )


if __name__ == "__main__":
    main()
