"""Identity and access, one module per concern: ``passwords``, ``totp``, ``users`` (organisations,
accounts, API tokens), ``sessions``, ``attempts`` (the record of every sign-in, the rate limit, the
outcome) and ``password_login``. Certificate sign-in is in :mod:`tenderhall.auth.certlogin`.

Code imports the concern modules. The names below are those ``tenderhall.auth.routes`` still
reaches as ``service.<name>``; they go when it imports the concern modules itself.
"""

from __future__ import annotations

from tenderhall.auth.service.attempts import LoginOutcome
from tenderhall.auth.service.password_login import check_password, finish_password_login
from tenderhall.auth.service.sessions import revoke_session
from tenderhall.auth.service.users import list_users

__all__ = ["LoginOutcome", "check_password", "finish_password_login", "list_users", "revoke_session"]
