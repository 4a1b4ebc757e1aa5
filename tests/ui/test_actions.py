"""Actions in the page: each is one RPC, and a server that requires tokens wants one typed in."""

from __future__ import annotations

import json

from tests.ui.test_pages import open_page

from hyperdial.client import Client, float_param
from hyperdial.client.ui.testing import serve_ui
from hyperdial.server.config import Settings
from hyperdial.server.testing import serve

X = [float_param("x", 0.0, 1.0)]


def wait_until(page, check, timeout_ms: int = 5_000) -> None:
    """Polls `check` (a Python callable) while the page keeps running."""
    for _ in range(timeout_ms // 100):
        if check():
            return
        page.wait_for_timeout(100)
    assert check()


def test_pause_resume_budget_and_enqueue_from_the_study_page(
    studies, page, console_errors
) -> None:
    study = studies.client.create_study("acted-on", X, algorithm="random", max_trials=10)
    study.suggest(1, worker_id="w")[0].complete(0.5)
    open_page(page, f"{studies.url}/#/study/acted-on")
    page.click("#pause")
    wait_until(page, lambda: study.info().paused)
    page.wait_for_selector("#resume")
    assert "(paused)" in page.inner_text("#fact-state")
    page.click("#resume")
    wait_until(page, lambda: not study.info().paused)
    page.fill("#budget", "12")
    page.click("#set-budget")
    wait_until(page, lambda: study.info().config.max_trials == 12)
    page.fill("#enqueue-text", json.dumps([{"x": 0.25}, {"x": 0.75}]))
    page.click("#enqueue")
    wait_until(page, lambda: study.info().queued_trials == 2)
    assert [t.params["x"] for t in study.suggest(2, worker_id="w2")] == [0.25, 0.75]
    page.fill("#enqueue-text", json.dumps([{"x": 7}]))
    page.click("#enqueue")
    # The first enqueue's toast may still be up: wait for the refusal's, in the server's own words.
    wait_until(page, lambda: "trials[0].parameters.x" in page.inner_text("#toast"))
    assert console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    console_errors.clear()


def test_a_running_trial_is_stopped_from_its_page(studies, page) -> None:
    study = studies.client.create_study("stop-me", X, algorithm="random")
    (trial,) = study.suggest(1, worker_id="w")
    trial.report(0, 0.9)
    open_page(page, f"{studies.url}/#/study/stop-me/trial/{trial.id}")
    page.click("#stop-trial")
    page.wait_for_selector("#toast.show")
    assert trial.report(1, 0.8) is True  # its next report hears it


def test_actions_need_a_token_where_the_server_requires_one(browser, tmp_path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("reader-token\nadmin-token\n")
    settings = Settings(auth_token_file=str(tokens))
    database = f"sqlite:///{tmp_path / 'auth.db'}"
    with (
        serve(database, settings) as running,
        Client(running.address, token="reader-token") as client,
        serve_ui(client) as url,
    ):
        study = client.create_study("guarded", X, algorithm="random")
        context = browser.new_context()
        page = context.new_page()
        open_page(page, f"{url}/#/study/guarded")  # reads use the UI's own token
        page.click("#pause")
        page.wait_for_selector("#toast.show")
        assert "pause:" in page.inner_text("#toast")
        assert not study.info().paused  # refused without a token
        page.fill("#token", "admin-token")
        page.dispatch_event("#token", "change")
        page.wait_for_selector("#toast:not(.show)")
        page.click("#pause")
        wait_until(page, lambda: study.info().paused)
        context.close()
