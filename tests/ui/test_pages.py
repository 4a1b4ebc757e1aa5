"""Every page in headless chromium: the numbers it shows are the API's, and it logs no error."""

from __future__ import annotations

import time

import pytest
from tests.ui.conftest import screenshots

from hyperdial.client import categorical, condition, float_param, int_param
from hyperdial.client.ui.testing import LARGE_STUDY_TRIALS
from hyperdial.v1 import hyperdial_pb2 as pb


def open_page(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("main[data-ready=true]", timeout=20_000)
    assert page.locator("#error").count() == 0, page.locator("#error").inner_text()


def series_sizes(page, chart_id: str) -> list[int]:
    """How many points each series of an ECharts chart draws (once scrolled to: drawn)."""
    page.locator(f"#{chart_id}").scroll_into_view_if_needed()
    page.wait_for_function(
        "(id) => echarts.getInstanceByDom(document.getElementById(id)) !== undefined", arg=chart_id
    )
    return page.evaluate(
        """(id) => echarts.getInstanceByDom(document.getElementById(id))
               .getOption().series.map((s) => (s.data || []).length)""",
        chart_id,
    )


def draw_every_chart(page) -> None:
    """Scrolls each chart into view: charts are drawn when the reader gets to them."""
    for chart in page.locator(".chart").all():
        chart.scroll_into_view_if_needed()
    page.wait_for_function(
        "[...document.querySelectorAll('.chart')].every((c) => echarts.getInstanceByDom(c))"
    )


def test_the_studies_page_lists_every_study_with_its_best_value(studies, page) -> None:
    open_page(page, f"{studies.url}/#/")
    listed = page.eval_on_selector_all("tr[data-study]", "rows => rows.map(r => r.dataset.study)")
    assert sorted(listed) == sorted(s.name for s in studies.client.list_studies())
    best = studies.client.study("large").info().best_trial
    shown = page.get_attribute("tr[data-study=large] td[data-best]", "data-best")
    assert float(shown) == pytest.approx(best.value)
    recommended = studies.client.study("curves").recommended()
    cell = "tr[data-study=curves] td[data-recommended]:not([data-recommended=''])"
    page.wait_for_selector(cell, timeout=30_000)
    assert int(page.get_attribute(cell, "data-recommended")) == recommended.trial.id
    page.screenshot(path=screenshots() / "studies.png", full_page=True)
    page.fill("#study-search", "par")
    assert page.eval_on_selector_all("tr[data-study]", "rows => rows.length") == 1


def test_a_study_page_shows_the_api_numbers_charts_and_curves(studies, page) -> None:
    study = studies.client.study("curves")
    info = study.info()
    open_page(page, f"{studies.url}/#/study/curves")
    facts = page.inner_text("#fact-trials")
    for state, count in info.trial_counts.items():
        assert f"{state} {count}" in facts
    completed = info.trial_counts["COMPLETED"]
    assert series_sizes(page, "chart-history") == [completed, completed]
    with_curves = [t for t in study.trials(measurements=True) if t.measurements]
    curve_series = series_sizes(page, "chart-curves")[6:]  # after the six legend entries
    assert len(curve_series) == len(with_curves)
    assert sum(curve_series) == sum(len(t.measurements) for t in with_curves)
    assert series_sizes(page, "chart-parallel") == [completed]
    assert page.locator("#chart-slices .chart").count() == len(info.config.parameters)
    recommended = study.recommended()
    page.wait_for_function(
        f"document.querySelector('#fact-recommended').textContent.startsWith("
        f"'trial {recommended.trial.id}:')"
    )
    total = sum(info.trial_counts.values())
    assert page.inner_text("#trials-summary").endswith(f"of {total} trials")
    draw_every_chart(page)
    page.check("input[value=PRUNED]")
    page.wait_for_function(
        f"document.querySelector('#trials-summary').textContent.endsWith("
        f"'of {info.trial_counts['PRUNED']} trials')"
    )
    page.screenshot(path=screenshots() / "study.png", full_page=True)


def test_a_study_of_ten_thousand_trials_pages_sorts_and_filters(studies, page) -> None:
    open_page(page, f"{studies.url}/#/study/large")
    assert page.inner_text("#trials-summary") == f"1-50 of {LARGE_STUDY_TRIALS} trials"
    draw_every_chart(page)
    page.screenshot(path=screenshots() / "large-study.png", full_page=True)
    page.click("#next")
    page.wait_for_function(
        "document.querySelector('#trials-summary').textContent.startsWith('51-')"
    )
    page.click("#trials th:text-is('value')")  # ascending by value: the best first
    page.wait_for_function(
        "document.querySelector('#trials-summary').textContent.startsWith('1-')"
    )
    best = studies.client.study("large").info().best_trial
    first = page.get_attribute("#trials tbody tr", "data-trial")
    assert int(first) == best.id
    page.fill("input[data-parameter=optimizer]", "=sgd")
    page.press("input[data-parameter=optimizer]", "Enter")
    sgd = sum(1 for t in studies.client.study("large").trials() if t.params["optimizer"] == "sgd")
    page.wait_for_function(
        f"document.querySelector('#trials-summary').textContent.endsWith('of {sgd} trials')"
    )
    page.screenshot(path=screenshots() / "large-study-table.png")


def test_a_study_with_two_objectives_shows_its_front_and_hypervolume(studies, page) -> None:
    open_page(page, f"{studies.url}/#/study/pareto")
    answer = studies.client.stub.GetBestTrials(pb.GetBestTrialsRequest(study="pareto", count=0))
    title = page.inner_text("#chart-pareto >> xpath=..")
    assert f"Pareto front: {len(answer.trials)} of 30 completed trials" in title
    front, dominated, violating = series_sizes(page, "chart-pareto")
    breaking = sum(1 for t in studies.client.study("pareto").trials() if t.violates_constraints)
    assert (front, violating) == (len(answer.trials), breaking)
    assert front + dominated + violating == 30
    draw_every_chart(page)
    page.screenshot(path=screenshots() / "pareto.png", full_page=True)


def test_a_trial_page_shows_its_parameters_curve_and_times(studies, page) -> None:
    trial = next(
        t for t in studies.client.study("curves").trials(measurements=True) if t.measurements
    )
    open_page(page, f"{studies.url}/#/study/curves/trial/{trial.id}")
    shown = page.eval_on_selector_all(
        "#trial-params tr", "rows => rows.map(r => r.querySelector('th').textContent)"
    )
    assert sorted(shown) == sorted(trial.params)
    assert series_sizes(page, "chart-trial-curve") == [len(trial.measurements)]
    assert trial.state in page.inner_text("#trial-facts")
    assert trial.worker_id in page.inner_text("#trial-facts")
    page.screenshot(path=screenshots() / "trial.png", full_page=True)


def test_an_observe_shows_on_an_open_page_within_two_seconds(studies, page) -> None:
    study = studies.client.study("curves")
    open_page(page, f"{studies.url}/#/study/curves")
    before = study.info().trial_counts["COMPLETED"]
    running = study.suggest(1, worker_id="left-running-1")[0]
    running.complete(0.3)
    observed = time.monotonic()
    page.wait_for_function(
        f"document.querySelector('#fact-trials').textContent.includes('COMPLETED {before + 1}')",
        timeout=5_000,
    )
    assert time.monotonic() - observed <= 2.0


def test_inactive_conditional_parameters_are_shown_as_such(studies, page) -> None:
    space = [
        categorical("optimizer", ["adam", "sgd"]),
        float_param("momentum", 0.0, 0.99, when=condition("optimizer", values=["sgd"])),
        int_param("layers", 1, 3),
        categorical("norm", ["batch", "layer"], when=condition("layers", min=2)),
    ]
    study = studies.client.create_study("conditional", space, algorithm="random", seed=4)
    for trial in study.suggest(12, worker_id="trainer"):
        trial.complete(float(trial.params["layers"]))
    trials = list(study.trials())
    open_page(page, f"{studies.url}/#/study/conditional")
    assert series_sizes(page, "chart-parallel") == [12]  # drawn, each trial a line
    axes = page.evaluate(
        """() => echarts.getInstanceByDom(document.getElementById('chart-parallel'))
               .getOption().parallelAxis.map((a) => [a.name, a.data || null])"""
    )
    assert ["momentum (gap: inactive)", None] in axes
    assert ["norm", ["batch", "layer", "(inactive)"]] in axes
    cells = page.eval_on_selector_all(
        "#trials tbody tr", "rows => rows.map(r => r.lastElementChild.textContent)"
    )
    shown_inactive = sum(1 for cell in cells if cell == "—")
    assert shown_inactive == sum(1 for t in trials if "norm" not in t.params)
