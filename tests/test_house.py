"""The house's wings keep their promises: a light import, one face per wing, the old paths (issue #25)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import kakao_auth
import pytest
from kakao_auth import stores

# PySocks is not here: requests itself imports it when it is installed.
OPTIONAL = ("httpx", "redis", "nacl", "jwt", "sqlalchemy", "cryptography")


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_kakao_auth_loads_no_optional_dependency() -> None:
    code = f"import sys\nimport kakao_auth\nprint(sorted(m for m in {OPTIONAL!r} if m in sys.modules))\n"
    assert _run(code) == "[]"


def test_every_fork_handler_is_registered_once() -> None:
    # Every module that registers one, imported (the wings' faces and the moved files): a
    # module imported under two names would register its handler twice.
    code = (
        "import collections, os, sys\n"
        "seen = collections.Counter()\n"
        "real = os.register_at_fork\n"
        "def count(**kw):\n"
        "    for f in kw.values():\n"
        "        seen[f.__module__ + '.' + f.__qualname__] += 1\n"
        "    real(**kw)\n"
        "os.register_at_fork = count\n"
        "import kakao_auth, kakao_auth.core, kakao_auth.net, kakao_auth.stores, kakao_auth.clients\n"
        "import kakao_auth.store, kakao_auth.stores.file, kakao_auth.net.dns, kakao_auth.net.tls\n"
        "print(sorted(seen.items()))\n"
    )
    seen = eval(_run(code))  # noqa: S307  # our own subprocess's repr of a list of pairs
    assert len(seen) >= 5, seen
    assert all(n == 1 for _, n in seen), seen


def test_the_old_store_module_still_serves_plugins_with_a_deprecation_warning() -> None:
    import kakao_auth.store as old

    for name in ("StoreBusy", "Adopt", "TokenStore", "FileTokenStore"):
        with pytest.warns(DeprecationWarning, match=f"import {name} from kakao_auth.stores"):
            assert getattr(old, name) is getattr(stores, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            old.nothing_here  # noqa: B018


def test_plugins_find_their_names_in_the_stores_face() -> None:
    assert issubclass(stores.StoreBusy, kakao_auth.TokenStoreError)
    assert stores.Adopt.__name__ == "Adopt"
    assert stores.BUILTIN_STORES["github"] == "kakao_auth.stores:github_store"


def test_exceptions_keep_their_module_and_pickle() -> None:
    from kakao_auth.errors import KakaoOAuthError, TokenFileError

    errors = (KakaoOAuthError("invalid_grant", "KOE322", "gone", 400), TokenFileError("t.json", "is empty"))
    for error in errors:
        assert type(error).__module__ == "kakao_auth.errors"
        again = pickle.loads(pickle.dumps(error))  # our own bytes
        assert type(again) is type(error) and str(again) == str(error)
