"""`hyperdial retrain`: the final step of a study, scored once on the held-out test split.

Takes the best trial, trains its configuration on train + validation for as
many epochs as its best validation epoch needed, scores it on the test split
(never seen while tuning), and writes `model.pt`, `report.json` and `report.md`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from hyperdial.client import Client, HyperdialError
from hyperdial.trainers.data import Part, Task, add_dataset_arguments, load_dataset
from hyperdial.trainers.training import evaluate, fit, pick_device, regression_scores


@dataclass(frozen=True)
class Report:
    """What the retrain produced."""

    study: str
    trial: int
    dataset: str
    params: dict[str, float | int | str]
    validation_loss: float
    validation_accuracy: float
    epochs: int
    test_loss: float
    test_accuracy: float  # nan for regression
    test_rmse: float  # nan for classification
    test_r2: float  # nan for classification
    seconds: float
    seed: int


def retrain(
    client: Client,
    study: str,
    dataset_name: str,
    output: Path,
    *,
    seed: int = 0,
    device: str = "auto",
    target: str | None = None,
    task: Task | None = None,
) -> Report:
    """Retrains the study's best configuration and scores it on the test split."""
    best_trials = client.study(study).best_trials(1)
    if not best_trials:
        raise ValueError(f"study {study!r} has no completed trial to retrain")
    (best,) = best_trials
    assert best.value is not None
    curve = best.measurements
    epochs = min(curve, key=lambda m: m[1])[0] + 1 if curve else int(best.params.get("epochs", 15))
    params = {**best.params, "epochs": epochs, "patience": epochs}
    dataset = load_dataset(dataset_name, seed=seed, target=target, task=task)
    combined = Part(
        torch.cat([dataset.train.x, dataset.validation.x]),
        torch.cat([dataset.train.y, dataset.validation.y]),
    )
    started = time.perf_counter()
    # The tuning run's accuracy was not reported; one train-only fit measures it.
    tuned = fit(dataset, best.params, device=pick_device(device), seed=seed)
    result = fit(
        dataset, params, device=pick_device(device), seed=seed, train=combined, restore_best=False
    )
    model = result.model.cpu()
    classification = dataset.task == "classification"
    test_loss, test_accuracy = evaluate(model, dataset.test, classification)
    rmse, r2 = (math.nan, math.nan) if classification else regression_scores(model, dataset.test)
    report = Report(
        study=study,
        trial=best.id,
        dataset=dataset_name,
        params=params,
        validation_loss=best.value,
        validation_accuracy=tuned.best_accuracy,
        epochs=result.epochs,
        test_loss=test_loss,
        test_accuracy=test_accuracy,
        test_rmse=rmse,
        test_r2=r2,
        seconds=time.perf_counter() - started,
        seed=seed,
    )
    output.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), output / "model.pt")
    (output / "report.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    (output / "report.md").write_text(_markdown(report))
    return report


def _markdown(report: Report) -> str:
    accuracy = "n/a" if math.isnan(report.test_accuracy) else f"{report.test_accuracy:.4f}"
    rows = "\n".join(f"| `{name}` | {value} |" for name, value in sorted(report.params.items()))
    return (
        f"# Final model of study `{report.study}`\n\n"
        f"Best trial {report.trial}, retrained on train + validation of `{report.dataset}` "
        f"for {report.epochs} epochs ({report.seconds:.1f} s), scored once on the test split.\n\n"
        f"| | |\n|---|---|\n| validation loss (tuning) | {report.validation_loss:.4f} |\n"
        f"| validation accuracy | {report.validation_accuracy:.4f} |\n"
        f"| test loss | {report.test_loss:.4f} |\n| test accuracy | {accuracy} |\n"
        f"| test RMSE | {report.test_rmse:.4f} |\n| test R² | {report.test_r2:.4f} |\n\n"
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
                device=args.device,
                target=args.target,
                task=args.task,
            )
        except (HyperdialError, ValueError) as error:
            sys.exit(f"hyperdial retrain: {error}")
    print(
        f"validation loss {report.validation_loss:.4f}, accuracy "
        f"{report.validation_accuracy:.4f}; test loss {report.test_loss:.4f}, accuracy "
        f"{report.test_accuracy:.4f}; written to {args.output}"
    )


if __name__ == "__main__":
    main()
