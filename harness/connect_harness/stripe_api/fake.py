"""The fake Stripe API's public names, where they have always been imported from.

The implementation lives in the modules beside this one (routes, store, validation, expand,
scoping, faults, dispatch, server); see :mod:`connect_harness.stripe_api.server`.
"""

from __future__ import annotations

from connect_harness.stripe_api.server import ApiCall, FakeStripeAPI, platform_account_id

__all__ = ["ApiCall", "FakeStripeAPI", "platform_account_id"]
