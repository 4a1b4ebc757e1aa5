"""The user's own data: CSV and .npz files, inferred tasks, regression scores."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn import datasets

from hyperdial.trainers.data import load_dataset
from hyperdial.trainers.training import fit, regression_scores


def _write_csv(path: Path, x: np.ndarray, y: list) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(f"f{i}" for i in range(x.shape[1])), "label"])
        writer.writerows([*row, target] for row, target in zip(x.tolist(), y, strict=True))


def test_a_csv_with_string_labels_is_a_classification_task(tmp_path: Path) -> None:
    iris = datasets.load_iris()
    names = [str(iris.target_names[t]) for t in iris.target]
    path = tmp_path / "iris.csv"
    _write_csv(path, iris.data, names)
    data = load_dataset(str(path), target="label")
    assert data.task == "classification"
    assert data.classes == 3
    assert data.train.x.shape[1] == 4
    assert len(data.train.y) + len(data.validation.y) + len(data.test.y) == 150
    result = fit(data, {"epochs": 30, "learning_rate": 0.01}, device=torch.device("cpu"))
    assert result.best_accuracy > 0.8


def test_an_npz_with_real_targets_is_regression_with_rmse_and_r2(tmp_path: Path) -> None:
    diabetes = datasets.load_diabetes()
    path = tmp_path / "diabetes.npz"
    np.savez(path, x=diabetes.data, y=diabetes.target / 100.0)
    data = load_dataset(str(path))
    assert data.task == "regression"
    result = fit(data, {"epochs": 60, "learning_rate": 0.01}, device=torch.device("cpu"))
    rmse, r2 = regression_scores(result.model, data.test)
    assert 0.0 < rmse < float(data.test.y.std())  # better than predicting the mean
    assert 0.0 < r2 < 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n", "header row and data rows"),
        ("a,b\nx,1\n", "must be a number"),
    ],
)
def test_bad_files_are_explained(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_dataset(str(path))


def test_an_unknown_column_or_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,0\n2,1\n")
    with pytest.raises(ValueError, match="no column 'label'"):
        load_dataset(str(path), target="label")
    with pytest.raises(ValueError, match="no such file"):
        load_dataset(str(tmp_path / "missing.csv"))
