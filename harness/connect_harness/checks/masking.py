"""Masking of credentials in text the endpoint wrote, before it is copied into findings and reports.

An endpoint's error page may echo its Stripe API key or its webhook signing secret; a report that
quotes the answer must not spread them. Only the kind of credential stays visible (``sk_test_****``).
"""

from __future__ import annotations

import re

__all__ = ["MASK", "mask_secrets"]

MASK = "****"

# Stripe API keys (secret, restricted, publishable; test or live) and webhook signing secrets.
_CREDENTIAL = re.compile(r"\b((?:sk|rk|pk)_(?:test|live)_|whsec_)[A-Za-z0-9_]+")


def mask_secrets(text: str) -> str:
    """``text`` with every Stripe API key and ``whsec_`` secret replaced by its prefix and ``****``."""
    return _CREDENTIAL.sub(lambda match: match.group(1) + MASK, text)
