"""The demo and the admin page in a real browser (Playwright driving Debian's Chromium).

`bridgebot demo` is started in-process with every lab (Synapse, Dovecot and the lab
servers); the browser types into the Slack column and reads the other columns, as a
newcomer would. Screenshots are saved under test-artifacts/.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from bridgebot.demo import Demo, demo_running

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium tries to reach Google on a machine
# with no internet; --no-sandbox because the tests run as root.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def demo() -> AsyncIterator[Demo]:
    async with demo_running() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        await b.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1900, "height": 800})
    p = await context.new_page()
    yield p
    await context.close()


async def say(page: Page, network: str, text: str) -> None:
    column = page.locator(f"#col-{network}")
    await column.locator("input").fill(text)
    await column.locator("button").click()


async def test_a_slack_message_appears_labelled_in_every_other_column(
    demo: Demo, page: Page
) -> None:
    await page.goto(demo.page_url)
    await expect(page.locator("#col-slack")).to_be_visible(timeout=10_000)
    await say(page, "slack", "Budget meeting moved to 3pm")
    for network in ("matrix", "discord", "telegram", "api", "email"):
        column = page.locator(f"#col-{network} ol")
        await expect(column).to_contain_text("Budget meeting moved to 3pm", timeout=30_000)
        await expect(column).to_contain_text("Alice · slack", timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "demo-relayed.png"), full_page=True)


async def test_a_closed_room_message_stays_out_of_public_rooms_and_the_page_says_why(
    demo: Demo, page: Page
) -> None:
    await page.goto(demo.page_url)
    await expect(page.locator("#col-matrix")).to_be_visible(timeout=10_000)
    await say(page, "matrix", "Confidential: case 4471 notes")
    await expect(page.locator("#col-matrix ol")).to_contain_text("case 4471", timeout=30_000)
    # Give the bridge time to (wrongly) relay it, then check it did not.
    await page.wait_for_timeout(3000)
    for network in ("slack", "discord", "api", "telegram", "email"):
        await expect(page.locator(f"#col-{network} ol")).not_to_contain_text("case 4471")
    why = page.locator("#col-slack .why")
    await expect(why).to_contain_text("Matrix", timeout=10_000)
    await expect(why).to_contain_text(re.compile(r"privacy: closed room .* may not send"))
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "demo-withheld.png"), full_page=True)


async def test_admin_changes_privacy_and_sees_it_in_the_audit_log(demo: Demo, page: Page) -> None:
    await page.goto(demo.admin_url + "login")
    await page.locator("input[name=token]").fill(demo.admin_token)
    await page.locator("form button, form input[type=submit]").first.click()
    room = next(c.room for c in demo.columns if c.network == "discord")
    form = page.locator(f'form[aria-label="change a rule of {room}"]')
    await expect(form).to_be_visible(timeout=10_000)
    await form.locator("select[name=key]").select_option("privacy")
    await form.locator("input[name=value]").fill("internal")
    await form.locator("button, input[type=submit]").first.click()
    audit = page.locator("#audit + *")  # the table after the "Audit log" heading
    await expect(audit).to_contain_text("web:admin", timeout=10_000)
    await expect(audit).to_contain_text("privacy", timeout=10_000)
    await expect(page.locator(f'tr[id="room-{room}"]')).to_contain_text("internal")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "admin.png"), full_page=True)
