"""``python -m kakao_auth`` is ``kakao-auth``."""

import sys

from .cli import main

sys.exit(main())
