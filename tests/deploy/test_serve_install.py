"""The image's install step, outside Docker: `pip install '.[serve]'` into a fresh venv serves, without torch."""

from __future__ import annotations

import os
import subprocess
import time
import venv
from pathlib import Path

import httpx

from tests.conftest import MODELS, ROOT, free_port, wait_until_serving


def test_serve_extra_installs_and_serves_without_torch(tmp_path: Path) -> None:
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run([python, "-m", "pip", "install", "-q", f"{ROOT}[serve]"], capture_output=True,
                             text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    check = subprocess.run(
        [python, "-c", "import importlib.util, pathlib, app.rest.playground as p, app.tasks.digit as s;"
         "assert importlib.util.find_spec('torch') is None, 'torch installed';"
         "assert p.PAGE.exists() and len(s.DIGIT_EXAMPLE) == 28; print(pathlib.Path(p.__file__).parent)"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert check.returncode == 0, check.stderr
    assert "site-packages" in check.stdout  # the installed package, not this checkout
    port = free_port()
    grpc_port = free_port()
    env = {**os.environ, "SEQSERVE_MODEL_DIR": str(MODELS), "SEQSERVE_PORT": str(port), "SEQSERVE_DEVICE": "cpu",
           "SEQSERVE_GRPC_PORT": str(grpc_port)}
    server = subprocess.Popen([python, "-m", "app"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(server, f"http://127.0.0.1:{port}", every_worker=True, timeout_s=120)  # workers: auto
        answer = httpx.post(f"http://127.0.0.1:{port}/predict/translate", json={"texts": ["3 March 1998"]})
        assert answer.json()["translations"][0]["text"] == "1998-03-03", answer.text
        # gRPC from the same minimal install, on its own port (several workers share it)
        import tritonclient.grpc as triton_grpc

        grpc_client = triton_grpc.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        deadline = time.monotonic() + 30  # the worker behind this channel may still be loading its models
        while not grpc_client.is_server_ready() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert grpc_client.is_server_ready()
    finally:
        server.terminate()
        server.wait(timeout=30)
