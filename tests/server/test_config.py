"""Server settings: every flag has its HYPERDIAL_* variable, flags win, bad values are refused."""

from __future__ import annotations

import pytest

from hyperdial.server.config import Settings, parse_settings


def test_defaults_without_flags_or_variables() -> None:
    assert parse_settings([], environ={}) == Settings()


@pytest.mark.parametrize(
    ("variable", "value", "field", "expected"),
    [
        ("HYPERDIAL_ADDRESS", "0.0.0.0:1", "address", "0.0.0.0:1"),
        ("HYPERDIAL_DURABILITY", "process", "durability", "process"),
        ("HYPERDIAL_GRACE_SECONDS", "2.5", "grace_seconds", 2.5),
        ("HYPERDIAL_COMPUTE_WORKERS", "3", "compute_workers", 3),
        ("HYPERDIAL_METRICS_PORT", "9100", "metrics_port", 9100),
        ("HYPERDIAL_CREATE_DATABASE", "true", "create_database", True),
        ("HYPERDIAL_LOG_LEVEL", "DEBUG", "log_level", "DEBUG"),
    ],
)
def test_each_variable_sets_its_field(
    variable: str, value: str, field: str, expected: object
) -> None:
    assert getattr(parse_settings([], environ={variable: value}), field) == expected


def test_a_flag_overrides_its_variable() -> None:
    settings = parse_settings(
        ["--grace-seconds", "1", "--max-studies", "4"],
        environ={"HYPERDIAL_GRACE_SECONDS": "9", "HYPERDIAL_MAX_STUDIES": "8"},
    )
    assert settings.grace_seconds == 1.0
    assert settings.limits.max_studies == 4


def test_a_malformed_variable_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_settings([], environ={"HYPERDIAL_COMPUTE_WORKERS": "many"})
    assert "HYPERDIAL_COMPUTE_WORKERS" in capsys.readouterr().err


def test_help_names_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_settings(["--help"], environ={})
    shown = " ".join(capsys.readouterr().out.split())
    for variable in ("HYPERDIAL_DATABASE", "HYPERDIAL_MAX_MESSAGE_BYTES", "HYPERDIAL_TLS_KEY"):
        assert variable in shown
