"""Bytes: one bounded exchange (a deadline for the whole of it, DNS in turn, TLS, SOCKS).

Everything kakao_auth sends on its own (the token endpoint, the JWKS, GitHub's API, a memo, the
command line's API calls) goes through here: no redirect followed, the answer capped, no
``~/.netrc`` credentials added, and no exception that references the request.
"""

from __future__ import annotations

from .exchange import MAX_ANSWER, AnswerTooLarge, NoAnswerInTime, Outcome, bound, exchange, no_auth

__all__ = ["MAX_ANSWER", "AnswerTooLarge", "NoAnswerInTime", "Outcome", "bound", "exchange", "no_auth"]
