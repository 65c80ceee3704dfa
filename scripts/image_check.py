"""Builds the `cpu` and `gpu` images from the Dockerfile and runs them as a user would.

    python scripts/image_check.py            # docker where a daemon answers, podman otherwise
    python scripts/image_check.py --keep-images

cpu image: runs on 127.0.0.1, measures its cold start (from `run` to ready, and the first answer), waits for
the image's own HEALTHCHECK, sends one request per task (and one over
gRPC) and checks the answers, renders /docs with the network cut off, checks that it runs as uid 10001 with a
home of its own, that no build leftover or pip cache is in it and that its OCI labels are set, and that it stops
on SIGTERM, exit status 0, within its grace period. gpu image: checks that the app finds NVIDIA's CUDA and cuDNN
libraries by itself, and that SEQSERVE_DEVICE=cuda on a host without a usable GPU refuses to serve and says so.
Prints both image sizes; removes its containers and the images it made (unless --keep-images; a base made by an
earlier run with --keep-images is reused). Exit status 0 when all
passed, 1 otherwise.

Where Docker Hub cannot be reached, the Python base is made from Debian bookworm's packages with mmdebstrap
(the same Python 3.11 the official `python:3.11-slim-bookworm` base has); `--python-image` names another."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import __version__  # noqa: E402

OFFICIAL_BASE = "docker.io/library/python:3.11-slim-bookworm"
DEBIAN_BASE = "localhost/seqserve-python:3.11-bookworm"
IMAGES = {"cpu": "localhost/seqserve:cpu-check", "gpu": "localhost/seqserve:gpu-check"}
CONTAINER = "seqserve-image-check"
GRACE_S = 30
# Settings this machine's podman needs (crun refuses its cgroup layout; the default ulimits exceed its limits).
PODMAN_CONF = """[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
"""
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
MADE: list[str] = []  # base images this run made (removed with the others unless --keep-images)


class Failed(Exception):
    pass


def step(message: str) -> None:
    print(f"== {message}", flush=True)


def run(*args: str, check: bool = True, timeout: float = 1800, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise Failed(f"{' '.join(args[:4])} ... exit {result.returncode}:\n{(result.stdout + result.stderr)[-3000:]}")
    if not quiet and result.returncode != 0:
        print((result.stdout + result.stderr)[-1000:])
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def engine() -> str:
    if shutil.which("docker") and run("docker", "info", check=False, quiet=True, timeout=30).returncode == 0:
        return "docker"
    if shutil.which("podman"):
        if "CONTAINERS_CONF" not in os.environ:
            conf = Path(tempfile.mkdtemp(prefix="seqserve-podman-")) / "containers.conf"
            conf.write_text(PODMAN_CONF)
            os.environ["CONTAINERS_CONF"] = str(conf)
        return "podman"
    raise Failed("neither a Docker daemon nor podman (apt-get install podman buildah runc ...; .ci/run does)")


def python_base(tool: str, asked: str | None) -> str:
    if asked:
        return asked
    exists = "exists" if tool == "podman" else "inspect"
    if run(tool, "image", exists, DEBIAN_BASE, check=False, quiet=True).returncode == 0:
        return DEBIAN_BASE  # made by an earlier run
    if run(tool, "pull", OFFICIAL_BASE, check=False, quiet=True, timeout=300).returncode == 0:
        return OFFICIAL_BASE
    step(f"{OFFICIAL_BASE} cannot be pulled here: making {DEBIAN_BASE} from Debian bookworm with mmdebstrap")
    with tempfile.TemporaryDirectory() as folder:
        rootfs = Path(folder) / "rootfs.tar"
        run("mmdebstrap", "--variant=minbase", "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
            "--include=python3,python3-venv,python-is-python3,ca-certificates", "bookworm", str(rootfs))
        run(tool, "import", str(rootfs), DEBIAN_BASE)
    MADE.append(DEBIAN_BASE)
    return DEBIAN_BASE


def git(*args: str) -> str:
    """What git prints about this checkout ("" where it fails: no repository, no origin)."""
    result = run("git", "-C", str(ROOT), *args, check=False, quiet=True)
    return result.stdout.strip() if result.returncode == 0 else ""


def logs(tool: str) -> str:
    result = run(tool, "logs", CONTAINER, check=False)
    return result.stdout + result.stderr


def build(tool: str, target: str, base: str) -> float:
    revision = git("rev-parse", "HEAD") or "unknown"
    source = git("remote", "get-url", "origin")
    args = [tool, "build", "--target", target, "-t", IMAGES[target], "--build-arg", f"PYTHON_IMAGE={base}",
            "--build-arg", f"REVISION={revision}", "--build-arg", f"VERSION={__version__}",
            "--build-arg", f"SOURCE={source}"]
    if tool == "podman":
        args += ["--format", "docker"]  # keeps the HEALTHCHECK, which the OCI format drops
        if CA_BUNDLE.exists():  # the host's CA bundle for the build's RUN steps only (HTTPS through a proxy)
            args += ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    started = time.monotonic()
    run(*args, str(ROOT))
    return time.monotonic() - started


def images(tool: str, *filters: str) -> list[str]:
    return run(tool, "images", "--quiet", "--no-trunc", *filters, check=False, quiet=True).stdout.split()


def size_mb(tool: str, image: str) -> float:
    return int(run(tool, "image", "inspect", "--format", "{{.Size}}", image).stdout.strip()) / 1e6


@contextlib.contextmanager
def container(tool: str, image: str, *args: str) -> Iterator[tuple[str, int, int]]:
    http, grpc = free_port(), free_port()
    run(tool, "rm", "-f", CONTAINER, check=False, quiet=True)
    run(tool, "run", "-d", "--name", CONTAINER, "-p", f"127.0.0.1:{http}:8000", "-p", f"127.0.0.1:{grpc}:8001",
        *args, image)
    try:
        yield f"http://127.0.0.1:{http}", http, grpc
    finally:
        run(tool, "rm", "-f", CONTAINER, check=False, quiet=True)


def wait_healthy(tool: str, seconds: float = 180) -> float:
    """The image's own HEALTHCHECK (podman has no systemd timer here: run it ourselves, as docker would)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if tool == "podman":
            healthy = run(tool, "healthcheck", "run", CONTAINER, check=False, quiet=True).returncode == 0
        else:
            status = run(tool, "inspect", "--format", "{{.State.Health.Status}}", CONTAINER, check=False, quiet=True)
            healthy = status.stdout.strip() == "healthy"
        if healthy:
            return time.monotonic() - started
        if run(tool, "inspect", "--format", "{{.State.Running}}", CONTAINER).stdout.strip() != "true":
            raise Failed("the container exited:\n" + logs(tool)[-3000:])
        time.sleep(1)
    raise Failed(f"not healthy within {seconds:.0f} s:\n" + logs(tool)[-3000:])


def cold_start(url: str, started: float, seconds: float = 180) -> tuple[float, float]:
    """Seconds from `run` to the first ready answer (polled every 50 ms), and the first prediction's seconds:
    what a scale-from-zero costs a request past scheduling and the image pull (docs/deploy.md)."""
    while time.monotonic() - started < seconds:
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    else:
        raise Failed(f"not ready within {seconds:.0f} s")
    ready = time.monotonic() - started
    begun = time.monotonic()
    answer = httpx.post(f"{url}/predict/translate", json={"texts": ["4 July 1976"]}, timeout=30)
    expect(answer.status_code == 200, "the first request after start answered")
    return ready, time.monotonic() - begun


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)
    print(f"   ok: {message}")


def check_answers(url: str, grpc_port: int) -> None:
    digit = json.loads((ROOT / "app" / "tasks" / "examples" / "digit.json").read_text())
    with httpx.Client(base_url=url, timeout=30) as client:
        answer = client.post("/predict/digit", json={"images": [digit]}).json()["predictions"][0]
        expect(answer["digit"] == 7 and answer["confidence"] > 0.5, f"digit: the example 7 read as {answer['digit']}")
        series = [math.sin(2 * math.pi * t / 25) for t in range(100)]
        forecast = client.post("/predict/sine", json={"series": [series], "horizon": 8}).json()["forecasts"][0]
        error = max(abs(f - math.sin(2 * math.pi * (100 + i) / 25)) for i, f in enumerate(forecast))
        expect(len(forecast) == 8 and error < 0.25, f"sine: 8 values forecast, largest error {error:.3f}")
        text = client.post("/predict/translate", json={"texts": ["3 March 1998"]}).json()["translations"][0]["text"]
        expect(text == "1998-03-03", f"translate: '3 March 1998' -> {text!r}")
        bad = client.post("/predict/sine", json={"series": [[1.0]], "horizon": 8})
        expect(bad.status_code == 422 and client.get("/health/ready").status_code == 200,
               "a bad request gets 422 and the service stays ready")
        providers = {m["provider"] for m in client.get("/models").json()["models"]}
        expect(providers == {"CPUExecutionProvider"}, f"/models: every model on {providers}")
    import tritonclient.grpc as triton_grpc

    expect(triton_grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}").is_server_ready(), "gRPC: server ready")


def check_docs_offline(url: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("   skipped: /docs offline (no chromium here)")
        return
    result = run(sys.executable, str(ROOT / "scripts" / "check_docs_offline.py"), url, check=False)
    expect(result.returncode == 0, f"/docs offline: {result.stdout.strip().splitlines()[-1]}")


def check_user_and_hygiene(tool: str, image: str) -> None:
    user = run(tool, "exec", CONTAINER, "sh", "-c", 'id -u; echo "$HOME"; test -w "$HOME" && echo writable').stdout
    expect(user.split() == ["10001", "/home/seqserve", "writable"],
           f"runs as uid 10001 with a writable home: {user.split()}")
    leftovers = run(tool, "run", "--rm", "--user", "root", "--entrypoint", "sh", image, "-c",
                    "ls -d /tmp/requirements.txt /root/.cache /srv/pyproject.toml /srv/build /srv/*.egg-info "
                    "/opt/venv/lib/python3.11/site-packages/*.egg-link 2>/dev/null; true").stdout.split()
    expect(leftovers == [], f"no requirements file, pip cache or build leftovers in the image {leftovers}")
    labels = json.loads(run(tool, "image", "inspect", "--format", "{{json .Config.Labels}}", image).stdout)
    found = {k: labels.get(f"org.opencontainers.image.{k}") for k in ("source", "version", "revision")}
    expect(bool(found["version"]) and found["revision"] not in (None, "", "unknown")
           and (bool(found["source"]) or not git("remote", "get-url", "origin")), f"OCI labels {found}")


def check_stops_on_sigterm(tool: str) -> None:
    started = time.monotonic()
    run(tool, "stop", "--time", str(GRACE_S), CONTAINER)  # SIGTERM, then SIGKILL after the grace period
    took = time.monotonic() - started
    status = run(tool, "inspect", "--format", "{{.State.ExitCode}}", CONTAINER).stdout.strip()
    said = logs(tool)
    expect(status == "0" and took < GRACE_S - 1,
           f"stopped on SIGTERM in {took:.1f} s (grace {GRACE_S} s), exit {status}")
    expect("Application shutdown complete" in said, "uvicorn shut down cleanly (lifespan ran)")


def check_gpu_image(tool: str, image: str) -> None:
    probe = ("from app.runtime.onnx import load_cuda_libraries as load; said = load(); "
             "maps = open('/proc/self/maps').read(); "
             "print(said or 'loaded', *[n for n in ('libcudart.so.13', 'libcublasLt.so.13', 'libcudnn.so.9', "
             "'libcufft.so.12', 'libcurand.so.10') if n in maps], sep='|')")
    loaded = run(tool, "run", "--rm", "--entrypoint", "python", image, "-c", probe).stdout.strip().split("|")
    expect(loaded[0] == "loaded" and len(loaded) == 6,
           f"gpu image: the app loads NVIDIA's CUDA and cuDNN libraries itself: {loaded}")
    if run("sh", "-c", "command -v nvidia-smi && nvidia-smi -L", check=False, quiet=True).returncode == 0:
        print("   skipped: refusal without a GPU (this host has one)")
        return
    with container(tool, image) as (url, _, _):
        deadline = time.monotonic() + 120
        states: list[dict[str, str]] = []
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError, KeyError, ValueError):
                states = httpx.get(f"{url}/models", timeout=5).json()["models"]
                if states and all(m.get("state") == "failed" for m in states):
                    break
            time.sleep(1)
        errors = [m.get("reason") or "" for m in states]
        expect(bool(states) and all("refused to load: SEQSERVE_DEVICE=cuda" in e for e in errors),
               f"gpu image without a GPU: every model refused, e.g. {errors[0] if errors else None!r}")
        expect(httpx.get(f"{url}/health/ready", timeout=5).status_code == 503, "gpu image without a GPU: not ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python-image", default=os.environ.get("PYTHON_IMAGE"))
    parser.add_argument("--keep-images", action="store_true")
    parser.add_argument("--skip-gpu", action="store_true", help="build and check the cpu image only")
    args = parser.parse_args()
    tool = engine()
    targets = ["cpu"] if args.skip_gpu else ["cpu", "gpu"]
    dangling = set(images(tool, "--filter", "dangling=true"))
    try:
        base = python_base(tool, args.python_image)
        step(f"{tool}, base {base}")
        for target in targets:
            took = build(tool, target, base)
            step(f"built {target} in {took:.0f} s: {size_mb(tool, IMAGES[target]):.0f} MB")
        step("cpu image")
        started = time.monotonic()
        with container(tool, IMAGES["cpu"]) as (url, _, grpc):
            ready_s, first_s = cold_start(url, started)
            print(f"cold start: ready {ready_s:.2f} s after `{tool} run`, first answer {1000 * first_s:.0f} ms")
            expect(True, f"healthy after {wait_healthy(tool):.0f} s (its HEALTHCHECK)")
            check_answers(url, grpc)
            check_docs_offline(url)
            check_user_and_hygiene(tool, IMAGES["cpu"])
            check_stops_on_sigterm(tool)
        if "gpu" in targets:
            step("gpu image")
            check_gpu_image(tool, IMAGES["gpu"])
        for target in targets:
            print(f"image size {target}: {size_mb(tool, IMAGES[target]):.0f} MB")
    except Failed as failure:
        print(f"FAILED: {failure}")
        return 1
    finally:
        run(tool, "rm", "-f", CONTAINER, check=False, quiet=True)
        if not args.keep_images:
            run(tool, "rmi", "-f", *IMAGES.values(), *MADE, check=False, quiet=True)
        # the untagged images of this run's intermediate stages, and no one else's
        if ours := sorted(set(images(tool, "--filter", "dangling=true")) - dangling):
            run(tool, "rmi", "-f", *ours, check=False, quiet=True)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
