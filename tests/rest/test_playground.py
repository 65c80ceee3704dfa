"""The playground page driven in headless Chromium (Debian's browser, through playwright's Python API)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")

from scripts.check_docs_offline import CHROMIUM_FLAGS  # noqa: E402  (one set of flags for this machine's Chromium)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        message = "chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, server: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(server + "/")
    page.wait_for_function("document.body.dataset.ready === 'true'")
    yield page
    page.close()


def test_draw_a_one_and_classify(page) -> None:  # type: ignore[no-untyped-def]
    box = page.locator("#pad").bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 40)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x, box["y"] + 40 + step * 10)
    page.mouse.up()
    page.click("#classify")
    page.wait_for_function("document.getElementById('digit-result').textContent.length > 0")
    assert page.text_content("#digit-result").startswith("1")
    assert page.locator("#digit-bars > div").count() == 10


def run_translate(page, texts: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Fill the translate form, run it, and read the output column."""
    page.fill("#texts", texts)
    page.click("#run-translate")
    page.wait_for_selector("#translations tr")
    outputs: list[str] = page.locator("#translations td.output").all_text_contents()
    return outputs


def test_translate_dates_with_beams(page) -> None:  # type: ignore[no-untyped-def]
    page.fill("#beam", "3")
    assert run_translate(page, "3 March 1998\n1er mai 2001") == ["1998-03-03", "2001-05-01"]


def test_translate_shows_date_order_confidence_and_abstention(page) -> None:  # type: ignore[no-untyped-def]
    page.select_option("#date-order", "MDY")
    outputs = run_translate(page, "03/04/98\ntomorrow\nMarch 2020\n31/04/2020")
    assert outputs[0] == "1998-03-04"
    assert outputs[1].startswith("no answer: ") and "no date" in outputs[1]
    assert outputs[2] == "2020-03 (month only)"
    assert outputs[3].startswith("no answer: ") and outputs[3].endswith("no 31 April")
    confidences = page.locator("#translations td.confidence").all_text_contents()
    assert all(c.endswith("%") and 0 <= float(c[:-1]) <= 100 for c in confidences)
    page.select_option("#translator", "words")
    assert page.is_disabled("#date-order")
    page.select_option("#translator", "dates")  # the page is shared by this module's tests
    assert not page.is_disabled("#date-order")


def test_sine_forecast_is_plotted(page) -> None:  # type: ignore[no-untyped-def]
    page.fill("#horizon", "24")
    page.click("#generate")
    page.click("#forecast")
    page.wait_for_function("document.getElementById('plot').dataset.points === '24'")
    assert page.text_content("#sine-error") == ""


def test_limits_and_translators_come_from_the_service(page) -> None:  # type: ignore[no-untyped-def]
    assert page.get_attribute("#horizon", "max") == "64"  # the sine manifest's max_horizon, through OpenAPI
    assert page.get_attribute("#beam", "max") == "8"
    assert page.locator("#translator option").all_text_contents() == ["dates", "words"]
    assert page.input_value("#translator") == "dates"


def test_the_live_panel_streams_over_the_websocket(page) -> None:  # type: ignore[no-untyped-def]
    page.click("#live-start")
    page.wait_for_function("Number(document.getElementById('live').dataset.steps || 0) >= 10")
    page.click("#live-stop")
    assert page.get_attribute("#live", "data-transport") == "websocket"
    assert page.text_content("#live-error") == ""
    assert "stopped after" in page.text_content("#live-stats")


def test_with_a_key_the_live_panel_streams_over_the_token_route(page) -> None:  # type: ignore[no-untyped-def]
    page.fill("#apikey", "any")  # a browser cannot send it on a WebSocket; this server needs none
    try:
        page.click("#live-start")
        page.wait_for_function("document.getElementById('live').dataset.transport === 'http' && "
                               "Number(document.getElementById('live').dataset.steps) >= 5")
        stats = page.text_content("#live-stats")
        page.click("#live-stop")
        assert "steps/s" in stats and "token" in stats and "bytes" in stats, stats
        assert page.text_content("#live-error") == ""
    finally:
        page.fill("#apikey", "")


@pytest.mark.parametrize("width", [360, 1280, 1920])
def test_nothing_runs_past_the_page_and_nothing_fails_to_load(browser, server: str,  # type: ignore[no-untyped-def]
                                                              width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: problems.append(f"{response.status} {response.url}")
            if response.status >= 400 else None)
    try:
        page.goto(server + "/")
        page.wait_for_function("document.body.dataset.ready === 'true'")
        page.click("#forecast")
        page.wait_for_function("document.getElementById('plot').dataset.points")
        page.click("#live-start")
        page.wait_for_function("Number(document.getElementById('live').dataset.steps || 0) >= 3")
        page.click("#live-stop")
        wide = page.evaluate("document.documentElement.scrollWidth")
        sticking_out = page.evaluate("""[...document.querySelectorAll('section')].flatMap((card) => {
            const edge = card.getBoundingClientRect().right;
            return [...card.querySelectorAll('canvas, table, textarea')]
              .filter((e) => e.getBoundingClientRect().right > edge + 0.5).map((e) => e.id || e.tagName); })""")
    finally:
        page.close()
    assert wide <= width, f"the page is {wide} px wide in a {width} px window"
    assert sticking_out == []
    assert problems == []
