"""Dockerfile, compose file and Kubernetes manifests, checked without a Docker engine or a cluster."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import httpx
import jsonschema
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import MODELS, ROOT, free_port, make_client, wait_ready


def stages() -> dict[str, list[dict[str, str]]]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    result: dict[str, list[dict[str, str]]] = {}
    current = None
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            current = instruction["value"].split()[-1]
            result[current] = []
        if current is not None:
            result[current].append(instruction)
    return result


def instruction(stage: list[dict[str, str]], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def lineage(target: str) -> list[list[dict[str, str]]]:
    """A target's stage after the stages it is built FROM, oldest first."""
    found = stages()
    chain = [found[target]]
    while (parent := chain[-1][0]["value"].split()[0]) in found:
        chain.append(found[parent])
    return chain[::-1]


def inherited(target: str, name: str) -> list[str]:
    return [value for stage in lineage(target) for value in instruction(stage, name)]


def test_dockerfile_has_cpu_and_gpu_targets_on_one_base() -> None:
    found = stages()
    assert set(found) == {"runtime", "dependencies-cpu", "dependencies-gpu", "cpu", "gpu"}
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    args = {i["value"].split("=", 1)[0]: i["value"].split("=", 1)[1] for i in parser.structure
            if i["instruction"] == "ARG" and "=" in i["value"]}
    assert args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    assert found["runtime"][0]["value"] == "${PYTHON_IMAGE} AS runtime"
    for name in ("cpu", "gpu"):
        assert found[name][0]["value"] == f"runtime AS {name}"  # the same base and Python for both
        assert inherited(name, "USER")[-1] == "seqserve", name
        assert inherited(name, "EXPOSE") == ["8000 8001"], name  # HTTP, gRPC
        assert any("app.healthcheck" in h for h in inherited(name, "HEALTHCHECK")), name
        assert json.loads(inherited(name, "CMD")[-1]) == ["python", "-m", "app"], name
        copies = instruction(found[name], "COPY")
        assert copies[0] == f"--from=dependencies-{name} /opt/venv /opt/venv", name
        assert any(c.endswith("/models") for c in copies), name
        labels = " ".join(instruction(found[name], "LABEL"))
        for key in ("source", "version", "revision"):
            assert f"org.opencontainers.image.{key}=" in labels, (name, key)
        # exact versions with hashes from the lock file, nothing else
        install = " ".join(instruction(found[f"dependencies-{name}"], "RUN"))
        assert "--require-hashes" in install and "--no-deps" in install and "torch" not in install, name
        assert instruction(found[f"dependencies-{name}"], "COPY") == [
            f"deploy/requirements/{name}.txt /tmp/requirements.txt"], name
    assert "--create-home" in " ".join(instruction(found["runtime"], "RUN"))
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "deploy" in ignored and "!deploy/requirements" in ignored


def image_env(target: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in inherited(target, "ENV"):
        for item in shlex.split(value.replace("\\\n", " ")):
            key, _, val = item.partition("=")
            env[key] = val
    return env


def test_the_image_start_command_serves_outside_docker() -> None:
    """The cpu image's CMD, ENV and HEALTHCHECK, run here with the host and port moved to loopback."""
    env = {**os.environ, **{k: v for k, v in image_env("cpu").items() if k.startswith("SEQSERVE_")}}
    port = free_port()
    env.update(SEQSERVE_HOST="127.0.0.1", SEQSERVE_PORT=str(port), SEQSERVE_MODEL_DIR=str(MODELS))
    assert image_env("cpu")["SEQSERVE_DEVICE"] == "cpu" and image_env("gpu")["SEQSERVE_DEVICE"] == "cuda"
    command = json.loads(inherited("cpu", "CMD")[-1])
    command[0] = sys.executable
    healthcheck = [sys.executable, "-m", "app.healthcheck"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert subprocess.run(healthcheck, env=env, timeout=10).returncode == 1  # not up yet, or not ready
        deadline = time.monotonic() + 60
        while subprocess.run(healthcheck, env=env, timeout=10).returncode != 0:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.3)
        # The image starts a worker per core: the healthcheck may have reached one while another still loads.
        models = httpx.get(f"http://127.0.0.1:{port}/models").json()["models"]
        while {m["state"] for m in models} != {"ready"}:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.3)
            models = httpx.get(f"http://127.0.0.1:{port}/models").json()["models"]
        assert {m["provider"] for m in models} == {"CPUExecutionProvider"}
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_compose_file_follows_the_compose_spec() -> None:
    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    )
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    jsonschema.validate(compose, schema)
    gpu = compose["services"]["seqserve-gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert gpu["build"]["target"] == "gpu" and gpu["environment"]["SEQSERVE_DEVICE"] == "cuda"
    cpu = compose["services"]["seqserve-cpu"]
    assert cpu["profiles"] == ["cpu"] and cpu["build"]["target"] == "cpu"
    for service in (gpu, cpu):
        assert service["healthcheck"]["test"][-1] == "app.healthcheck"
        assert service["restart"] == "unless-stopped"
        assert service["ports"]


@pytest.mark.parametrize("path", sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")), ids=lambda p: p.name)
def test_kubernetes_manifests_validate(path: Path) -> None:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for document in documents:
        kubernetes_validate.validate(document, "1.33", strict=True)
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "HorizontalPodAutoscaler"} <= kinds
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    if "gpu" in path.name:
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    else:
        assert "Service" in kinds


def compose_default(value: str) -> str:
    """A compose value as compose writes it with no variable set: `${NAME:-default}` -> default."""
    return re.sub(r"\$\{[A-Z_]+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", str(value))


@pytest.mark.parametrize("service", ["seqserve-gpu", "seqserve-cpu"])
def test_the_compose_defaults_serve_requests_without_a_header(service: str, monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    from app.settings import Settings

    environment = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, compose_default(value))
    monkeypatch.setenv("SEQSERVE_STREAM_KEY_FILE", str(tmp_path / "stream.key"))  # the volume's place, here
    assert Settings().api_key is None
    with make_client(models="digit") as client:  # its settings read the same environment
        wait_ready(client)
        assert client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200


def test_every_replica_takes_the_stream_key_from_one_shared_source() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        environment = service["environment"]
        assert environment["SEQSERVE_STREAM_KEY"] == "${SEQSERVE_STREAM_KEY:-}", name  # set: one key for all
        key_file = Path(environment["SEQSERVE_STREAM_KEY_FILE"])  # unset: the file in the shared volume
        assert f"seqserve-keys:{key_file.parent}" in service["volumes"], name
        assert all(port.startswith("${SEQSERVE_BIND:-127.0.0.1}:") for port in service["ports"]), name
    assert "seqserve-keys" in compose["volumes"]
    sources = set()
    for path in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document["kind"] != "Deployment":
                continue
            for container in document["spec"]["template"]["spec"]["containers"]:
                env = {item["name"]: item for item in container["env"]}
                reference = env["SEQSERVE_STREAM_KEY"]["valueFrom"]["secretKeyRef"]
                assert not reference.get("optional", False), path  # no pod starts with a key of its own
                sources.add((reference["name"], reference["key"]))
    assert sources == {("seqserve-keys", "stream-key")}
