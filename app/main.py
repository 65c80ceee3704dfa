"""The FastAPI application: `create_app()` for tests and embedding, `app` for `uvicorn app.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp

from app import __version__, heap, rest, v2
from app.batching.activity import Activity
from app.dataplane import DataPlane
from app.grpc.server import GrpcServer
from app.http.deps import require_api_key
from app.http.edge import EdgeMiddleware
from app.http.errors import Mount, Mounts, install_error_handlers
from app.http.openapi import complete as complete_openapi
from app.logs import configure_logging
from app.metrics import Metrics
from app.repository.control import ModelControl
from app.repository.registry import Registry
from app.rest import health, playground, stream
from app.rest.docs import install_docs
from app.rest.fastpath import FastPathMiddleware
from app.rest.predict import add_typed_routes, request_body, typed_routes
from app.settings import Settings, get_settings
from app.state_token import key_for_run
from app.tasks import PLUGIN_PROBLEMS
from app.v2 import repository as v2_repository
from app.v2 import routes as v2_routes
from app.websocket.routes import add_stream_routes

# The protocols served over HTTP, by path: each names itself (the metrics' protocol label) and its error shape.
MOUNTS = Mounts([Mount("/v2", "v2", v2.errors.render, v2.errors.SCHEMA),
                 Mount("", "rest", rest.errors.render, rest.errors.SCHEMA)])

DESCRIPTION = """Recurrent sequence models served from a model repository on onnxruntime (CUDA or CPU) or TorchScript.

* **digit**: MNIST digit classifier (JSON 28x28 images, or an uploaded picture)
* **sine**: noisy-sinusoid forecaster
* **translate**: character translators: `dates` (human-readable dates to ISO 8601) and `words`

Requests from many clients are batched per model. `GET /models` says which execution provider really runs each model.
"""


class SeqServe(FastAPI):
    """FastAPI with our pure-ASGI layers outside its own middleware stack.

    The edge (request ids, body limit, metrics) and the fast path wrap FastAPI's error, telemetry and
    exception middlewares instead of sitting inside them, so the hot routes skip those entirely."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        app: ASGIApp = super().build_middleware_stack()
        if settings.fast_path:
            app = FastPathMiddleware(app, fastapi_app=self)
        return EdgeMiddleware(app, max_body_bytes=settings.max_body_bytes, calls=self.state.dataplane.calls,
                              mounts=self.state.mounts, max_connection_requests=settings.max_connection_requests,
                              drain=self.state.dataplane.drain)

    def openapi(self) -> dict[str, Any]:
        """The typed routes' request bodies come from their tasks, with the limits of the loaded models;
        until every model has loaded the document is rebuilt on each call rather than cached."""
        if self.openapi_schema is not None:
            return self.openapi_schema
        schema = super().openapi()
        dataplane: DataPlane = self.state.dataplane
        for path, task in typed_routes().items():
            schema["paths"][path]["post"]["requestBody"] = request_body(task, dataplane)
        complete_openapi(schema, self.routes, self.state.mounts, self.state.settings)
        if not dataplane.registry.loaded:
            self.openapi_schema = None
        return schema


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    for problem in PLUGIN_PROBLEMS:
        logging.getLogger("app").error(problem)
    if not settings.signing_keys:  # the shared file's key, else a key of this process only
        settings = settings.model_copy(update={"stream_key": SecretStr(key_for_run(settings.stream_key_file))})
    metrics = Metrics()
    registry = Registry(settings, metrics, Activity())
    control = ModelControl(registry, settings)
    dataplane = DataPlane(registry, control, settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Load in the background: liveness answers at once, readiness turns 200 when every model is warm.
        thresholds: tuple[int, int, int] | None = None

        async def load_models() -> None:
            nonlocal thresholds
            await control.start()
            thresholds = heap.settle()

        loading = asyncio.create_task(load_models(), name="load-models")
        await grpc_server.start()
        try:
            with dataplane.drain.on_sigterm():
                yield
        finally:
            if thresholds is not None:
                heap.unsettle(thresholds)
            await grpc_server.stop()
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            await control.stop()
            await registry.close()

    # FastAPI's native OpenTelemetry asks the global providers on every request; only when asked for.
    telemetry = {"tracing": settings.opentelemetry, "metrics": settings.opentelemetry, "logs": settings.opentelemetry}
    app = SeqServe(title="seqserve", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                   telemetry=telemetry, docs_url=None, redoc_url=None)  # type: ignore[arg-type]
    app.state.settings = settings
    app.state.registry = registry
    app.state.control = control
    app.state.dataplane = dataplane
    app.state.mounts = MOUNTS
    app.state.metrics = metrics
    grpc_server = GrpcServer(dataplane, settings)
    app.state.grpc = grpc_server
    install_error_handlers(app)
    app.include_router(health.router)
    add_typed_routes(app)
    app.include_router(stream.router)
    add_stream_routes(app)
    app.include_router(v2_routes.router)
    app.include_router(v2_repository.router)
    app.include_router(playground.router)
    install_docs(app)

    async def scrape(_: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    app.add_api_route(
        "/metrics", scrape, methods=["GET"], tags=["health"], include_in_schema=True,
        response_class=PlainTextResponse,  # the Prometheus text format, as documented
        summary="Prometheus metrics: the whole server, every worker process",
        dependencies=[Depends(require_api_key)] if settings.metrics_need_key else [],
    )
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.main:app` builds the app on first access, so importing this module stays side-effect free.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
