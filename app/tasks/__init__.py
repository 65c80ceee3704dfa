"""Tasks: one module each, holding its whole contract. Importing this package registers every task
module in it (`TASKS`), so a new task is one new module here plus its training code."""

from __future__ import annotations

import importlib
import pkgutil

from app.tasks.base import TASKS, Signature, TaskModel

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["TASKS", "Signature", "TaskModel"]
