"""A billing meter's state where its create leaves a field out: what Stripe's descriptions say.

A meter created without ``customer_mapping`` / ``value_settings`` maps meter events by the
payload keys Stripe's v2 description names as the defaults ("This must contain the fields
corresponding to a meter's ``customer_mapping.event_payload_key`` (default is
``stripe_customer_id``) and ``value_settings.event_payload_key`` (default is ``value``)", the
meter event's ``payload``); ``customer_mapping.type`` has the one value its enum allows
(``by_id``), and a new meter is ``active`` (the meter's ``status`` enum: ``active``, ``inactive``;
deactivating is its own route). The fake's meter event checks (``stripe_api/meter_events.py``) read
these fields.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["CREATE_DEFAULTS", "create_defaults"]

#: Per object type: the fields a create that leaves them out gets.
CREATE_DEFAULTS: dict[str, dict[str, Any]] = {
    "billing.meter": {
        "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
        "value_settings": {"event_payload_key": "value"},
        "status": "active",
    },
}


def create_defaults(object_type: str) -> dict[str, Any]:
    """The fields a new ``object_type`` starts with before the request's parameters apply."""
    return copy.deepcopy(CREATE_DEFAULTS.get(object_type, {}))
