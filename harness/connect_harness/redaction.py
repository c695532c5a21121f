"""Credentials taken out of text before it is shown: in error messages, printed lines and reports.

A user's argument may be a secret (``secret=[s, 5]`` echoed the secret in the error that refused
it), a URL may carry ``user:password@``, and a secret may hold bytes that are not UTF-8 (shown as
``\\udcff`` escapes, the rest of it in full). Only the kind of credential stays visible:
``whsec_****``, ``sk_test_****``, ``http://****@host/``. The ground layer, like
:mod:`connect_harness.errors`: every layer may use it.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact_credentials", "redact_userinfo"]

MASK = "****"

# Stripe API keys (secret, restricted, publishable; test or live) and webhook signing secrets, with
# whatever follows up to a separator: a secret's stray bytes are part of the secret.
_CREDENTIAL = re.compile(r"((?:sk|rk|pk)_(?:test|live)_|whsec_)[^\s'\",;\]\)}]+")
# The userinfo of a URL: scheme://user[:password]@
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@'\"]+@")


def redact_credentials(text: str) -> str:
    """``text`` with every Stripe key, ``whsec_`` secret and URL userinfo replaced by ``****``."""
    return redact_userinfo(_CREDENTIAL.sub(_masked, text))


def redact_userinfo(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``****@``."""
    return _USERINFO.sub(lambda match: match.group(1) + MASK + "@", text)


def _masked(match: re.Match[str]) -> str:
    if match.group(0)[len(match.group(1)) :].strip(".") == "":
        return match.group(0)  # a placeholder in advice ('whsec_...'), not a secret
    return match.group(1) + MASK
