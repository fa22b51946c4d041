"""Playwright driving a real Chromium against the stack as `make run` starts it.

Chromium is Debian's package (``/usr/bin/chromium``; ``.ci/run`` installs it when it is missing),
driven by the Python Playwright package's own driver: no browser download. Where no Chromium is
installed the browser tests skip saying so, except under CI (``CI=true``), where that is a failure.

A failing test leaves a screenshot and the page's HTML in ``.agentloom/browser-failures/`` (the
path is printed in the failure). With ``AGENTLOOM_SCREENSHOTS=DIR`` set, the tests also save the
pictures the README shows (``docs/images/``) at the moments they are taken.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import _unavailable as unavailable
from tests.e2e import chaos_kit as kit

ROOT = Path(__file__).resolve().parents[2]
FAILURES = ROOT / ".agentloom" / "browser-failures"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    """Module-scoped on purpose: Playwright's sync API keeps an event loop running on this thread
    while it is open, and the asyncio tests that follow need the thread without one."""
    path = chromium_path()
    if path is None:
        unavailable("no Chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    try:
        with kit.local_stack(tmp_path_factory.mktemp("browser-stack"), user="browser-user") as running:
            yield running
    except kit.StackFailed as exc:
        pytest.fail(str(exc))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and page is not None:
        FAILURES.mkdir(parents=True, exist_ok=True)
        shot = FAILURES / f"{item.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            (FAILURES / f"{item.name}.html").write_text(page.content())
            report.sections.append(("browser", f"screenshot of the failure: {shot}"))
        except Exception as exc:  # noqa: BLE001 - the page may be gone; the failure itself stands
            report.sections.append(("browser", f"no screenshot ({exc})"))


@pytest.fixture
def page(browser, stack):
    from playwright.sync_api import expect

    expect.set_options(timeout=20_000)  # two cores share the stack, the browser and the tests
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    broken: list[str] = []  # uncaught errors and refusals of the page's own security policy
    page.on("pageerror", lambda exc: broken.append(f"uncaught: {exc}"))
    page.on("console", lambda msg: broken.append(msg.text) if "Content Security Policy" in msg.text else None)
    try:
        yield page
    finally:
        context.close()
    assert not broken, broken


def save_picture(page, name: str) -> None:
    """A picture for the docs, when ``AGENTLOOM_SCREENSHOTS`` names where they go."""
    target = os.environ.get("AGENTLOOM_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name))
