"""End to end in headless Chromium: a tutor's day with the service's pages.

The tutor logs in with a token, opens a person, marks a step done, sees the mark
in the printable ИОМ, and is refused a person of another municipality. Debian's
``chromium`` is driven by Playwright through ``executable_path`` (Playwright's
own browser download is never used). Locally the test skips without a browser;
under ``DEFICIT_ENGINE_REQUIRE_BROWSER=1`` (what .ci/run sets) it fails instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from service_helpers import OTHER, OWN, LiveServer, bearer, person

pytestmark = pytest.mark.slow


def _chromium() -> str:
    found = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
    )
    if found is None:
        if os.environ.get("DEFICIT_ENGINE_REQUIRE_BROWSER"):
            pytest.fail("no chromium binary on PATH, and DEFICIT_ENGINE_REQUIRE_BROWSER is set")
        pytest.skip("no chromium binary on PATH (CI installs Debian's chromium)")
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("browser")).start()
    admin = bearer(live.tokens["admin"])
    for pid, municipality in (("P-own", OWN), ("P-other", OTHER)):
        created = httpx.post(
            f"{live.url}/v1/persons", json=person(pid, municipality), headers=admin
        )
        assert created.status_code == 201, created.text
    yield live
    live.stop()


@pytest.fixture
def page(server: LiveServer) -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser.new_page(base_url=server.url)
        finally:
            browser.close()


def test_a_tutor_marks_a_step_and_sees_it_printed_but_not_another_municipality(
    server: LiveServer, page: Any
) -> None:
    page.goto("/")
    assert page.url.endswith("/login")
    page.fill("#token", server.tokens["tutor"])
    page.click("button[type=submit]")
    assert page.url.endswith("/persons")
    assert page.locator("table").inner_text().count("P-") == 1  # the tutor's one person

    page.click("text=P-own")
    row = page.locator("tr[id^=step-]").first
    step_title = row.locator("td").first.inner_text()
    row.locator("select[name=status]").select_option("done")
    row.locator("input[name=date]").fill("2026-11-20")
    row.locator("input[name=evidence]").fill("удостоверение № 2741")
    row.locator("button[type=submit]").click()
    marked = page.locator("tr[id^=step-]").first.locator("td").nth(3)
    assert "выполнен" in marked.inner_text() and "удостоверение № 2741" in marked.inner_text()

    page.click("#print")
    printed = page.locator("body").inner_text()
    assert "удостоверение № 2741" in printed and step_title in printed

    refused = page.goto("/persons/P-other")
    assert refused is not None and refused.status == 403
    assert "не входит в ваш муниципалитет" in page.locator("body").inner_text()
