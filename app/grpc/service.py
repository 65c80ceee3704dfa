"""Triton's `inference.GRPCInferenceService` over the data plane. Its messages are the ones tritonclient
is generated from, as NVIDIA ships them in `tritonclient.grpc`, so Triton's clients work unchanged.

Each RPC (and each message of a stream) is one data plane call; a `ServeError` becomes the gRPC status
of its canonical code. The API key travels as `authorization` metadata, as the REST header does, and
guards the same calls (inference, model control).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from app.auth import check_api_key, peer_host
from app.dataplane import Call, DataPlane
from app.errors import ServeError, code_of
from app.grpc.codec import infer_response, inference, parameters
from app.settings import Settings

logger = logging.getLogger(__name__)

PROTOCOL = "grpc"
Reply = TypeVar("Reply")


def status_of(exc: BaseException) -> grpc.StatusCode:
    """The gRPC status of an error: its canonical code's own."""
    return getattr(grpc.StatusCode, code_of(exc).upper(), grpc.StatusCode.INTERNAL)


class InferenceService(pb_grpc.GRPCInferenceServiceServicer):  # type: ignore[misc]
    def __init__(self, dataplane: DataPlane, settings: Settings) -> None:
        self.dataplane = dataplane
        self.settings = settings

    async def _answer(self, rpc: str, context: grpc.aio.ServicerContext,
                      work: Callable[[Call], Awaitable[Reply]]) -> Reply:
        """Run one call; a failure becomes its status code."""
        try:
            with self.dataplane.call(PROTOCOL, rpc, client=peer_host(context.peer() or "")) as call:
                return await work(call)
        except ServeError as exc:
            await context.abort(status_of(exc), exc.message)
            raise  # abort raises; this line keeps type checkers informed
        except (grpc.aio.AbortError, asyncio.CancelledError):
            raise
        except Exception:
            logger.exception("gRPC %s failed", rpc)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error")
            raise

    def _authorize(self, context: grpc.aio.ServicerContext, call: Call | None = None) -> str:
        """Unauthenticated unless the call carries a configured key; the client it speaks for (app/auth.py)."""
        metadata = dict(context.invocation_metadata() or ())
        client = check_api_key(str(metadata.get("authorization", "")), self.settings) or peer_host(context.peer() or "")
        if call is not None:
            call.client = client
        return client

    # --- health and metadata (open, as on HTTP)

    async def ServerLive(self, request: pb.ServerLiveRequest, context: Any) -> pb.ServerLiveResponse:
        async def work(call: Call) -> pb.ServerLiveResponse:
            return pb.ServerLiveResponse(live=True)

        return await self._answer("ServerLive", context, work)

    async def ServerReady(self, request: pb.ServerReadyRequest, context: Any) -> pb.ServerReadyResponse:
        async def work(call: Call) -> pb.ServerReadyResponse:
            return pb.ServerReadyResponse(ready=self.dataplane.readiness().ready)

        return await self._answer("ServerReady", context, work)

    async def ModelReady(self, request: pb.ModelReadyRequest, context: Any) -> pb.ModelReadyResponse:
        async def work(call: Call) -> pb.ModelReadyResponse:
            return pb.ModelReadyResponse(ready=self.dataplane.model_ready(request.name, request.version))

        return await self._answer("ModelReady", context, work)

    async def ServerMetadata(self, request: pb.ServerMetadataRequest, context: Any) -> pb.ServerMetadataResponse:
        async def work(call: Call) -> pb.ServerMetadataResponse:
            return json_format.ParseDict(self.dataplane.server_metadata(), pb.ServerMetadataResponse())

        return await self._answer("ServerMetadata", context, work)

    async def ModelMetadata(self, request: pb.ModelMetadataRequest, context: Any) -> pb.ModelMetadataResponse:
        async def work(call: Call) -> pb.ModelMetadataResponse:
            described = self.dataplane.model_metadata(request.name, request.version)
            return json_format.ParseDict(described, pb.ModelMetadataResponse(), ignore_unknown_fields=True)

        return await self._answer("ModelMetadata", context, work)

    async def ModelConfig(self, request: pb.ModelConfigRequest, context: Any) -> pb.ModelConfigResponse:
        async def work(call: Call) -> pb.ModelConfigResponse:
            config = self.dataplane.model_config(request.name, request.version)
            return json_format.ParseDict({"config": config}, pb.ModelConfigResponse())

        return await self._answer("ModelConfig", context, work)

    async def ModelStatistics(self, request: pb.ModelStatisticsRequest,
                              context: Any) -> pb.ModelStatisticsResponse:
        async def work(call: Call) -> pb.ModelStatisticsResponse:
            statistics = self.dataplane.statistics(request.name, request.version)
            return json_format.ParseDict(statistics, pb.ModelStatisticsResponse())

        return await self._answer("ModelStatistics", context, work)

    # --- the model repository (explicit model control), behind the API key as on HTTP

    async def RepositoryIndex(self, request: pb.RepositoryIndexRequest, context: Any) -> pb.RepositoryIndexResponse:
        async def work(call: Call) -> pb.RepositoryIndexResponse:
            self._authorize(context, call)
            return json_format.ParseDict({"models": self.dataplane.repository_index(ready_only=request.ready)},
                                         pb.RepositoryIndexResponse())

        return await self._answer("RepositoryIndex", context, work)

    async def RepositoryModelLoad(self, request: pb.RepositoryModelLoadRequest,
                                  context: Any) -> pb.RepositoryModelLoadResponse:
        async def work(call: Call) -> pb.RepositoryModelLoadResponse:
            self._authorize(context, call)
            await self.dataplane.load(request.model_name, list(request.parameters))
            return pb.RepositoryModelLoadResponse()

        return await self._answer("RepositoryModelLoad", context, work)

    async def RepositoryModelUnload(self, request: pb.RepositoryModelUnloadRequest,
                                    context: Any) -> pb.RepositoryModelUnloadResponse:
        async def work(call: Call) -> pb.RepositoryModelUnloadResponse:
            self._authorize(context, call)
            await self.dataplane.unload(request.model_name)
            return pb.RepositoryModelUnloadResponse()

        return await self._answer("RepositoryModelUnload", context, work)

    # --- inference

    async def _infer(self, request: pb.ModelInferRequest, deadline_s: float | None,
                     call: Call) -> pb.ModelInferResponse:
        entry, outputs = await self.dataplane.infer(request.model_name, request.model_version,
                                                    lambda: inference(request, deadline_s), call)
        return infer_response(entry.name, entry.version, request, outputs)

    async def ModelInfer(self, request: pb.ModelInferRequest, context: Any) -> pb.ModelInferResponse:
        async def work(call: Call) -> pb.ModelInferResponse:
            self._authorize(context, call)
            return await self._infer(request, context.time_remaining(), call)

        return await self._answer("ModelInfer", context, work)

    async def ModelStreamInfer(self, requests: AsyncIterator[pb.ModelInferRequest],
                               context: Any) -> AsyncIterator[pb.ModelStreamInferResponse]:
        """Requests of one stream run concurrently (so they batch), except steps of one sequence, which run
        in order; each answer, or the error of its request, goes back as soon as it is ready, carrying the
        request's id."""
        try:
            client = self._authorize(context)
        except ServeError as exc:
            await context.abort(status_of(exc), exc.message)
        answers: asyncio.Queue[pb.ModelStreamInferResponse | None] = asyncio.Queue()
        running: set[asyncio.Task[None]] = set()

        sequences: dict[Any, asyncio.Task[None]] = {}  # sequence_id -> its latest step in this stream

        async def answer(request: pb.ModelInferRequest, after: asyncio.Task[None] | None) -> None:
            if after is not None:  # steps of one sequence run in the order they came
                await asyncio.wait([after])
            try:
                with self.dataplane.call(PROTOCOL, "ModelStreamInfer", client=client) as call:
                    response = await self._infer(request, None, call)
                await answers.put(pb.ModelStreamInferResponse(infer_response=response))
            except ServeError as exc:
                await answers.put(pb.ModelStreamInferResponse(
                    error_message=exc.message, infer_response=pb.ModelInferResponse(id=request.id)))
            except Exception:  # every request of a stream gets an answer, an unforeseen failure's too
                logger.exception("gRPC ModelStreamInfer request %r failed", request.id)
                await answers.put(pb.ModelStreamInferResponse(
                    error_message="internal error", infer_response=pb.ModelInferResponse(id=request.id)))

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
