"""Built-in datasets (scikit-learn's bundled ones, no download) with a fixed, seeded split.

The split is train / validation / test, stratified for classification. Features
are standardized with statistics of the training part only; the test part is
never used while tuning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


def load_dataset(
    name: str, *, seed: int = 0, validation: float = 0.2, test: float = 0.2
) -> Dataset:
    """Loads a built-in dataset and splits it train / validation / test with `seed`."""
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; built in: {', '.join(_LOADERS)}")
    if not (0 < validation < 1 and 0 < test < 1 and validation + test < 1):
        raise ValueError("validation and test fractions must be in (0, 1) and sum below 1")
    loader, task = _LOADERS[name]
    bunch = loader()
    x = np.asarray(bunch.data, dtype=np.float32)
    y = np.asarray(bunch.target)
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
