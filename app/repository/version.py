"""One model version: what the serving table holds for it, and how it is loaded, warmed and given its batcher."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.batching.activity import Activity
from app.batching.batcher import Batcher, BatchObserver
from app.repository.loader import load_model
from app.repository.manifest import Manifest, ManifestError
from app.repository.scan import fingerprint
from app.runtime.base import BackendError
from app.settings import Settings
from app.tasks import TaskModel

WARMUP_BATCH_SIZES = (1, 8)
LOAD_ERRORS = (ManifestError, BackendError, OSError, KeyError, ValueError, RuntimeError)

State = Literal["loading", "ready", "failed"]


@dataclass
class ModelVersion:
    name: str
    version: int
    folder: Path
    state: State = "loading"
    reason: str = ""
    manifest: Manifest | None = None
    model: TaskModel[Any, Any] | None = None
    batcher: Batcher[Any, Any] | None = None
    load_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    fingerprint: str = ""  # of the files this entry was loaded from
    failed_fingerprint: str = ""  # of files that failed to load: not tried again until they change
    loaded_at: float = 0.0  # unix time

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"


async def load_and_warm(folder: Path, prints: str, settings: Settings) -> TaskModel[Any, Any]:
    """Load a version folder off the loop and run it at typical batch sizes; one of LOAD_ERRORS when it
    cannot serve, or when its files changed while it loaded (`prints`: their fingerprint before)."""
    model = await asyncio.to_thread(load_model, folder, settings)
    for payload in model.warmup_payloads(list(WARMUP_BATCH_SIZES) if settings.warmup else []):
        await asyncio.to_thread(model.run_batch, [payload])
    if fingerprint(folder) != prints:  # written to while it loaded: take it at the next look
        raise ManifestError(f"{folder}: files changed while loading")
    return model


def start_batcher(key: str, model: TaskModel[Any, Any], settings: Settings, observer: BatchObserver | None,
                  activity: Activity) -> Batcher[Any, Any]:
    batcher: Batcher[Any, Any] = Batcher(
        key, model.run_batch, model.size, settings.max_batch_size, settings.max_batch_delay_ms / 1000,
        settings.max_queue_items, observer, inline_max_s=settings.inline_max_ms / 1000, work_of=model.work,
        activity=activity, max_request_items=settings.max_request_items, max_client_items=settings.max_client_items,
        split=model.split, join=model.join,
    )
    batcher.start()
    return batcher
