"""The one exception hierarchy of connect_harness.

Every error the library raises on purpose derives from :class:`HarnessError`, so callers can catch
ours without catching everything. :class:`UsageError` is bad input from a user (an unknown event type,
a malformed ``--set`` path, a secret that cannot be used): the CLI turns it into one line on stderr and
exit code 2. Messages are full sentences that say what was wrong, which value, and how to fix it.
"""

from __future__ import annotations

from connect_harness.redaction import redact_credentials

__all__ = ["ContractError", "ContractFailure", "HarnessError", "UsageError"]


class HarnessError(Exception):
    """Base class of every error connect_harness raises on purpose.

    Its message never carries a credential: a Stripe key, a ``whsec_`` secret or a URL's
    ``user:password@`` quoted in it (the value a check refused may be the secret) shows only its
    kind (``whsec_****``).
    """

    def __init__(self, *args: object) -> None:
        super().__init__(
            *(redact_credentials(arg) if isinstance(arg, str) else arg for arg in args)
        )


class UsageError(HarnessError, ValueError):
    """Bad input from the user: the message names the value and the fix."""


class ContractError(HarnessError):
    """The contracts are missing, unreadable, or disagree with what was asked of them."""


class ContractFailure(AssertionError):
    """An endpoint broke a contract check; the message starts with ``connect_harness:``."""
