"""examples/web_fastapi.py end to end in a real headless browser (Debian's chromium, through
Selenium and the system chromedriver: no browser download), served by uvicorn, against the fake
Kakao's consent pages: log in, a memo through additional consent, cancel, log out."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kakao_auth.testing import FakeKakao, free_port

from tests.test_web_examples import ADMIN_KEY, _example
from tests.web_vault import DictVault

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser() -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        if os.environ.get("CI") == "true":
            raise RuntimeError("CI must run the browser test: install Debian's chromium and chromium-driver")
        pytest.skip("chromium or chromedriver is not installed")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--ignore-certificate-errors")  # the fake Kakao's CA is the test's own
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(fake_kakao: FakeKakao) -> Iterator[tuple[str, DictVault]]:
    """The FastAPI example under uvicorn on a free loopback port."""
    uvicorn = pytest.importorskip("uvicorn")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    fake_kakao.redirect_uris.add(origin + "/auth/kakao/callback")
    vault = DictVault()
    app = _example("web_fastapi").create_app(
        vault,
        redirect_uri=origin + "/auth/kakao/callback",
        session_secret="s" * 32,
        admin_key=ADMIN_KEY,
        app_id="1",
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield origin, vault
    finally:
        server.should_exit = True
        thread.join(10)


def _click(driver: Any, by: str, what: str) -> None:
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(expected_conditions.element_to_be_clickable((by, what))).click()


def _page_says(driver: Any, text: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: text in d.page_source)


def test_a_user_logs_in_sends_a_memo_after_consent_and_logs_out_in_a_browser(
    fake_kakao: FakeKakao, site: tuple[str, DictVault], browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    origin, vault = site
    fake_kakao.consent_page = True
    fake_kakao.scope = "profile_nickname"
    fake_kakao.browser_user = 5151
    browser.get(origin + "/")
    _click(browser, By.LINK_TEXT, "Log in with Kakao")
    _page_says(browser, "profile_nickname")  # Kakao's consent page lists what is asked
    _click(browser, By.ID, "cancel")
    _page_says(browser, "You cancelled")
    assert vault.writes == 0
    _click(browser, By.LINK_TEXT, "Try again")
    _click(browser, By.ID, "agree")
    _page_says(browser, "Hello, 라이언")
    assert list(vault.tokens) == ["5151"]
    browser.find_element(By.NAME, "text").send_keys("sent from a real browser")
    _click(browser, By.XPATH, "//button[text()='Send me a memo']")
    _page_says(browser, "talk_message")  # the additional consent asks for just the memo's item
    _click(browser, By.ID, "agree")
    _page_says(browser, "Sent")
    assert fake_kakao.memos[-1]["text"] == "sent from a real browser"
    browser.get(origin + "/")
    _click(browser, By.XPATH, "//button[text()='Log out']")
    _page_says(browser, "Log in with Kakao")
    assert fake_kakao.logged_out == [5151] and vault.tokens == {}
