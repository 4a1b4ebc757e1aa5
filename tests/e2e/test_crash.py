"""SIGKILL under load: every acknowledged Observe survives, exactly once."""

import pytest
from bench.crash import crash_round


@pytest.mark.slow
def test_acknowledged_observes_survive_a_sigkill(database_url, tmp_path) -> None:
    database = database_url
    port = 0
    for round_number in range(2):
        logs = tmp_path / f"round-{round_number}"
        logs.mkdir()
        result, port = crash_round(database, logs, workers=8, before=1.0, after=1.5, port=port)
        assert result.acknowledged > 50, result
        assert result.lost == 0, result
        assert result.wrong_value == 0, result
        assert result.acknowledged_twice == 0, result
        assert result.recovery_seconds < 5, result
        assert result.workers_killed == 0, result
