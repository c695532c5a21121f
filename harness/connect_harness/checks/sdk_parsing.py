"""Whether stripe-python itself can construct an event: a failure that is the SDK's, not the
endpoint's.

Some payloads Stripe really sends make an SDK raise while it turns the verified JSON into objects:
stripe-python 16.1.0 raises ``AttributeError`` on a ``balance_settings.updated`` whose
``payments.payouts.automatic_transfer_rules_by_currency`` is ``null``, as Stripe's own fixture renders
it. An endpoint that verifies with ``stripe.Webhook.construct_event`` then answers 4xx or 5xx to a
real event. The finding is still true (Stripe would get that answer), but its advice must name the
cause: the check asks the stripe-python installed beside the harness to construct the refused event,
as ``construct_event`` does after verifying, and says what it raised.
"""

from __future__ import annotations

import functools
import json

__all__ = ["MARK", "python_sdk_failure"]

#: The words every note of this module starts with (the root-cause headline looks for them).
MARK = "stripe-python"


@functools.lru_cache(maxsize=512)
def python_sdk_failure(body: bytes) -> str | None:
    """A note naming what stripe-python raises constructing the event ``body``, or None when it
    constructs it (or the body is not an event)."""
    import stripe  # a dependency; imported only once a delivery was refused

    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or payload.get("object") != "event":
        return None
    try:
        stripe.Event.construct_from(payload, "sk_test_sdk_parsing")
    except Exception as err:  # whatever the SDK raises is the finding
        message = str(err).splitlines()[0][:160] if str(err) else ""
        return (
            f"{MARK} {stripe.VERSION} (installed here) itself raises {type(err).__name__}"
            f"{': ' + message if message else ''} constructing this payload, which Stripe sends: "
            "if the endpoint accepts other events and verifies with stripe.Webhook.construct_event, "
            "that is what fails; "
            "verify with stripe.WebhookSignature.verify_header and read the JSON yourself for this "
            "type until the SDK is fixed"
        )
    return None
