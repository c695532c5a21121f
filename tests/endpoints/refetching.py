"""An endpoint that trusts no payload: it re-retrieves every object an event names, as a widely used
Django library does, and fails the delivery (500) if Stripe refuses any of those calls.

For each event: ``data.object`` again from its own URL, again with the ids it refers to (customer,
charge, ...) expanded, and a list of customers. A Connect event's calls act
as ``event.account``; a platform event's calls send ``Stripe-Account`` with the platform's *own*
account id (from ``GET /v1/account``), which Stripe treats as acting as the platform.

``node_style=True`` makes the one classic stripe-node mistake over the wire: the request options
passed where the parameters go (``retrieve(id, {stripeAccount})``), so ``stripeAccount`` is sent
as a query parameter, and the call goes out with platform auth.
"""

from __future__ import annotations

import threading
from typing import Any

import stripe
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

from endpoints.core import LIVE_KEY, TEST_KEY, TEST_SECRET

#: Id fields a handler follows with ``expand[]``, on the objects where Stripe expands them.
FOLLOWED = ("customer", "charge", "payment_intent", "invoice", "balance_transaction")
EXPANDED = frozenset({"charge", "checkout.session", "invoice", "payment_intent", "refund"})


class RefetchingCore:
    """Verify, then re-retrieve what the event names; any Stripe error is a 500."""

    def __init__(
        self, secret: str, *, node_style: bool = False, extra_path: str | None = None
    ) -> None:
        self.secret = secret
        self.node_style = node_style
        self.extra_path = extra_path
        self.api_errors: list[str] = []
        self.fetched = 0
        self._platform: dict[str, str] = {}
        self._disconnected: set[str] = set()
        self._lock = threading.Lock()

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        try:
            event = stripe.Webhook.construct_event(body, signature or "", self.secret)
        except (stripe.SignatureVerificationError, ValueError, AttributeError, TypeError) as err:
            return 400, {"error": str(err)}
        try:
            self._act(event)
        except stripe.StripeError as err:
            with self._lock:
                self.api_errors.append(f"{type(err).__name__}: {err.user_message}")
            return 500, {"error": "Stripe refused a call"}
        return 200, {"received": True}

    def _client(self, livemode: bool) -> stripe.StripeClient:
        return stripe.StripeClient(
            LIVE_KEY if livemode else TEST_KEY,
            base_addresses={"api": stripe.api_base},
            max_network_retries=0,
        )

    def _platform_id(self, client: stripe.StripeClient, mode: str) -> str:
        if mode not in self._platform:
            self._platform[mode] = str(client.raw_request("get", "/v1/account").data["id"])
        return self._platform[mode]

    def _act(self, event: stripe.Event) -> None:
        if event.type == "account.application.deauthorized":
            with self._lock:  # forget the account: every call made as it fails from now on
                self._disconnected.add(str(getattr(event, "account", "")))
            return
        if getattr(event, "account", None) in self._disconnected:
            return  # a late event for a disconnected account: nothing to do
        livemode = bool(event.livemode)
        client = self._client(livemode)
        account = getattr(event, "account", None) or self._platform_id(client, str(livemode))
        if self.extra_path is not None:
            client.raw_request("get", self.extra_path, stripe_account=account)
        obj = event.data.object
        url = _own_url(obj)
        if url is None:
            return
        options: dict[str, Any] = {"stripe_account": account}
        if self.node_style:
            options = {"stripeAccount": account}
        fetched = client.raw_request("get", url, **options).data
        self.fetched += 1
        expand = [name for name in FOLLOWED if isinstance(fetched.get(name), str)]
        if expand and not self.node_style and fetched.get("object") in EXPANDED:
            client.raw_request("get", url, stripe_account=account, expand=expand)
        listed = client.raw_request(
            "get", "/v1/customers", stripe_account=account, limit=3, expand=["data.test_clock"]
        ).data
        assert listed["object"] == "list" and listed["url"] == "/v1/customers"


def _own_url(obj: Any) -> str | None:
    """The URL the object is retrieved from, when Stripe has one for it."""
    if getattr(obj, "OBJECT_NAME", None) == "balance":
        return "/v1/balance"
    if "retrieve" not in vars(type(obj)):
        return None  # Stripe has no retrieve for it (a billing portal session, an application)
    try:
        url = str(obj.instance_url())
    except (AttributeError, AssertionError, NotImplementedError, stripe.StripeError):
        return None  # stripe-python cannot address it (a bank account of neither kind of owner)
    # Only objects addressed by their own id: a customer's cash balance hangs off the customer.
    return url if url.endswith(f"/{getattr(obj, 'id', None)}") else None


def create_app(
    secret: str = TEST_SECRET, *, node_style: bool = False, extra_path: str | None = None
) -> Flask:
    """A Flask app serving POST /webhook with :class:`RefetchingCore` (``extra_path``: also GET
    this path first, e.g. one the fake Stripe API does not serve)."""
    core = RefetchingCore(secret, node_style=node_style, extra_path=extra_path)
    app = Flask(f"refetching_{'node_style' if node_style else 'correct'}")
    app.extensions["webhook_core"] = core

    def receive() -> ResponseReturnValue:
        status, body = core.handle(request.get_data(), request.headers.get("Stripe-Signature"))
        return jsonify(body), status

    app.add_url_rule("/webhook", "webhook", receive, methods=["POST"])
    return app


def gap_app() -> Flask:
    """The correct endpoint, also calling a v1 path no API version describes (for verify's tests)."""
    return create_app(TEST_SECRET, extra_path="/v1/not_a_stripe_route")
