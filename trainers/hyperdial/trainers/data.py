"""Datasets with a fixed, seeded split: scikit-learn's bundled ones, or the user's file.

Built in (no download): digits, breast_cancer, wine, iris (classification) and
diabetes (regression). A user's data is a CSV file with a header row (every
column but the target is a numeric feature) or an .npz file with arrays `x`
and `y`; the task is classification when the target holds strings or at most
`MAX_AUTO_CLASSES` distinct integers, regression otherwise, unless given.

The split is train / validation / test, stratified for classification. Features
are standardized with statistics of the training part only; the test part is
never used while tuning.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split

Task = Literal["classification", "regression"]

_LOADERS: dict[str, tuple[Callable[..., Any], Task]] = {
    "digits": (datasets.load_digits, "classification"),
    "breast_cancer": (datasets.load_breast_cancer, "classification"),
    "wine": (datasets.load_wine, "classification"),
    "iris": (datasets.load_iris, "classification"),
    "diabetes": (datasets.load_diabetes, "regression"),
}


@dataclass(frozen=True)
class Part:
    """Features (n, d) float32 and targets: class indices (n,) int64 or values (n,) float32."""

    x: torch.Tensor
    y: torch.Tensor


@dataclass(frozen=True)
class Dataset:
    """A split dataset and what a model needs to know about it."""

    name: str
    task: Task
    train: Part
    validation: Part
    test: Part
    classes: int  # 0 for regression
    image_shape: tuple[int, int] | None = None  # (8, 8) for digits: lets a CNN see images


def dataset_names() -> tuple[str, ...]:
    """The built-in datasets."""
    return tuple(_LOADERS)


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The data flags shared by `hyperdial trainer` and `hyperdial retrain`."""
    parser.add_argument(
        "--dataset",
        default="digits",
        help=f"built in ({', '.join(_LOADERS)}) or a .csv/.npz file (default %(default)s)",
    )
    parser.add_argument("--target", default=None, help="CSV target column (default: the last)")
    parser.add_argument(
        "--task", choices=["classification", "regression"], default=None, help="default: inferred"
    )


MAX_AUTO_CLASSES = 50


def _read_file(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Features and raw targets from a CSV (header row) or .npz (`x`, `y`) file."""
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            missing = {"x", "y"} - set(arrays.files)
            if missing:
                raise ValueError(f"{path}: .npz needs arrays 'x' and 'y', missing {missing}")
            return np.asarray(arrays["x"], dtype=np.float32), np.asarray(arrays["y"])
    if path.suffix != ".csv":
        raise ValueError(f"{path}: user data must be a .csv or .npz file")
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 2:
        raise ValueError(f"{path}: needs a header row and data rows")
    header, body = rows[0], rows[1:]
    if target and target not in header:
        raise ValueError(f"{path}: no column {target!r}; columns: {', '.join(header)}")
    column = header.index(target) if target else len(header) - 1
    features = [i for i in range(len(header)) if i != column]
    try:
        x = np.array([[float(row[i]) for i in features] for row in body], dtype=np.float32)
    except (ValueError, IndexError) as error:
        raise ValueError(f"{path}: every feature must be a number ({error})") from None
    return x, np.array([row[column] for row in body])


def _infer_task(y: np.ndarray) -> Task:
    if y.dtype.kind in "OUS":
        try:
            numbers = y.astype(np.float64)
        except ValueError:
            return "classification"
    else:
        numbers = y.astype(np.float64)
    integral = bool(np.all(numbers == np.round(numbers)))
    few = len(np.unique(numbers)) <= MAX_AUTO_CLASSES
    return "classification" if integral and few else "regression"


def _targets(y: np.ndarray, task: Task) -> np.ndarray:
    """Class indices 0..k-1 (sorted labels) or float values."""
    if task == "regression":
        return y.astype(np.float32)
    _, indices = np.unique(y, return_inverse=True)
    return indices.astype(np.int64)


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    validation: float = 0.2,
    test: float = 0.2,
    target: str | None = None,
    task: Task | None = None,
) -> Dataset:
    """Loads a built-in dataset or a .csv/.npz file and splits it with `seed`.

    `target` names the CSV column to predict (default: the last); `task`
    overrides the inferred one.
    """
    if not (0 < validation < 1 and 0 < test < 1 and validation + test < 1):
        raise ValueError("validation and test fractions must be in (0, 1) and sum below 1")
    if name in _LOADERS:
        loader, builtin_task = _LOADERS[name]
        bunch = loader()
        x, raw = np.asarray(bunch.data, dtype=np.float32), np.asarray(bunch.target)
        task = task or builtin_task
    elif Path(name).suffix in (".csv", ".npz"):
        if not Path(name).is_file():
            raise ValueError(f"no such file: {name}")
        x, raw = _read_file(Path(name), target)
        task = task or _infer_task(raw)
    else:
        raise ValueError(
            f"unknown dataset {name!r}; built in: {', '.join(_LOADERS)}, or a .csv/.npz file"
        )
    if x.ndim != 2 or len(x) != len(raw):
        raise ValueError(f"{name}: features must be (n, d) with one target per row")
    y = _targets(raw, task)
    stratify = y if task == "classification" else None
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test, random_state=seed, stratify=stratify
    )
    stratify = y_rest if task == "classification" else None
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=validation / (1 - test), random_state=seed, stratify=stratify
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0

    def part(features: np.ndarray, targets: np.ndarray) -> Part:
        scaled = torch.from_numpy((features - mean) / std)
        if task == "classification":
            return Part(scaled, torch.from_numpy(targets.astype(np.int64)))
        return Part(scaled, torch.from_numpy(targets.astype(np.float32)))

    return Dataset(
        name=name,
        task=task,
        train=part(x_train, y_train),
        validation=part(x_val, y_val),
        test=part(x_test, y_test),
        classes=int(y.max()) + 1 if task == "classification" else 0,
        image_shape=(8, 8) if name == "digits" else None,
    )
