"""The namespace-package layout: four source roots share the `hyperdial` namespace."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from setuptools import find_namespace_packages
from tests.helpers import REPO

ROOTS = ("proto", "server", "client", "trainers")


def test_no_root_claims_the_namespace() -> None:
    # An __init__.py in any */hyperdial/ would hide the other three roots.
    assert list(REPO.glob("*/hyperdial/__init__.py")) == []


def test_every_package_is_discovered() -> None:
    for root in ROOTS:
        found = set(find_namespace_packages(where=str(REPO / root), include=["hyperdial.*"]))
        on_disk = {
            ".".join(init.parent.relative_to(REPO / root).parts)
            for init in (REPO / root).glob("hyperdial/**/__init__.py")
        }
        assert on_disk <= found, f"{root}: {sorted(on_disk - found)} not packaged"
        assert on_disk, f"{root} holds no package"


def test_no_bare_top_level_modules() -> None:
    import hyperdial.client
    import hyperdial.server

    for module in (hyperdial.client, hyperdial.server):
        assert Path(module.__file__ or "").parent.parent.name == "hyperdial"


def test_what_make_demo_writes_is_ignored_by_git() -> None:
    """`make demo` writes `demo-<time>/` and `hyperdial.db` into the checkout."""
    for path in ("demo-20261128-120000/report.json", "hyperdial.db"):
        ignored = subprocess.run(["git", "check-ignore", "--quiet", path], cwd=REPO, check=False)
        assert ignored.returncode == 0, path


def test_the_package_metadata_uses_the_spdx_license_form() -> None:
    """setuptools refuses `license = {text = …}` from February 2027 on."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])
