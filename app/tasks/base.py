from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from app.repository.manifest import Manifest
from app.runtime.base import Backend

P = TypeVar("P")
R = TypeVar("R")


class InputError(ValueError):
    """The request's content is unusable; the message says what and where (answered as 422)."""


class TaskModel(ABC, Generic[P, R]):
    def __init__(self, manifest: Manifest, backend: Backend) -> None:
        self.manifest = manifest
        self.backend = backend

    @abstractmethod
    def predict_batch(self, payloads: list[P]) -> list[R]:
        """Answers for several requests' payloads, in order."""

    @abstractmethod
    def size(self, payload: P) -> int:
        """How many items a payload carries (what the batch size counts)."""

    @abstractmethod
    def warmup_payloads(self, batch_sizes: list[int]) -> list[P]:
        """Realistic payloads of the given sizes, to run before the model is reported ready."""
