"""examples/web_fastapi.py, web_flask.py and web_django.py, driven by their frameworks' test clients
against the fake Kakao: log in, a memo through additional consent, logout, unlink, the webhook."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import pytest
from kakao_auth.testing import FakeKakao

from tests.web_vault import DictVault

ROOT = Path(__file__).resolve().parent.parent
ADMIN_KEY = "admin-key-0123456789abcdef0123456789"
FORM = "application/x-www-form-urlencoded"


EXAMPLES = ["web_fastapi", "web_flask", "web_django"]
FRAMEWORKS = {"web_fastapi": "fastapi", "web_flask": "flask", "web_django": "django"}


def _example(name: str) -> ModuleType:
    pytest.importorskip(FRAMEWORKS[name])
    if name in sys.modules:  # Django's settings name it as the URL conf: one module per process
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class _Browser:
    """One browser on the site: its cookies, and Kakao's pages played by the fake."""

    def __init__(self, name: str, vault: DictVault, fake: FakeKakao) -> None:
        host = "localhost" if name == "web_flask" else "testserver"
        redirect_uri = f"http://{host}/auth/kakao/callback"
        fake.redirect_uris.add(redirect_uri)
        settings = {"redirect_uri": redirect_uri, "session_secret": "s" * 32, "admin_key": ADMIN_KEY}
        example = _example(name)
        self.fake = fake
        self.name = name
        if name == "web_fastapi":
            from fastapi.testclient import TestClient

            app = example.create_app(vault, app_id="1", **settings)
            self.client: Any = TestClient(app, base_url=f"http://{host}")
        elif name == "web_flask":
            self.client = example.create_app(vault, app_id="1", **settings).test_client()
        else:
            from django.test import Client

            example.configure(vault, app_id="1", hosts=[host], **settings)
            self.client = Client(enforce_csrf_checks=True)  # as a browser meets it

    def go(self, method: str, url: str, **kwargs: Any) -> tuple[int, str, str]:
        """One request, no redirect followed: (status, Location, text)."""
        if self.name == "web_fastapi":
            response = self.client.request(method, url, follow_redirects=False, **kwargs)
            text = response.text
        elif self.name == "web_flask":
            response = self.client.open(url, method=method, follow_redirects=False, **kwargs)
            text = response.get_data(as_text=True)
        else:
            if "data" in kwargs:  # as a browser's form (and Kakao's) posts: urlencoded, not multipart
                kwargs.update(
                    data=urlencode(kwargs["data"]), content_type="application/x-www-form-urlencoded"
                )
            response = getattr(self.client, method.lower())(url, **kwargs)
            text = response.content.decode()
        return response.status_code, response.headers.get("Location", ""), text

    def csrf(self) -> dict[str, str]:
        """The CSRF field of the site's forms, as the logged-in home page shows it."""
        found = re.search(r'name="(csrf_token|csrfmiddlewaretoken)" value="([^"]+)"', self.go("GET", "/")[2])
        assert found, "the site's forms carry no CSRF token"
        return {found[1]: found[2]}

    def post(self, url: str, data: dict[str, str]) -> str:
        """Submit one of the site's forms, its CSRF token in it, as a browser does."""
        return self.follow("POST", url, data={**data, **self.csrf()})

    def follow(self, method: str, url: str, **kwargs: Any) -> str:
        """Follow redirects as a browser does, Kakao's authorize page played by the fake."""
        status, location, text = self.go(method, url, **kwargs)
        while status in (302, 303):
            if location.startswith(self.fake.kauth_url):
                location = self.fake.authorize(location)
            status, location, text = self.go("GET", location)
        assert status == 200, (status, text)
        return text


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_example_site_logs_in_sends_a_memo_and_lets_go(fake_kakao: FakeKakao, name: str) -> None:
    fake_kakao.scope = "profile_nickname"  # no talk_message yet: the memo asks for it
    fake_kakao.browser_user = 1234
    vault = DictVault()
    browser = _Browser(name, vault, fake_kakao)
    assert "Log in with Kakao" in browser.follow("GET", "/")
    assert "Hello, 라이언" in browser.follow("GET", "/login")
    assert list(vault.tokens) == ["1234"] and "talk_message" not in str(vault.tokens["1234"].scope)
    assert "Sent" in browser.post("/memo", {"text": "from the example"})
    assert fake_kakao.memos[-1]["text"] == "from the example"
    assert "talk_message" in str(vault.tokens["1234"].scope)  # the additional consent's new token
    assert "Log in with Kakao" in browser.post("/logout", {})
    assert fake_kakao.logged_out == [1234] and vault.tokens == {}
    browser.follow("GET", "/login")
    browser.post("/unlink", {})
    assert fake_kakao.unlinked == [1234] and vault.tokens == {}
    browser.follow("GET", "/login")
    fields = {"app_id": "1", "user_id": "1234", "referrer_type": "UNLINK_FROM_APPS"}
    assert browser.go("POST", "/kakao/unlink", data=fields)[0] == 401
    assert (
        browser.go("POST", "/kakao/unlink", data=fields, headers={"Authorization": f"KakaoAK {ADMIN_KEY}"})[0]
        == 200
    )
    assert vault.tokens == {}


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_example_site_says_when_the_user_cancels(fake_kakao: FakeKakao, name: str) -> None:
    browser = _Browser(name, DictVault(), fake_kakao)
    fake_kakao.deny_next_login = True
    assert "You cancelled" in browser.follow("GET", "/login")
    status, _, _ = browser.go("GET", "/auth/kakao/callback?code=forged&state=forged")
    assert status == 400


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_post_without_this_sessions_csrf_token_is_refused(fake_kakao: FakeKakao, name: str) -> None:
    """A form on another site that makes a logged-in browser post to /unlink, /logout or /memo."""
    fake_kakao.browser_user = 1234
    vault = DictVault()
    browser = _Browser(name, vault, fake_kakao)
    browser.follow("GET", "/login")
    field, token = next(iter(browser.csrf().items()))
    for url in ("/unlink", "/logout", "/memo"):
        for data in ({}, {field: "x" * len(token)}, {field: token[:-1]}):
            status, _, _ = browser.go("POST", url, data={"text": "forged", **data})
            assert status == 403, (url, data, status)
    assert fake_kakao.unlinked == [] and fake_kakao.logged_out == [] and fake_kakao.memos == []
    assert list(vault.tokens) == ["1234"]
    assert "Log in with Kakao" in browser.post("/unlink", {})  # the site's own form still works
    assert fake_kakao.unlinked == [1234]


def test_the_flask_session_cookie_is_same_site_lax(fake_kakao: FakeKakao) -> None:
    browser = _Browser("web_flask", DictVault(), fake_kakao)
    response = browser.client.get("/login")
    assert "SameSite=Lax" in response.headers["Set-Cookie"]
    assert "HttpOnly" in response.headers["Set-Cookie"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_consent_answer_without_usable_scopes_is_not_sent_not_a_loop(
    fake_kakao: FakeKakao, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_kakao.browser_user = 1234
    browser = _Browser(name, DictVault(), fake_kakao)
    browser.follow("GET", "/login")
    hostile = {"code": -402, "msg": "insufficient scopes.", "required_scopes": ["x" * 10000]}
    monkeypatch.setattr(fake_kakao, "_memo", lambda grant, form: (403, hostile))
    status, location, _ = browser.go("POST", "/memo", data={"text": "hi", **browser.csrf()})
    assert (status, location.rsplit("/", 1)[-1]) == (303, "memo")
    status, location, text = browser.go("GET", "/memo")
    assert status == 502 and "does not say which" in text and "xxxxxxxxxx" not in text
