"""`hyperdial retrain`: the final step of a study, scored on the held-out test split.

Takes the study's recommended trial (by default the model's pick, the best
posterior mean; `--pick observed` the best observed value), trains its
configuration on train + validation for as many epochs as its best validation
epoch needed, scores it on the test split (never seen while tuning), and
writes `model.pt`, `report.json` and `report.md`. With `--repeats K` it trains
K times with training seeds seed, seed+1, ... on the same split and reports
the test metrics as mean and standard deviation beside every run: the noise a
user ships with. `model.pt` is the first run's model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hyperdial.client import Client, HyperdialError, Trial
from hyperdial.trainers.data import Dataset, Part, Task, add_dataset_arguments, load_dataset
from hyperdial.trainers.models import ParamValue
from hyperdial.trainers.training import evaluate, fit, pick_device, regression_scores

PICKS = ("recommended", "observed")


@dataclass(frozen=True)
class TestRun:
    """One training run of the final configuration, scored on the test split."""

    seed: int
    test_loss: float
    test_accuracy: float  # nan for regression
    test_rmse: float  # nan for classification
    test_r2: float  # nan for classification
    seconds: float


@dataclass(frozen=True)
class Report:
    """What the retrain produced: the chosen trial, and the test scores of every run."""

    study: str
    trial: int
    rule: str  # how the trial was chosen: best_posterior_mean or best_observed
    dataset: str
    params: dict[str, ParamValue]
    validation_loss: float  # observed while tuning
    estimate: float  # the model's estimate of the validation loss; nan by the observed rule
    estimate_sd: float
    validation_accuracy: float  # as the tuning run reported it; nan where it did not
    epochs: int
    test_loss: float  # the mean over runs, and so on
    test_loss_sd: float  # 0 for one run
    test_accuracy: float
    test_rmse: float
    test_r2: float
    runs: list[TestRun]
    seconds: float
    seed: int


def train_and_test(
    dataset: Dataset,
    params: Mapping[str, ParamValue],
    epochs: int,
    seed: int,
    device: torch.device,
) -> tuple[TestRun, nn.Module]:
    """Trains `params` on train + validation for `epochs` epochs; scores it on the test split."""
    combined = Part(
        torch.cat([dataset.train.x, dataset.validation.x]),
        torch.cat([dataset.train.y, dataset.validation.y]),
    )
    started = time.perf_counter()
    final = {**params, "epochs": epochs, "patience": epochs}
    result = fit(dataset, final, device=device, seed=seed, train=combined, restore_best=False)
    model = result.model.cpu()
    classification = dataset.task == "classification"
    loss, accuracy = evaluate(model, dataset.test, classification)
    rmse, r2 = (math.nan, math.nan) if classification else regression_scores(model, dataset.test)
    return TestRun(seed, loss, accuracy, rmse, r2, time.perf_counter() - started), model


def _chosen(client: Client, study: str, pick: str) -> tuple[Trial, str, float, float]:
    """The trial to retrain, its rule, and the model's estimate and sd (nan by observation)."""
    handle = client.study(study)
    recommended = handle.recommended() if pick == "recommended" else None
    if recommended is not None:
        trial, rule = recommended.trial, recommended.rule
        estimate, sd = recommended.estimate, recommended.estimate_sd
        return trial, rule, math.nan if estimate is None else estimate, sd or math.nan
    best_trials = handle.best_trials(1)
    if not best_trials:
        raise ValueError(f"study {study!r} has no completed trial to retrain")
    return best_trials[0], "best_observed", math.nan, math.nan


def retrain(
    client: Client,
    study: str,
    dataset_name: str,
    output: Path,
    *,
    seed: int = 0,
    repeats: int = 1,
    pick: str = "recommended",
    device: str = "auto",
    target: str | None = None,
    task: Task | None = None,
) -> Report:
    """Retrains the study's chosen configuration `repeats` times; scores it on the test split."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if pick not in PICKS:
        raise ValueError(f"pick must be one of {', '.join(PICKS)}, got {pick!r}")
    trial, rule, estimate, estimate_sd = _chosen(client, study, pick)
    assert trial.value is not None
    curve = trial.measurements
    epochs = (
        min(curve, key=lambda m: m[1])[0] + 1 if curve else int(trial.params.get("epochs", 15))
    )
    dataset = load_dataset(dataset_name, seed=seed, target=target, task=task)
    started = time.perf_counter()
    runs, models = [], []
    for k in range(repeats):
        run, model = train_and_test(dataset, trial.params, epochs, seed + k, pick_device(device))
        runs.append(run)
        models.append(model)
    report = Report(
        study=study,
        trial=trial.id,
        rule=rule,
        dataset=dataset_name,
        params={**trial.params, "epochs": epochs, "patience": epochs},
        validation_loss=trial.value,
        estimate=estimate,
        estimate_sd=estimate_sd,
        validation_accuracy=trial.metrics.get("val_accuracy", math.nan),
        epochs=epochs,
        test_loss=statistics.fmean(r.test_loss for r in runs),
        test_loss_sd=statistics.stdev(r.test_loss for r in runs) if repeats > 1 else 0.0,
        test_accuracy=statistics.fmean(r.test_accuracy for r in runs),
        test_rmse=statistics.fmean(r.test_rmse for r in runs),
        test_r2=statistics.fmean(r.test_r2 for r in runs),
        runs=runs,
        seconds=time.perf_counter() - started,
        seed=seed,
    )
    output.mkdir(parents=True, exist_ok=True)
    torch.save(models[0].state_dict(), output / "model.pt")
    # Strict JSON: a score that does not apply (accuracy of a regression) is null, not NaN.
    document = json.dumps(_without_nan(asdict(report)), indent=2, allow_nan=False)
    (output / "report.json").write_text(document + "\n")
    (output / "report.md").write_text(_markdown(report))
    return report


def _without_nan(value: Any) -> Any:
    """`value` with every NaN float replaced by None, through dicts and lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _without_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nan(v) for v in value]
    return value


def _markdown(report: Report) -> str:
    """The report for people: only the scores that apply to the task."""
    classification = not math.isnan(report.test_accuracy)
    scores = (
        [("test accuracy", "test_accuracy")]
        if classification
        else [("test RMSE", "test_rmse"), ("test R²", "test_r2")]
    )
    rows = "\n".join(f"| `{name}` | {value} |" for name, value in sorted(report.params.items()))
    estimate = (
        ""
        if math.isnan(report.estimate)
        else f"| model estimate of the validation loss | {report.estimate:.4f} "
        f"± {report.estimate_sd:.4f} |\n"
    )
    accuracy = (
        f"| validation accuracy (tuning) | {report.validation_accuracy:.4f} |\n"
        if not math.isnan(report.validation_accuracy)
        else ""
    )
    summary = "".join(f"| {label} | {getattr(report, key):.4f} |\n" for label, key in scores)
    runs = "\n".join(
        f"| {r.seed} | {r.test_loss:.4f} | "
        + " | ".join(f"{getattr(r, key):.4f}" for _, key in scores)
        + f" | {r.seconds:.1f} |"
        for r in report.runs
    )
    labels = " | ".join(label for label, _ in scores)
    return (
        f"# Final model of study `{report.study}`\n\n"
        f"Trial {report.trial} (chosen by {report.rule}), retrained {len(report.runs)} time(s) "
        f"on train + validation of `{report.dataset}` for {report.epochs} epochs "
        f"({report.seconds:.1f} s), scored on the test split.\n\n"
        f"| | |\n|---|---|\n| validation loss (tuning) | {report.validation_loss:.4f} |\n"
        f"{estimate}{accuracy}"
        f"| test loss (mean ± sd) | {report.test_loss:.4f} ± {report.test_loss_sd:.4f} |\n"
        f"{summary}\n"
        f"| seed | test loss | {labels} | seconds |\n"
        f"|---|---|{'---|' * len(scores)}---|\n{runs}\n\n"
        f"| parameter | value |\n|---|---|\n{rows}\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `hyperdial retrain`."""
    parser = argparse.ArgumentParser(prog="hyperdial retrain", description=__doc__)
    parser.add_argument("--server", default=os.environ.get("HYPERDIAL_SERVER", "127.0.0.1:50051"))
    parser.add_argument("--study", required=True)
    parser.add_argument("--output", type=Path, required=True)
    add_dataset_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="the split seed used while tuning")
    parser.add_argument(
        "--repeats", type=int, default=1, help="training runs with seeds seed, seed+1, …"
    )
    parser.add_argument(
        "--pick",
        choices=PICKS,
        default="recommended",
        help="the model's recommended trial (default) or the best observed one",
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    args = parser.parse_args(argv)
    with Client(args.server) as client:
        try:
            report = retrain(
                client,
                args.study,
                args.dataset,
                args.output,
                seed=args.seed,
                repeats=args.repeats,
                pick=args.pick,
                device=args.device,
                target=args.target,
                task=args.task,
            )
        except (HyperdialError, ValueError) as error:
            sys.exit(f"hyperdial retrain: {error}")
    for run in report.runs:
        print(f"seed {run.seed}: test loss {run.test_loss:.4f}, accuracy {run.test_accuracy:.4f}")
    print(
        f"trial {report.trial} ({report.rule}): validation loss {report.validation_loss:.4f}; "
        f"test loss {report.test_loss:.4f} ± {report.test_loss_sd:.4f} over {len(report.runs)} "
        f"run(s), accuracy {report.test_accuracy:.4f}; written to {args.output}"
    )


if __name__ == "__main__":
    main()
