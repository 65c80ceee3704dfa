"""Prometheus metrics: requests, latency, queue depth, batch sizes, inference time, model state.

Each app owns its CollectorRegistry, so several apps in one process (tests, embedding) never collide.
With several worker processes each exposes its own numbers; scrape them per pod or use one worker per pod.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from app.batching.batcher import BatchObserver

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOAD_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics(BatchObserver):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("seqserve_requests", "HTTP requests answered.", ["route", "model", "status"],
                                registry=self.registry)
        self.latency = Histogram("seqserve_request_duration_seconds", "Time from request to response start.",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.queue = Gauge("seqserve_queue_items", "Items waiting in a model's batching queue.", ["model"],
                           registry=self.registry)
        self.batch_size = Histogram("seqserve_batch_size", "Items per model run.", ["model"],
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.inference = Histogram("seqserve_inference_seconds", "Time of one batched model run (the run itself, "
                                   "without thread hand-offs).", ["model"],
                                   buckets=LATENCY_BUCKETS, registry=self.registry)
        self.inline_batches = Counter("seqserve_inline_batches", "Model runs made on the event loop (small, nothing "
                                      "else queued), without a thread hand-off.", ["model"], registry=self.registry)
        self.model_loads = Counter("seqserve_model_loads", "Loads of a model version (start, poll, explicit), by "
                                   "result: ok or failed.", ["model", "result"], registry=self.registry)
        self.model_unloads = Counter("seqserve_model_unloads", "Model versions unloaded (removed or replaced).",
                                     ["model"], registry=self.registry)
        self.model_load_seconds = Histogram("seqserve_model_load_seconds", "Time to load, verify and warm a model "
                                            "version.", ["model"], buckets=LOAD_BUCKETS, registry=self.registry)
        self.model_ready = Gauge("seqserve_model_state", "1 for a model version's current state, 0 for the others.",
                                 ["model", "state"], registry=self.registry)

    def batch_done(self, model: str, items: int, seconds: float, inline: bool) -> None:
        self.batch_size.labels(model).observe(items)
        self.inference.labels(model).observe(seconds)
        if inline:
            self.inline_batches.labels(model).inc()

    def watch_queue(self, model: str, queued_items: Callable[[], int]) -> None:
        self.queue.labels(model).set_function(queued_items)

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def metrics_endpoint(metrics: Metrics) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(_: Request) -> Response:
        return metrics.render()

    return endpoint
