"""The public surface is a contract: these names and signatures only change on purpose."""

from __future__ import annotations

import inspect

import kakao_auth
from kakao_auth import KakaoAuth, KakaoSession


def test_all_is_pinned() -> None:
    assert sorted(kakao_auth.__all__) == [
        "ConfigurationError",
        "FileTokenStore",
        "GitHubSecretStore",
        "KakaoApiError",
        "KakaoAuth",
        "KakaoAuthError",
        "KakaoHttpxAuth",
        "KakaoOAuthError",
        "KakaoSession",
        "KakaoUnavailable",
        "LoginRequired",
        "RedisTokenStore",
        "Token",
        "TokenFileError",
        "TokenState",
        "TokenStore",
        "TokenStoreConflict",
        "TokenStoreError",
        "TokenVault",
        "__version__",
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
    sig = inspect.signature(KakaoSession)
    names = list(sig.parameters)
    assert names[:2] == ["client_id", "client_secret"]
    for keyword in ("redirect_uri", "scope", "token_file"):
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


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("kakao_auth").joinpath("py.typed").is_file()
