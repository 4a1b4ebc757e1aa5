"""CPUs and memory as a container grants them, read from cgroup files (v2 and v1 layouts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hyperdial.server.resources import Resources, cpu_quota, granted, memory_limit
from hyperdial.server.service.compute import (
    COMPUTE_WORKER_BYTES,
    SERVING_PROCESS_BYTES,
    default_workers,
    threads_per_worker,
)


def _files(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return root


@pytest.mark.parametrize(
    ("files", "cpus", "memory"),
    [
        ({"cpu.max": "200000 100000", "memory.max": "1073741824"}, 2.0, 1 << 30),
        ({"cpu.max": "150000 100000", "memory.max": "max"}, 1.5, None),
        ({"cpu.max": "max 100000"}, None, None),
        (
            {
                "cpu/cpu.cfs_quota_us": "300000",
                "cpu/cpu.cfs_period_us": "100000",
                "memory/memory.limit_in_bytes": "2147483648",
            },
            3.0,
            2 << 30,
        ),
        (
            {
                "cpu/cpu.cfs_quota_us": "-1",
                "cpu/cpu.cfs_period_us": "100000",
                "memory/memory.limit_in_bytes": "9223372036854771712",
            },
            None,
            None,
        ),
        ({}, None, None),
    ],
)
def test_quota_and_limit_are_read_from_either_cgroup_layout(
    tmp_path: Path, files: dict[str, str], cpus: float | None, memory: int | None
) -> None:
    root = _files(tmp_path, files)
    assert cpu_quota(root) == cpus
    assert memory_limit(root) == memory


def test_a_fractional_quota_rounds_up_and_never_exceeds_the_cores_here(tmp_path: Path) -> None:
    root = _files(tmp_path, {"cpu.max": "50000 100000"})
    assert granted(root).cpus == 1
    unlimited = _files(tmp_path / "wide", {"cpu.max": "6400000 100000"})  # 64 CPUs
    assert granted(unlimited).cpus == granted(tmp_path / "none").cpus  # the affinity mask


def test_compute_workers_fit_the_pods_cpus_and_memory() -> None:
    node = Resources(cpus=16, memory_bytes=None)
    assert default_workers(node) == 4
    two_cpus = Resources(cpus=2, memory_bytes=None)
    assert default_workers(two_cpus) == 1
    assert threads_per_worker(1, two_cpus) == 1
    one_gib = Resources(cpus=16, memory_bytes=1 << 30)  # the Kubernetes manifest's old limit
    assert default_workers(one_gib) == 1
    room_for_three = SERVING_PROCESS_BYTES + 3 * COMPUTE_WORKER_BYTES
    assert default_workers(Resources(cpus=16, memory_bytes=room_for_three)) == 3
    assert threads_per_worker(3, Resources(cpus=16, memory_bytes=room_for_three)) == 5
