"""The MLP-on-digits space is defined once; the example study file spells the same one."""

from __future__ import annotations

from tests.helpers import REPO

from hyperdial.client.tools.study_file import load_study_file
from hyperdial.trainers.spaces import MLP_DIGITS


def test_example_study_file_matches_the_space() -> None:
    example = load_study_file(REPO / "examples" / "mlp-digits.yaml")
    assert example.parameters == list(MLP_DIGITS)


def test_the_space_follows_the_design() -> None:
    # DESIGN.md: units 16..256 (log int), at most 4 hidden layers, learning rate 1e-4..1e-1.
    by_name = {p.name: p for p in MLP_DIGITS}
    assert (by_name["units"].int_range.low, by_name["units"].int_range.high) == (16, 256)
    assert by_name["units"].int_range.log
    assert by_name["hidden_layers"].int_range.high == 4
    rate = by_name["learning_rate"].float_range
    assert (rate.low, rate.high, rate.log) == (1e-4, 1e-1, True)
