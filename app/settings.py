"""Every setting of the service, read from the environment (prefix SEQSERVE_) or a .env file."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.repository.policy import VersionPolicy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEQSERVE_", env_file=".env", extra="ignore")

    # --- model repository
    model_dir: Path = Field(Path("models"), description="Model repository: <model_dir>/<name>/<version>/manifest.json.")
    models: str = Field(
        "", description="Comma-separated model names to load; empty loads every model found in model_dir."
    )
    model_control: Literal["none", "poll", "explicit"] = Field(
        "none",
        description="none: the repository is read once, at start. poll: it is rescanned every poll_interval_s; "
        "new, changed and removed version folders are loaded, reloaded and unloaded while serving. explicit: "
        "POST /v2/repository/models/{name}/load|unload do it (behind the API key).",
    )
    poll_interval_s: float = Field(
        10.0, gt=0.0, description="How often poll mode rescans the repository (and explicit mode, with several "
        "workers, checks for decisions taken by another worker).",
    )
    version_policy: str = Field(
        "all", description="Versions of each model that serve: all, latest:N, or a list such as 1,3.",
    )
    version_policies: dict[str, str] = Field(
        {}, description='Per-model version policies, as JSON: {"dates": "latest:1"}.',
    )
    state_dir: Path | None = Field(
        None, description="Where explicit load/unload decisions are recorded so that every worker process "
        "applies them; python -m app makes a temporary one when it starts several workers.",
    )

    # --- execution
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="auto: CUDA when onnxruntime can use it, else CPU (with a warning); cuda: CUDA or refuse to "
        "start; cpu: CPU only.",
    )
    backend: Literal["onnx", "torchscript"] = Field(
        "onnx", description="onnx runs the graphs on onnxruntime; torchscript on torch (needs torch installed)."
    )
    intra_op_threads: int = Field(
        1, ge=1, description="Threads per onnxruntime session / torch. 1 avoids oversubscription; scale with workers."
    )
    fast_path: bool = Field(
        True, description="Serve POST /predict/{digit,sine,translate} through a lean ASGI path (same handlers and "
        "errors, without FastAPI's per-request routing and dependency overhead).",
    )
    warmup: bool = Field(True, description="Run every model at typical batch sizes before reporting ready.")

    # --- dynamic batching
    max_batch_size: int = Field(64, ge=1, description="Most items one model run takes from the queue.")
    max_batch_delay_ms: float = Field(
        0.0,
        ge=0.0,
        description="How long a batch may wait for more items after its first; 0 takes what is queued at once "
        "(batches still form while the previous batch runs).",
    )
    max_queue_items: int = Field(
        2048, ge=1, description="Items a model's queue holds before new requests get 503 with Retry-After. "
        "Items count as the batch does: images, series, or texts times beams.",
    )
    max_request_share: float = Field(
        0.25, gt=0.0, le=1.0, description="Largest share of max_queue_items one request may count; a bigger "
        "request gets 413. A request bigger than half of max_batch_size runs in parts of that size.",
    )
    client_queue_share: float = Field(
        0.25, gt=0.0, le=1.0, description="Share of max_queue_items one client (its API key's name, else its "
        "address) may have queued per model; past it its requests get 429 with Retry-After while others' are "
        "still taken. Batches are taken fairly between clients.",
    )
    inline_max_ms: float = Field(
        2.0, ge=0.0,
        description="A batch whose measured cost is at most this runs on the event loop when nothing else is "
        "queued, with no thread hand-off (what a lone request waits for on machines where thread wake-ups are "
        "slow); 0 always runs batches in the worker thread. Bounds how long the loop is ever held by a model.",
    )
    request_timeout_s: float = Field(
        10.0, gt=0.0, description="A request still waiting for its result after this long gets 504."
    )

    # --- request limits
    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Larger request bodies get 413 unread.")
    max_items: int = Field(256, ge=1, description="Most images, series or texts in one request.")
    max_series_length: int = Field(8192, ge=16, description="Longest sine history accepted (the model reads the "
                                   "last max_history values of it).")
    max_image_pixels: int = Field(
        16_000_000, ge=784, description="Largest uploaded image (width x height) decoded; guards decompression bombs."
    )

    # --- security and logging
    api_key: SecretStr | None = Field(
        None, description="When set, predict and infer routes need 'Authorization: Bearer <key>'. Health stays open."
    )
    api_keys: dict[str, SecretStr] = Field(
        {}, description='Several clients\' keys, as JSON {"name": "key"}: each client sends its own, and the '
        "queue's fair shares and the sequence quotas count by its name. May be set with api_key or alone.",
    )
    ws_max_message_bytes: int = Field(65536, ge=256, description="Largest WebSocket frame a stream accepts "
                                      "(close 1009 above it).")
    ws_max_messages_per_s: float = Field(50.0, gt=0.0, description="Frames per second one WebSocket stream may "
                                         "send, with bursts of as many (close 1008 past it).")
    ws_idle_timeout_s: float = Field(60.0, gt=0.0, description="A WebSocket stream silent this long is closed "
                                     "(1001).")
    sequence_ttl_min: float = Field(10.0, gt=0.0, description="A V2 sequence (sequence_id) unused this many "
                                    "minutes is forgotten.")
    max_sequences: int = Field(10000, ge=1, description="Live V2 sequences one process keeps; a new "
                               "sequence_start past it gets 503.")
    max_client_sequences: int = Field(1000, ge=1, description="Live V2 sequences one client (its API key's "
                                      "name, else its address) may keep in one process; a new sequence_start "
                                      "past it gets 429.")
    stream_key: SecretStr | None = Field(
        None, description="Key that signs the state tokens of streaming models (HMAC-SHA256). Give every replica "
        "the same one so any of them takes a stream's next step; unset, python -m app makes one for its workers "
        "(tokens then die with the process).",
    )
    stream_keys: Annotated[list[SecretStr], NoDecode] = Field(
        [], description="Several stream keys, comma-separated, for rotation: tokens are signed with the first and "
        "accepted under any (and under stream_key, if also set). Put a new key first, keep the old one listed as "
        "long as a stream may last, then drop it.",
    )
    stream_key_file: Path | None = Field(
        None, description="Where the stream key is kept when SEQSERVE_STREAM_KEY is not set: read if the file "
        "exists, else made once with a new random key (mode 0600). Replicas and restarts that share the file "
        "(a volume, a mounted Secret) sign alike, so a stream's next step works on any of them.",
    )
    opentelemetry: bool = Field(
        False, description="FastAPI's native OpenTelemetry tracing/metrics/logs, using the global providers you "
        "configure; requests on the fast path are traced under their route like the others.",
    )
    metrics_need_key: bool = Field(False, description="Put GET /metrics behind the API key too.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    log_json: bool = Field(False, description="Log JSON lines instead of text.")

    # --- server (python -m app)
    host: str = Field("127.0.0.1", description="Interface to bind.")
    port: int = Field(8000, ge=1, le=65535, description="Port to bind.")
    grpc_port: int = Field(
        8001, ge=0, le=65535, description="Port of the Open Inference Protocol over gRPC (Triton's default); "
        "0 turns it off. Same host as HTTP.",
    )
    workers: int | Literal["auto"] = Field(
        "auto", description="Server worker processes (python -m app); each loads every model and its own "
        "batchers. auto: one per core this process may use (CPU affinity, and a container's CPU quota).",
    )
    max_connection_requests: int = Field(
        1000, ge=0, description="Requests one HTTP connection carries before the server ends it (Connection: "
        "close, and the client reconnects), so that keep-alive connections spread again over the worker "
        "processes, e.g. after one was replaced; 0: no limit.",
    )
    drain_s: float = Field(
        0.0, ge=0.0, le=600.0, description="On SIGTERM, seconds the server keeps serving while its readiness "
        "answers 503 and HTTP answers end their connections, so load balancers and Kubernetes stop sending to it; "
        "then it stops accepting and finishes what is in flight. A second SIGTERM, or SIGINT, skips the wait.",
    )
    grpc_max_connection_age_s: float = Field(
        300.0, ge=0.0, description="Age after which a gRPC channel is asked to reconnect (GOAWAY; calls and "
        "streams in progress finish first), so channels spread again over the worker processes; 0: never.",
    )
    proxy_headers: bool = Field(
        False, description="Trust X-Forwarded-For/-Proto from a reverse proxy (python -m app); costs a little per "
        "request, so off unless a proxy sits in front.",
    )

    @field_validator("api_key", "stream_key")
    @classmethod
    def _empty_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # `KEY: ${KEY:-}` in a compose file sets an empty value: that means no key, never the key "".
        return value if value is not None and value.get_secret_value().strip() else None

    @field_validator("stream_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return [part.strip() for part in value.split(",")] if isinstance(value, str) else value

    @field_validator("stream_keys")
    @classmethod
    def _no_empty_stream_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        return [key for key in value if key.get_secret_value().strip()]

    @property
    def signing_keys(self) -> list[bytes]:
        """The stream keys: the first signs, every one verifies."""
        keys = [key.get_secret_value().encode() for key in self.stream_keys]
        if self.stream_key is not None and self.stream_key.get_secret_value().encode() not in keys:
            keys.append(self.stream_key.get_secret_value().encode())
        return keys

    @field_validator("api_keys")
    @classmethod
    def _no_empty_keys(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        empty = [name for name, key in value.items() if not key.get_secret_value().strip()]
        if empty:
            raise ValueError(f"api_keys {empty} are empty: every client's key must be a non-empty string")
        return value

    @field_validator("version_policy")
    @classmethod
    def _check_policy(cls, value: str) -> str:
        VersionPolicy.parse(value)
        return value

    @field_validator("version_policies")
    @classmethod
    def _check_policies(cls, value: dict[str, str]) -> dict[str, str]:
        for policy in value.values():
            VersionPolicy.parse(policy)
        return value

    def policy_for(self, model: str) -> VersionPolicy:
        return VersionPolicy.parse(self.version_policies.get(model, self.version_policy))

    @property
    def max_request_items(self) -> int:
        return max(1, int(self.max_queue_items * self.max_request_share))

    @property
    def max_client_items(self) -> int:
        return max(1, int(self.max_queue_items * self.client_queue_share))

    @property
    def worker_count(self) -> int:
        return usable_cores() if self.workers == "auto" else max(1, self.workers)

    @property
    def model_names(self) -> list[str]:
        return [name.strip() for name in self.models.split(",") if name.strip()]


def usable_cores(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota (a container's
    `--cpus` or a Kubernetes CPU limit), which the affinity does not show."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota to honour
    return cores


@lru_cache
def get_settings() -> Settings:
    return Settings()
