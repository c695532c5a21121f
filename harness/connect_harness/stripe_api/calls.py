"""What the fake Stripe API records of each request: :class:`ApiCall`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STRIPE_ID", "ApiCall", "bare_call", "error_message"]


@dataclass(frozen=True)
class ApiCall:
    """One request the endpoint under test made to the fake API, and how it was answered.

    ``stripe_account`` is the connected account the request acted as: the ``Stripe-Account``
    header, except that the platform's own account id there acts as the platform (None);
    ``stripe_account_header`` is the header as sent. ``object_owner`` is the connected account that
    owns the object the request named (an account object owns itself), None for the platform's
    objects or when no object was involved; ``object_livemode`` is the object's mode, None for
    objects that exist in both modes (accounts, persons, capabilities) or when none was involved.
    ``key_mode`` is None when the request had no usable secret key. ``delivery`` is the label of the
    :meth:`FakeStripeAPI.delivery` the call is attributed to. ``form`` holds the form-encoded body
    parameters of a POST; ``replayed`` is True when the answer was an idempotent replay.
    ``unserved`` is True when the fake does not serve the route (not in that API version's
    description, or a v2 write): Stripe might have answered it. ``fault`` names the
    :meth:`FakeStripeAPI.fail` rule that answered instead of the route. ``error`` is the message
    of an error answer (``Received unknown parameter: stripeAccount``). ``user_agent`` and
    ``client_user_agent`` are the headers Stripe's SDKs name themselves in.
    """

    method: str
    path: str
    query: dict[str, str]
    stripe_account: str | None
    idempotency_key: str | None
    key_mode: str | None
    object_id: str | None
    object_type: str | None
    object_owner: str | None
    object_livemode: bool | None
    status: int
    delivery: str | None
    mutating: bool
    at: float
    form: dict[str, str] = field(default_factory=dict)
    replayed: bool = False
    unserved: bool = False
    stripe_account_header: str | None = None
    fault: str | None = None
    error: str | None = None
    #: The request's ``User-Agent`` and ``X-Stripe-Client-User-Agent``: which SDK made it.
    user_agent: str | None = None
    client_user_agent: str | None = None

    def named_ids(self) -> frozenset[str]:
        """The Stripe ids the request names: in its path, query and form values, and its
        Idempotency-Key (a key derived from an event id names that event); never the account it
        acts as."""
        texts = [self.path, *self.query.values(), *self.form.values(), self.idempotency_key or ""]
        found = {match for text in texts for match in STRIPE_ID.findall(text)}
        found.discard(self.stripe_account_header or "")
        return frozenset(found)


#: A Stripe object id: a short lowercase prefix, an underscore, then 8+ letters and digits, one a digit
#: at least (so words such as ``charge_automatically`` are not ids).
STRIPE_ID = re.compile(
    r"(?<![A-Za-z0-9_])[a-z]{2,8}(?:_[a-z]{2,8})?_(?=[A-Za-z]*[0-9])[A-Za-z0-9]{8,}(?![A-Za-z0-9])"
)


def error_message(body: Mapping[str, Any]) -> str | None:
    error = body.get("error")
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return str(error["message"])
    return None


def bare_call(request: Any, status: int, label: str | None, arrived: float) -> ApiCall:
    method = str(request.method).upper()
    header = request.headers.get("Stripe-Account") or None
    return ApiCall(
        method=method,
        path=str(request.path),
        query={},
        stripe_account=header,
        idempotency_key=request.headers.get("Idempotency-Key") or None,
        key_mode=None,
        object_id=None,
        object_type=None,
        object_owner=None,
        object_livemode=None,
        status=status,
        delivery=label,
        mutating=method in ("POST", "DELETE"),
        at=arrived,
        stripe_account_header=header,
        user_agent=request.headers.get("User-Agent") or None,
        client_user_agent=request.headers.get("X-Stripe-Client-User-Agent") or None,
    )
