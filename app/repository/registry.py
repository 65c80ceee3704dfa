"""Finds model versions in the repository, loads and warms each, and keeps their state for health checks.

A broken version (bad manifest, missing file, sha256 mismatch, provider refused) is recorded with its
reason and skipped; the others still serve.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from app.batching.batcher import Activity, Batcher
from app.errors import ModelNotFound
from app.metrics import Metrics
from app.repository.loader import load_model
from app.repository.manifest import Manifest, ManifestError
from app.runtime.base import BackendError
from app.settings import Settings
from app.tasks import TaskModel

logger = logging.getLogger(__name__)

WARMUP_BATCH_SIZES = (1, 8)

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

    @property
    def key(self) -> str:
        return f"{self.name}/{self.version}"


class Registry:
    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.versions: dict[str, ModelVersion] = {}
        self.problems: list[str] = []  # repository-level: missing directory, requested model absent
        self.loaded = False
        self.activity = Activity()  # requests in flight, kept by the edge; tells batchers when they are alone

    def discover(self) -> None:
        root = self.settings.model_dir
        if not root.is_dir():
            self.problems.append(f"model directory {root} does not exist")
            return
        wanted = self.settings.model_names
        names = wanted or sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        for name in names:
            folders = sorted(
                (p for p in (root / name).glob("*") if p.is_dir() and p.name.isascii() and p.name.isdigit()),
                key=lambda p: int(p.name),
            )
            if not folders:
                self.problems.append(f"{root / name}: no version folders (expected {root / name}/<integer>/)")
            for folder in folders:
                entry = ModelVersion(name, int(folder.name), folder)
                self.versions[entry.key] = entry
        if not self.versions and not self.problems:
            self.problems.append(f"model directory {root} holds no models")

    async def load_all(self) -> None:
        self.discover()
        for entry in self.versions.values():
            self._publish(entry)
            await self._load(entry)
            self._publish(entry)
        self.loaded = True
        for problem in self.problems:
            logger.error(problem)

    async def _load(self, entry: ModelVersion) -> None:
        started = time.perf_counter()
        try:
            model = await asyncio.to_thread(load_model, entry.folder, self.settings)
            for payload in model.warmup_payloads(list(WARMUP_BATCH_SIZES) if self.settings.warmup else []):
                await asyncio.to_thread(model.run_batch, [payload])
        except (ManifestError, BackendError, OSError, KeyError, ValueError, RuntimeError) as exc:
            entry.state, entry.reason = "failed", str(exc)
            logger.error("model %s not loaded: %s", entry.key, exc)
            return
        backend = model.backend
        entry.manifest, entry.model, entry.warnings = model.manifest, model, list(backend.warnings)
        entry.batcher = Batcher(
            entry.key, model.run_batch, model.size, self.settings.max_batch_size,
            self.settings.max_batch_delay_ms / 1000, self.settings.max_queue_items, self.metrics,
            inline_max_s=self.settings.inline_max_ms / 1000, work_of=model.work, activity=self.activity,
        )
        entry.batcher.start()
        entry.load_s = time.perf_counter() - started
        entry.state = "ready"
        logger.info("model %s ready on %s/%s in %.2f s", entry.key, backend.name, backend.provider, entry.load_s)

    def _publish(self, entry: ModelVersion) -> None:
        if self.metrics is not None:
            for state in ("loading", "ready", "failed"):
                self.metrics.model_ready.labels(entry.key, state).set(1 if entry.state == state else 0)

    async def close(self) -> None:
        for entry in self.versions.values():
            if entry.batcher is not None:
                await entry.batcher.stop()

    @property
    def ready(self) -> bool:
        return (self.loaded and not self.problems and bool(self.versions)
                and all(v.state == "ready" for v in self.versions.values()))

    def get(self, name: str, version: int | None = None, task: str | None = None) -> ModelVersion:
        candidates = [v for v in self.versions.values() if v.name == name and v.state == "ready"
                      and (task is None or (v.manifest is not None and v.manifest.task == task))]
        if version is not None:
            candidates = [v for v in candidates if v.version == version]
        if not candidates:
            known = self.versions.get(f"{name}/{version}") if version is not None else None
            if known is not None and known.state != "ready":
                raise ModelNotFound(f"model {known.key} is {known.state}: {known.reason or 'not ready yet'}")
            what = f"model {name!r}" + (f" version {version}" if version is not None else "")
            raise ModelNotFound(f"{what} is not loaded" + (f" (task {task})" if task else ""))
        return max(candidates, key=lambda v: v.version)
