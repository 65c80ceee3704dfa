"""Renders /docs (Swagger UI) and /redoc of a running service in headless Chromium with every request that leaves
the service's own address refused, as on a host without internet access.

    python scripts/check_docs_offline.py http://127.0.0.1:8000

Exit status 0 when both pages render the API from the service's files alone; 1 with what went wrong (a request
that left for another host, a page that stayed blank). Needs playwright's Python package and a Chromium
(Debian's `chromium`); the tests and scripts/image_check.py run it."""

from __future__ import annotations

import argparse
import shutil
import sys
from urllib.parse import urlsplit

from playwright.sync_api import Error, Route, sync_playwright

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECONDS = 20
# ReDoc's "powered by" badge: an image it hides when it fails to load (its onError), so the page is whole offline.
TOLERATED = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}


def check(base_url: str, chromium: str, seconds: float = SECONDS) -> list[str]:
    origin = urlsplit(base_url).netloc
    problems: list[str] = []
    left: list[str] = []

    def offline(route: Route) -> None:
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            left.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.route("**/*", offline)
            page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
            page.goto(f"{base_url}/docs")
            try:  # Swagger UI drew the API's title and its operations from /openapi.json
                page.wait_for_selector(".swagger-ui .info .title", timeout=seconds * 1000)
                page.wait_for_selector(".opblock-summary-path[data-path='/predict/digit']", timeout=seconds * 1000)
                title = page.text_content(".swagger-ui .info .title") or ""
                if "seqserve" not in title:
                    problems.append(f"/docs: title {title!r}")
            except Error:
                problems.append("/docs: Swagger UI did not render the API")
            page.goto(f"{base_url}/redoc")
            try:  # ReDoc drew the title and an operation
                page.wait_for_function("document.querySelector('h1') && document.body.innerText.includes("
                                       "'/predict/digit')", timeout=seconds * 1000)
            except Error:
                problems.append("/redoc: ReDoc did not render the API")
        finally:
            browser.close()
    problems += [f"asked the network for {url}" for url in dict.fromkeys(left) if url not in TOLERATED]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    parser.add_argument("--seconds", type=float, default=SECONDS, help="how long a page may take to render")
    args = parser.parse_args()
    if not args.chromium:
        print("no Chromium found (apt-get install chromium)")
        return 2
    problems = check(args.base_url.rstrip("/"), args.chromium, args.seconds)
    for problem in problems:
        print(problem)
    print("FAILED" if problems else "OK: /docs and /redoc render offline")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
