"""deploy/kserve: the serving runtimes and InferenceService examples validate against KServe's own models
(tests/deploy/schemas.py), and say what the server really does: its ports, health routes, model directory,
protocols, and one stream key for every replica."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import Settings
from tests.conftest import ROOT
from tests.deploy import schemas

FOLDER = ROOT / "deploy" / "kserve"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def every_document() -> list[dict[str, Any]]:
    return [d for path in sorted(FOLDER.glob("*.yaml")) for d in documents(path)]


def runtimes() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in every_document() if d["kind"] == "ServingRuntime"}


def services() -> dict[str, dict[str, Any]]:
    return {path.stem: d for path in sorted(FOLDER.glob("inferenceservice-*.yaml")) for d in documents(path)}


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.yaml")), ids=lambda p: p.name)
def test_every_manifest_validates_against_kserves_models(path: Path) -> None:
    for document in documents(path):
        schemas.validate(document)


@pytest.mark.parametrize(("change", "names"), [
    (lambda d: d["spec"]["predictor"]["model"].update(storgeUri="s3://x"), "storgeUri"),
    (lambda d: d["spec"]["predictor"].update(minReplicas="1"), "minReplicas"),
    (lambda d: d["spec"]["predictor"].update(containers=[{"image": "seqserve:cpu"}]), "containers[0]"),
])
def test_the_validation_refuses_what_kserve_would(change: Any, names: str) -> None:
    document = documents(FOLDER / "inferenceservice-cpu.yaml")[0]
    change(document)
    with pytest.raises(schemas.Invalid, match=names.replace("[", r"\[")):
        schemas.validate(document)


@pytest.mark.parametrize("name", ["seqserve", "seqserve-gpu"])
def test_the_runtime_serves_v2_on_the_servers_ports_and_health_routes(name: str) -> None:
    runtime = runtimes()[name]
    spec = runtime["spec"]
    assert {"v2", "grpc-v2"} <= set(spec["protocolVersions"]) | set(runtimes()["seqserve-grpc"]["spec"][
        "protocolVersions"])
    assert [f["name"] for f in spec["supportedModelFormats"]] == ["seqserve"]
    container = spec["containers"][0]
    assert container["name"] == "kserve-container"  # where KServe puts the model's storage mount
    env = {item["name"]: item for item in container["env"]}
    assert env["SEQSERVE_MODEL_DIR"]["value"] == "/mnt/models"  # the storage initializer's mount
    defaults = Settings()
    assert [p["containerPort"] for p in container["ports"]] == [8000]  # the image's SEQSERVE_PORT
    assert int(spec["annotations"]["prometheus.kserve.io/port"]) == 8000
    assert spec["annotations"]["prometheus.kserve.io/path"] == "/metrics"
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": 8000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": 8000}
    # The examples keep Kubernetes' default grace period (30 s): the drain and the longest request fit in it.
    assert 0 < float(env["SEQSERVE_DRAIN_S"]["value"]) + defaults.request_timeout_s + 5 <= 30
    assert defaults.grpc_port == 8001  # what inferenceservice-grpc.yaml names
    reference = env["SEQSERVE_STREAM_KEY"]["valueFrom"]["secretKeyRef"]
    assert (reference["name"], reference["key"], reference.get("optional", False)) == \
        ("seqserve-keys", "stream-key", False)
    assert env["SEQSERVE_STREAM_KEYS"]["valueFrom"]["secretKeyRef"]["name"] == "seqserve-keys"
    if name == "seqserve-gpu":
        assert env["SEQSERVE_DEVICE"]["value"] == "cuda"
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_the_examples_cover_cpu_gpu_canary_grpc_and_autoscaling_to_zero() -> None:
    examples = services()
    assert set(examples) == {"inferenceservice-cpu", "inferenceservice-gpu", "inferenceservice-canary",
                             "inferenceservice-grpc", "inferenceservice-autoscale"}
    for document in examples.values():
        model = document["spec"]["predictor"]["model"]
        assert model["modelFormat"]["name"] == "seqserve"
        assert model.get("runtime", "seqserve") in runtimes()
        assert model["storageUri"]
    gpu = examples["inferenceservice-gpu"]["spec"]["predictor"]["model"]
    assert gpu["runtime"] == "seqserve-gpu" and gpu["resources"]["limits"]["nvidia.com/gpu"] == "1"
    canary = examples["inferenceservice-canary"]
    assert 0 < canary["spec"]["predictor"]["canaryTrafficPercent"] < 100
    assert canary["metadata"]["name"] == examples["inferenceservice-cpu"]["metadata"]["name"]  # a new revision of it
    grpc = examples["inferenceservice-grpc"]["spec"]["predictor"]["model"]
    assert (grpc["protocolVersion"], grpc["runtime"]) == ("grpc-v2", "seqserve-grpc")
    for document in examples.values():  # a runtime's ports merge with the service's: Knative routes only one
        assert "ports" not in document["spec"]["predictor"]["model"]
    autoscaled = examples["inferenceservice-autoscale"]["spec"]["predictor"]
    assert (autoscaled["minReplicas"], autoscaled["scaleMetric"], autoscaled["containerConcurrency"]) == \
        (0, "concurrency", 0)
    assert autoscaled["scaleTarget"] > 1


def test_each_runtime_routes_one_port_and_probes_only_it() -> None:
    """Knative routes one container port per revision and refuses probes on another."""
    defaults = Settings()
    for name, runtime in runtimes().items():
        container = runtime["spec"]["containers"][0]
        (port,) = container["ports"]
        expected = (("h2c", defaults.grpc_port) if runtime["spec"]["protocolVersions"] == ["grpc-v2"]
                    else ("http1", 8000))
        assert (port["name"], port["containerPort"]) == expected, name
        for probe in (container["readinessProbe"], container["livenessProbe"]):
            named = probe.get("httpGet", probe.get("tcpSocket", {})).get("port")
            assert named in (None, port["containerPort"]), name
            if "exec" in probe:
                assert probe["exec"]["command"] == ["python", "-m", "app.healthcheck"]
        env = {item["name"]: item for item in container["env"]}  # every runtime: the one shared key
        assert env["SEQSERVE_STREAM_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "seqserve-keys",
                                                                            "key": "stream-key"}, name
