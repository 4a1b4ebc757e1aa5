"""The web UI in headless chromium: page load, paging, live updates, memory and server load.

A real server (SQLite, metrics on) holds a 10,000-trial study and a small one
that a worker keeps observing; `hyperdial ui` runs as its own process, as
users run it. Chromium is Debian's (/usr/bin/chromium), driven by Playwright.

    make bench-ui          # or: python bench/ui.py --repeats 5

Targets (issue: a web dashboard): the study page of the 10,000-trial study
interactive in <= 1.5 s; a table page in <= 200 ms; an Observe on the page
within 2 s; <= 150 MB RSS for the UI with 10 open pages; at most one
ListTrials page per open page per refresh, counted at the server's metrics.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from _common import machine, percentile, report
from hyperdial.client import Client, float_param
from hyperdial.client.ui.testing import CHROMIUM, CHROMIUM_ARGS, LARGE_STUDY_TRIALS, large_study
from hyperdial.server.config import Settings
from hyperdial.server.testing import serve

REFRESH_SECONDS = 1.0
OPEN_PAGES = 10
LOAD_WINDOW_SECONDS = 20.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def ui_process(server: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`hyperdial ui` as its own process; yields its URL and the process."""
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "hyperdial"),
        "ui",
        "--server",
        server,
        "--address",
        f"127.0.0.1:{port}",
        "--refresh-seconds",
        str(REFRESH_SECONDS),
    ]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("hyperdial ui did not start") from None
            time.sleep(0.1)
    try:
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=10)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1)) / 1024


def list_trials_calls(metrics_url: str) -> float:
    """ListTrials RPCs the server has answered, from its /metrics."""
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    pattern = r'^hyperdial_rpcs_total\{code="OK",method="ListTrials"\} ([0-9.e+]+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def open_study(page: Page, url: str) -> float:
    """Seconds from navigation to a drawn page: table filled, charts drawn."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("main[data-ready=true]", timeout=60_000)
    return time.perf_counter() - started


def paging_seconds(page: Page, clicks: int) -> list[float]:
    """Seconds from a click on "next" to the new rows, `clicks` times."""
    seconds = []
    for k in range(clicks):
        expected = f"{(k + 1) * 50 + 1}-"
        started = time.perf_counter()
        page.click("#next")
        page.wait_for_function(
            f"document.querySelector('#trials-summary').textContent.startsWith('{expected}')"
        )
        seconds.append(time.perf_counter() - started)
    return seconds


def live_delays(page: Page, client: Client, repeats: int) -> list[float]:
    """Seconds from an Observe to the page showing it."""
    study = client.study("live")
    delays = []
    for _ in range(repeats):
        done = study.info().trial_counts["COMPLETED"]
        (trial,) = study.suggest(1, worker_id="bench", force_new=True)
        trial.complete(0.5)
        observed = time.perf_counter()
        page.wait_for_function(
            f"document.querySelector('#fact-trials').textContent.includes('COMPLETED {done + 1}')",
            timeout=10_000,
        )
        delays.append(time.perf_counter() - observed)
    return delays


def _keep_observing(client: Client, stop: threading.Event) -> None:
    """A worker finishing a trial every half second: the open pages have news to fetch."""
    study = client.study("live")
    while not stop.wait(0.5):
        (trial,) = study.suggest(1, worker_id="steady", force_new=True)
        trial.report(0, 0.7)
        trial.complete(0.6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    metrics_port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(metrics_port=metrics_port)
        with (
            serve(f"sqlite:///{folder}/ui.db", settings) as running,
            Client(running.address) as client,
        ):
            large_study(client)
            client.create_study("live", [float_param("x", 0.0, 1.0)], algorithm="random")
            with ui_process(running.address) as (url, process), sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                result = measure(browser, client, url, process, metrics_port, args.repeats)
                browser.close()
    show(result)


def measure(browser, client, url, process, metrics_port, repeats) -> dict[str, float]:
    """Every figure of the benchmark, in one run."""
    study_url = f"{url}/#/study/large"
    cold = open_study(browser.new_page(), study_url)
    loads, pages = [], []
    for _ in range(repeats):
        page = browser.new_page()
        loads.append(open_study(page, study_url))
        pages.append(page)
    paging = paging_seconds(pages[0], 10 * repeats // 5 or 10)
    live_page = browser.new_page()
    open_study(live_page, f"{url}/#/study/live")
    delays = live_delays(live_page, client, repeats)
    for page in pages:
        page.close()
    live_page.close()

    open_pages = []
    for k in range(OPEN_PAGES):
        page = browser.new_page()
        open_study(page, f"{url}/#/study/{'large' if k % 2 else 'live'}")
        open_pages.append(page)
    stop = threading.Event()
    worker = threading.Thread(target=_keep_observing, args=(client, stop))
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    before = list_trials_calls(metrics_url)
    worker.start()
    time.sleep(LOAD_WINDOW_SECONDS)
    calls = list_trials_calls(metrics_url) - before
    stop.set()
    worker.join()
    rss = rss_mb(process.pid)
    refreshes = LOAD_WINDOW_SECONDS / REFRESH_SECONDS
    return {
        "trials": LARGE_STUDY_TRIALS,
        "study_page_cold_s": cold,
        "study_page_warm_median_s": statistics.median(loads),
        "table_page_median_ms": 1000 * statistics.median(paging),
        "table_page_p95_ms": 1000 * percentile(paging, 95),
        "live_update_max_s": max(delays),
        "live_update_median_s": statistics.median(delays),
        "ui_rss_mb_10_pages": rss,
        "list_trials_per_page_per_refresh": calls / (OPEN_PAGES * refreshes),
        "list_trials_calls": calls,
        "window_s": LOAD_WINDOW_SECONDS,
    }


def show(result: dict[str, float]) -> None:
    rows = [
        (
            "study page, 10,000 trials, cold (UI cache empty)",
            "<= 1.5 s",
            result["study_page_cold_s"],
        ),
        (
            "study page, 10,000 trials, warm, median",
            "<= 1.5 s",
            result["study_page_warm_median_s"],
        ),
        ("trials table page, median ms", "<= 200 ms", result["table_page_median_ms"]),
        ("trials table page, p95 ms", "", result["table_page_p95_ms"]),
        ("Observe to page, max s", "<= 2 s", result["live_update_max_s"]),
        ("UI RSS with 10 open pages, MB", "<= 150 MB", result["ui_rss_mb_10_pages"]),
        (
            "ListTrials per open page per refresh",
            "<= 1",
            result["list_trials_per_page_per_refresh"],
        ),
    ]
    report(
        "hyperdial ui in headless chromium",
        ["measure", "target", "measured"],
        [(name, target, round(value, 3)) for name, target, value in rows],
        {"benchmark": "ui", "machine": machine(), **result},
    )


if __name__ == "__main__":
    main()
