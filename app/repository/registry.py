"""The serving table: which model versions answer, kept in step with the repository while serving.

`sync()` compares the repository (the version folders each model's version policy selects) with what
serves, and acts on the difference: a new version is loaded, verified (sha256) and warmed before it
takes a request; a version whose files changed is loaded again beside the old one, which serves until
its successor is ready; a version that left the repository stops taking requests and is unloaded once
those in flight are answered. A load that fails leaves whatever served in place and says why (the
entry's `reason`, the log, metrics), and is not tried again until the files change.

A broken version found at start is recorded with its reason and skipped; the others still serve.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path

from app.batching.activity import Activity
from app.errors import ModelNotFound
from app.metrics import Metrics
from app.repository.scan import Found, model_names, scan
from app.repository.version import LOAD_ERRORS, ModelVersion, load_and_warm, start_batcher
from app.settings import Settings

logger = logging.getLogger(__name__)

class Registry:
    def __init__(self, settings: Settings, metrics: Metrics | None = None, activity: Activity | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.versions: dict[str, ModelVersion] = {}
        self.problems: list[str] = []  # repository-level: missing directory, requested model absent
        self.loaded = False
        self.activity = activity or Activity()  # requests in flight, kept by the data plane's calls; for the batchers
        # Models this process serves: every one found (None), or those named (SEQSERVE_MODELS, explicit loads).
        self.wanted: set[str] | None = set(settings.model_names) or None
        self._lock = asyncio.Lock()  # one sync at a time
        self._retiring: set[asyncio.Task[None]] = set()

    # --- the repository

    def scan(self, names: Iterable[str] | None = None) -> tuple[Found, list[str]]:
        """The version folders the policies select, of `names` (default: the wanted models), and the
        repository-level problems found."""
        scoped = names is not None
        if names is None:
            names = self.wanted if self.wanted is not None else self.model_names()
        return scan(self.settings.model_dir, names, self.settings.policy_for, scoped)

    def model_names(self) -> list[str]:
        """Every model folder in the repository, whether it serves or not."""
        return model_names(self.settings.model_dir)

    async def load_all(self) -> None:
        await self.sync()
        self.loaded = True
        for problem in self.problems:
            logger.error(problem)

    async def sync(self, names: Iterable[str] | None = None) -> list[str]:
        """Bring the serving table in step with the repository, for `names` (default: every wanted
        model, and every model that serves). Returns what went wrong (problems, failed loads)."""
        async with self._lock:
            scope = None if names is None else set(names)
            found, problems = await asyncio.to_thread(self.scan, scope)  # file system work off the loop
            if scope is None:
                self.problems = problems
            failures = list(problems)
            for key, (name, version, folder, prints) in found.items():
                current = self.versions.get(key)
                if current is not None and prints in (current.fingerprint, current.failed_fingerprint):
                    continue  # unchanged, or changed into files that already failed
                error = await self._load(name, version, folder, prints, current)
                if error:
                    failures.append(f"{key}: {error}")
            for key, entry in list(self.versions.items()):
                if key not in found and (scope is None or entry.name in scope):
                    await self._retire(entry)
            return failures

    async def unload(self, name: str) -> None:
        """Stop serving every version of `name` (in-flight requests are answered first)."""
        async with self._lock:
            for entry in [e for e in self.versions.values() if e.name == name]:
                await self._retire(entry)

    # --- one version

    async def _load(self, name: str, version: int, folder: Path, prints: str,
                    current: ModelVersion | None) -> str:
        """Load (or reload) one version; "" when it serves, else why not."""
        entry = ModelVersion(name, version, folder, fingerprint=prints)
        serving = current is not None and current.state == "ready"
        if not serving:
            self.versions[entry.key] = entry
            self._publish(entry)
        started = time.perf_counter()
        try:
            model = await load_and_warm(folder, prints, self.settings)
        except LOAD_ERRORS as exc:
            self._count_load(entry.key, "failed", time.perf_counter() - started)
            if serving:
                assert current is not None
                current.failed_fingerprint = prints
                current.reason = f"new files failed to load, still serving the previous ones: {exc}"
                logger.error("model %s not reloaded, the loaded files still serve: %s", entry.key, exc)
                return str(exc)
            entry.state, entry.reason, entry.failed_fingerprint = "failed", str(exc), prints
            self._publish(entry)
            logger.error("model %s not loaded: %s", entry.key, exc)
            return str(exc)
        backend = model.backend
        entry.manifest, entry.model, entry.warnings = model.manifest, model, list(backend.warnings)
        entry.batcher = start_batcher(entry.key, model, self.settings, self.metrics, self.activity)
        entry.load_s = time.perf_counter() - started
        entry.loaded_at = time.time()
        entry.state = "ready"
        self.versions[entry.key] = entry  # from here on, new requests reach the new files
        self._publish(entry)
        self._count_load(entry.key, "ok", entry.load_s)
        logger.info("model %s %s on %s/%s in %.2f s", entry.key, "reloaded" if serving else "ready",
                    backend.name, backend.provider, entry.load_s)
        if serving:
            assert current is not None
            self._drain(current)
        return ""

    async def _retire(self, entry: ModelVersion) -> None:
        if self.versions.get(entry.key) is entry:
            del self.versions[entry.key]  # no new request finds it
            self._unpublish(entry)
        await self._close(entry)

    def _drain(self, entry: ModelVersion) -> None:
        """Unload a replaced version in the background, once its requests are answered."""
        task = asyncio.get_running_loop().create_task(self._close(entry), name=f"drain-{entry.key}")
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _close(self, entry: ModelVersion) -> None:
        if entry.batcher is not None:
            await entry.batcher.close()  # those in flight are answered first
            replaced = entry.key in self.versions
            if self.metrics is not None:
                self.metrics.model_unloaded(entry.key)
                if not replaced:  # a successor of the same key reports its own queue
                    self.metrics.forget_queue(entry.key)
            logger.info("model %s unloaded (%s)", entry.key, "replaced" if replaced else "removed")

    # --- metrics

    def _publish(self, entry: ModelVersion) -> None:
        if self.metrics is not None:
            self.metrics.model_state_is(entry.key, entry.state)

    def _unpublish(self, entry: ModelVersion) -> None:
        if self.metrics is not None:
            self.metrics.model_state_is(entry.key, None)

    def _count_load(self, key: str, result: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.model_loaded(key, result, seconds)

    # --- serving

    async def close(self) -> None:
        for task in list(self._retiring):
            await task
        for entry in self.versions.values():
            if entry.batcher is not None:
                await entry.batcher.stop()

    @property
    def ready(self) -> bool:
        """Loaded, and every model in the table has a version that serves (a failed new or changed
        version beside a serving one does not take the process out of rotation)."""
        if not (self.loaded and not self.problems and self.versions):
            return False
        serving = {v.name for v in self.versions.values() if v.state == "ready"}
        return all(v.name in serving for v in self.versions.values())

    def get(self, name: str, version: int | None = None, task: str | None = None) -> ModelVersion:
        def serves(v: ModelVersion) -> bool:
            return v.state == "ready" and (task is None or (v.manifest is not None and v.manifest.task == task))

        found: ModelVersion | None = None
        known = self.versions.get(f"{name}/{version}") if version is not None else None
        if version is not None:  # a named version: one lookup
            found = known if known is not None and serves(known) else None
        else:
            for v in self.versions.values():
                if v.name == name and serves(v) and (found is None or v.version > found.version):
                    found = v
        if found is None:
            if known is not None and known.state != "ready":
                raise ModelNotFound(f"model {known.key} is {known.state}: {known.reason or 'not ready yet'}")
            what = f"model {name!r}" + (f" version {version}" if version is not None else "")
            raise ModelNotFound(f"{what} is not loaded" + (f" (task {task})" if task else ""))
        return found
