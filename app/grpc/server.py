"""The gRPC server: Triton's `inference.GRPCInferenceService`, in the same process and event loop as
HTTP, calling the same data plane (registry, batchers, tasks). Its messages are the ones tritonclient is
generated from, as NVIDIA ships them in `tritonclient.grpc`, so Triton's clients work unchanged.

Errors are `ServeError`s turned into status codes (`STATUS_CODES`); the API key travels as
`authorization` metadata, as the REST header does, and guards the same calls (inference).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from app import __version__
from app.auth import check_api_key
from app.dataplane import DataPlane
from app.errors import ModelNotFound, ServeError
from app.grpc.codec import infer_response, parameters, parse_inputs, request_timeout
from app.metrics import Metrics
from app.repository.control import ModelControl
from app.repository.registry import Registry
from app.sequences import sequence_request
from app.settings import Settings
from app.v2.extensions import model_config, model_statistics
from app.v2.routes import EXTENSIONS, metadata, serving, version_number

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED, 404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION, 413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT, 422: grpc.StatusCode.INVALID_ARGUMENT,
    503: grpc.StatusCode.UNAVAILABLE, 504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

Reply = TypeVar("Reply")


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    def __init__(self, registry: Registry, dataplane: DataPlane, control: ModelControl, settings: Settings,
                 metrics: Metrics) -> None:
        self.registry = registry
        self.dataplane = dataplane
        self.control = control
        self.settings = settings
        self.metrics = metrics

    async def _answer(self, rpc: str, context: grpc.aio.ServicerContext,
                      work: Callable[[], Awaitable[Reply]], model: str = "") -> Reply:
        """Run one call: a ServeError becomes its status code; the request is counted like HTTP ones."""
        started = time.perf_counter()
        status = "OK"
        try:
            return await work()
        except ServeError as exc:
            code = STATUS_CODES.get(exc.status, grpc.StatusCode.INTERNAL)
            status = code.name
            await context.abort(code, exc.message)
            raise  # abort raises; this line keeps type checkers informed
        except grpc.aio.AbortError:
            raise
        except Exception:
            status = "INTERNAL"
            logger.exception("gRPC %s failed", rpc)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            raise
        finally:
            route = f"grpc:{rpc}"
            self.metrics.requests.labels(route, model, status).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)

    def _authorize(self, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        check_api_key(str(metadata.get("authorization", "")), self.settings)

    # --- health and metadata (open, as on HTTP)

    async def ServerLive(self, request: pb.ServerLiveRequest, context: Any) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: Any) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=self.registry.ready)

    async def ModelReady(self, request: pb.ModelReadyRequest, context: Any) -> pb.ModelReadyResponse:
        try:
            self.registry.get(request.name, version_number(request.name, request.version or None))
        except ModelNotFound:
            return pb.ModelReadyResponse(ready=False)
        return pb.ModelReadyResponse(ready=True)

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context: Any) -> pb.ServerMetadataResponse:
        return pb.ServerMetadataResponse(name="seqserve", version=__version__, extensions=EXTENSIONS)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: Any) -> pb.ModelMetadataResponse:
        async def work() -> pb.ModelMetadataResponse:
            entry = self.registry.get(request.name, version_number(request.name, request.version or None))
            described = metadata(self.registry, entry)

            def tensors(kind: str) -> list[pb.ModelMetadataResponse.TensorMetadata]:
                return [pb.ModelMetadataResponse.TensorMetadata(name=t["name"], datatype=t["datatype"],
                                                                shape=t["shape"]) for t in described[kind]]

            return pb.ModelMetadataResponse(name=described["name"], versions=described["versions"],
                                            platform=described["platform"], inputs=tensors("inputs"),
                                            outputs=tensors("outputs"))

        return await self._answer("ModelMetadata", context, work, request.name)

    async def ModelConfig(self, request: pb.ModelConfigRequest, context: Any) -> pb.ModelConfigResponse:
        async def work() -> pb.ModelConfigResponse:
            entry = self.registry.get(request.name, version_number(request.name, request.version or None))
            return json_format.ParseDict({"config": model_config(entry, self.settings)}, pb.ModelConfigResponse())

        return await self._answer("ModelConfig", context, work, request.name)

    async def ModelStatistics(self, request: pb.ModelStatisticsRequest,
                              context: Any) -> pb.ModelStatisticsResponse:
        async def work() -> pb.ModelStatisticsResponse:
            if not request.name:
                entries = serving(self.registry)
            elif request.version:
                entries = [self.registry.get(request.name, version_number(request.name, request.version))]
            else:
                self.registry.get(request.name)  # NOT_FOUND for a model that does not serve
                entries = serving(self.registry, request.name)
            return json_format.ParseDict(model_statistics(entries), pb.ModelStatisticsResponse())

        return await self._answer("ModelStatistics", context, work, request.name)

    # --- the model repository (explicit model control), behind the API key as on HTTP

    async def RepositoryIndex(self, request: pb.RepositoryIndexRequest, context: Any) -> pb.RepositoryIndexResponse:
        async def work() -> pb.RepositoryIndexResponse:
            self._authorize(context)
            return json_format.ParseDict({"models": self.control.index(ready_only=request.ready)},
                                         pb.RepositoryIndexResponse())

        return await self._answer("RepositoryIndex", context, work)

    async def RepositoryModelLoad(self, request: pb.RepositoryModelLoadRequest,
                                  context: Any) -> pb.RepositoryModelLoadResponse:
        async def work() -> pb.RepositoryModelLoadResponse:
            self._authorize(context)
            await self.control.load(request.model_name, list(request.parameters))
            return pb.RepositoryModelLoadResponse()

        return await self._answer("RepositoryModelLoad", context, work, request.model_name)

    async def RepositoryModelUnload(self, request: pb.RepositoryModelUnloadRequest,
                                    context: Any) -> pb.RepositoryModelUnloadResponse:
        async def work() -> pb.RepositoryModelUnloadResponse:
            self._authorize(context)
            await self.control.unload(request.model_name)
            return pb.RepositoryModelUnloadResponse()

        return await self._answer("RepositoryModelUnload", context, work, request.model_name)

    # --- inference

    async def _infer(self, request: pb.ModelInferRequest, deadline_s: float | None) -> pb.ModelInferResponse:
        activity = self.registry.activity  # so a batcher knows it is not alone (inline runs)
        activity.enter()
        try:
            inputs = parse_inputs(request)
            # No await from finding the version to submitting to its batcher: an unload cannot come between.
            entry = self.dataplane.find(request.model_name,
                                        version_number(request.model_name, request.model_version or None))
            outputs = await self.dataplane.infer(entry, inputs, request_timeout(request, deadline_s),
                                                 sequence_request(parameters(request)))
            return infer_response(entry.name, entry.version, request, outputs)
        finally:
            activity.leave()

    async def ModelInfer(self, request: pb.ModelInferRequest, context: Any) -> pb.ModelInferResponse:
        async def work() -> pb.ModelInferResponse:
            self._authorize(context)
            return await self._infer(request, context.time_remaining())

        return await self._answer("ModelInfer", context, work, request.model_name)

    async def ModelStreamInfer(self, requests: AsyncIterator[pb.ModelInferRequest],
                               context: Any) -> AsyncIterator[pb.ModelStreamInferResponse]:
        """Requests of one stream run concurrently (so they batch), except steps of one sequence, which run
        in order; each answer, or the error of its request, goes back as soon as it is ready, carrying the
        request's id."""
        try:
            self._authorize(context)
        except ServeError as exc:
            await context.abort(STATUS_CODES.get(exc.status, grpc.StatusCode.INTERNAL), exc.message)
        answers: asyncio.Queue[pb.ModelStreamInferResponse | None] = asyncio.Queue()
        running: set[asyncio.Task[None]] = set()

        sequences: dict[Any, asyncio.Task[None]] = {}  # sequence_id -> its latest step in this stream

        async def answer(request: pb.ModelInferRequest, after: asyncio.Task[None] | None) -> None:
            if after is not None:  # steps of one sequence run in the order they came
                await asyncio.wait([after])
            started, status = time.perf_counter(), "OK"
            try:
                await answers.put(pb.ModelStreamInferResponse(infer_response=await self._infer(request, None)))
            except ServeError as exc:
                status = STATUS_CODES.get(exc.status, grpc.StatusCode.INTERNAL).name
                await answers.put(pb.ModelStreamInferResponse(
                    error_message=exc.message, infer_response=pb.ModelInferResponse(id=request.id)))
            finally:
                self.metrics.requests.labels("grpc:ModelStreamInfer", request.model_name, status).inc()
                self.metrics.latency.labels("grpc:ModelStreamInfer").observe(time.perf_counter() - started)

        async def read() -> None:
            async for request in requests:
                sequence = parameters(request).get("sequence_id") or None
                task = asyncio.create_task(answer(request, sequences.get(sequence)))
                if sequence is not None:
                    sequences[sequence] = task
                running.add(task)
                task.add_done_callback(running.discard)
            while running:
                await asyncio.gather(*list(running))
            await answers.put(None)

        reader = asyncio.create_task(read())
        try:
            while (message := await answers.get()) is not None:
                yield message
            await reader
        finally:
            reader.cancel()
            for task in list(running):
                task.cancel()


class GrpcServer:
    """Started and stopped with the app (its lifespan); off when SEQSERVE_GRPC_PORT=0."""

    def __init__(self, registry: Registry, dataplane: DataPlane, control: ModelControl, settings: Settings,
                 metrics: Metrics) -> None:
        self.settings = settings
        self.service = InferenceService(registry, dataplane, control, settings, metrics)
        self.server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        settings = self.settings
        if settings.grpc_port == 0:
            return
        self.server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", settings.max_body_bytes),
            ("grpc.max_send_message_length", -1),
            # Worker processes of one server share the port; separate servers must not.
            ("grpc.so_reuseport", 1 if settings.worker_count > 1 else 0),
        ])
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(self.service, self.server)
        address = f"{settings.host}:{settings.grpc_port}"
        try:
            self.port = self.server.add_insecure_port(address)
        except RuntimeError as exc:
            raise RuntimeError(f"gRPC cannot listen on {address} ({exc}); set SEQSERVE_GRPC_PORT, 0 turns it off") \
                from None
        await self.server.start()
        logger.info("gRPC (Open Inference Protocol) on %s", address)

    async def stop(self, grace_s: float = 5.0) -> None:
        if self.server is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.server.stop(grace_s)
