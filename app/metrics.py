"""Prometheus metrics: requests, latency, queue depth, batch sizes, inference time, model state.

One process: each app owns its CollectorRegistry, so several apps in one process (tests, embedding) never
collide. Several worker processes (`python -m app --workers N`, or any server that sets
PROMETHEUS_MULTIPROC_DIR): prometheus_client's multiprocess mode, so one scrape of any worker shows the
whole server: counters and histograms summed over every worker that ever ran (a replaced worker's counts
stay, so no counter goes down), gauges summed over the live workers (`livesum`), and the gauge files of
workers that died removed at the next scrape. docs/metrics.md lists every metric and label.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app.batching.batcher import BatchObserver
from app.sequences import SequenceObserver

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOAD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
MODEL_STATES = ("loading", "ready", "failed")
LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def split_key(key: str) -> tuple[str, str]:
    """"digit/1" -> ("digit", "1"): model and version travel as separate labels."""
    name, _, version = key.rpartition("/")
    return (name, version) if name else (key, "")


class Metrics(BatchObserver, SequenceObserver):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.directory = multiprocess_dir()  # several workers share their numbers here; None: one process
        self.shared = self.directory is not None
        r = self.registry
        self.requests = Counter("seqserve_requests", "Requests answered, by protocol, route, model, version and "
                                "outcome (canonical code).", ["protocol", "route", "model", "version", "outcome"],
                                registry=r)
        self.latency = Histogram("seqserve_request_duration_seconds", "Time from a request's arrival to its answer.",
                                 ["protocol", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("seqserve_requests_in_flight", "Requests arrived and not yet answered, every "
                               "protocol (a scrape counts itself): the load a replica carries, to autoscale on.",
                               registry=r, multiprocess_mode="livesum")
        self.queue = Gauge("seqserve_queue_items", "Items waiting in a model version's batching queue.",
                           ["model", "version"], registry=r, multiprocess_mode="livesum")
        self.batch_size = Histogram("seqserve_batch_size", "Items per model run.", ["model", "version"],
                                    buckets=BATCH_BUCKETS, registry=r)
        self.inference = Histogram("seqserve_inference_seconds", "Time of one batched model run (the run itself, "
                                   "without thread hand-offs).", ["model", "version"], buckets=LATENCY_BUCKETS,
                                   registry=r)
        self.refused = Counter("seqserve_refused", "Requests refused before they queued, by reason: request_too_large "
                               "(413), client_share (429), queue_full (503), client_sequences (429), "
                               "sequences_full (503).", ["model", "version", "reason"], registry=r)
        self.dropped = Counter("seqserve_dropped", "Queued requests dropped unrun when their turn came, by reason: "
                               "cancelled (the client disconnected or cancelled) or deadline (it waited past its "
                               "deadline).", ["model", "version", "reason"], registry=r)
        self.stream_steps = Counter("seqserve_stream_steps", "Steps of stateful models answered, by protocol (typed "
                                    "token route, WebSocket, V2 REST, gRPC), model and version.",
                                    ["protocol", "model", "version"], registry=r)
        self.streams_open = Gauge("seqserve_streams_open", "WebSocket streams open, by model and version.",
                                  ["model", "version"], registry=r, multiprocess_mode="livesum")
        self.sequences_live = Gauge("seqserve_sequences_live", "V2 sequences kept (sequence_id), by model and "
                                    "version.", ["model", "version"], registry=r, multiprocess_mode="livesum")
        self.sequence_expiries = Counter("seqserve_sequence_expiries", "V2 sequences forgotten after idling past "
                                         "SEQSERVE_SEQUENCE_TTL_MIN.", ["model", "version"], registry=r)
        self.token_rejections = Counter("seqserve_token_rejections", "State tokens refused, by reason: malformed, "
                                        "signature, other_model, other_version, state.",
                                        ["model", "version", "reason"], registry=r)
        self.inline_batches = Counter("seqserve_inline_batches", "Model runs made on the event loop (small, nothing "
                                      "else queued), without a thread hand-off.", ["model", "version"], registry=r)
        self.model_loads = Counter("seqserve_model_loads", "Loads of a model version (start, poll, explicit), by "
                                   "result: ok or failed.", ["model", "version", "result"], registry=r)
        self.model_unloads = Counter("seqserve_model_unloads", "Model versions unloaded (removed or replaced).",
                                     ["model", "version"], registry=r)
        self.model_load_seconds = Histogram("seqserve_model_load_seconds", "Time to load, verify and warm a model "
                                            "version.", ["model", "version"], buckets=LOAD_BUCKETS, registry=r)
        self.model_state = Gauge("seqserve_model_state", "Worker processes in which a model version is in this "
                                 "state (1 or 0 with one process).", ["model", "version", "state"], registry=r,
                                 multiprocess_mode="livesum")
        # labels() takes a lock and builds a key on every call: keep the children already seen
        self._children: dict[tuple[Any, ...], Any] = {}
        self._request_children: dict[tuple[str, ...], tuple[Any, Any]] = {}  # the per-request pair, one look-up
        self._queues: dict[str, Callable[[], int]] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # --- requests (the data plane's calls record them)

    def request_done(self, protocol: str, route: str, model: str, version: str, outcome: str,
                     seconds: float) -> None:
        key = (protocol, route, model, version, outcome)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (self.requests.labels(*key),
                                                       self._child(self.latency, protocol, route))
        children[0].inc()
        children[1].observe(seconds)

    def watch_in_flight(self, requests: Callable[[], int]) -> None:
        if not self.shared:  # one process: read at scrape time, nothing per request
            self.in_flight.set_function(requests)

    def requests_in_flight(self, count: int) -> None:
        """Several workers: each writes its count as it changes, for any worker's scrape to sum."""
        if self.shared:
            self.in_flight.set(count)

    # --- batches

    def batch_done(self, model: str, items: int, seconds: float, inline: bool) -> None:
        name, version = split_key(model)
        self._child(self.batch_size, name, version).observe(items)
        self._child(self.inference, name, version).observe(seconds)
        if inline:
            self._child(self.inline_batches, name, version).inc()
        if self.shared and model in self._queues:  # another worker's scrape reads the file: current per batch
            self._write_queue(model)

    def refuse(self, model: str, reason: str) -> None:
        self._child(self.refused, *split_key(model), reason).inc()

    def drop(self, model: str, reason: str) -> None:
        self._child(self.dropped, *split_key(model), reason).inc()

    # --- streams and sequences

    def stream_step(self, protocol: str, model: str) -> None:
        self._child(self.stream_steps, protocol, *split_key(model)).inc()

    def stream_opened(self, model: str, change: int) -> None:
        self._child(self.streams_open, *split_key(model)).inc(change)

    def expired(self, model: str) -> None:
        self._child(self.sequence_expiries, *split_key(model)).inc()

    def live(self, model: str, count: int) -> None:
        self._child(self.sequences_live, *split_key(model)).set(count)

    def token_rejected(self, model: str, reason: str) -> None:
        self._child(self.token_rejections, *split_key(model), reason).inc()

    def watch_queue(self, model: str, queued_items: Callable[[], int]) -> None:
        self._queues[model] = queued_items
        if not self.shared:  # one process: read at scrape time, nothing per request
            self._child(self.queue, *split_key(model)).set_function(queued_items)

    def _write_queue(self, model: str) -> None:
        self._child(self.queue, *split_key(model)).set(self._queues[model]())

    def forget_queue(self, model: str) -> None:
        self._queues.pop(model, None)
        self._drop(self.queue, *split_key(model))

    # --- model versions

    def model_state_is(self, key: str, state: str | None) -> None:
        """`state` None: the version left the table."""
        name, version = split_key(key)
        for each in MODEL_STATES:
            if state is None:
                self._drop(self.model_state, name, version, each)
            else:
                self._child(self.model_state, name, version, each).set(1 if each == state else 0)

    def model_loaded(self, key: str, result: str, seconds: float) -> None:
        name, version = split_key(key)
        self._child(self.model_loads, name, version, result).inc()
        if result == "ok":
            self._child(self.model_load_seconds, name, version).observe(seconds)

    def model_unloaded(self, key: str) -> None:
        self._child(self.model_unloads, *split_key(key)).inc()

    def _drop(self, metric: Any, *labels: str) -> None:
        if self.shared:  # series cannot be removed across processes: a gone series reads 0
            self._child(metric, *labels).set(0)
            return
        self._children.pop((metric, *labels), None)
        with contextlib.suppress(KeyError):
            metric.remove(*labels)

    # --- the scrape

    def render(self) -> bytes:
        if self.directory is None:
            return generate_latest(self.registry)
        for model in self._queues:  # this worker's queues as of now
            self._write_queue(model)
        forget_dead_workers(self.directory)
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, path=self.directory)  # type: ignore[no-untyped-call]
        return generate_latest(combined)

    content_type = CONTENT_TYPE_LATEST


def forget_dead_workers(directory: str) -> None:
    """Remove the live-gauge files of worker processes that no longer run (a killed worker never says
    so itself); their counters and histograms stay, so totals never go down."""
    for path in glob.glob(os.path.join(directory, "gauge_live*.db")):
        match = LIVE_GAUGE_FILE.search(os.path.basename(path))
        if match is not None and not pid_alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)  # type: ignore[no-untyped-call]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
