"""Identity and access, one module per concern: ``passwords``, ``totp``, ``users`` (organisations,
accounts, API tokens), ``sessions``, ``attempts`` (the record of every sign-in, the rate limit, the
outcome) and ``password_login``. Certificate sign-in is in :mod:`tenderhall.auth.certlogin`.
Code imports the concern modules."""
