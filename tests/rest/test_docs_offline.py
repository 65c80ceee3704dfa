"""/docs and /redoc render in headless Chromium with the network cut off: their assets come from the service."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def check_offline(url: str, seconds: float = 20) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        message = "chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run([sys.executable, "scripts/check_docs_offline.py", url, "--seconds", str(seconds)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_docs_pages_load_only_local_assets(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text)
        assert assets and all(a.startswith("/docs/assets/") for a in assets), assets
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
    assert client.get("/docs/assets/nothing.js").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_docs_render_offline_in_chromium(server: str) -> None:
    result = check_offline(server)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "OK: /docs and /redoc render offline"


def test_the_check_fails_for_docs_from_a_cdn() -> None:
    """FastAPI's default pages ask a CDN for Swagger UI: the check must say so."""
    port = free_port()
    app = textwrap.dedent(f"""
        import fastapi, uvicorn
        app = fastapi.FastAPI(title="seqserve")
        uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
    """)
    server = subprocess.Popen([sys.executable, "-c", app], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        result = check_offline(f"http://127.0.0.1:{port}", seconds=2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result.returncode == 1
    assert "asked the network for https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" in result.stdout
    assert "/docs: Swagger UI did not render the API" in result.stdout
