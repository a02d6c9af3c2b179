"""A real browser for the tests: Debian's Chromium, headless, driven by selenium through Debian's
chromedriver (installed on first use: cluster/install-deps.sh browser). Screenshots go to test-artifacts/
(KEMR_TEST_ARTIFACTS overrides); docs/images holds copies the docs show."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WINDOW = (1400, 900)


def artifacts_dir() -> Path:
    path = Path(os.environ.get("KEMR_TEST_ARTIFACTS") or REPO / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_chromium() -> None:
    """Chromium and chromedriver from Debian, installed when missing (needs root, as the real node does)."""
    if shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER):
        return
    done = subprocess.run(
        [REPO / "cluster" / "install-deps.sh", "browser"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"could not install Chromium (cluster/install-deps.sh browser):\n{done.stderr}")


def new_browser() -> WebDriver:
    """A headless Chromium at WINDOW size. --no-sandbox: the tests run as root, which Chromium's sandbox
    refuses; the pages are our own services' on localhost."""
    ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait_for(
    driver: WebDriver, condition: Callable[[WebDriver], object], timeout: float, what: str
) -> object:
    """WebDriverWait with a message naming what was awaited and the page it was on."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5).until(condition)
    except Exception as err:  # TimeoutException, or the page's own error
        text = driver.find_element("tag name", "body").text[:2000] if driver.page_source else ""
        raise AssertionError(
            f"{what} within {timeout}s at {driver.current_url}; the page says:\n{text}"
        ) from err


def screenshot(driver: WebDriver, name: str) -> Path:
    """The whole page as test-artifacts/<name>.png."""
    path = artifacts_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
