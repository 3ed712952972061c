"""The public surface is a contract: these names and signatures only change on purpose."""

from __future__ import annotations

import inspect

import kakao_auth
from kakao_auth import KakaoAuth, KakaoSession


def test_all_is_pinned() -> None:
    assert sorted(kakao_auth.__all__) == [
        "ConfigurationError",
        "ConsentRequired",
        "FileTokenStore",
        "GitHubSecretStore",
        "IdTokenError",
        "KakaoApiError",
        "KakaoAuth",
        "KakaoAuthError",
        "KakaoHttpxAuth",
        "KakaoOAuthError",
        "KakaoSession",
        "KakaoUnavailable",
        "LoginDenied",
        "LoginRequired",
        "LoginStateMismatch",
        "RedisTokenStore",
        "Token",
        "TokenFileError",
        "TokenState",
        "TokenStore",
        "TokenStoreConflict",
        "TokenStoreError",
        "TokenVault",
        "WebLogin",
        "__version__",
        "verify_id_token",
    ]
    for name in kakao_auth.__all__:
        assert hasattr(kakao_auth, name), name


def _params(func: object) -> list[str]:
    return [str(p) for p in inspect.signature(func).parameters.values()]  # type: ignore[arg-type]


def test_from_file_signatures() -> None:
    for cls in (KakaoAuth, KakaoSession):
        params = _params(cls.from_file)
        assert params[:3] == [
            "path: 'Optional[PathLike]' = None",
            "client_id: 'Optional[str]' = None",
            "client_secret: 'Optional[str]' = None",
        ]
        assert params[-1] == "**options: 'Any'"


def test_session_constructor_signature() -> None:
    # OAuth2Session's parameters in its order (issue #26); what only Kakao needs is keyword-only.
    from requests_oauthlib import OAuth2Session

    sig = inspect.signature(KakaoSession)
    theirs = [
        n for n, p in inspect.signature(OAuth2Session).parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    positional = [n for n, p in sig.parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional[: len(theirs)] == theirs  # requests-oauthlib before 1.4 ends before pkce
    assert positional == [
        "client_id",
        "client",
        "auto_refresh_url",
        "auto_refresh_kwargs",
        "scope",
        "redirect_uri",
        "token",
        "state",
        "token_updater",
        "pkce",
    ]
    for keyword in ("client_secret", "token_file", "store"):
        assert sig.parameters[keyword].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["scope"].default is None


def test_from_store_signatures() -> None:
    for cls in (KakaoAuth, KakaoSession):
        params = _params(cls.from_store)
        assert params[0] == "store: 'TokenStore'"
        assert params[1:3] == ["client_id: 'Optional[str]' = None", "client_secret: 'Optional[str]' = None"]
        assert params[-1] == "**options: 'Any'"


def test_redis_store_signature() -> None:
    sig = inspect.signature(kakao_auth.RedisTokenStore)
    assert next(iter(sig.parameters)) == "url"
    assert sig.parameters["key"].kind is inspect.Parameter.KEYWORD_ONLY
    assert sig.parameters["key"].default is None


def test_error_tree() -> None:
    assert issubclass(kakao_auth.TokenStoreConflict, kakao_auth.TokenStoreError)
    assert issubclass(kakao_auth.TokenFileError, kakao_auth.TokenStoreError)
    assert issubclass(kakao_auth.TokenStoreError, kakao_auth.KakaoAuthError)
    assert issubclass(kakao_auth.LoginRequired, kakao_auth.KakaoOAuthError)
    assert issubclass(kakao_auth.KakaoOAuthError, kakao_auth.KakaoAuthError)
    assert issubclass(kakao_auth.LoginDenied, kakao_auth.KakaoOAuthError)
    assert issubclass(kakao_auth.ConsentRequired, kakao_auth.KakaoApiError)
    assert issubclass(kakao_auth.IdTokenError, kakao_auth.KakaoAuthError)
    assert issubclass(kakao_auth.LoginStateMismatch, kakao_auth.KakaoAuthError)


def test_web_login_signatures() -> None:
    from kakao_auth.web import LoginStart

    assert _params(kakao_auth.WebLogin)[:3] == [
        "vault: 'Vault'",
        "redirect_uri: 'str'",
        "scope: 'Optional[Iterable[str]]' = None",
    ]
    assert _params(kakao_auth.WebLogin.begin)[1:] == [
        "scope: 'Optional[Iterable[str]]' = None",
        "prompt: 'Optional[str]' = None",
    ]
    assert _params(kakao_auth.WebLogin.complete)[1:3] == [
        "url_or_query: 'CallbackInput'",
        "start: 'StartInput'",
    ]
    assert _params(kakao_auth.verify_id_token) == [
        "id_token: 'str'",
        "audience: 'Audience'",
        "nonce: 'Optional[str]' = None",
        "issuer: 'Optional[str]' = None",
        "leeway: 'float' = 60",
    ]
    assert {f.name for f in __import__("dataclasses").fields(LoginStart)} >= {
        "url",
        "state",
        "nonce",
        "code_verifier",
    }


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("kakao_auth").joinpath("py.typed").is_file()
