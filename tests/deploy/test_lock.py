"""The images' lock files (deploy/requirements/*.txt): exact versions with hashes that satisfy pyproject.toml's
ranges, one onnxruntime version in both images, the CUDA wheels of the release onnxruntime-gpu was built for."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

LOCKS = ROOT / "deploy" / "requirements"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+) \\$")


def locked(name: str) -> dict[str, str]:
    """{package: version}, checking that each pin carries at least one sha256 hash."""
    lines = (LOCKS / f"{name}.txt").read_text().splitlines()
    pins: dict[str, str] = {}
    for number, line in enumerate(lines):
        if match := PIN.match(line):
            assert lines[number + 1].strip().startswith("--hash=sha256:"), line
            pins[canonicalize_name(match[1])] = match[2]
        else:
            assert not line or line.startswith((" ", "#")), f"{name}.txt: unexpected line {line!r}"
    return pins


def requirements(extra: str) -> list[Requirement]:
    """pyproject.toml's requirements of an extra, its self-references (seqserve[server]) expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    pending = [extra]
    while pending:
        for text in project["optional-dependencies"][pending.pop()]:
            requirement = Requirement(text)
            if requirement.name == project["name"]:
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


@pytest.mark.parametrize(("lock", "extra"), [("cpu", "serve"), ("gpu", "serve-gpu")])
def test_lock_satisfies_pyproject(lock: str, extra: str) -> None:
    pins = locked(lock)
    for requirement in requirements(extra):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock}.txt lacks {requirement}"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{lock}.txt: {name}=={pins[name]} " \
                                                                            f"is outside {requirement}"


def test_one_onnxruntime_and_the_same_versions_in_both_images() -> None:
    cpu, gpu = locked("cpu"), locked("gpu")
    assert "onnxruntime-gpu" not in cpu and "onnxruntime" not in gpu  # both install the `onnxruntime` module
    assert cpu["onnxruntime"] == gpu["onnxruntime-gpu"]
    shared = set(cpu) & set(gpu)
    assert {name: (cpu[name], gpu[name]) for name in shared if cpu[name] != gpu[name]} == {}
    assert set(cpu) - shared == {"onnxruntime"}


def test_cuda_wheels_are_the_release_onnxruntime_gpu_was_built_for() -> None:
    gpu = locked("gpu")
    constraints = [Requirement(line) for line in (LOCKS / "cuda-13.0.txt").read_text().splitlines()
                   if line and not line.startswith("#")]
    assert {c.name for c in constraints} >= {"nvidia-cuda-runtime", "nvidia-cublas", "nvidia-cufft", "nvidia-curand"}
    for constraint in constraints:
        assert constraint.specifier.contains(gpu[constraint.name]), f"{constraint.name}=={gpu[constraint.name]}"
    assert gpu["nvidia-cudnn-cu13"].startswith("9.")
