"""The metric-line format of `hyperdial agent`: what parses, what is refused and why."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hyperdial.client.agent.lines import MetricLine, MetricLineError, parse_line


def test_a_text_line_gives_its_step_and_metrics() -> None:
    line = parse_line("hyperdial: step=3 val_loss=0.123 val_accuracy=0.96\n")
    assert line == MetricLine({"val_loss": 0.123, "val_accuracy": 0.96}, step=3)


def test_final_and_infeasible_lines() -> None:
    assert parse_line("hyperdial: final loss=1e-3") == MetricLine({"loss": 1e-3}, final=True)
    assert parse_line("hyperdial: infeasible out of memory at batch 512") == MetricLine(
        infeasible="out of memory at batch 512"
    )


def test_a_json_line_means_the_same() -> None:
    assert parse_line('{"hyperdial": {"step": 2, "val/loss": 0.5}}') == MetricLine(
        {"val/loss": 0.5}, step=2
    )
    assert parse_line('{ "hyperdial" : {"final": true, "loss": 1}}') == MetricLine(
        {"loss": 1.0}, final=True
    )
    assert parse_line('{"hyperdial": {"infeasible": "too big"}}') == MetricLine(
        infeasible="too big"
    )


@pytest.mark.parametrize(
    "text",
    [
        "epoch 3: loss 0.12",
        " hyperdial: loss=1",  # not at the first column
        "hyperdial loss=1",
        '{"loss": 0.1}',
        "",
    ],
)
def test_the_commands_own_output_is_left_alone(text: str) -> None:
    assert parse_line(text) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("hyperdial: loss", "'loss' is not name=value"),
        ("hyperdial: loss=abc", "loss='abc' is not a number"),
        ("hyperdial: step=-1 loss=1", "step must be a non-negative integer"),
        ("hyperdial: step=1.5 loss=1", "step must be a non-negative integer"),
        ("hyperdial: loss=1 loss=2", "'loss' appears twice"),
        ("hyperdial: 9lives=1", "'9lives' is not a metric name"),
        ("hyperdial: step=3", "the line names no metric"),
        ("hyperdial:", "the line names no metric"),
        ('{"hyperdial": {"loss": 0.1}', "not valid JSON"),
        ('{"hyperdial": {"loss": "low"}}', "'loss' must be a number"),
        ('{"hyperdial": [1]}', '"hyperdial" must hold an object'),
        ('{"hyperdial": {"loss": 1}, "x": 2}', "only key"),
    ],
)
def test_a_broken_metric_line_is_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(MetricLineError) as refused:
        parse_line(text)
    assert why in str(refused.value)


@pytest.mark.parametrize(
    "text",
    [
        "hyperdial: step=4 loss=nan",
        "hyperdial: step=4 loss=-inf",
        '{"hyperdial": {"step": 4, "loss": NaN}}',
        '{"hyperdial": {"step": 4, "loss": Infinity}}',
    ],
)
def test_a_diverged_value_is_read_as_what_it_is(text: str) -> None:
    line = parse_line(text)
    assert line is not None
    assert line.step == 4
    assert not math.isfinite(line.metrics["loss"])


@given(st.text(max_size=200))
def test_any_output_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        line = parse_line(text)
    except MetricLineError:
        return
    if line is not None:
        assert line.infeasible is not None or line.metrics
        assert all(isinstance(v, float) for v in line.metrics.values())


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_./-]{0,20}", fullmatch=True).filter(
    lambda n: n not in ("step", "final", "infeasible")
)
finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.dictionaries(names, finite, min_size=1, max_size=5), st.integers(0, 10**6))
def test_every_metric_survives_both_forms(metrics: dict[str, float], step: int) -> None:
    text = "hyperdial: " + " ".join([f"step={step}", *(f"{k}={v!r}" for k, v in metrics.items())])
    as_json = json.dumps({"hyperdial": {"step": step, **metrics}})
    assert parse_line(text) == MetricLine(metrics, step=step)
    assert parse_line(as_json) == MetricLine(metrics, step=step)
