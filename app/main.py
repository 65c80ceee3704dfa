"""The FastAPI application: `create_app()` for tests and embedding, `app` for `uvicorn app.main:app`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI

from app import __version__
from app.logs import configure_logging
from app.metrics import Metrics, MetricsMiddleware, metrics_endpoint
from app.repository.registry import Registry
from app.rest import health, playground, predict
from app.rest.deps import require_api_key
from app.rest.errors import install_error_handlers
from app.rest.middleware import BodyLimitMiddleware, RequestIdMiddleware
from app.settings import Settings, get_settings
from app.v2 import routes as v2

DESCRIPTION = """Recurrent sequence models served from a model repository on onnxruntime (CUDA or CPU) or TorchScript.

* **digit**: MNIST digit classifier (JSON 28x28 images, or an uploaded picture)
* **sine**: noisy-sinusoid forecaster
* **translate**: character translators: `dates` (human-readable dates to ISO 8601) and `words`

Requests from many clients are batched per model. `GET /models` says which execution provider really runs each model.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    metrics = Metrics()
    registry = Registry(settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Load in the background: liveness answers at once, readiness turns 200 when every model is warm.
        loading = asyncio.create_task(registry.load_all(), name="load-models")
        try:
            yield
        finally:
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading
            await registry.close()

    app = FastAPI(title="seqserve", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.registry = registry
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(predict.router)
    app.include_router(v2.router)
    app.include_router(playground.router)
    app.add_api_route(
        "/metrics", metrics_endpoint(metrics), methods=["GET"], tags=["health"], include_in_schema=True,
        summary="Prometheus metrics", dependencies=[Depends(require_api_key)] if settings.metrics_need_key else [],
    )
    app.state.metrics = metrics
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    return app


def __getattr__(name: str) -> FastAPI:
    # `uvicorn app.main:app` builds the app on first access, so importing this module stays side-effect free.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
