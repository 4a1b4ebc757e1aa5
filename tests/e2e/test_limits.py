"""Configured limits are enforced with errors that name the field, and change nothing."""

import pytest

from hyperdial.client import (
    Client,
    InvalidArgumentError,
    ResourceExhaustedError,
    float_param,
)
from hyperdial.server.config import Settings, parse_settings
from hyperdial.server.service.limits import Limits
from hyperdial.server.testing import serve

LIMITS = Limits(
    max_suggest_count=5,
    max_parameters=3,
    max_studies=2,
    max_name_length=12,
    max_message_bytes=64 * 1024,
)


@pytest.fixture
def limited(sqlite_url):
    settings = Settings(limits=LIMITS)
    with serve(sqlite_url, settings) as server, Client(server.address) as client:
        yield client


def test_limits_are_enforced(limited) -> None:
    space = [float_param(f"p{i}", 0, 1) for i in range(4)]
    with pytest.raises(InvalidArgumentError, match="at most 3 are allowed") as caught:
        limited.create_study("wide", space)
    assert caught.value.field == "config.parameters"
    with pytest.raises(InvalidArgumentError) as caught:
        limited.create_study("a-name-too-long", space[:1])
    assert caught.value.field == "name"
    study = limited.create_study("one", space[:1])
    limited.create_study("two", space[:1])
    with pytest.raises(ResourceExhaustedError, match="--max-studies"):
        limited.create_study("three", space[:1])
    assert limited.create_study("one", space[:1]).name == "one"  # existing: still fine
    with pytest.raises(InvalidArgumentError) as caught:
        study.suggest(6, worker_id="w")
    assert caught.value.field == "count"
    with pytest.raises(InvalidArgumentError) as caught:
        study.suggest(1, worker_id="worker-id-too-long")
    assert caught.value.field == "worker_id"
    assert len(study.suggest(5, worker_id="w")) == 5


def test_oversized_messages_are_refused(limited) -> None:
    from hyperdial.client import HyperdialError, categorical

    huge = categorical("c", [f"choice-{i:06d}" for i in range(10_000)])  # ~150 kB
    with pytest.raises(HyperdialError) as caught:
        limited.create_study("big", [huge])
    assert caught.value.code.name == "RESOURCE_EXHAUSTED"
    assert [s.name for s in limited.list_studies()] == []


def test_limit_flags_and_environment() -> None:
    settings = parse_settings(["--max-studies", "7"], environ={"HYPERDIAL_MAX_PARAMETERS": "9"})
    assert settings.limits == Limits(max_studies=7, max_parameters=9)
    with pytest.raises(SystemExit):
        parse_settings(["--max-name-length", "500"], environ={})
    with pytest.raises(SystemExit):
        parse_settings(["--max-suggest-count", "0"], environ={})
