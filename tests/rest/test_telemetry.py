"""With OpenTelemetry on, requests answered by the fast path are traced under their route, like the rest."""

from __future__ import annotations

from typing import Any

import pytest

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import make_client, wait_ready

trace = pytest.importorskip("opentelemetry.trace")
sdk = pytest.importorskip("opentelemetry.sdk.trace")
export = pytest.importorskip("opentelemetry.sdk.trace.export")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")


@pytest.fixture(scope="module")
def exporter() -> Any:
    """The process's global tracer provider (set once: OpenTelemetry allows no second one)."""
    spans = in_memory.InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    return spans


@pytest.mark.parametrize("fast_path", [True, False])
def test_predict_requests_are_traced_under_their_route(exporter: Any, fast_path: bool) -> None:
    exporter.clear()
    with make_client(models="digit", opentelemetry=True, fast_path=fast_path) as client:
        wait_ready(client)
        assert client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200
    spans = [s for s in exporter.get_finished_spans() if s.attributes.get("url.path") == "/predict/digit"]
    assert [s.name for s in spans] == ["POST /predict/digit"]
    assert spans[0].attributes["http.route"] == "/predict/digit"
    assert spans[0].attributes["http.response.status_code"] == 200
