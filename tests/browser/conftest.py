"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, one page a test.

The tests are marked `browser` (select them with `pytest -m browser`, leave
them out with `-m "not browser"`). They are skipped, with the reason shown,
only where /usr/bin/chromium is missing (`make browser-deps` installs it).
"""

from __future__ import annotations

from pathlib import Path

import browser_tools
import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives the course's JupyterLab in Chromium (minutes)"
    )


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's, never one downloaded by Playwright)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(browser_tools.CHROMIUM),
            headless=True,
            args=browser_tools.CHROMIUM_ARGS,
            timeout=browser_tools.UI_WAIT_S * 1000,  # (30 s by default)
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=browser_tools.VIEWPORT)
    page = context.new_page()
    # every click, wait and navigation: minutes, not Playwright's 30 s (a busy machine is slow)
    page.set_default_timeout(browser_tools.UI_WAIT_S * 1000)
    page.set_default_navigation_timeout(browser_tools.UI_WAIT_S * 1000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    browser_tools.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return browser_tools.SCREENSHOTS


def pytest_terminal_summary(terminalreporter):
    """List the screenshots and wall times that the browser tests recorded."""
    lines = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", []):
                if name in ("screenshot", "wall time"):
                    lines.append(f"{report.nodeid.split('::')[-1]}: {name} {value}")
    if lines:
        terminalreporter.section("browser tests")
        for line in sorted(set(lines)):
            terminalreporter.write_line(line)
