"""GetBestTrials' recommended trial over gRPC, on both backends."""

from __future__ import annotations

import random

from hyperdial.client import Client, float_param, step_budget
from hyperdial.client.tools.study_cli import main as study_main
from hyperdial.v1 import hyperdial_pb2 as pb

SPACE = [float_param("x", 0.0, 1.0), float_param("y", 0.0, 1.0)]


def true_value(params: dict) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.6) ** 2


def noisy_trials(seed: int, count: int, noise: float) -> list[tuple[dict, float]]:
    rng = random.Random(seed)
    points = [{"x": rng.random(), "y": rng.random()} for _ in range(count)]
    return [(p, true_value(p) + rng.gauss(0.0, noise)) for p in points]


def test_a_bayes_study_recommends_the_models_pick_with_its_estimate(client: Client) -> None:
    study = client.create_study("noisy", SPACE, algorithm="bayes")
    # Seed 2: the luckiest draw is not the truly best configuration.
    trials = noisy_trials(2, 30, noise=0.05)
    study.import_trials(trials)
    recommended = study.recommended()
    assert recommended is not None
    assert recommended.rule == "best_posterior_mean"
    assert recommended.trials_modelled == 30
    (observed,) = study.best_trials(1)
    assert recommended.trial.id != observed.id
    assert true_value(recommended.trial.params) < true_value(observed.params)
    assert recommended.estimate is not None
    assert recommended.estimate_sd > 0
    assert 0.01 < recommended.noise_sd < 0.2
    assert "Gaussian process on 30 trials" in recommended.reason


def test_the_pick_follows_each_finished_trial(client: Client) -> None:
    study = client.create_study("follows", SPACE)
    study.import_trials(noisy_trials(5, 12, noise=0.0))
    first = study.recommended()
    assert first is not None
    assert first.trial.value == study.best_trials(1)[0].value
    assert study.recommended() == first  # asked again: the same answer
    trial = study.next_trial("w")
    trial.complete(-1.0)  # far better than every other trial: the pick moves to it
    moved = study.recommended()
    assert moved is not None
    assert moved.trial.id == trial.id


def test_a_random_study_says_which_rule_it_used(client: Client) -> None:
    study = client.create_study("flat", SPACE)
    study.import_trials([(p, 1.0) for p, _ in noisy_trials(1, 4, noise=0.0)])
    flat = study.recommended()
    assert flat is not None
    assert flat.rule == "best_observed"
    assert "fewer than two distinct values" in flat.reason
    assert flat.estimate is None
    assert flat.noise_sd is None
    study.import_trials(noisy_trials(3, 6, noise=0.0))
    modelled = study.recommended()
    assert modelled is not None
    assert modelled.rule == "best_posterior_mean"


def test_no_recommendation_without_a_completed_trial_or_with_several_objectives(
    client: Client,
) -> None:
    empty = client.create_study("empty", SPACE)
    assert empty.recommended() is None
    front = client.create_study("front", SPACE, objectives=[("a", "minimize"), ("b", "minimize")])
    front.import_trials([(p, None, {"a": v, "b": -v}) for p, v in noisy_trials(4, 5, 0.0)])
    request = pb.GetBestTrialsRequest(study="front", count=0)
    response = client.call(client.stub.GetBestTrials, request)
    assert not response.HasField("recommendation")
    assert len(response.trials) == 5


def test_study_show_prints_the_recommendation(server, client: Client, capsys) -> None:
    study = client.create_study("shown", SPACE)
    study.import_trials(noisy_trials(2, 20, noise=0.05))
    study_main(["--server", server.address, "show", "shown"])
    printed = capsys.readouterr().out
    assert "recommended" in printed
    assert "model estimate" in printed
    assert "best_posterior_mean" in printed


def test_trials_that_trained_short_are_not_recommended(client: Client) -> None:
    """Bayes' short initial design (3 of 9 steps) ends early: no final value to recommend."""
    study = client.create_study(
        "short-start",
        SPACE,
        algorithm="bayes",
        options={"initial_trials": 3, "restarts": 2},
        fidelity=step_budget(9, min_steps=1),
    )
    for _ in range(6):
        trial = study.next_trial("w")
        for step in range(1, trial.step_budget + 1):
            trial.report(step, 1.0 / step)
        # A short trial's value happens to be the best: it is still not a final one.
        trial.complete(0.01 if trial.step_budget < 9 else 0.2 + true_value(trial.params))
    recommended = study.recommended()
    assert recommended is not None
    assert recommended.trial.step_budget == 9
    assert recommended.trials_modelled == 3


def test_a_trial_whose_best_epoch_was_a_lucky_dip_is_not_recommended(client: Client) -> None:
    """Trials report their curves; the final value is the best epoch's, as early stopping does."""
    study = client.create_study("settled", SPACE)
    flat = [(p, 0.3 + 0.01 * v) for p, v in noisy_trials(6, 10, noise=0.0)]
    study.import_trials(flat)
    curves = {
        "steady": [0.4, 0.2, 0.12, 0.1, 0.09, 0.091, 0.092, 0.095],
        "jagged": [0.5, 0.3, 0.25, 0.06, 0.24, 0.26, 0.25, 0.27],
    }
    ids = {}
    for name, values in curves.items():
        trial = study.next_trial("w")
        for step, value in enumerate(values, start=1):
            trial.report(step, value)
        trial.complete(min(values))
        ids[name] = trial.id
    assert study.best_trials(1)[0].id == ids["jagged"]
    recommended = study.recommended()
    assert recommended is not None
    assert recommended.trial.id == ids["steady"]
    assert "best settled value" in recommended.reason


def test_a_study_that_asks_for_repeats_gets_its_recommendation_evaluated_again(
    client: Client,
) -> None:
    options = {"initial_trials": 6, "repeat_every": 3, "restarts": 2, "raw_samples": 128}
    study = client.create_study("repeats", SPACE, algorithm="bayes", options=options, seed=1)
    noise = random.Random(4)
    handed = []
    for _ in range(13):
        (trial,) = study.suggest(1, worker_id="w")
        handed.append(trial)
        trial.complete(true_value(trial.params) + noise.gauss(0.0, 0.05))
    keys = [tuple(sorted(trial.params.items())) for trial in handed]
    assert len({trial.id for trial in handed}) == 13  # a repeat is a trial of its own
    assert keys[6] in keys[:6]  # the probe; the noise is material, so draw 9 repeats too
    assert keys[9] in keys[:9]
    assert len(set(keys)) <= 11
    recommended = study.recommended()
    assert recommended is not None
    assert recommended.trials_modelled == 13
