"""Log in with Kakao on a website, and let go when the user leaves.

- :class:`WebLogin`: the authorize redirect and the callback (state, PKCE, nonce, a verified
  id_token), saving the user's token in a vault; ``begin(scope=err.required_scopes)`` asks for
  the consent a :class:`~kakao_auth.ConsentRequired` named.
- :func:`unlink_wsgi_app` / :func:`unlink_asgi_app`: the unlink webhook Kakao calls when a user
  deletes their account or unlinks the app, for any WSGI or ASGI framework.
- :func:`logout` / :func:`unlink`: the user leaves from the app's side.
- :func:`import_allauth` / :func:`import_social_auth`: the logins django-allauth or social-auth
  already keep, moved into a vault.

Nothing here imports a web framework; PyJWT (``oidc`` extra) and SQLAlchemy (``sql`` extra) are
imported when first needed.
"""

from __future__ import annotations

from ..vault import logout, scopes, unlink
from .importers import ALLAUTH, SOCIAL_AUTH, ImportReport, import_allauth, import_social_auth
from .login import LoginStart, LoginUser, WebLogin
from .vault import Vault
from .webhook import UnlinkWebhook, unlink_asgi_app, unlink_wsgi_app

__all__ = [
    "ALLAUTH",
    "SOCIAL_AUTH",
    "ImportReport",
    "LoginStart",
    "LoginUser",
    "UnlinkWebhook",
    "Vault",
    "WebLogin",
    "import_allauth",
    "import_social_auth",
    "logout",
    "scopes",
    "unlink",
    "unlink_asgi_app",
    "unlink_wsgi_app",
]
