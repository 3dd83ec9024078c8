"""The console in a real browser: Playwright driving Debian's chromium (its path given; nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import ADMIN_TOKEN, Gateway

# README screenshots are taken when this names a folder (`docs/screenshots`); otherwise into the test's tmp dir.
SCREENSHOTS = os.environ.get("QUANTGATE_SCREENSHOT_DIR")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = os.environ.get("QUANTGATE_CHROMIUM") or shutil.which("chromium")
    assert chromium, "chromium missing: scripts/test.sh installs Debian's chromium package"
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
        launched = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def _log_in(browser: Browser, gateway: Gateway, name: str = "alice") -> Page:
    page = await browser.new_page(base_url=gateway.url, viewport={"width": 1280, "height": 900})
    await page.goto("/console")
    await expect(page).to_have_url(f"{gateway.url}/console/login")
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Traffic")).to_be_visible()
    return page


def _shot(tmp_path: Path, name: str) -> Path:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


async def test_log_in_see_the_overview_and_roll_back_through_the_form(browser: Browser, shadowed_gateway: Gateway,
                                                                       tmp_path: Path) -> None:
    page = await _log_in(browser, shadowed_gateway)
    await expect(page.locator("details.category").first).to_be_visible()
    await expect(page.get_by_text("json").first).to_be_visible()
    await page.screenshot(path=_shot(tmp_path, "console-overview.png"), full_page=True)
    await page.get_by_label("Reason").fill("refusals up in json")
    await page.get_by_role("button", name="Roll back").click()
    # Without the confirmation the browser does not submit (the box is required): nothing changed.
    assert shadowed_gateway.runtime.store.snapshot().rollback is False
    await page.get_by_label("I confirm").check()
    await page.get_by_role("button", name="Roll back").click()
    await expect(page.get_by_role("status")).to_contain_text("Rollback recorded")
    await expect(page.locator("#rollback-state")).to_have_text("active")
    assert shadowed_gateway.runtime.store.snapshot().rollback is True
    await page.get_by_role("link", name="Audit").click()
    row = page.locator("#flag-audit tbody tr").first
    await expect(row).to_contain_text("rollback")
    await expect(row).to_contain_text("console:alice")
    await expect(row).to_contain_text("refusals up in json")


async def test_filter_comparisons_and_open_a_pair_side_by_side(browser: Browser, shadowed_gateway: Gateway,
                                                              tmp_path: Path) -> None:
    page = await _log_in(browser, shadowed_gateway, "carol")
    await page.get_by_role("link", name="Comparisons").click()
    await page.get_by_label("category").fill("json")
    await page.get_by_label("flip").select_option("refusal")
    await page.get_by_role("button", name="Filter").click()
    await expect(page).to_have_url(f"{shadowed_gateway.url}/console/comparisons?category=json&flip=refusal"
                                   "&sim_min=&sim_max=&since=")
    rows = page.locator("table.pairs tbody tr")
    await expect(rows.first).to_contain_text("refusal")
    await rows.first.get_by_role("link").click()
    await expect(page.locator("#baseline pre.text")).to_be_visible()
    await expect(page.locator("#candidate pre.text")).to_be_visible()
    assert await page.locator("mark").count() > 0
    await expect(page.locator(".div-mark").first).to_be_visible()
    await page.screenshot(path=_shot(tmp_path, "console-pair.png"), full_page=True)
    read = shadowed_gateway.runtime.store.reads(1)[0]
    assert read.actor == "console:carol"


async def test_a_post_without_the_csrf_token_is_refused_even_with_the_session_cookie(browser: Browser,
                                                                                     gateway: Gateway) -> None:
    page = await _log_in(browser, gateway)
    # The page's own request context carries the session cookie, as a cross-site form would try to.
    response = await page.request.post("/console/rollback", form={"reason": "forged", "confirm": "yes"})
    assert response.status == 403
    assert gateway.runtime.store.snapshot().rollback is False
