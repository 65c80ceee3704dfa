"""Model control while serving: `SEQSERVE_MODEL_CONTROL` = none | poll | explicit (Triton's names).

- none: the repository is read once, at start.
- poll: every `poll_interval_s` the registry is synced with the repository (new, changed and removed
  version folders). Every worker process polls by itself, so they converge without talking.
- explicit: `load(name)` / `unload(name)` (the V2 repository extension) sync one model on request and
  answer when it is done. With several worker processes a request reaches one of them, so the decision
  is also written to a file in `state_dir` (under a lock, replaced atomically) that the other workers
  read every `poll_interval_s` and apply: they converge within one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from app.errors import BadRequest, Conflict, ModelNotFound
from app.repository.registry import Registry
from app.repository.scan import valid_model_name
from app.settings import Settings

logger = logging.getLogger(__name__)

DECISIONS_FILE = "model-control.json"


class ModelControl:
    def __init__(self, registry: Registry, settings: Settings) -> None:
        self.registry = registry
        self.settings = settings
        self.mode = settings.model_control
        self.decisions = settings.state_dir / DECISIONS_FILE if settings.state_dir is not None else None
        self._seen: dict[str, Any] = {}  # the decisions this process has applied
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the repository (in explicit mode, what the recorded decisions name), then watch it."""
        if self.mode == "explicit" and self.decisions is not None:
            self._seen = read_decisions(self.decisions)
            if "wanted" in self._seen:  # decisions survive a worker's restart
                self.registry.wanted = set(self._seen["wanted"])
        await self.registry.load_all()
        if self.mode == "poll" or (self.mode == "explicit" and self.decisions is not None):
            self._task = asyncio.get_running_loop().create_task(self._watch(), name="model-control")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_s)
            try:
                if self.mode == "poll":
                    await self.registry.sync()
                else:
                    await self._follow()
            except Exception:  # a bad look at the repository must not end the watching
                logger.exception("model control: sync failed; trying again in %g s", self.settings.poll_interval_s)

    # --- explicit

    async def load(self, name: str, parameters: Collection[str] = ()) -> None:
        """Load `name` (or reload what changed of it), by the version policy; returns when it serves.
        `parameters`: the names of the request's load parameters, of which none is supported."""
        self._check(name)
        if parameters:  # Triton's config override and file upload: the repository on disk is the only source
            raise BadRequest(f"load parameters are not supported: {sorted(parameters)}; put the files in the "
                             "repository")
        if not (self.settings.model_dir / name).is_dir():
            raise ModelNotFound(f"model {name!r} is not in the repository")
        self._wanted().add(name)
        self._record(name, loaded=True)
        failures = await self.registry.sync([name])
        if failures or not any(v.name == name and v.state == "ready" for v in self.registry.versions.values()):
            raise BadRequest(f"failed to load {name!r}: " + ("; ".join(failures) or "no version serves"))

    async def unload(self, name: str) -> None:
        """Stop serving every version of `name`; returns when its requests in flight are answered."""
        self._check(name)
        if not any(v.name == name for v in self.registry.versions.values()) and \
                not (self.settings.model_dir / name).is_dir():
            raise ModelNotFound(f"model {name!r} is not in the repository")
        self._wanted().discard(name)
        self._record(name, loaded=False)
        await self.registry.unload(name)

    def index(self, ready_only: bool = False) -> list[dict[str, str]]:
        """Every version in the repository or serving, with its state (the V2 repository index)."""
        rows: dict[str, dict[str, str]] = {}
        for name in self.registry.model_names():
            folders = (self.settings.model_dir / name).glob("*")
            for folder in sorted(f for f in folders if f.is_dir() and f.name.isascii() and f.name.isdigit()):
                version = str(int(folder.name))
                rows[f"{name}/{version}"] = {"name": name, "version": version, "state": "UNAVAILABLE",
                                             "reason": "not loaded"}
        for entry in self.registry.versions.values():
            state = {"ready": "READY", "loading": "LOADING"}.get(entry.state, "UNAVAILABLE")
            rows[entry.key] = {"name": entry.name, "version": str(entry.version), "state": state,
                               "reason": entry.reason}
        listed = sorted(rows.values(), key=lambda row: (row["name"], int(row["version"])))
        return [row for row in listed if row["state"] == "READY"] if ready_only else listed

    def _check(self, name: str) -> None:
        if self.mode != "explicit":
            raise Conflict(f"model control mode is {self.mode!r}: explicit load and unload need "
                             "SEQSERVE_MODEL_CONTROL=explicit")
        if not valid_model_name(name):  # no folder of the repository can have this name
            raise ModelNotFound(f"model {name!r} is not in the repository: not a model name")

    def _wanted(self) -> set[str]:
        if self.registry.wanted is None:  # from "every model" to a list: the ones serving now
            self.registry.wanted = {v.name for v in self.registry.versions.values()}
        return self.registry.wanted

    def _record(self, name: str, loaded: bool) -> None:
        """Write the decision where the other worker processes read it."""
        if self.decisions is None:
            return
        with self._locked() as decisions:
            decisions["wanted"] = sorted(self._wanted())
            decisions["serial"] = decisions.get("serial", 0) + 1
            decisions.setdefault("loads", {})[name] = decisions["serial"] if loaded else 0
            self._seen = json.loads(json.dumps(decisions))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        assert self.decisions is not None
        self.decisions.parent.mkdir(parents=True, exist_ok=True)
        with open(self.decisions.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            decisions = read_decisions(self.decisions)
            yield decisions
            scratch = self.decisions.with_suffix(f".{os.getpid()}.tmp")
            scratch.write_text(json.dumps(decisions))
            scratch.replace(self.decisions)

    async def _follow(self) -> None:
        """Apply the decisions other workers recorded since this one last looked."""
        assert self.decisions is not None
        decisions = read_decisions(self.decisions)
        if not decisions or decisions.get("serial") == self._seen.get("serial"):
            return
        seen_loads, loads = self._seen.get("loads", {}), decisions.get("loads", {})
        changed = {name for name in set(seen_loads) | set(loads) if seen_loads.get(name) != loads.get(name)}
        self.registry.wanted = set(decisions.get("wanted", []))
        self._seen = decisions
        for name in sorted(changed):
            if name in self.registry.wanted:
                await self.registry.sync([name])
            else:
                await self.registry.unload(name)


def read_decisions(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
