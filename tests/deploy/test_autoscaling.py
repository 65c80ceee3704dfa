"""deploy/kubernetes/autoscaling: the HPA (through prometheus-adapter) and the KEDA ScaledObject validate, and
scale the shipped Deployment on a metric the server really exports, under the name it exports it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import ROOT, parse_metrics
from tests.deploy import schemas

FOLDER = ROOT / "deploy" / "kubernetes" / "autoscaling"
METRIC = "seqserve_requests_in_flight"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("path", sorted(FOLDER.glob("*.yaml")), ids=lambda p: p.name)
def test_autoscaling_manifests_validate(path: Path) -> None:
    for document in documents(path):
        schemas.validate(document)


def test_the_keda_validation_refuses_an_unknown_field() -> None:
    scaled = documents(FOLDER / "keda.yaml")[0]
    scaled["spec"]["minReplicas"] = 2  # KEDA's field is minReplicaCount
    with pytest.raises(schemas.Invalid, match="minReplicas"):
        schemas.validate(scaled)


def deployment_names() -> set[str]:
    return {d["metadata"]["name"] for path in (ROOT / "deploy" / "kubernetes").glob("*.yaml")
            for d in documents(path) if d["kind"] == "Deployment"}


def test_both_scale_the_shipped_deployment_on_requests_in_flight(client: TestClient) -> None:
    # the metric as a scrape shows it, with a request answered and the scrape itself in flight
    assert client.post("/predict/digit", json={"images": [DIGIT_EXAMPLE]}).status_code == 200
    exported = parse_metrics(client.get("/metrics").text)
    assert exported[(METRIC, ())] == 1

    adapter, hpa = documents(FOLDER / "prometheus-adapter.yaml")
    rule = yaml.safe_load(adapter["data"]["config.yaml"])["rules"][0]
    assert re.match(rf"{METRIC}\{{", rule["seriesQuery"])
    assert rule["resources"]["overrides"]["pod"] == {"resource": "pod"}
    assert (rule["name"]["matches"], rule["name"]["as"]) == (METRIC, METRIC)
    assert hpa["spec"]["scaleTargetRef"]["name"] in deployment_names()
    assert hpa["metadata"]["name"] == "seqserve"  # replaces the CPU autoscaler of seqserve.yaml
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods" and metric["pods"]["metric"]["name"] == METRIC
    target = float(metric["pods"]["target"]["averageValue"])

    (scaled,) = documents(FOLDER / "keda.yaml")
    assert scaled["spec"]["scaleTargetRef"]["name"] in deployment_names()
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert re.search(rf"\b{METRIC}\{{", trigger["metadata"]["query"])
    assert float(trigger["metadata"]["threshold"]) == target  # one target, whichever autoscaler


def test_a_pod_has_time_to_drain_before_it_is_killed() -> None:
    for path in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")):
        for document in documents(path):
            if document["kind"] != "Deployment":
                continue
            pod = document["spec"]["template"]["spec"]
            env = {item["name"]: item.get("value") for item in pod["containers"][0]["env"]}
            drain = float(env["SEQSERVE_DRAIN_S"])
            timeout = float(env.get("SEQSERVE_REQUEST_TIMEOUT_S") or 10.0)
            assert drain > 0
            assert pod["terminationGracePeriodSeconds"] >= drain + timeout + 5, path.name
            annotations = document["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/port"] == "8000"
