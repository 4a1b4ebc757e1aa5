"""Trainer throughput: samples/s and seconds per epoch for the MLP and the CNN on digits.

Runs on CUDA when present (report the card), else on the CPU; the same script either way.

    python bench/trainer_throughput.py [--epochs 10]
"""

from __future__ import annotations

import argparse

import torch

from _common import machine, report
from hyperdial.trainers.data import load_dataset
from hyperdial.trainers.training import fit, pick_device

MODELS = {
    "mlp 2x128": {"hidden_layers": 2, "units": 128},
    "mlp 4x256": {"hidden_layers": 4, "units": 256},
    "cnn 16ch": {"model": "cnn", "hidden_layers": 2, "channels": 16},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    device = pick_device("auto")
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    digits = load_dataset("digits")
    runs = []
    for name, params in MODELS.items():
        settings = {
            **params,
            "epochs": args.epochs,
            "patience": args.epochs,
            "batch_size": args.batch_size,
        }
        fit(digits, {**settings, "epochs": 1}, device=device)  # warm-up
        result = fit(digits, settings, device=device)
        runs.append(
            {
                "model": name,
                "device": card,
                "samples_per_s": result.samples_per_second,
                "seconds_per_epoch": result.seconds / result.epochs,
                "best_val_accuracy": result.best_accuracy,
            }
        )
    report(
        f"digits, batch {args.batch_size}, {args.epochs} epochs on {card}",
        ("model", "device", "samples/s", "s/epoch", "val accuracy"),
        [
            (
                r["model"],
                r["device"],
                r["samples_per_s"],
                r["seconds_per_epoch"],
                r["best_val_accuracy"],
            )
            for r in runs
        ],
        {"runs": runs, "threads": torch.get_num_threads(), "machine": machine()},
    )


if __name__ == "__main__":
    main()
