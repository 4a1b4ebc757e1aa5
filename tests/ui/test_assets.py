"""The chart library the package ships is the one the npm lock file names, byte for byte."""

from __future__ import annotations

import json

import pytest
from tests.helpers import REPO

LOCKED = REPO / "client" / "ui"
SHIPPED = REPO / "client" / "hyperdial" / "client" / "ui" / "static" / "vendor"


def test_the_shipped_echarts_is_the_locked_one() -> None:
    installed = LOCKED / "node_modules" / "echarts"
    if not installed.exists():
        pytest.skip("client/ui/node_modules is missing: make test runs npm ci there (needs npm)")
    lock = json.loads((LOCKED / "package-lock.json").read_text())
    version = json.loads((installed / "package.json").read_text())["version"]
    assert lock["packages"]["node_modules/echarts"]["version"] == version
    for source, copy in (
        (installed / "dist" / "echarts.min.js", SHIPPED / "echarts.min.js"),
        (installed / "LICENSE", SHIPPED / "echarts.LICENSE"),
    ):
        assert source.read_bytes() == copy.read_bytes(), f"{copy.name} is stale: make ui-assets"


def test_the_page_loads_nothing_from_elsewhere() -> None:
    """Users run the UI in private networks: every asset is served by the UI itself."""
    page = (SHIPPED.parent / "index.html").read_text()
    assert "http://" not in page
    assert "https://" not in page
    for script in SHIPPED.parent.glob("*.js"):
        text = script.read_text()
        assert "https://" not in text, script.name
        assert "http://" not in text, script.name
