"""The model-based stopping rule over gRPC, on both backends: curves in, decisions out."""

from __future__ import annotations

import pytest

from hyperdial.client import (
    Client,
    InvalidArgumentError,
    float_param,
    model_stopping,
    step_budget,
)
from hyperdial.client.tools.study_file import load_study_file

X = [float_param("x", 0.0, 1.0)]


def _complete(study, at_step_one: float, noise: float = 0.0) -> None:
    """A trial whose loss at step 1 halves by its end (the study's pattern), give or take."""
    trial = study.next_trial("w")
    for step, loss in enumerate([1.0, at_step_one, 0.75 * at_step_one]):
        assert trial.report(step, loss) is False
    trial.complete(0.5 * at_step_one + noise)


def test_a_trial_the_curves_say_cannot_win_is_stopped_and_a_promising_one_goes_on(
    client: Client,
) -> None:
    rule = model_stopping(min_probability=0.05, min_trials=4, warmup_steps=1)
    study = client.create_study("model-stop", X, stopping=rule)
    # Each better than the last, so none is stopped while the rule learns the pattern.
    for loss, noise in ((1.0, 0.004), (0.8, -0.003), (0.6, 0.002), (0.4, -0.002)):
        _complete(study, loss, noise)
    # The best final is 0.198 (0.4 at step 1).
    hopeless = study.next_trial("w")
    assert hopeless.report(0, 1.0) is False  # warmup: nobody stops at step 0
    assert hopeless.report(1, 1.4) is True  # predicted final 0.7: no chance to beat 0.2
    hopeless.prune()
    promising = study.next_trial("w")
    assert promising.report(1, 0.3) is False  # predicted 0.15: likely the new best
    promising.complete(0.15)
    states = [t.state for t in study.trials()]
    assert states == ["COMPLETED"] * 4 + ["PRUNED", "COMPLETED"]
    shown = study.info().config.stopping.model
    assert (shown.min_probability, shown.min_trials, shown.warmup_steps) == (0.05, 4, 1)


def test_trials_granted_fewer_steps_do_not_teach_the_rule_what_finals_are(
    client: Client,
) -> None:
    """Bayes' short initial design (3 of 9 steps) ends early: those ends are not finals."""
    study = client.create_study(
        "model-stop-short",
        X,
        algorithm="bayes",
        options={"initial_trials": 3, "restarts": 2},
        stopping=model_stopping(min_probability=0.05, min_trials=3, warmup_steps=1),
        fidelity=step_budget(9, min_steps=1),
    )
    for at_step_one in (1.0, 0.9, 0.8):
        short = study.next_trial("w")
        assert short.step_budget == 3
        for step in (1, 2, 3):
            assert short.report(step, at_step_one / step) is False
        short.complete(at_step_one / 3)
    full = study.next_trial("w")
    assert full.step_budget == 9
    # Taken as finals, the short trials would predict 0.67 here against a best of 0.27: stop.
    assert full.report(1, 2.0) is False


def test_nobody_is_stopped_before_enough_trials_completed(client: Client) -> None:
    study = client.create_study("model-early", X, stopping=model_stopping(min_trials=5))
    for loss in (0.8, 0.6, 0.4):
        _complete(study, loss)
    trial = study.next_trial("w")
    assert trial.report(1, 5.0) is False  # only 3 completed trials reached step 1


def test_a_bad_model_rule_names_its_field(client: Client) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        client.create_study("model-bad", X, stopping=model_stopping(min_probability=0.7))
    assert caught.value.field == "config.stopping.model.min_probability"


def test_a_study_file_asks_for_the_model_rule(tmp_path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(
        "name: filed\nobjective: {metric: val_loss, goal: minimize}\n"
        "parameters: [{name: x, type: float, low: 0, high: 1}]\n"
        "stopping: {model: {min_probability: 0.1, warmup_steps: 2}}\n"
    )
    stopping = load_study_file(path).create_kwargs["stopping"]
    assert stopping.model.min_probability == pytest.approx(0.1)
    assert stopping.model.warmup_steps == 2
