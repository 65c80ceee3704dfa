"""Three replicas with one stream key behind a real load balancer (the harness of benchmarks/replicas.py, at
a small scale): streams step on through a replica's SIGKILL with no stream lost and every forecast equal to
an undisturbed run; behind HAProxy, whose readiness checks see a drain, a draining replica fails no request;
behind nginx, which retries a step cut by the kill on another replica, the kill fails none either."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import replicas as harness

STREAMS, STEPS = 16, 24


def cluster(balancer: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Any], Any, Any]]:
    if shutil.which(balancer) is None:
        message = f"{balancer} is not installed (apt-get install {balancer}); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with harness.cluster(3, tmp_path_factory.mktemp(balancer), harness.BALANCERS[balancer]) as (replicas, front):
        reference = asyncio.run(harness.run_streams(front.url, STREAMS, STEPS))
        assert (reference.lost, reference.failed, reference.steps) == (0, 0, STREAMS * STEPS)
        yield replicas, front, reference


@pytest.fixture(scope="module")
def haproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Any], Any, Any]]:
    yield from cluster("haproxy", tmp_path_factory)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Any], Any, Any]]:
    yield from cluster("nginx", tmp_path_factory)


def test_streams_outlive_a_killed_replica(haproxy: tuple[list[Any], Any, Any]) -> None:
    replicas, front, reference = haproxy
    run = asyncio.run(harness.with_disruption(front, STREAMS, STEPS, replicas, 2, "kill"))
    assert run.lost == 0
    assert run.steps == STREAMS * STEPS
    assert harness.largest_difference(run, reference) <= 1e-6
    assert replicas[1].ready()  # started again, and back in service


def test_a_draining_replica_fails_no_request(haproxy: tuple[list[Any], Any, Any]) -> None:
    replicas, front, reference = haproxy
    run = asyncio.run(harness.with_disruption(front, STREAMS, STEPS, replicas, 1, "drain"))
    assert (run.lost, run.failed, run.statuses) == (0, 0, {})
    assert harness.largest_difference(run, reference) <= 1e-6


def test_a_balancer_that_retries_cut_steps_fails_no_request_when_a_replica_is_killed(
        nginx: tuple[list[Any], Any, Any]) -> None:
    replicas, front, reference = nginx
    run = asyncio.run(harness.with_disruption(front, STREAMS, STEPS, replicas, 2, "kill"))
    assert (run.lost, run.failed, run.statuses) == (0, 0, {})
    assert harness.largest_difference(run, reference) <= 1e-6
