"""What the web wing needs of a token vault: a typing Protocol, so any vault (or a test's) fits.

``kakao_auth.TokenVault`` provides all four; a test may pass a dict-backed stand-in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Union

if TYPE_CHECKING:
    from ..clients import KakaoSession
    from ..token import Token

__all__ = ["UserId", "Vault"]

UserId = Union[str, int]


class Vault(Protocol):
    """Users' tokens by user id: ``save`` replaces, ``load`` raises ``LoginRequired`` when absent."""

    def save(self, user_id: UserId, token: Token) -> Any:
        """Keep ``token`` as ``user_id``'s login, replacing any older one."""

    def load(self, user_id: UserId) -> Token:
        """``user_id``'s token; ``LoginRequired`` when the vault holds none."""

    def delete(self, user_id: UserId) -> Any:
        """Forget ``user_id``'s token; absent already is not an error."""

    def session(self, user_id: UserId) -> KakaoSession:
        """A session that calls Kakao as ``user_id``, refreshing their token itself."""
