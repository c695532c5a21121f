"""Advice in the endpoint's own SDK: which Stripe library made its API calls, and how that library
spells the fixes the findings give (act as a connected account, send an idempotency key, verify a
signature).

Stripe's server-side libraries name themselves on every request: ``User-Agent: Stripe/v1
NodeBindings/23.1.0`` and ``X-Stripe-Client-User-Agent: {"bindings_version": "23.1.0", "lang":
"node", ...}`` (read from stripe-python 16.1.0's ``_api_requestor.py`` and stripe-node 23.1.0's
``RequestSender.js``; the other libraries follow the same ``<Lang>Bindings/<version>`` form). An
endpoint that made no call, or called over plain HTTP, is told the HTTP header instead.

The spellings are each library's documented per-request options (the "Connect" and "Idempotent
requests" sections of https://docs.stripe.com/api, and each library's README) and its webhook
verification call (https://docs.stripe.com/webhooks#verify-official-libraries).
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from connect_harness.stripe_api.calls import ApiCall

__all__ = ["HTTP", "SPELLINGS", "Sdk", "Spelling", "sdk_of", "sdk_of_call"]


@dataclass(frozen=True)
class Spelling:
    """How one library spells each fix: ``account`` (act as the event's connected account),
    ``idempotency`` (a key derived from the event id), ``verify`` (check the signature over the
    raw body and parse the event)."""

    library: str
    account: str
    idempotency: str
    verify: str


#: SDK -> its spellings. Keys are what :func:`sdk_of` reads from the requests' headers.
SPELLINGS: dict[str, Spelling] = {
    "python": Spelling(
        "stripe-python",
        account="stripe_account=event.account (e.g. stripe.PaymentIntent.retrieve(id, "
        "stripe_account=event.account))",
        idempotency='idempotency_key=f"{event.id}:<step>"',
        verify="stripe.Webhook.construct_event(request_body_bytes, stripe_signature, secret)",
    ),
    "node": Spelling(
        "stripe-node",
        account="{ stripeAccount: event.account } as the request options argument (e.g. "
        "stripe.paymentIntents.retrieve(id, {}, { stripeAccount: event.account }))",
        idempotency="{ idempotencyKey: `${event.id}:<step>` } in the request options",
        verify="stripe.webhooks.constructEvent(rawBodyBuffer, req.headers['stripe-signature'], "
        "secret), with the body left unparsed (express.raw({ type: 'application/json' }))",
    ),
    "ruby": Spelling(
        "stripe-ruby",
        account="{ stripe_account: event.account } as the request options hash (e.g. "
        "Stripe::PaymentIntent.retrieve(id, { stripe_account: event.account }))",
        idempotency='{ idempotency_key: "#{event.id}:<step>" } in the request options',
        verify="Stripe::Webhook.construct_event(request.body.read, "
        "request.env['HTTP_STRIPE_SIGNATURE'], secret)",
    ),
    "go": Spelling(
        "stripe-go",
        account="params.SetStripeAccount(event.Account) on the call's params",
        idempotency='params.SetIdempotencyKey(event.ID + ":<step>")',
        verify='webhook.ConstructEvent(payload, r.Header.Get("Stripe-Signature"), secret) on '
        "the bytes read from r.Body",
    ),
    "php": Spelling(
        "stripe-php",
        account="['stripe_account' => $event->account] as the request options array",
        idempotency="['idempotency_key' => $event->id . ':<step>'] in the request options",
        verify="\\Stripe\\Webhook::constructEvent(@file_get_contents('php://input'), "
        "$_SERVER['HTTP_STRIPE_SIGNATURE'], $secret)",
    ),
    "java": Spelling(
        "stripe-java",
        account="RequestOptions.builder().setStripeAccount(event.getAccount()).build()",
        idempotency='RequestOptions.builder().setIdempotencyKey(event.getId() + ":<step>")',
        verify="Webhook.constructEvent(payload, sigHeader, secret) on the raw request body string",
    ),
    "dotnet": Spelling(
        "stripe-dotnet",
        account="new RequestOptions { StripeAccount = stripeEvent.Account }",
        idempotency='new RequestOptions { IdempotencyKey = stripeEvent.Id + ":<step>" }',
        verify='EventUtility.ConstructEvent(json, Request.Headers["Stripe-Signature"], secret) '
        "on the body read as a string before any model binding",
    ),
}

#: Without a library seen: the HTTP headers themselves.
HTTP = Spelling(
    "HTTP",
    account="the Stripe-Account: <event.account> header",
    idempotency="an Idempotency-Key: <event.id>:<step> header",
    verify="an HMAC-SHA256 of '<t>.<raw body bytes>' with the endpoint's secret, compared in "
    "constant time with each v1= of the Stripe-Signature header, t within 5 minutes",
)

#: ``<Lang>Bindings`` in a User-Agent, and the ``lang`` of X-Stripe-Client-User-Agent -> SDK key.
_BINDINGS = {
    "python": "python",
    "node": "node",
    "ruby": "ruby",
    "go": "go",
    "php": "php",
    "java": "java",
    ".net": "dotnet",
    "dotnet": "dotnet",
}
_USER_AGENT = re.compile(r"([A-Za-z.]+)Bindings/(v?[0-9][\w.\-+]*)")


@dataclass(frozen=True)
class Sdk:
    """The library an endpoint's calls came from (``key`` None: none recognised), its version."""

    key: str | None
    version: str | None = None

    @property
    def spelling(self) -> Spelling:
        return SPELLINGS[self.key] if self.key is not None else HTTP

    @property
    def label(self) -> str:
        """``stripe-node 23.1.0``; ``no Stripe library seen`` without one."""
        if self.key is None:
            return "no Stripe library seen"
        return (
            f"{self.spelling.library} {self.version}".strip()
            if self.version
            else (self.spelling.library)
        )


def sdk_of_call(call: ApiCall) -> Sdk:
    """The library that made ``call``, from its X-Stripe-Client-User-Agent, else its User-Agent."""
    return _sdk_of_headers(call.client_user_agent, call.user_agent)


@functools.lru_cache(maxsize=64)
def _sdk_of_headers(client_user_agent: str | None, user_agent: str | None) -> Sdk:
    # An endpoint sends the same two headers on every call: parsed once each.
    if client_user_agent:
        try:
            info = json.loads(client_user_agent)
        except ValueError:
            info = None
        if isinstance(info, dict):
            key = _BINDINGS.get(str(info.get("lang", "")).lower())
            if key is not None:
                version = info.get("bindings_version")
                return Sdk(key, str(version) if version else None)
    match = _USER_AGENT.search(user_agent or "")
    if match is not None:
        key = _BINDINGS.get(match.group(1).lower())
        if key is not None:
            return Sdk(key, match.group(2))
    return Sdk(None)


def sdk_of(calls: Iterable[ApiCall]) -> Sdk:
    """The library most of ``calls`` came from; ``Sdk(None)`` when none was recognised."""
    counts = Counter(sdk for sdk in map(sdk_of_call, calls) if sdk.key is not None)
    if not counts:
        return Sdk(None)
    return counts.most_common(1)[0][0]
