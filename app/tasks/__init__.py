"""Tasks: one module each, holding its whole contract. Importing this package registers every task
module in it (`TASKS`), so a new task is one new module here plus its training code.

Tasks from other packages register the same way, without a fork: a distribution that declares an entry
point in the group `seqserve.tasks` (`[project.entry-points."seqserve.tasks"] name = "package.module"`) has
that module imported here, and the TaskModel subclasses it defines serve like the built-in ones (typed
route, V2, metadata). A plugin that fails to import is named with its error in `PLUGIN_PROBLEMS`, which the
server logs at start and shows in `GET /models`; the other tasks serve.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil

from app.tasks.base import TASKS, Signature, TaskModel

PLUGIN_GROUP = "seqserve.tasks"
PLUGIN_PROBLEMS: list[str] = []

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")


def load_plugins() -> list[str]:
    """Import every installed task plugin; the problems of those that fail, one line each."""
    problems = []
    for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        try:
            entry.load()
        except Exception as exc:  # any failure of a third party's import: report it, serve the rest
            problems.append(f"task plugin {entry.name!r} ({entry.value}) failed to load: {type(exc).__name__}: {exc}")
    return problems


PLUGIN_PROBLEMS.extend(load_plugins())

__all__ = ["PLUGIN_GROUP", "PLUGIN_PROBLEMS", "TASKS", "Signature", "TaskModel"]
