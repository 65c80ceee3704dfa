"""The rooms' rules, read from the imports: a protocol package never imports another protocol package,
the batcher, or a named task; it reaches models only through the data plane, and leaves counting requests
and tracking activity to it (no metrics, no batching module)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
PROTOCOLS = ("rest", "v2", "grpc", "websocket")
TASK_MODULES = sorted(p.stem for p in (APP / "tasks").glob("*.py") if p.stem not in ("__init__", "base"))


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a source file imports (relative imports resolved against `package`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from app import v2` imports app.v2
    return found


def forbidden_for(protocol: str, module: str) -> str | None:
    """Why `module` may not be imported from a protocol package; None when it may."""
    for other in PROTOCOLS:
        if other != protocol and (module == f"app.{other}" or module.startswith(f"app.{other}.")):
            return f"another protocol package ({other})"
    if module == "app.batching" or module.startswith("app.batching."):
        return "the batcher (activity tracking is the data plane's)"
    if module == "app.metrics" or module.startswith("app.metrics."):
        return "the metrics (request counting is the data plane's)"
    for task in TASK_MODULES:
        if module == f"app.tasks.{task}" or module.startswith(f"app.tasks.{task}."):
            return f"a named task ({task})"
    return None


def violations(root: Path = APP) -> list[str]:
    found = []
    for protocol in PROTOCOLS:
        for path in sorted((root / protocol).rglob("*.py")):
            package = ".".join(("app", *path.relative_to(root).with_suffix("").parts[:-1]))
            for module in sorted(imported_modules(path.read_text(), package)):
                why = forbidden_for(protocol, module)
                if why:
                    found.append(f"{path.relative_to(root.parent)} imports {module}: {why}")
    return found


def test_protocol_packages_import_no_other_protocol_batcher_or_task() -> None:
    assert violations() == []


@pytest.mark.parametrize(("protocol", "line"), [
    ("grpc", "from app.v2.codec import encode_bytes\n"),
    ("v2", "from ..rest import errors\n"),
    ("websocket", "from app.tasks.sine_stream import SineStreamModel\n"),
    ("rest", "import app.batching.batcher\n"),
    ("rest", "from app.batching.batcher import Batcher\n"),
    ("websocket", "from app.batching.activity import Activity\n"),
    ("grpc", "from app.metrics import Metrics\n"),
])
def test_the_check_catches_each_kind_of_import(tmp_path: Path, protocol: str, line: str) -> None:
    for name in PROTOCOLS:
        (tmp_path / name).mkdir()
    (tmp_path / protocol / "adapter.py").write_text(line)
    assert violations(tmp_path)  # each of these lines is a violation


def test_every_protocol_package_is_checked() -> None:
    packages = {p.parent.name for p in APP.glob("*/__init__.py")}
    assert set(PROTOCOLS) <= packages
