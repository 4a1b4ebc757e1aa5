"""What the process may use: CPUs and memory as its container grants them, not the node's.

`os.cpu_count()` counts the node's cores: a pod limited to 2 CPUs on a 16-core
node would start 4 compute workers of ~0.5 GB each and be throttled or killed.
The CPU quota and the memory limit come from the cgroup (v2, else v1) the
process runs in, and the CPU affinity mask from the kernel.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 writes "no limit" as a huge number (a page-rounded 2^63 - 1).
_NO_MEMORY_LIMIT = 1 << 60


@dataclass(frozen=True)
class Resources:
    """CPUs (whole, at least 1) and memory in bytes (None: no limit) the process may use."""

    cpus: int
    memory_bytes: int | None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs the cgroup's quota allows (fractional), or None without a quota."""
    v2 = _read(root / "cpu.max")  # "max 100000" or "200000 100000"
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        return None if quota == "max" else int(quota) / int(period or 100_000)
    quota_us, period_us = (
        _read(root / "cpu" / "cpu.cfs_quota_us"),
        _read(root / "cpu" / "cpu.cfs_period_us"),
    )
    if quota_us is None or period_us is None or int(quota_us) <= 0:
        return None
    return int(quota_us) / int(period_us)


def memory_limit(root: Path = CGROUP_ROOT) -> int | None:
    """The cgroup's memory limit in bytes, or None without one."""
    v2 = _read(root / "memory.max")
    if v2 is not None:
        return None if v2 == "max" else int(v2)
    v1 = _read(root / "memory" / "memory.limit_in_bytes")
    if v1 is None or int(v1) >= _NO_MEMORY_LIMIT:
        return None
    return int(v1)


def granted(root: Path = CGROUP_ROOT) -> Resources:
    """The CPUs (affinity, then quota, rounded up) and memory the process may use."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    quota = cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return Resources(cpus, memory_limit(root))
