"""A user leaving from the app's side: Kakao logout or unlink, then the vault forgets them.

``POST /v1/user/logout`` revokes the user's tokens for the app; ``POST /v1/user/unlink`` also
withdraws their consent (../shared/KAKAO.md, "Logout, unlink, the unlink webhook"). Kakao sends
no unlink webhook for an unlink the app itself made, so the vault's row goes here. A login that
is already gone (unlinked from Kakao's side, revoked, a dead refresh token) has nothing left to
revoke: it still ends deleted. Kakao unreachable or refusing otherwise raises, and the vault
keeps the token, so the call can be made again.

These are the bodies of ``vault.logout(user_id)``, ``vault.unlink(user_id)`` and
``vault.scopes(user_id)`` (the consent the user has given, ``/v2/user/scopes``); they take any
vault with ``session`` and ``delete``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Union

from ..api import LOGOUT_PATH, SCOPES_PATH, UNLINK_PATH, call
from ..errors import KakaoApiError, LoginRequired

if TYPE_CHECKING:
    from ..clients import KakaoSession

__all__ = ["LOGOUT_PATH", "SCOPES_PATH", "UNLINK_PATH", "logout", "scopes", "unlink"]

UserId = Union[str, int]


class Vault(Protocol):
    """What leaving needs of a vault: a user's session, and forgetting the user."""

    def session(self, user_id: UserId) -> KakaoSession:
        """A session that calls Kakao as ``user_id``."""

    def delete(self, user_id: UserId) -> Any:
        """Forget ``user_id``'s token; absent already is not an error."""


def logout(vault: Vault, user_id: UserId) -> None:
    """Log ``user_id`` out of Kakao for this app (their tokens revoked), then delete their token."""
    _leave(vault, user_id, LOGOUT_PATH)


def unlink(vault: Vault, user_id: UserId) -> None:
    """Unlink ``user_id`` from the app (consent withdrawn, tokens revoked), then delete their token."""
    _leave(vault, user_id, UNLINK_PATH)


def scopes(vault: Vault, user_id: UserId) -> list[dict[str, Any]]:
    """The consent items of ``user_id`` (``/v2/user/scopes``): Kakao's ``scopes`` list."""
    return vault.session(user_id).scopes()


def _leave(vault: Vault, user_id: UserId, path: str) -> None:
    try:
        status, body = _call(vault, user_id, "POST", path)
    except LoginRequired:
        status, body = 401, None  # the login is gone already: nothing left to revoke
    if status != 200 and status != 401:
        raise KakaoApiError.from_answer(status, body)
    vault.delete(user_id)


def _call(vault: Vault, user_id: UserId, method: str, path: str) -> tuple[int, Any]:
    """One call to kapi as ``user_id``, bounded and typed (``api.call``): ``(status, JSON or None)``.

    A 401 here has outlived the session's own refresh-and-retry: the login is dead at Kakao.
    """
    session = vault.session(user_id)
    response = call(session, method, session.kakao_auth.settings.kapi_url + path)
    try:
        return response.status_code, response.json()
    except (ValueError, RecursionError):
        return response.status_code, None
