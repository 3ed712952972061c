"""Tokens at rest, encrypted: Fernet keys from ``KAKAO_VAULT_KEY``, the token fields only.

``KAKAO_VAULT_KEY`` holds one or more Fernet keys, comma separated: the first seals, all open
(``MultiFernet``), so a key is rotated by putting the new one first and running
``kakao-auth vault rekey``. A sealed field is stored as ``fernet:<token>``; ``:`` is no
character of a Kakao token, so a plain field is never mistaken for a sealed one, and rows saved
before a key was set are read as they are (and sealed by ``rekey``). Only the secret fields are
sealed (access, refresh and ID token): the expiries stay plain, the vault queries them.

Needs ``cryptography`` (``pip install 'kakao-auth[vault-crypto]'``), imported only with a key.
"""

from __future__ import annotations

from typing import Any, Optional

from ..config import vault_keys
from ..errors import ConfigurationError

__all__ = ["PREFIX", "Sealer"]

PREFIX = "fernet:"


class Sealer:
    """Seals and opens the secret fields: a no-op without keys (``KAKAO_VAULT_KEY`` unset)."""

    def __init__(self, keys: Optional[str] = None, *, from_environment: bool = True) -> None:
        text = keys if keys is not None else (vault_keys() if from_environment else None)
        self._fernet: Any = _multi_fernet(text) if text else None

    @property
    def sealing(self) -> bool:
        """Whether fields are encrypted on save."""
        return self._fernet is not None

    def seal(self, value: Optional[str]) -> Optional[str]:
        """``value`` as stored: sealed under the first key when there is one."""
        if value is None or self._fernet is None:
            return value
        sealed: bytes = self._fernet.encrypt(value.encode())
        return PREFIX + sealed.decode("ascii")

    def open(self, stored: Any) -> Any:
        """The stored field in clear; ValueError (without the value) when it cannot be opened."""
        if not isinstance(stored, str) or not stored.startswith(PREFIX):
            return stored  # plain (saved before a key was set), or garbage the Token refuses
        if self._fernet is None:
            raise ValueError("is encrypted, and KAKAO_VAULT_KEY is not set: set it to the vault's keys")
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise ValueError(
                "is encrypted under a key KAKAO_VAULT_KEY does not hold (or is damaged): add "
                "that key to KAKAO_VAULT_KEY"
            ) from None

    def rotate(self, stored: Any) -> Any:
        """``stored`` sealed under the first key (a plain field too); unchanged without keys."""
        if stored is None or self._fernet is None:
            return stored
        return self.seal(self.open(stored))


def _multi_fernet(text: str) -> Any:
    try:
        from cryptography.fernet import Fernet, MultiFernet
    except ImportError:
        raise ConfigurationError(
            "KAKAO_VAULT_KEY is set, and encryption needs cryptography: "
            "pip install 'kakao-auth[vault-crypto]'"
        ) from None
    keys = []
    for number, part in enumerate(text.split(","), 1):
        try:
            keys.append(Fernet(part.strip().encode("ascii")))
        except (ValueError, UnicodeError):
            # Never the key itself: it names its place in the list.
            raise ConfigurationError(
                f"KAKAO_VAULT_KEY's key number {number} is not a Fernet key (32 url-safe base64 "
                "bytes): make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`"
            ) from None
    return MultiFernet(keys)
