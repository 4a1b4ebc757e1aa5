"""Pruning: MLP on digits, 30 trials, 3 seeds; no stopping vs median, successive halving, model.

Each run is a study served by a real server and tuned by two `hyperdial trainer`
processes over the MLP-on-digits space, with Sobol random search or (`--algorithm
bayes`) Bayesian optimization; bayes runs each rule twice, seeing its stopped
trials (the default) and blind to them (`model_pruned: false`, as before they
were modelled). Reports the best validation loss, the validation accuracy of
that configuration, and the epochs trained in all (from the learning curves).

    python bench/pruning.py [--trials 30] [--seeds 3] [--algorithm random|bayes]
                            [--rules none,median,successive halving,model]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import machine, report
from hyperdial.client import Client, median_stopping, model_stopping, successive_halving
from hyperdial.client.tools.local import LocalServer
from hyperdial.trainers.data import load_dataset
from hyperdial.trainers.spaces import MLP_DIGITS
from hyperdial.trainers.training import fit, pick_device
from hyperdial.v1 import hyperdial_pb2 as pb

RULES = {
    "none": None,
    "median": median_stopping(min_trials=5, warmup_steps=2),
    "successive halving": successive_halving(min_step=1, reduction_factor=3),
    "model": model_stopping(min_probability=0.05, min_trials=5, warmup_steps=2),
}


BLIND = ", stopped trials unseen"


def _variants(algorithm: str, rules: list[str]) -> list[str]:
    """The rules, and for bayes the median and halving rules again without the stopped trials."""
    if algorithm != "bayes":
        return rules
    blind = [r + BLIND for r in rules if r in ("median", "successive halving")]
    return rules + blind


def run(
    server: LocalServer, client: Client, variant: str, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
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
    listed = client.stub.ListTrials(
        pb.ListTrialsRequest(study=name, include_measurements=True, page_size=1000)
    )
    epochs = sum(len(t.measurements) for t in listed.trials)
    (best,) = client.study(name).best_trials(1)
    accuracy = fit(load_dataset("digits"), best.params, device=pick_device("cpu")).best_accuracy
    return {
        "rule": variant,
        "seed": seed,
        "best_loss": best.value,
        "accuracy": accuracy,
        "epochs": epochs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--algorithm", choices=("random", "bayes"), default="random")
    parser.add_argument(
        "--rules",
        default=",".join(RULES),
        help=f"comma-separated, among: {', '.join(RULES)} (none is always run: the baseline)",
    )
    args = parser.parse_args()
    chosen = [r.strip() for r in args.rules.split(",") if r.strip()]
    unknown = sorted(set(chosen) - set(RULES))
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
