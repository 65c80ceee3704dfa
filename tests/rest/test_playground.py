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
def page(server: str) -> Iterator[object]:
    if CHROMIUM is None:
        message = "chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page()
        page.goto(server + "/")
        page.wait_for_function("document.body.dataset.ready === 'true'")
        yield page
        browser.close()


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
    outputs = run_translate(page, "03/04/98\ntomorrow")
    assert outputs[0] == "1998-03-04"
    assert outputs[1].startswith("no answer: ") and "no date" in outputs[1]
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
