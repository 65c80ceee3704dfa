"""Three replicas with one stream key behind HAProxy (the harness of benchmarks/replicas.py, at a small
scale): streams step on through a replica's SIGKILL and another's drain with no stream lost and every
forecast equal to an undisturbed run, and the drain fails no request."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import replicas as harness

STREAMS, STEPS = 16, 24


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Any], Any, Any]]:
    if shutil.which("haproxy") is None:
        message = "haproxy is not installed (apt-get install haproxy); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    folder: Path = tmp_path_factory.mktemp("replicas")
    with harness.cluster(3, folder) as (replicas, balancer):
        reference = asyncio.run(harness.run_streams(balancer.url, STREAMS, STEPS))
        assert (reference.lost, reference.failed, reference.steps) == (0, 0, STREAMS * STEPS)
        yield replicas, balancer, reference


def test_streams_outlive_a_killed_replica(cluster: tuple[list[Any], Any, Any]) -> None:
    replicas, balancer, reference = cluster
    run = asyncio.run(harness.with_disruption(balancer, STREAMS, STEPS, replicas, 2, "kill"))
    assert run.lost == 0
    assert run.steps == STREAMS * STEPS
    assert harness.largest_difference(run, reference) <= 1e-6
    assert replicas[1].ready()  # started again, and back in service


def test_a_draining_replica_fails_no_request(cluster: tuple[list[Any], Any, Any]) -> None:
    replicas, balancer, reference = cluster
    run = asyncio.run(harness.with_disruption(balancer, STREAMS, STEPS, replicas, 1, "drain"))
    assert (run.lost, run.failed, run.statuses) == (0, 0, {})
    assert harness.largest_difference(run, reference) <= 1e-6
