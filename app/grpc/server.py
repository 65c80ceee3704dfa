"""The gRPC server: in the same process and event loop as HTTP, started and stopped with the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from tritonclient.grpc import service_pb2_grpc as pb_grpc

from app.dataplane import DataPlane
from app.grpc.service import InferenceService
from app.settings import Settings

logger = logging.getLogger(__name__)


class GrpcServer:
    """Started and stopped with the app (its lifespan); off when SEQSERVE_GRPC_PORT=0."""

    def __init__(self, dataplane: DataPlane, settings: Settings) -> None:
        self.settings = settings
        self.service = InferenceService(dataplane, settings)
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
            # A channel is told to reconnect after this age (streams already open finish first), so that
            # channels spread again over the workers, as HTTP connections do after their share of requests.
            *([("grpc.max_connection_age_ms", int(settings.grpc_max_connection_age_s * 1000))]
              if settings.grpc_max_connection_age_s > 0 else []),
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
