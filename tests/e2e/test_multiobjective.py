"""Several objectives and outcome constraints over gRPC: Pareto fronts, refusals, metrics."""

from __future__ import annotations

import random

import pytest

from hyperdial.client import Client, InvalidArgumentError, float_param
from hyperdial.v1 import hyperdial_pb2 as pb

SPACE = [float_param("x", 0.0, 1.0), float_param("y", 0.0, 1.0)]
LIMIT = pb.OutcomeConstraint(metric="size", upper_bound=0.8)


def _metrics(params: dict) -> dict[str, float]:
    """Two conflicting objectives (loss down, accuracy up) and a constrained size."""
    x, y = params["x"], params["y"]
    return {"loss": x + 0.1 * y, "accuracy": x * (1 - 0.5 * y) ** 2, "size": y}


def _brute_force_front(observed: list[tuple[int, dict[str, float]]]) -> set[int]:
    """Trials no feasible trial dominates (loss minimized, accuracy maximized)."""
    feasible = [(n, m) for n, m in observed if m["size"] <= LIMIT.upper_bound]

    def dominates(a: dict[str, float], b: dict[str, float]) -> bool:
        no_worse = a["loss"] <= b["loss"] and a["accuracy"] >= b["accuracy"]
        return no_worse and (a["loss"] < b["loss"] or a["accuracy"] > b["accuracy"])

    return {n for n, m in feasible if not any(dominates(o, m) for _, o in feasible)}


@pytest.mark.parametrize("algorithm", ["random", pytest.param("bayes", marks=pytest.mark.slow)])
def test_the_front_is_exactly_the_non_dominated_feasible_set(
    client: Client, algorithm: str
) -> None:
    study = client.create_study(
        f"pareto-{algorithm}",
        SPACE,
        objectives=[("loss", "minimize"), ("accuracy", "maximize")],
        constraints=[LIMIT],
        algorithm=algorithm,
        options={"initial_trials": 6, "restarts": 2, "raw_samples": 128}
        if algorithm == "bayes"
        else None,
        max_trials=14 if algorithm == "bayes" else 40,
        seed=3,
    )
    observed = []
    while (trial := study.next_trial("w")) is not None:
        metrics = _metrics(trial.params)
        trial.complete(metrics=metrics)
        observed.append((trial.id, metrics))
    response = study.pareto_front()
    front = {t.id for t in response.trials}
    assert front == _brute_force_front(observed)
    assert all(not t.violates_constraints and t.metrics["size"] <= 0.8 for t in response.trials)
    violating = {n for n, m in observed if m["size"] > 0.8}
    assert violating
    assert not violating & front
    losses = [t.metrics["loss"] for t in response.trials]
    assert losses == sorted(losses)  # best first by the first objective
    assert response.hypervolume > 0
    assert len(response.reference_point) == 2
    assert response.reference_point[0] > max(losses)  # worse than every front point
    assert len(study.best_trials(2)) == min(2, len(front))


def test_a_completed_trial_missing_a_declared_metric_is_refused_and_stays_pending(
    client: Client,
) -> None:
    study = client.create_study(
        "strict-metrics",
        SPACE,
        objectives=[("loss", "minimize"), ("accuracy", "maximize")],
        constraints=[LIMIT],
    )
    trial = study.next_trial("w")
    assert trial is not None
    for metrics, field in (
        ({"loss": 1.0, "size": 0.1}, "metrics.accuracy"),
        ({"loss": 1.0, "accuracy": 0.5}, "metrics.size"),
        ({"loss": float("nan"), "accuracy": 0.5, "size": 0.1}, "metrics.loss"),
    ):
        with pytest.raises(InvalidArgumentError) as refused:
            trial.complete(metrics=metrics)
        assert refused.value.field == field
    with pytest.raises(InvalidArgumentError) as refused:
        trial.complete(0.5)
    assert refused.value.field == "value"
    assert next(study.trials()).state == "PENDING"
    trial.complete(metrics={"loss": 1.0, "accuracy": 0.5, "size": 0.1, "epochs": 7})
    assert trial.state == "COMPLETED"
    assert trial.metrics["epochs"] == 7


def test_a_single_objective_study_with_a_constraint_ranks_feasible_trials_only(
    client: Client,
) -> None:
    study = client.create_study(
        "small-enough", SPACE, metric="loss", constraints=[LIMIT], max_trials=20, seed=1
    )
    values = {}
    while (trial := study.next_trial("w")) is not None:
        metrics = _metrics(trial.params)
        trial.complete(metrics["loss"], metrics={"size": metrics["size"]})
        values[trial.id] = metrics
    best = study.best_trials(1)[0]
    feasible = {n: m["loss"] for n, m in values.items() if m["size"] <= 0.8}
    assert best.value == min(feasible.values())
    assert best.metrics == {"loss": best.value, "size": values[best.id]["size"]}
    assert study.info().best_trial.id == best.id


@pytest.mark.parametrize(
    ("objectives", "constraints", "field"),
    [
        ([("loss", "minimize")], [], "config.objectives"),
        ([("loss", "minimize"), ("loss", "maximize")], [], "config.objectives[1].metric"),
        ([("loss", "minimize"), ("", "maximize")], [], "config.objectives[1].metric"),
        ([], [pb.OutcomeConstraint(metric="size")], "config.constraints[0].upper_bound"),
        (
            [],
            [pb.OutcomeConstraint(metric="size", lower_bound=2, upper_bound=1)],
            "config.constraints[0].lower_bound",
        ),
    ],
)
def test_bad_objectives_and_constraints_name_the_field(
    client: Client, objectives: list, constraints: list, field: str
) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        client.create_study("bad", SPACE, objectives=objectives, constraints=constraints)
    assert refused.value.field == field


def test_a_random_front_matches_brute_force_on_many_points(client: Client) -> None:
    """Three objectives, ties and duplicates included, imported in one call."""
    rng = random.Random(7)
    study = client.create_study(
        "three",
        SPACE,
        objectives=[("a", "minimize"), ("b", "minimize"), ("c", "maximize")],
    )
    points = [
        {"a": rng.randint(0, 5), "b": rng.randint(0, 5), "c": rng.randint(0, 5)}
        for _ in range(200)
    ]
    request = pb.ImportTrialsRequest(
        study="three",
        trials=[
            pb.ImportedTrial(
                parameters={"x": pb.Value(double_value=0.5), "y": pb.Value(double_value=0.5)},
                metrics={k: float(v) for k, v in p.items()},
            )
            for p in points
        ],
    )
    client.call(client.stub.ImportTrials, request)

    def dominates(p: dict, q: dict) -> bool:
        no_worse = p["a"] <= q["a"] and p["b"] <= q["b"] and p["c"] >= q["c"]
        return no_worse and p != q

    expected = {i + 1 for i, p in enumerate(points) if not any(dominates(q, p) for q in points)}
    assert {t.id for t in study.pareto_front().trials} == expected
