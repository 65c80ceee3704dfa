"""Settings that compute something: how many worker processes `auto` means."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.__main__ import workers_argument
from app.settings import Settings, usable_cores

AFFINITY = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("cpu_max", "expected"), [
    ("max 100000", AFFINITY),  # no quota
    ("50000 100000", 1),  # half a core: still one worker
    ("150000 100000", min(AFFINITY, 2)),  # 1.5 cores: two, unless fewer are visible
    ("100000000 100000", AFFINITY),  # a quota above the visible cores changes nothing
])
def test_auto_follows_affinity_and_the_containers_cpu_quota(tmp_path: Path, cpu_max: str, expected: int) -> None:
    quota = tmp_path / "cpu.max"
    quota.write_text(cpu_max + "\n")
    assert usable_cores(quota) == expected


def test_auto_without_a_cgroup_file_uses_the_affinity(tmp_path: Path) -> None:
    assert usable_cores(tmp_path / "absent") == AFFINITY
    assert Settings(workers="auto").worker_count == usable_cores()
    assert Settings(workers=3).worker_count == 3


def test_the_command_line_takes_a_count_or_auto() -> None:
    assert workers_argument("auto") == "auto"
    assert workers_argument("4") == 4
    for bad in ("0", "-1", "two", "²"):
        with pytest.raises(Exception, match="expected an integer"):
            workers_argument(bad)
