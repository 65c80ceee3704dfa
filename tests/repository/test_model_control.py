"""New model versions while serving, over real HTTP under continuous load: poll and explicit model
control, one and two worker processes, zero failed requests."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import onnx
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from app.tasks.digit import DIGIT_EXAMPLE
from tests.conftest import MODELS, metric, spawn_server

POLL_S = 1.0
BODY = {"images": [DIGIT_EXAMPLE]}


class Load:
    """`clients` threads posting to /predict/digit without a version, each answer recorded."""

    def __init__(self, url: str, clients: int = 8) -> None:
        self.url = url
        self.answers: list[tuple[float, int, int | None]] = []  # (time, status, version)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    response = client.post("/predict/digit", json=BODY)
                    version = response.json().get("version") if response.status_code == 200 else None
                    self.answers.append((time.monotonic(), response.status_code, version))
                except httpx.HTTPError:
                    self.answers.append((time.monotonic(), 0, None))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def failures(self) -> list[tuple[float, int, int | None]]:
        return [answer for answer in self.answers if answer[1] != 200]

    def first_answer_from(self, version: int, after: float, timeout_s: float = 30.0) -> float:
        """Seconds from `after` until the first answer naming `version` (waits for it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for at, _, answered in list(self.answers):
                if at >= after and answered == version:
                    return at - after
            time.sleep(0.05)
        raise AssertionError(f"no answer from version {version} within {timeout_s} s")

    def only_from(self, version: int, since: float) -> bool:
        later = [answered for at, status, answered in list(self.answers) if at >= since and status == 200]
        return bool(later) and all(answered == version for answered in later)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in ("digit", "sine"):
        shutil.copytree(MODELS / name / "1", tmp_path / name / "1")
    return tmp_path


@pytest.fixture
def serve(repo: Path) -> Iterator[object]:
    processes = []

    def start(workers: int, control: str, **env: str) -> str:
        process, url = spawn_server("--workers", str(workers), SEQSERVE_MODEL_DIR=str(repo),
                                    SEQSERVE_MODEL_CONTROL=control, SEQSERVE_POLL_INTERVAL_S=str(POLL_S), **env)
        processes.append(process)
        settled = 0  # each request on a new connection, so every worker is asked: all of them are ready
        deadline = time.monotonic() + 60
        while settled < 20:
            settled = settled + 1 if httpx.get(f"{url}/health/ready").status_code == 200 else 0
            assert time.monotonic() < deadline, "workers not ready"
        return url

    yield start
    for process in processes:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def add_version(repo: Path, name: str, version: int) -> Path:
    """Copy version 1 to a new version folder that appears whole (written aside, then renamed)."""
    scratch = repo / name / f".{version}.partial"
    shutil.copytree(repo / name / "1", scratch)
    manifest = json.loads((scratch / "manifest.json").read_text())
    manifest["version"] = version
    (scratch / "manifest.json").write_text(json.dumps(manifest))
    return scratch.rename(repo / name / str(version))


def rewrite_model_in_place(folder: Path, pause_s: float) -> None:
    """Replace model.onnx with a different file (same graph, new doc string), then, after `pause_s`,
    the manifest with its new sha256: between the two the folder is torn and must not be served."""
    model = onnx.load(str(folder / "model.onnx"))
    model.doc_string = f"rebuilt {time.time()}"
    data = model.SerializeToString()
    (folder / "model.onnx").write_bytes(data)
    time.sleep(pause_s)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["artifacts"]["model"]["onnx"]["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def wait_until(condition: object, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


@pytest.mark.parametrize("workers", [1, 2])
def test_poll_rolls_versions_with_zero_failed_requests(repo: Path, serve, workers: int) -> None:  # type: ignore[no-untyped-def]
    url = serve(workers, "poll")
    with Load(url) as load:
        wait_until(lambda: len(load.answers) >= 20)
        assert all(v == 1 for _, _, v in load.answers)

        added = time.monotonic()
        add_version(repo, "digit", 2)
        assert load.first_answer_from(2, added) <= 2 * POLL_S
        wait_until(lambda: load.only_from(2, time.monotonic() - POLL_S / 2), 3 * POLL_S)  # every worker took it

        shutil.rmtree(repo / "digit" / "1")
        wait_until(lambda: all(httpx.post(f"{url}/predict/digit?version=1", json=BODY).status_code == 404
                               for _ in range(6)), 3 * POLL_S)

        rewrite_model_in_place(repo / "digit" / "2", pause_s=2 * POLL_S)
        # Every worker loads digit/2 twice (the torn folder in between fails, and does not serve).
        wait_until(lambda: metric(url, "seqserve_model_loads_total", model="digit", version="2",
                                  result="ok") == 2 * workers, 4 * POLL_S)
    assert load.failures() == []
    assert len(load.answers) > 100
    assert metric(url, "seqserve_model_unloads_total", model="digit", version="1") == workers
    models = {(m["name"], m["version"]): m for m in httpx.get(f"{url}/models").json()["models"]}
    assert set(models) == {("digit", 2), ("sine", 1)}
    assert models["digit", 2]["state"] == "ready" and models["digit", 2]["reason"] == ""
    assert httpx.get(f"{url}/health/ready").status_code == 200


def test_a_broken_new_version_leaves_the_serving_one_in_place(repo: Path, serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(1, "poll")
    scratch = repo / "digit" / ".2.partial"
    shutil.copytree(repo / "digit" / "1", scratch)
    manifest = json.loads((scratch / "manifest.json").read_text())
    manifest["version"] = 2
    manifest["artifacts"]["model"]["onnx"]["sha256"] = "0" * 64
    (scratch / "manifest.json").write_text(json.dumps(manifest))
    with Load(url) as load:
        scratch.rename(repo / "digit" / "2")
        wait_until(lambda: metric(url, "seqserve_model_loads_total", model="digit", version="2", result="failed") >= 1)
        time.sleep(2 * POLL_S)  # an absence: two polls pass, and the same files are not tried again
    assert load.failures() == [] and {v for _, _, v in load.answers} == {1}
    assert metric(url, "seqserve_model_loads_total", model="digit", version="2", result="failed") == 1
    models = {(m["name"], m["version"]): m for m in httpx.get(f"{url}/models").json()["models"]}
    assert models["digit", 2]["state"] == "failed" and "sha256" in models["digit", 2]["reason"]
    assert httpx.get(f"{url}/health/ready").status_code == 200  # digit still serves: the pod stays in rotation

    # A changed file that fails keeps the loaded one serving, and says so.
    onnx_file = repo / "digit" / "1" / "model.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes() + b"tampered")
    wait_until(lambda: metric(url, "seqserve_model_loads_total", model="digit", version="1", result="failed") >= 1)
    assert httpx.post(f"{url}/predict/digit", json=BODY).json()["version"] == 1
    models = {(m["name"], m["version"]): m for m in httpx.get(f"{url}/models").json()["models"]}
    assert models["digit", 1]["state"] == "ready" and "still serving" in models["digit", 1]["reason"]


@pytest.mark.parametrize("workers", [1, 2])
def test_explicit_load_and_unload_through_tritonclient(repo: Path, serve, workers: int) -> None:  # type: ignore[no-untyped-def]
    url = serve(workers, "explicit")
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    index = {(row["name"], row["version"]): row["state"] for row in client.get_model_repository_index()}
    assert index == {("digit", "1"): "READY", ("sine", "1"): "READY"}

    with Load(url) as load:
        wait_until(lambda: len(load.answers) >= 20)
        add_version(repo, "digit", 2)
        time.sleep(2 * POLL_S)  # an absence: two polls pass, and explicit mode does not look by itself
        assert load.only_from(1, time.monotonic() - POLL_S)

        client.load_model("digit")  # answers once version 2 serves in the worker that took it
        loaded = time.monotonic()
        assert load.first_answer_from(2, loaded) < POLL_S
        # the other worker applies the decision within an interval
        wait_until(lambda: load.only_from(2, time.monotonic() - POLL_S / 2), 3 * POLL_S)
        index = {(row["name"], row["version"]): row["state"] for row in client.get_model_repository_index()}
        assert index[("digit", "2")] == "READY"

        shutil.rmtree(repo / "digit" / "1")
        client.load_model("digit")
        wait_until(lambda: all(httpx.post(f"{url}/predict/digit?version=1", json=BODY).status_code == 404
                               for _ in range(6)), 3 * POLL_S)
        assert load.only_from(2, time.monotonic() - POLL_S / 2)
    assert load.failures() == []

    client.unload_model("sine")
    sine = {"series": [[0.1] * 40]}
    # whichever worker answers
    wait_until(lambda: all(httpx.post(f"{url}/predict/sine", json=sine).status_code == 404 for _ in range(6)),
               3 * POLL_S)
    for _ in range(6):
        assert not client.is_model_ready("sine")
    index = {(row["name"], row["version"]): row["state"] for row in client.get_model_repository_index()}
    assert index == {("digit", "2"): "READY", ("sine", "1"): "UNAVAILABLE"}
    assert [row["name"] for row in client.get_model_repository_index(query_params=None)] == ["digit", "sine"]

    client.load_model("sine")
    wait_until(lambda: all(httpx.post(f"{url}/predict/sine", json=sine).status_code == 200 for _ in range(6)),
               3 * POLL_S)


def test_explicit_requests_are_checked(repo: Path, serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(1, "explicit", SEQSERVE_API_KEY="secret")
    auth = {"Authorization": "Bearer secret"}
    assert httpx.post(f"{url}/v2/repository/models/digit/load").status_code == 401
    assert httpx.post(f"{url}/v2/repository/index").status_code == 401
    missing = httpx.post(f"{url}/v2/repository/models/nothere/load", headers=auth)
    assert missing.status_code == 404 and "not in the repository" in missing.json()["error"]
    assert httpx.post(f"{url}/v2/repository/models/..%2Fdigit/load", headers=auth).status_code in (400, 404)
    dots = httpx.post(f"{url}/v2/repository/models/../unload", headers=auth)
    assert dots.status_code in (400, 404)
    hidden = httpx.post(f"{url}/v2/repository/models/.digit/load", headers=auth)
    assert hidden.status_code == 404 and "not a model name" in hidden.json()["error"]
    files = httpx.post(f"{url}/v2/repository/models/digit/load", headers=auth,
                       json={"parameters": {"file:1/model.onnx": "AAAA"}})
    assert files.status_code == 400 and "not supported" in files.json()["error"]
    assert httpx.post(f"{url}/v2/repository/index", headers=auth, content=b"[1]").status_code == 400
    ready = httpx.post(f"{url}/v2/repository/index", headers=auth, json={"ready": True}).json()
    assert {row["name"] for row in ready} == {"digit", "sine"}
    assert httpx.get(f"{url}/health/ready").status_code == 200


def test_load_and_unload_need_explicit_mode(serve) -> None:  # type: ignore[no-untyped-def]
    url = serve(1, "poll")
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    with pytest.raises(InferenceServerException, match="SEQSERVE_MODEL_CONTROL=explicit"):
        client.load_model("digit")
    with pytest.raises(InferenceServerException, match="SEQSERVE_MODEL_CONTROL=explicit"):
        client.unload_model("digit")
    assert len(client.get_model_repository_index()) == 2  # the index answers in every mode
