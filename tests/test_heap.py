"""app/heap.py: the collector settles once the models are loaded, and is put back when the app ends."""

from __future__ import annotations

import gc

from app import heap
from tests.conftest import make_client, wait_for, wait_ready


def test_settled_while_serving_and_put_back_after() -> None:
    before = gc.get_threshold()
    with make_client(models="digit") as client:
        assert wait_ready(client)["status"] == "ready"
        wait_for(lambda: gc.get_threshold()[0] == heap.YOUNG_THRESHOLD)
        assert gc.get_freeze_count() > 10_000  # the loaded process, out of the collector's reach
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
