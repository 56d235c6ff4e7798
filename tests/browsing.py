"""Real headless Chromium for the web-page tests, and screenshots kept as test artefacts.

Import the ``browser`` fixture into a test module (``from browsing import browser``) and call
``screenshot(page, "folder", "name")``; screenshots go to ``test-artifacts/<folder>/`` (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


def screenshot(page: Page, folder: str, name: str) -> None:
    """Save a full-page screenshot as ``test-artifacts/<folder>/<name>.png`` and print its path."""
    target = ARTIFACTS / folder
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
