"""V2 sequences: idle ones forgotten on time, a quota per client, a capacity for the process."""

from __future__ import annotations

import pytest

from app.errors import QueueFull, TooManyRequests
from app.sequences import SequenceObserver, SequenceRequest, SequenceStore
from tests.conftest import make_client, parse_metrics, total, wait_ready


def start(name: str) -> SequenceRequest:
    return SequenceRequest(name, start=True, end=False)


def test_the_store_forgets_idle_sequences_and_refuses_past_its_capacity() -> None:
    now = [0.0]
    store = SequenceStore(ttl_s=0.05, capacity=2, clock=lambda: now[0])
    for name in ("a", "b"):
        store.keep(start(name), "m/1", store.begin(start(name), "m/1", initial=0) + 1)
    with pytest.raises(QueueFull):
        store.begin(start("c"), "m/1", initial=0)
    assert store.begin(SequenceRequest("a", start=False, end=False), "m/1", initial=0) == 1
    now[0] = 0.1
    assert len(store) == 0  # idle past the TTL: gone before anything is counted
    store.begin(start("c"), "m/1", initial=0)


class Seen(SequenceObserver):
    def __init__(self) -> None:
        self.refusals: list[str] = []
        self.expiries: list[str] = []
        self.counts: dict[str, int] = {}

    def refuse(self, model: str, reason: str) -> None:
        self.refusals.append(reason)

    def expired(self, model: str) -> None:
        self.expiries.append(model)

    def live(self, model: str, count: int) -> None:
        self.counts[model] = count


def test_a_client_keeps_at_most_its_quota_and_others_still_start() -> None:
    now = [0.0]
    seen = Seen()
    store = SequenceStore(ttl_s=60, capacity=10, per_client=2, clock=lambda: now[0], observer=seen)
    for name in ("a1", "a2"):
        store.keep(start(name), "m/1", store.begin(start(name), "m/1", 0, "alice"), "alice")
    with pytest.raises(TooManyRequests, match="2 live sequences"):
        store.begin(start("a3"), "m/1", 0, "alice")
    store.begin(start("a1"), "m/1", 0, "alice")  # starting one of its own again takes no new place
    store.keep(start("b1"), "m/1", store.begin(start("b1"), "m/1", 0, "bob"), "bob")
    assert (store.live_of("alice"), store.live_of("bob")) == (2, 1)
    store.keep(SequenceRequest("a1", start=False, end=True), "m/1", 0, "alice")  # ended: its place is free
    store.keep(start("a3"), "m/1", store.begin(start("a3"), "m/1", 0, "alice"), "alice")
    now[0] = 61
    assert store.live_of("alice") == 0 and len(store) == 0
    assert seen.refusals == ["client_sequences"]
    assert seen.expiries == ["m/1"] * 3 and seen.counts["m/1"] == 0  # a2, a3 and b1 idled out


def test_over_v2_one_client_cannot_take_every_sequence() -> None:
    keys = {"alice": "key-a", "bob": "key-b"}
    with make_client(api_keys=keys, models="sine_stream", max_client_sequences=3,
                     max_sequences=4) as client:
        wait_ready(client)

        def begin(key: str, sequence: str) -> int:
            body = {"inputs": [{"name": "values", "datatype": "FP32", "shape": [1, 4], "data": [0, 1, 0, -1]}],
                    "parameters": {"sequence_id": sequence, "sequence_start": True}}
            return client.post("/v2/models/sine_stream/infer", json=body,
                               headers={"Authorization": f"Bearer {key}"}).status_code

        assert [begin("key-a", f"a{i}") for i in range(4)] == [200, 200, 200, 429]
        assert begin("key-b", "b0") == 200  # bob starts his while alice is at her quota
        assert begin("key-b", "b1") == 503  # the process's 4 places are taken
        found = parse_metrics(client.get("/metrics").text)
        assert total(found, "seqserve_refused_total", reason="client_sequences") == 1
        assert total(found, "seqserve_refused_total", reason="sequences_full") == 1
        assert total(found, "seqserve_requests_total", protocol="v2", outcome="resource_exhausted") == 1
        assert client.get("/health/ready").status_code == 200
