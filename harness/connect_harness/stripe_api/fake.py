"""A local stand-in for ``api.stripe.com`` that fails the way Stripe fails for Connect handlers.

Webhook handlers usually call back into the API: fetch the object fresh, update its metadata, read
the account. :class:`FakeStripeAPI` answers those calls on 127.0.0.1 and records every one of them as
an :class:`ApiCall`, so a check can tell *how* the handler talked to Stripe, not only what it
answered. It serves the objects of the events registered with it and makes up any other object of a
known type on demand, and it is strict exactly where real handlers go wrong:

* an object of a connected account exists only for requests made *as* that account
  (``Stripe-Account``); with platform auth Stripe answers ``No such payment_intent: 'pi_...'``;
* test-mode objects are invisible to live keys and the other way round;
* a missing or malformed API key is a 401, an account that deauthorized the platform is a 403;
* a repeated ``Idempotency-Key`` replays the first answer instead of applying an update twice.

Error bodies, status codes and headers (``Request-Id``, ``Stripe-Version``) have Stripe's shape, so
stripe-python raises the same exception classes with the same messages it would in production.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import json
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl

from connect_harness.errors import HarnessError, UsageError
from connect_harness.stripe_api.v2 import V2Objects

__all__ = ["ApiCall", "FakeStripeAPI"]


@dataclass(frozen=True)
class ApiCall:
    """One request the endpoint under test made to the fake API, and how it was answered.

    ``object_owner`` is the connected account that owns the object the request named (an account
    object owns itself), None for the platform's objects or when no object was involved;
    ``object_livemode`` is the object's mode, None for objects that exist in both modes (accounts,
    persons, capabilities) or when none was involved. ``key_mode`` is None when the request had no
    usable secret key. ``delivery`` is the label of the :meth:`FakeStripeAPI.delivery` the call is
    attributed to. ``form`` holds the form-encoded body parameters of a POST; ``replayed`` is True
    when the answer was an idempotent replay.
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


class _EventLike(Protocol):
    @property
    def payload(self) -> Mapping[str, Any]: ...


# --- Stripe's API surface, as far as webhook handlers use it -------------------------------------

# Collection path -> object type, for the object types the contracts can build (from the 2023-08-16
# OpenAPI description: every `/v1/<collection>/{id}` whose GET answers with that schema).
_COLLECTIONS: dict[str, str] = {
    "accounts": "account",
    "application_fees": "application_fee",
    "balance_transactions": "balance_transaction",
    "billing_portal/configurations": "billing_portal.configuration",
    "charges": "charge",
    "checkout/sessions": "checkout.session",
    "coupons": "coupon",
    "credit_notes": "credit_note",
    "customers": "customer",
    "disputes": "dispute",
    "file_links": "file_link",
    "files": "file",
    "financial_connections/accounts": "financial_connections.account",
    "identity/verification_sessions": "identity.verification_session",
    "invoiceitems": "invoiceitem",
    "invoices": "invoice",
    "issuing/authorizations": "issuing.authorization",
    "issuing/cardholders": "issuing.cardholder",
    "issuing/cards": "issuing.card",
    "issuing/disputes": "issuing.dispute",
    "issuing/transactions": "issuing.transaction",
    "mandates": "mandate",
    "payment_intents": "payment_intent",
    "payment_links": "payment_link",
    "payment_methods": "payment_method",
    "payouts": "payout",
    "plans": "plan",
    "prices": "price",
    "products": "product",
    "promotion_codes": "promotion_code",
    "quotes": "quote",
    "radar/early_fraud_warnings": "radar.early_fraud_warning",
    "refunds": "refund",
    "reporting/report_runs": "reporting.report_run",
    "reporting/report_types": "reporting.report_type",
    "reviews": "review",
    "setup_intents": "setup_intent",
    "sigma/scheduled_query_runs": "scheduled_query_run",
    "sources": "source",
    "subscription_items": "subscription_item",
    "subscription_schedules": "subscription_schedule",
    "subscriptions": "subscription",
    "tax_rates": "tax_rate",
    "terminal/readers": "terminal.reader",
    "test_helpers/test_clocks": "test_helpers.test_clock",
    "topups": "topup",
    "transfers": "transfer",
    "treasury/credit_reversals": "treasury.credit_reversal",
    "treasury/debit_reversals": "treasury.debit_reversal",
    "treasury/financial_accounts": "treasury.financial_account",
    "treasury/inbound_transfers": "treasury.inbound_transfer",
    "treasury/outbound_payments": "treasury.outbound_payment",
    "treasury/outbound_transfers": "treasury.outbound_transfer",
    "treasury/received_credits": "treasury.received_credit",
    "treasury/received_debits": "treasury.received_debit",
}

# Object types whose `/v1/<collection>/{id}` takes POST (update) and DELETE, per the same description.
_UPDATABLE = frozenset(
    {
        "account",
        "billing_portal.configuration",
        "charge",
        "coupon",
        "credit_note",
        "customer",
        "dispute",
        "file_link",
        "identity.verification_session",
        "invoice",
        "invoiceitem",
        "issuing.authorization",
        "issuing.card",
        "issuing.cardholder",
        "issuing.dispute",
        "issuing.transaction",
        "payment_intent",
        "payment_link",
        "payment_method",
        "payout",
        "plan",
        "price",
        "product",
        "promotion_code",
        "quote",
        "refund",
        "setup_intent",
        "source",
        "subscription",
        "subscription_item",
        "subscription_schedule",
        "tax_rate",
        "terminal.reader",
        "topup",
        "transfer",
        "treasury.financial_account",
    }
)
_DELETABLE = frozenset(
    {
        "account",
        "coupon",
        "customer",
        "invoice",
        "invoiceitem",
        "plan",
        "product",
        "subscription",
        "subscription_item",
        "terminal.reader",
        "test_helpers.test_clock",
        "bank_account",
        "card",
        "person",
    }
)

# POST /v1/<collection>/{id}/<action>: the fields the action sets when the object has them.
_ACTIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("charge", "capture"): {"captured": True},
    ("checkout.session", "expire"): {"status": "expired"},
    ("credit_note", "void"): {"status": "void"},
    ("dispute", "close"): {"status": "lost"},
    ("invoice", "finalize"): {"status": "open"},
    ("invoice", "mark_uncollectible"): {"status": "uncollectible"},
    ("invoice", "pay"): {"status": "paid", "paid": True},
    ("invoice", "send"): {},
    ("invoice", "void"): {"status": "void"},
    ("payment_intent", "apply_customer_balance"): {},
    ("payment_intent", "cancel"): {"status": "canceled"},
    ("payment_intent", "capture"): {"status": "succeeded"},
    ("payment_intent", "confirm"): {"status": "succeeded"},
    ("payment_intent", "increment_authorization"): {},
    ("payment_method", "attach"): {},
    ("payment_method", "detach"): {"customer": None},
    ("payout", "cancel"): {"status": "canceled"},
    ("quote", "accept"): {"status": "accepted"},
    ("quote", "cancel"): {"status": "canceled"},
    ("quote", "finalize"): {"status": "open"},
    ("refund", "cancel"): {"status": "canceled"},
    ("review", "approve"): {"open": False, "reason": "approved"},
    ("setup_intent", "cancel"): {"status": "canceled"},
    ("setup_intent", "confirm"): {"status": "succeeded"},
    ("subscription", "resume"): {"status": "active"},
    ("subscription_schedule", "cancel"): {"status": "canceled"},
    ("subscription_schedule", "release"): {"status": "released"},
    ("topup", "cancel"): {"status": "canceled"},
}

# Sub-resources of a connected account: path segment -> (object types, the noun in "No such ...").
_ACCOUNT_RESOURCES: dict[str, tuple[frozenset[str], str]] = {
    "external_accounts": (frozenset({"bank_account", "card"}), "external account"),
    "persons": (frozenset({"person"}), "person"),
    "capabilities": (frozenset({"capability"}), "capability"),
}

# Objects that exist in both modes on Stripe: an event naming one does not tie it to its mode.
_BOTH_MODES = frozenset({"account", "person", "capability", "bank_account", "card"})

_ACCOUNT_ID = re.compile(r"^acct_[0-9A-Za-z]+$")
_SECRET_KEY = re.compile(r"^(?:sk|rk)_(test|live)_[0-9A-Za-z_]+$")
_PUBLISHABLE_KEY = re.compile(r"^pk_(?:test|live)_")
_KEY_PREFIX = re.compile(r"^[a-z]+_(?:(?:test|live)_)?")
_CAPABILITY_NAME = re.compile(r"^[a-z0-9_]+$")
_FORM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_PUBLISHABLE = (
    "This API call cannot be made with a publishable API key. Please use a secret API key. You "
    "can find a list of your API keys at https://dashboard.stripe.com/account/apikeys."
)
_DEFAULT_API_VERSION = "2023-08-16"
_NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")


# --- stored state ---------------------------------------------------------------------------------


@dataclass
class _Stored:
    """An object the fake knows: who owns it, its mode, and its current state (built lazily)."""

    type: str
    object_id: str | None
    owner: str | None
    livemode: bool | None
    obj: dict[str, Any] | None = None
    deleted: bool = False
    #: The world (event seed) a lazily built object is built in, so its own references match.
    seed: int = 0
    #: Keep ``livemode`` even if the object has no such field (a balance transaction is of one
    #: mode); objects named by events are, except those of both modes (:data:`_BOTH_MODES`).
    keep_mode: bool = False


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    stored: _Stored | None = None
    object_type: str | None = None
    object_id: str | None = None
    object_owner: str | None = None
    object_livemode: bool | None = None


@dataclass
class _Replay:
    fingerprint: tuple[Any, ...]
    answer: _Answer
    text: str
    request_id: str


@dataclass(frozen=True)
class _Context:
    """Who is asking: the key's mode, the account acted as, and the key (for messages)."""

    mode: str
    account: str | None
    key: str

    @property
    def live(self) -> bool:
        return self.mode == "live"


def _build_object(
    object_type: str,
    *,
    object_id: str | None = None,
    account: str | None = None,
    livemode: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    from connect_harness.events.objects import build_object

    return build_object(
        object_type, object_id=object_id, account=account, livemode=livemode, seed=seed
    )


def _references(
    obj: Mapping[str, Any],
    object_type: str,
    owner: str | None,
    livemode: bool,
    version: str | None = None,
) -> list[tuple[str, str, str | None]]:
    """(id, type, owner) of every object ``obj`` names or embeds, found from the contracts.

    ``version`` is the event's API version: its contract set says where the ids sit.
    """
    from connect_harness.events.world import references

    try:
        found = references(obj, object_type, account=owner, livemode=livemode, version=version)
    except HarnessError:  # a type the contracts do not describe names nothing we can serve
        return []
    return [(ref.object_id, ref.object_type, ref.owner) for ref in found]


def _shapes_of(api_version: Any) -> str | None:
    """The contract set of an event's ``api_version`` (None, the newest, when it names none)."""
    from connect_harness.spec.contracts import resolve_version

    if not isinstance(api_version, str):
        return None
    try:
        return resolve_version(api_version).shapes
    except HarnessError:
        return None


def _object_type_for_id(object_id: str) -> str | None:
    from connect_harness.events.objects import object_type_for_id

    return object_type_for_id(object_id)


def _api_version() -> str:
    """The version objects are rendered in when the request names none: the contracts' version."""
    from connect_harness.spec.contracts import api_version

    try:
        return api_version()
    except HarnessError:  # unreadable contracts must not turn every answer into a crash
        return _DEFAULT_API_VERSION


class FakeStripeAPI:
    """Stripe's API on 127.0.0.1 for the endpoint under test, recording every call.

    Start it (or use it as a context manager), point the endpoint's Stripe client at :attr:`url`
    (:meth:`patch_stripe` does that for stripe-python's module-level API in this process; a
    ``StripeClient`` takes ``base_addresses={"api": fake.url}``), :meth:`register_event` each event
    before delivering it, and wrap each delivery in :meth:`delivery` so the calls it causes carry its
    label. Calls made after a handler already answered (background work) keep the label of the last
    delivery until the next one starts; :meth:`wait_idle` waits for them.

    The fake never retries and never makes stripe-python retry: none of its answers is a 409, and
    its 500s (a harness bug) carry ``Stripe-Should-Retry: false``.
    """

    def __init__(self, *, port: int = 0, host: str = "127.0.0.1") -> None:
        self._host = host
        self._port = port
        self._server: Any = None
        self._url: str | None = None
        # Two locks: the object store is held while a request is routed; the activity lock (calls,
        # label, requests in flight) never is, so calls/wait_idle answer while a request runs.
        self._lock = threading.RLock()
        self._activity = threading.Lock()
        self._objects: dict[str, _Stored] = {}
        self._events: dict[str, _Stored] = {}
        self._revoked: set[str] = set()
        self._replays: dict[tuple[str, str | None, str], _Replay] = {}
        self._calls: list[ApiCall] = []
        self._label: str | None = None
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._request_count = 0
        self._created_count = 0
        self._api_version: str | None = None
        self._v2 = V2Objects()

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeStripeAPI:
        """Start serving in a background thread; returns self."""
        if self._server is not None:
            raise HarnessError(f"the fake Stripe API is already running at {self._url}")
        server = _server_class()(host=self._host, port=self._port, threaded=True)
        server.no_handler_status_code = 404
        server.expect_request(re.compile(r".*")).respond_with_handler(self._respond)
        try:
            server.start()
        except SystemExit as err:  # werkzeug exits when it cannot bind
            raise UsageError(
                f"cannot start the fake Stripe API on {self._host}:{self._port}: the address is "
                "in use or not available here; pass port=0 to let the system pick a free port"
            ) from err
        # werkzeug logs every request to stderr through a handler bound at first use; a test tool
        # should be quiet, and a handler bound to a captured stream breaks later tests.
        assert server.server is not None
        server.server.RequestHandlerClass = _quiet_handler()
        self._server = server
        self._url = f"http://{server.format_host(self._host)}:{server.port}"
        return self

    def stop(self) -> None:
        """Stop serving; calls and objects stay available until :meth:`reset`."""
        server, self._server = self._server, None
        if server is not None and server.is_running():
            server.stop()

    def __enter__(self) -> FakeStripeAPI:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the ``api_base`` the endpoint's Stripe client should use.

        After :meth:`stop` it is still the address the fake last served, for reports.
        """
        if self._url is None:
            raise HarnessError(
                "the fake Stripe API has not been started; call start() or use it as a context "
                "manager"
            )
        return self._url

    def reset(self) -> None:
        """Forget every call, object, event, idempotency key and deauthorization."""
        with self._lock, self._activity:
            self._objects.clear()
            self._events.clear()
            self._revoked.clear()
            self._replays.clear()
            self._calls.clear()
            self._label = None
            self._created_count = 0
            self._v2.reset()

    @contextlib.contextmanager
    def patch_stripe(self) -> Iterator[None]:
        """Point stripe-python's module-level API (``stripe.api_base``) here for the block.

        The fake's host is added to ``NO_PROXY``/``no_proxy`` for the block too: stripe-python's
        HTTP client honours proxy variables, and a CI proxy would otherwise swallow the calls.
        ``StripeClient`` instances carry their own base address and are not affected: create them
        with ``base_addresses={"api": fake.url}``. ``stripe.max_network_retries`` is left as the
        user set it: the fake's answers are never ones stripe-python retries.
        """
        import stripe

        saved = stripe.api_base
        saved_env = {name: os.environ.get(name) for name in _NO_PROXY_VARIABLES}
        stripe.api_base = self.url
        for name, value in saved_env.items():
            os.environ[name] = f"{value},{self._host}" if value else self._host
        try:
            yield
        finally:
            stripe.api_base = saved
            for name, value in saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    # --- what the endpoint did ----------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        """Every call received so far, oldest first (a snapshot)."""
        with self._activity:
            return list(self._calls)

    def calls_for(self, label: str) -> list[ApiCall]:
        """The calls attributed to the delivery labelled ``label``."""
        with self._activity:
            return [call for call in self._calls if call.delivery == label]

    @contextlib.contextmanager
    def delivery(self, label: str) -> Iterator[None]:
        """Attribute calls to ``label`` from now until the next delivery starts."""
        with self._activity:
            self._label = label
        yield

    def wait_idle(self, *, quiet: float = 0.05, timeout: float = 2.0) -> bool:
        """Wait until no request is in flight and none arrived for ``quiet`` seconds.

        Returns False if that did not happen within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._activity:
                busy = self._in_flight > 0
                idle_for = time.monotonic() - self._last_activity
            if not busy and idle_for >= quiet:
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            time.sleep(min(max(quiet - idle_for, 0.005), deadline - now))

    def current_object(self, object_id: str) -> dict[str, Any] | None:
        """The fake's current state of the object ``object_id`` (a copy), if it knows it."""
        with self._lock:
            stored = self._objects.get(object_id)
            if stored is None:
                return None
            return copy.deepcopy(self._materialize(stored))

    # --- what Stripe knows --------------------------------------------------------------------------

    def register_event(self, event: _EventLike) -> None:
        """Make the objects of ``event`` exist, owned by its account, in its mode.

        Besides ``data.object``: the event itself (``GET /v1/events/<id>``), the connected account
        of a Connect event, a payout's destination as that account's external account, and the
        same-account objects ``data.object`` refers to by id (its customer, charge, ...). Registering
        ``account.application.deauthorized`` revokes the platform's access to that account: every
        later request acting as it, or reading it, gets a 403, as on Stripe.
        """
        payload = event.payload
        if payload.get("object") == "v2.core.event":
            self._register_thin(event)
            return
        owner = payload.get("account") or None
        livemode = bool(payload.get("livemode"))
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        with self._lock:
            event_id = payload.get("id")
            if isinstance(event_id, str):
                self._events[event_id] = _Stored(
                    "event", event_id, owner, livemode, copy.deepcopy(dict(payload))
                )
            if owner is not None:
                self._know_account(owner)
                if payload.get("type") == "account.application.deauthorized":
                    self._revoked.add(owner)
            if isinstance(obj, Mapping):
                self._register_object(
                    dict(obj),
                    owner,
                    livemode,
                    int(getattr(event, "seed", 0)),
                    version=_shapes_of(payload.get("api_version")),
                )

    def _register_thin(self, event: Any) -> None:
        """A thin notification: its full event and v2 object (v2 side), its v1 object (v1 side)."""
        self._v2.register(event)
        context = event.payload.get("context")
        with self._lock:
            if isinstance(context, str):
                self._know_account(context)
        snapshot = getattr(event, "snapshot", None)
        if snapshot is not None:
            self.register_event(snapshot)

    def register_reference(
        self,
        object_id: str,
        object_type: str,
        owner: str | None,
        livemode: bool,
        seed: int = 0,
    ) -> None:
        """Make ``object_id`` exist, owned by ``owner`` (None: the platform) in one mode.

        Cheap: the object is built on first use, with ``seed``, so its own references are the ids
        the events of that seed carry. An object the fake already knows keeps its owner and state.
        """
        with self._lock:
            if object_type == "account":
                self._know_account(object_id)
            elif object_id not in self._objects:
                self._objects[object_id] = _Stored(
                    object_type,
                    object_id,
                    owner,
                    livemode,
                    seed=seed,
                    keep_mode=object_type not in _BOTH_MODES,
                )

    def _register_object(
        self,
        obj: dict[str, Any],
        owner: str | None,
        livemode: bool,
        seed: int = 0,
        version: str | None = None,
    ) -> None:
        object_type = str(obj.get("object", ""))
        object_id = obj.get("id") if isinstance(obj.get("id"), str) else None
        mode = livemode if "livemode" in obj else None
        obj = copy.deepcopy(obj)
        if object_type == "account" and object_id is not None:
            self._objects[object_id] = _Stored("account", object_id, object_id, None, obj)
            return
        if object_type == "balance":
            self._objects[_balance_key(owner, livemode)] = _Stored(
                "balance", None, owner, livemode, obj
            )
            return
        if object_type in ("bank_account", "card", "person", "capability"):
            owner = obj.get("account") if isinstance(obj.get("account"), str) else owner
        if object_id is None:
            return
        key = _capability_key(owner, object_id) if object_type == "capability" else object_id
        self._objects[key] = _Stored(object_type, object_id, owner, mode, obj)

        if object_type == "payout" and isinstance(obj.get("destination"), str):
            destination = obj["destination"]
            kind = "card" if destination.startswith("card_") else "bank_account"
            if destination not in self._objects:
                external = _build_object(
                    kind, object_id=destination, account=owner, livemode=livemode
                )
                self._objects[destination] = _Stored(
                    kind,
                    destination,
                    owner,
                    livemode if "livemode" in external else None,
                    external,
                )
        for referred_id, referred_type, referred_owner in _references(
            obj, object_type, owner, livemode, version
        ):
            self.register_reference(referred_id, referred_type, referred_owner, livemode, seed)

    def _know_account(self, account: str) -> None:
        if account not in self._objects:
            self._objects[account] = _Stored("account", account, account, None)

    def _materialize(self, stored: _Stored) -> dict[str, Any]:
        if stored.obj is None:
            if stored.type == "balance":
                obj = _build_object("balance", account=stored.owner, livemode=bool(stored.livemode))
            else:
                obj = _build_object(
                    stored.type,
                    object_id=stored.object_id,
                    account=stored.owner,
                    livemode=bool(stored.livemode),
                    seed=stored.seed,
                )
                for referred_id, referred_type, owner in _references(
                    obj, stored.type, stored.owner, bool(stored.livemode)
                ):
                    self.register_reference(
                        referred_id, referred_type, owner, bool(stored.livemode), stored.seed
                    )
            if "livemode" not in obj and stored.type != "balance" and not stored.keep_mode:
                stored.livemode = None
            stored.obj = obj
        return stored.obj

    # --- serving ------------------------------------------------------------------------------------

    def _respond(self, request: Any) -> Any:
        """pytest-httpserver handler: every request lands here (one permanent catch-all)."""
        from werkzeug.wrappers import Response as WerkzeugResponse

        arrived = time.monotonic()
        with self._activity:
            self._in_flight += 1
            self._last_activity = arrived
            label = self._label
            self._request_count += 1
            request_id = f"req_{self._request_count:014d}"
        try:
            call, status, text, headers = self._handle(request, request_id, label, arrived)
        except Exception as err:  # a bug in the fake must not look like one of Stripe's answers
            status, headers = 500, {"Stripe-Should-Retry": "false"}
            text = _render(
                _error(
                    "api_error",
                    "connect_harness's fake Stripe API failed on this request: "
                    f"{type(err).__name__}: {err}",
                )
            )
            call = _bare_call(request, status, label, arrived)
        with self._activity:
            self._calls.append(call)
            self._in_flight -= 1
            self._last_activity = time.monotonic()
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("Stripe-Version") or self._version(),
            **headers,
        }
        return WerkzeugResponse(
            text, status=status, headers=headers, content_type="application/json"
        )

    def _version(self) -> str:
        if self._api_version is None:
            self._api_version = _api_version()
        return self._api_version

    def _handle(
        self, request: Any, request_id: str, label: str | None, arrived: float
    ) -> tuple[ApiCall, int, str, dict[str, str]]:
        method = str(request.method).upper()
        path = str(request.path)
        query = dict(parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True))
        content_type = request.headers.get("Content-Type", "")
        form_pairs: list[tuple[str, str]] = []
        if content_type.startswith("application/x-www-form-urlencoded"):
            form_pairs = parse_qsl(request.get_data().decode("utf-8"), keep_blank_values=True)
        # Thin events' fetch_related_object()/fetch_event() send the account as Stripe-Context.
        stripe_account = (
            request.headers.get("Stripe-Account") or request.headers.get("Stripe-Context") or None
        )
        idempotency_key = request.headers.get("Idempotency-Key") or None
        headers: dict[str, str] = {}
        if idempotency_key is not None and method == "POST":
            headers["Idempotency-Key"] = idempotency_key
        if stripe_account is not None:
            headers["Stripe-Account"] = stripe_account

        mode, key, auth_error = _authenticate(request.headers.get("Authorization"))
        replayed = False
        with self._lock:
            if auth_error is not None:
                answer, text = _Answer(401, auth_error), _render(auth_error)
            else:
                assert mode is not None and key is not None
                context = _Context(mode, stripe_account, key)
                replay_key = (key, stripe_account, idempotency_key or "")
                fingerprint = (method, path, tuple(sorted(form_pairs)))
                previous = (
                    self._replays.get(replay_key)
                    if idempotency_key is not None and method == "POST"
                    else None
                )
                if previous is not None and previous.fingerprint == fingerprint:
                    answer, text, replayed = previous.answer, previous.text, True
                    headers["Idempotent-Replayed"] = "true"
                    headers["Original-Request"] = previous.request_id
                elif previous is not None:
                    answer = _Answer(400, _idempotency_mismatch(idempotency_key or ""))
                    text = _render(answer.body)
                else:
                    answer = self._route(method, path, query, form_pairs, context)
                    text = _render(answer.body)
                    if (
                        idempotency_key is not None
                        and method == "POST"
                        and answer.status not in (401, 429)
                        and answer.status < 500
                    ):
                        self._replays[replay_key] = _Replay(fingerprint, answer, text, request_id)
        call = ApiCall(
            method=method,
            path=path,
            query=query,
            stripe_account=stripe_account,
            idempotency_key=idempotency_key,
            key_mode=mode,
            object_id=answer.object_id,
            object_type=answer.object_type,
            object_owner=answer.object_owner,
            object_livemode=answer.object_livemode,
            status=answer.status,
            delivery=label,
            mutating=method in ("POST", "DELETE"),
            at=arrived,
            form=dict(form_pairs),
            replayed=replayed,
        )
        return call, answer.status, text, headers

    # --- routing ------------------------------------------------------------------------------------

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        form: list[tuple[str, str]],
        context: _Context,
    ) -> _Answer:
        unrecognized = _Answer(404, _unrecognized(method, path))
        account = context.account
        if account is not None and (not _ACCOUNT_ID.match(account) or account in self._revoked):
            return _Answer(403, _no_access(context.key, account))
        if path.startswith("/v2/"):
            v2 = self._v2.answer(method, path, account=account, livemode=context.live)
            return _Answer(
                v2.status,
                v2.body,
                object_type=v2.object_type,
                object_id=v2.object_id,
                object_owner=v2.object_owner,
                object_livemode=v2.object_livemode,
            )
        segments = path.strip("/").split("/")
        if not segments or segments[0] != "v1" or len(segments) < 2:
            return unrecognized
        rest = segments[1:]

        if rest == ["balance"] and method == "GET":
            return self._balance(context)
        if rest == ["account"] and method == "GET":
            return self._own_account(context)
        if rest[0] == "events" and len(rest) == 2 and method == "GET":
            return self._event(rest[1], context)
        if rest[0] == "accounts" and len(rest) >= 2:
            return self._account_route(method, rest[1], rest[2:], query, form, context)

        for size in (2, 1):
            collection = "/".join(rest[:size])
            object_type = _COLLECTIONS.get(collection)
            if object_type is None or len(rest) < size:
                continue
            tail = rest[size:]
            if not tail:
                if method == "GET":
                    return self._list(object_type, query, context, path)
                if method == "POST":
                    return self._create(object_type, form, context)
                return unrecognized
            object_id = tail[0]
            if len(tail) == 1 and method == "GET":
                return self._retrieve(object_type, object_id, context)
            if len(tail) == 1 and method == "POST" and object_type in _UPDATABLE:
                return self._update(object_type, object_id, form, context)
            if len(tail) == 1 and method == "DELETE" and object_type in _DELETABLE:
                return self._delete(object_type, object_id, context)
            if len(tail) == 2 and method == "POST" and (object_type, tail[1]) in _ACTIONS:
                return self._update(
                    object_type, object_id, form, context, _ACTIONS[(object_type, tail[1])]
                )
            return unrecognized
        return unrecognized

    def _find(
        self,
        types: frozenset[str],
        noun: str,
        key: str,
        object_id: str,
        owner: str | None,
        context: _Context,
        *,
        make: str | None = None,
    ) -> _Answer:
        """Look an object up as ``context`` sees it: the answer holds it, or Stripe's 404."""
        stored = self._objects.get(key)
        if stored is None:
            guessed = make or _object_type_for_id(object_id)
            if guessed is None or guessed not in types:
                return _Answer(
                    404, _no_such(noun, object_id), object_type=_first(types), object_id=object_id
                )
            stored = _Stored(guessed, object_id, owner, context.live)
            self._materialize(stored)
            self._objects[key] = stored
        answer = _Answer(
            404,
            _no_such(noun, object_id),
            object_type=stored.type,
            object_id=object_id,
            object_owner=stored.owner,
            object_livemode=stored.livemode,
        )
        if stored.type not in types or stored.owner != owner:
            return answer
        self._materialize(stored)
        answer.object_livemode = stored.livemode
        if stored.livemode is not None and stored.livemode != context.live:
            answer.body = _no_such(noun, object_id, exists_in="live" if stored.livemode else "test")
            return answer
        answer.status, answer.stored = 200, stored
        answer.body = stored.obj or {}
        return answer

    def _retrieve(self, object_type: str, object_id: str, context: _Context) -> _Answer:
        answer = self._find(
            frozenset({object_type}), object_type, object_id, object_id, context.account, context
        )
        if answer.stored is not None and answer.stored.deleted:
            answer.body = _deleted_stub(answer.stored)
        return answer

    def _update(
        self,
        object_type: str,
        object_id: str,
        form: list[tuple[str, str]],
        context: _Context,
        action: Mapping[str, Any] | None = None,
    ) -> _Answer:
        answer = self._find(
            frozenset({object_type}), object_type, object_id, object_id, context.account, context
        )
        return _apply_update(answer, form, action)

    def _delete(self, object_type: str, object_id: str, context: _Context) -> _Answer:
        answer = self._find(
            frozenset({object_type}), object_type, object_id, object_id, context.account, context
        )
        return _apply_delete(answer, object_type)

    def _list(
        self, object_type: str, query: Mapping[str, str], context: _Context, path: str
    ) -> _Answer:
        def visible(stored: _Stored) -> bool:
            if object_type == "account":  # the platform lists its accounts; an account sees itself
                return context.account in (None, stored.object_id)
            return stored.owner == context.account and stored.livemode in (None, context.live)

        found = [
            self._materialize(stored)
            for stored in reversed(list(self._objects.values()))
            if stored.type == object_type and not stored.deleted and visible(stored)
        ]
        return _Answer(200, _list_body(found, query, path), object_type=object_type)

    def _create(self, object_type: str, form: list[tuple[str, str]], context: _Context) -> _Answer:
        seed = self._created_count
        while True:
            seed += 1
            obj = _build_object(
                object_type, account=context.account, livemode=context.live, seed=1000 + seed
            )
            object_id = obj.get("id")
            if not isinstance(object_id, str) or object_id not in self._objects:
                break
        self._created_count = seed
        mode = context.live if "livemode" in obj else None
        owner = object_id if object_type == "account" else context.account
        stored = _Stored(object_type, object_id, owner, mode, obj)
        if isinstance(object_id, str):
            self._objects[object_id] = stored
        _apply_form(obj, form)
        return _Answer(
            200,
            obj,
            stored,
            object_type,
            object_id if isinstance(object_id, str) else None,
            owner,
            mode,
        )

    def _balance(self, context: _Context) -> _Answer:
        key = _balance_key(context.account, context.live)
        stored = self._objects.get(key)
        if stored is None:
            stored = self._objects[key] = _Stored("balance", None, context.account, context.live)
        return _Answer(
            200,
            self._materialize(stored),
            stored,
            "balance",
            None,
            context.account,
            context.live,
        )

    def _own_account(self, context: _Context) -> _Answer:
        from connect_harness.events.ids import stripe_id

        account = context.account or stripe_id("acct", "connect_harness", "platform")
        self._know_account(account)
        stored = self._objects[account]
        return _Answer(200, self._materialize(stored), stored, "account", account, account, None)

    def _event(self, event_id: str, context: _Context) -> _Answer:
        stored = self._events.get(event_id)
        answer = _Answer(404, _no_such("event", event_id), object_type="event", object_id=event_id)
        if stored is None:
            return answer
        answer.object_owner, answer.object_livemode = stored.owner, stored.livemode
        if stored.owner != context.account:
            return answer
        if stored.livemode != context.live:
            answer.body = _no_such(
                "event", event_id, exists_in="live" if stored.livemode else "test"
            )
            return answer
        answer.status, answer.body = 200, stored.obj or {}
        return answer

    def _account_route(
        self,
        method: str,
        account: str,
        rest: list[str],
        query: Mapping[str, str],
        form: list[tuple[str, str]],
        context: _Context,
    ) -> _Answer:
        path = "/v1/accounts/" + "/".join([account, *rest])
        unrecognized = _Answer(404, _unrecognized(method, path))
        if context.account not in (None, account) or account in self._revoked:
            answer = _Answer(403, _no_access(context.key, account))
            answer.object_type, answer.object_id, answer.object_owner = "account", account, account
            return answer
        if not rest:
            answer = self._find(
                frozenset({"account"}), "account", account, account, account, context
            )
            if method == "GET":
                return answer
            if method == "POST":
                return _apply_update(answer, form, None)
            if method == "DELETE":
                return _apply_delete(answer, "account")
            return unrecognized
        resource = _ACCOUNT_RESOURCES.get(rest[0])
        if resource is None or len(rest) > 2:
            return unrecognized
        types, noun = resource
        if len(rest) == 1:
            if method != "GET":
                return unrecognized
            found = [
                self._materialize(stored)
                for stored in reversed(list(self._objects.values()))
                if stored.type in types
                and stored.owner == account
                and not stored.deleted
                and stored.livemode in (None, context.live)
            ]
            return _Answer(200, _list_body(found, query, path), object_type=_first(types))
        object_id = rest[1]
        make: str | None = None
        key = object_id
        if rest[0] == "capabilities":
            if not _CAPABILITY_NAME.match(object_id):
                return _Answer(404, _no_such(noun, object_id))
            make, key = "capability", _capability_key(account, object_id)
        answer = self._find(types, noun, key, object_id, account, context, make=make)
        if method == "GET":
            return answer
        if method == "POST":
            return _apply_update(answer, form, None)
        if method == "DELETE" and rest[0] != "capabilities":
            return _apply_delete(answer, answer.object_type or _first(types))
        return unrecognized


# --- pure helpers ---------------------------------------------------------------------------------


@functools.cache
def _server_class() -> type[Any]:
    from pytest_httpserver import HTTPServer

    class Server(HTTPServer):
        def thread_target(self) -> None:
            # werkzeug polls for shutdown every 0.5 s by default: every stop() would cost that.
            assert self.server is not None
            self.server.serve_forever(poll_interval=0.02)

    return Server


def _quiet_handler() -> type:
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log(self, type: str, message: str, *args: Any) -> None:
            return None

    return QuietHandler


def _render(body: Mapping[str, Any]) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _bare_call(request: Any, status: int, label: str | None, arrived: float) -> ApiCall:
    method = str(request.method).upper()
    return ApiCall(
        method=method,
        path=str(request.path),
        query={},
        stripe_account=request.headers.get("Stripe-Account") or None,
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
    )


def _first(types: frozenset[str]) -> str:
    return sorted(types)[0]


def _balance_key(owner: str | None, livemode: bool) -> str:
    return f"balance/{owner or 'platform'}/{'live' if livemode else 'test'}"


def _capability_key(account: str | None, name: str) -> str:
    return f"{account}/capabilities/{name}"


def _authenticate(
    header: str | None,
) -> tuple[str | None, str | None, dict[str, Any] | None]:
    """(mode, key, None) for a usable secret key, else (None, None, Stripe's 401 body)."""
    key = ""
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                key = value.strip()
            key = key.partition(":")[0]
        else:
            key = header.strip()
    if not key:
        return None, None, _error("invalid_request_error", _NO_KEY)
    match = _SECRET_KEY.match(key)
    if match:
        return match.group(1), key, None
    if _PUBLISHABLE_KEY.match(key):
        return None, None, _error("invalid_request_error", _PUBLISHABLE)
    return None, None, _error("invalid_request_error", f"Invalid API Key provided: {_redact(key)}")


def _redact(key: str) -> str:
    """``sk_test_****************1234``: the prefix and last four characters, as Stripe shows."""
    prefix_match = _KEY_PREFIX.match(key)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = key[len(prefix) :]
    if len(rest) <= 4:
        return prefix + "*" * len(rest)
    return prefix + "*" * (len(rest) - 4) + rest[-4:]


def _error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {**extra, "message": message, "type": kind}}


def _no_such(noun: str, object_id: str, *, exists_in: str | None = None) -> dict[str, Any]:
    message = f"No such {noun}: '{object_id}'"
    if exists_in is not None:
        other = "test" if exists_in == "live" else "live"
        message += (
            f"; a similar object exists in {exists_in} mode, but a {other} mode key was used to "
            "make this request."
        )
    return {
        "error": {
            "code": "resource_missing",
            "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
            "message": message,
            "param": "id",
            "type": "invalid_request_error",
        }
    }


def _no_access(key: str, account: str) -> dict[str, Any]:
    return _error(
        "invalid_request_error",
        f"The provided key '{_redact(key)}' does not have access to account '{account}' (or that "
        "account does not exist). Application access may have been revoked.",
        code="account_invalid",
        doc_url="https://stripe.com/docs/error-codes/account-invalid",
    )


def _unrecognized(method: str, path: str) -> dict[str, Any]:
    return _error(
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we "
        "can help at https://support.stripe.com/.",
    )


def _idempotency_mismatch(key: str) -> dict[str, Any]:
    return _error(
        "idempotency_error",
        "Keys for idempotent requests can only be used with the same parameters they were first "
        f"used with. Try using a key other than '{key}' if you meant to execute a different "
        "request.",
    )


def _deleted_stub(stored: _Stored) -> dict[str, Any]:
    return {"id": stored.object_id, "object": stored.type, "deleted": True}


def _list_body(found: list[dict[str, Any]], query: Mapping[str, str], path: str) -> dict[str, Any]:
    filters = {
        name: value
        for name, value in query.items()
        if "[" not in name and name not in ("limit", "starting_after", "ending_before")
    }
    matching = [
        obj
        for obj in found
        if all(
            name in obj and str(_form_text(obj[name])) == value for name, value in filters.items()
        )
    ]
    try:
        limit = max(1, min(100, int(query.get("limit", "10"))))
    except ValueError:
        limit = 10
    return {
        "object": "list",
        "data": copy.deepcopy(matching[:limit]),
        "has_more": len(matching) > limit,
        "url": path,
    }


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _apply_update(
    answer: _Answer, form: list[tuple[str, str]], action: Mapping[str, Any] | None
) -> _Answer:
    stored = answer.stored
    if stored is None or stored.obj is None:
        return answer
    if stored.deleted:
        answer.status, answer.stored = 404, None
        answer.body = _no_such(stored.type, stored.object_id or "")
        return answer
    _apply_form(stored.obj, form)
    for name, value in (action or {}).items():
        if name in stored.obj:
            stored.obj[name] = value
    answer.body = stored.obj
    return answer


def _apply_delete(answer: _Answer, object_type: str) -> _Answer:
    stored = answer.stored
    if stored is None:
        return answer
    if stored.deleted:
        answer.status, answer.stored = 404, None
        answer.body = _no_such(object_type, stored.object_id or "")
        return answer
    if stored.type == "subscription" and stored.obj is not None:
        # Deleting a subscription cancels it; the answer is the subscription, not a stub.
        stored.obj["status"] = "canceled"
        answer.body = stored.obj
        return answer
    stored.deleted = True
    answer.body = _deleted_stub(stored)
    return answer


def _apply_form(obj: dict[str, Any], form: list[tuple[str, str]]) -> None:
    """Apply form-encoded update parameters the way Stripe does, to the fields the object has.

    ``metadata[key]=value`` sets a key, ``metadata[key]=`` removes it and ``metadata=`` clears all;
    a top-level scalar field takes the value (coerced to the field's JSON type) and ``""`` unsets it;
    nested hashes are merged. Parameters the object has no field for are accepted and ignored.
    """
    for name, value in form:
        match = _FORM_KEY.match(name)
        if match is None:
            continue
        head = match.group(1)
        path = [head, *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        if head == "expand" or any(part == "" or part.isdigit() for part in path[1:]):
            continue
        if head == "metadata":
            metadata = obj.get("metadata")
            if not isinstance(metadata, dict):
                metadata = obj["metadata"] = {}
            if len(path) == 1:
                if value == "":
                    metadata.clear()
            elif len(path) == 2:
                if value == "":
                    metadata.pop(path[1], None)
                else:
                    metadata[path[1]] = value
            continue
        target: Any = obj
        for part in path[:-1]:
            if not isinstance(target, dict) or part not in target:
                target = None
                break
            if target[part] is None:
                target[part] = {}
            target = target[part]
        last = path[-1]
        if not isinstance(target, dict) or last not in target:
            continue
        current = target[last]
        if isinstance(current, (dict, list)) and value != "":
            continue
        target[last] = _coerce(current, value)


def _coerce(current: Any, value: str) -> Any:
    if value == "":
        return None
    if isinstance(current, bool):
        return value == "true"
    if isinstance(current, int):
        try:
            return int(value)
        except ValueError:
            return value
    if isinstance(current, float):
        try:
            return float(value)
        except ValueError:
            return value
    return value
