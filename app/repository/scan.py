"""What the repository holds: model folders, the version folders each model's policy selects, and a
fingerprint of each folder's files, so the registry can tell what changed."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from app.repository.policy import VersionPolicy

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")  # a folder directly under the repository

Found = dict[str, tuple[str, int, Path, str]]  # key -> (name, version, folder, fingerprint)


def valid_model_name(name: str) -> bool:
    return bool(MODEL_NAME.match(name)) and ".." not in name


def fingerprint(folder: Path) -> str:
    """What changes when a file of the folder is replaced, rewritten or removed (names, sizes, mtimes);
    cheap enough to take for every version at every poll."""
    try:
        entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
                         for e in os.scandir(folder) if e.is_file(follow_symlinks=False))
    except OSError:
        return ""
    return repr(entries)


def model_names(root: Path) -> list[str]:
    """Every model folder in the repository, whether it serves or not."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and valid_model_name(p.name))


def scan(root: Path, names: Iterable[str], policy_for: Callable[[str], VersionPolicy],
         scoped: bool) -> tuple[Found, list[str]]:
    """The version folders the policies select for `names`, and the repository-level problems found
    (`scoped`: the names were asked for, not every model)."""
    problems: list[str] = []
    if not root.is_dir():
        return {}, [f"model directory {root} does not exist"]
    found: Found = {}
    names = list(names)
    for name in sorted(names):
        folders = {int(p.name): p for p in (root / name).glob("*")
                   if p.is_dir() and p.name.isascii() and p.name.isdigit()} if valid_model_name(name) else {}
        if not folders:
            problems.append(f"{root / name}: no version folders (expected {root / name}/<integer>/)")
        for version in policy_for(name).select(list(folders)):
            found[f"{name}/{version}"] = (name, version, folders[version], fingerprint(folders[version]))
    if not found and not problems:
        problems.append(f"no version of {sorted(names)} is selected by its version policy" if scoped
                        else f"model directory {root} holds no models")
    return found, problems
