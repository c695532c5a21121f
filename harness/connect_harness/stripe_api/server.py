"""A local stand-in for ``api.stripe.com`` that fails the way Stripe fails for Connect handlers.

Webhook handlers usually call back into the API: fetch the object fresh, update its metadata, read
the account. :class:`FakeStripeAPI` answers those calls on 127.0.0.1 and records every one of them as
an :class:`ApiCall`, so a check can tell *how* the handler talked to Stripe, not only what it
answered. Every v1 route of Stripe's description for the request's API version is served (see
:mod:`connect_harness.stripe_api.routes`), parameters are validated and ``expand[]`` honoured as on
Stripe, and it is strict exactly where real handlers go wrong:

* an object exists only because an event, a create or a test registered it: an unknown id is
  ``No such customer: 'cus_...'``;
* an object of a connected account exists only for requests made *as* that account
  (``Stripe-Account``); the platform's own account id in ``Stripe-Account`` acts as the platform;
  an account that is not connected, or that deauthorized the platform, is a 403;
* test-mode objects are invisible to live keys and the other way round;
* a repeated ``Idempotency-Key`` replays the first answer instead of applying an update twice;
* :meth:`FakeStripeAPI.fail` makes chosen routes answer 429s, 500s, slowly or not at all.

A request for something the fake does not serve (a path outside the description, a v2 write other
than the meter event session, stream and create of ``stripe_api/meter_events.py``) is
answered as Stripe answers an unknown URL, and recorded with ``unserved=True``: the checks report it
as the fake's possible gap, never as the endpoint's failure.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import parse_qsl

from connect_harness import arguments
from connect_harness.errors import HarnessError, UsageError
from connect_harness.events.build import Event
from connect_harness.events.thin import ThinEvent
from connect_harness.stripe_api import bodies, limits
from connect_harness.stripe_api.actions import Request
from connect_harness.stripe_api.calls import ApiCall, bare_call, error_message
from connect_harness.stripe_api.dispatch import Answer, Dispatcher
from connect_harness.stripe_api.emitted import Emissions
from connect_harness.stripe_api.faults import Fault, fault_body, parse_pattern
from connect_harness.stripe_api.meter_events import STREAM_PATH, MeterEvents, Session
from connect_harness.stripe_api.objects import (
    build_object,
    object_type_for_id,
    platform_account_id,
)
from connect_harness.stripe_api.router import Router
from connect_harness.stripe_api.routes import routes_for_version
from connect_harness.stripe_api.scoping import Context, authenticate, check_api_version
from connect_harness.stripe_api.store import Store
from connect_harness.stripe_api.transport import quiet_handler, reset_connection, server_class
from connect_harness.stripe_api.v2 import V2Objects

__all__ = ["ApiCall", "FakeStripeAPI", "platform_account_id"]

_DEFAULT_API_VERSION = "2023-08-16"
_NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")
_MAX_IDEMPOTENCY_KEY = 255
_KEPT_REPLAYS = 5000
_MOST_CALLS = 100_000_000


class _EventLike(Protocol):
    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass
class _Replay:
    fingerprint: tuple[Any, ...]
    answer: Answer
    text: str
    request_id: str


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

    ``api_version`` picks the description whose routes and parameters are served to requests that
    send no ``Stripe-Version`` (default: the contracts' version); a request's own ``Stripe-Version``
    picks the description of that version. The fake's own 500s (a harness bug) carry
    ``Stripe-Should-Retry: false``. ``max_calls`` keeps only that many latest calls in
    :attr:`calls` (None, the default: all of them), and the latest 5000 idempotency keys (or
    ``max_calls``, if more), for a fake that serves for hours. ``clock`` (default ``time.time``)
    is the unix time objects and events are made at.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        api_version: str | None = None,
        platform_account: str | None = None,
        on_call: Callable[[ApiCall], None] | None = None,
        on_event: Callable[[Event | ThinEvent], None] | None = None,
        max_calls: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise UsageError(f"port must be a TCP port 0-65535 (0: a free one), not {port!r}")
        arguments.text("host", host, example="127.0.0.1")
        arguments.text("api_version", api_version, example="2026-10-28.endive", optional=True)
        if api_version is not None and check_api_version(api_version) is not None:
            raise UsageError(
                f"api_version {api_version!r} is not a Stripe API version; pass a date and "
                "release name such as '2026-10-28.endive', or None for the contracts' version"
            )
        arguments.text("platform_account", platform_account, example="acct_1Plat", optional=True)
        arguments.callable_or_none("on_call", on_call)
        arguments.callable_or_none("on_event", on_event)
        arguments.callable_or_none("clock", clock)
        arguments.whole_number("max_calls", max_calls, minimum=1, optional=True)
        if max_calls is not None and max_calls > _MOST_CALLS:
            raise UsageError(
                f"max_calls={max_calls} is more than memory holds; pass at most {_MOST_CALLS}, or "
                "None to keep every call"
            )
        self._host = host
        self._port = port
        self._server: Any = None
        self._url: str | None = None
        # Two locks: the object store is held while a request is routed; the activity lock (calls,
        # label, requests in flight) never is, so calls/wait_idle answer while a request runs.
        self._lock = threading.RLock()
        self._activity = threading.Lock()
        self._api_version = api_version
        # What "now" is for the objects and events a request makes (a scenario's flow passes a
        # clock of its own, so the same flow gives the same bytes).
        self._clock = clock or time.time
        self.platform_account = platform_account or platform_account_id()
        self._store = Store(self._build_object, object_type_for_id)
        self._dispatcher = Dispatcher(self._store, self.platform_account)
        self._replays: collections.OrderedDict[tuple[str, str | None, str], _Replay] = (
            collections.OrderedDict()
        )
        # Stripe keeps an idempotency key at least 24 hours (docs.stripe.com/api/idempotent_requests);
        # a fake bounded by max_calls keeps the latest KEPT_REPLAYS keys instead, far more than any
        # client's retries reach back.
        self._max_replays = None if max_calls is None else max(max_calls, _KEPT_REPLAYS)
        self._faults: list[Fault] = []
        # A long-lived fake (`connect-harness stripe-api`) keeps only the latest calls in memory;
        # its --log file has every one. A harness run keeps them all: its checks read them.
        self._calls: collections.deque[ApiCall] = collections.deque(maxlen=max_calls)
        self._label: str | None = None
        self._in_flight = 0
        self._last_activity = time.monotonic()
        self._request_count = 0
        self._on_call = on_call
        self._emissions = Emissions(self._store, keep=max_calls)
        if on_event is not None:
            self._emissions.subscribe(on_event)
        self._v2 = V2Objects()
        self._meters = MeterEvents(self._store)
        self._router = Router(
            self._store, self._dispatcher, self._v2, lambda: self.api_version, self._meters
        )

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeStripeAPI:
        """Start serving in a background thread; returns self."""
        if self._server is not None:
            raise HarnessError(f"the fake Stripe API is already running at {self._url}")
        server = server_class()(host=self._host, port=self._port, threaded=True)
        server.no_handler_status_code = 404
        server.expect_request(re.compile(r".*")).respond_with_handler(self._respond)
        try:
            # werkzeug prints its own advice before exiting; ours below is the one line to show.
            with contextlib.redirect_stderr(io.StringIO()):
                server.start()
        except SystemExit as err:  # werkzeug exits when it cannot bind
            raise UsageError(
                f"cannot start the fake Stripe API on {self._host}:{self._port}: the address is "
                "in use or not available here; pass port=0 to let the system pick a free port"
            ) from err
        # werkzeug logs every request to stderr through a handler bound at first use; a test tool
        # should be quiet, and a handler bound to a captured stream breaks later tests.
        assert server.server is not None
        server.server.RequestHandlerClass = quiet_handler()
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

    @property
    def api_version(self) -> str:
        """The API version served to requests that name none."""
        if self._api_version is None:
            self._api_version = _api_version()
        return self._api_version

    def reset(self) -> None:
        """Forget every call, object, event, idempotency key, deauthorization and fault."""
        with self._lock, self._activity:
            self._store.clear()
            self._v2.reset()
            self._meters.reset()
            self._replays.clear()
            self._faults.clear()
            self._calls.clear()
            self._emissions.clear()
            self._label = None

    @contextlib.contextmanager
    def patch_stripe(self) -> Iterator[None]:
        """Point stripe-python's module-level API (``stripe.api_base``) here for the block.

        The fake's host is added to ``NO_PROXY``/``no_proxy`` for the block too: stripe-python's
        HTTP client honours proxy variables, and a CI proxy would otherwise swallow the calls.
        ``StripeClient`` instances carry their own base address and are not affected: create them
        with ``base_addresses={"api": fake.url}``. ``stripe.max_network_retries`` is left as the
        user set it.
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

    # --- faults -------------------------------------------------------------------------------------

    def fail(
        self,
        route_pattern: str = "*",
        *,
        status: int | None = 500,
        code: str | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        reset: bool = False,
    ) -> None:
        """Make requests matching ``route_pattern`` fail, the next ``times`` times (None: always).

        ``route_pattern`` is ``"GET /v1/customers/*"``, ``"/v1/payment_intents/*"`` or ``"*"``.
        ``status`` answers with Stripe's error body for it (429 ``rate_limit``, or ``code=
        "lock_timeout"``; 500 ``api_error``; ...); ``delay`` waits that many seconds first (past the
        client's timeout, the client gives up); ``reset=True`` closes the connection without an
        answer. ``status=None`` with a ``delay`` answers normally, late. Later rules are tried first.
        """
        arguments.text("route_pattern", route_pattern, example="GET /v1/customers/*")
        arguments.whole_number("status", status, optional=True)
        arguments.text("code", code, example="lock_timeout", optional=True)
        arguments.whole_number("times", times, optional=True)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)):
            raise UsageError(f"delay must be a number of seconds, 0 or more, not {delay!r}")
        arguments.boolean("reset", reset)
        method, path = parse_pattern(route_pattern)
        if status is not None and not 400 <= status <= 599:
            raise UsageError(
                f"fault status {status} is not an error status; pass a 4xx or 5xx such as 429 "
                "or 500 (or status=None with a delay)"
            )
        if times is not None and times < 1:
            raise UsageError(
                f"fault times={times} never applies; pass a count of 1 or more, or None"
            )
        if delay < 0:
            raise UsageError(f"fault delay={delay} is negative; pass seconds of 0 or more")
        with self._lock:
            self._faults.insert(0, Fault(method, path, status, code, times, delay, reset))

    def clear_faults(self) -> None:
        """Remove every :meth:`fail` rule."""
        with self._lock:
            self._faults.clear()

    # --- what the endpoint did ----------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        """Every call received so far, oldest first (a snapshot)."""
        with self._activity:
            return list(self._calls)

    def calls_for(self, label: str) -> list[ApiCall]:
        """The calls attributed to the delivery labelled ``label``."""
        arguments.text("label", label, example="payout.failed evt_1")
        with self._activity:
            return [call for call in self._calls if call.delivery == label]

    @contextlib.contextmanager
    def delivery(self, label: str) -> Iterator[None]:
        """Attribute calls to ``label`` from now until the next delivery starts."""
        arguments.text("label", label, example="payout.failed evt_1")
        with self._activity:
            self._label = label
        yield

    def wait_idle(self, *, quiet: float = 0.05, timeout: float = 2.0) -> bool:
        """Wait until no request is in flight and none arrived for ``quiet`` seconds.

        Returns False if that did not happen within ``timeout`` seconds.
        """
        arguments.seconds("quiet", quiet, zero=True)
        arguments.seconds("timeout", timeout, zero=True)
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
        arguments.text("object_id", object_id, example="cus_1Abc")
        with self._lock:
            stored = self._store.objects.get(object_id)
            if stored is None:
                return None
            return copy.deepcopy(self._store.materialize(stored))

    # --- what the fake emitted ----------------------------------------------------------------------

    def on_event(self, callback: Callable[[Event | ThinEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with each event the fake's actions emit; returns an unsubscribe.

        A request that creates, updates or acts on an object emits Stripe's events for it (see
        docs/fake-api.md): an :class:`Event`, or a :class:`ThinEvent` for the meter event
        reports (``v1.billing.meter.*``) Stripe sends as thin notifications. Each callback gets them after the request's answer is computed, outside
        the store's lock, in the thread serving the request, in emission order, before the answer
        is sent: when the client's call returns, its events have been handed over. A callback may
        call the fake itself. An exception in a callback does not change the answer: it is kept
        in :attr:`sink_errors`.
        """
        if not callable(callback):
            raise UsageError(f"on_event needs a function that takes an Event, not {callback!r:.80}")
        return self._emissions.subscribe(callback)

    def emitted_events(self) -> list[Event | ThinEvent]:
        """Every event the fake's actions emitted so far, oldest first (a snapshot); the meter
        event reports are :class:`ThinEvent` notifications."""
        return self._emissions.events()

    @property
    def sink_errors(self) -> list[str]:
        """What :meth:`on_event` callbacks raised: ``evt_...: ErrorType: message``, oldest first."""
        return self._emissions.errors()

    # --- what Stripe knows --------------------------------------------------------------------------

    def register_event(self, event: _EventLike) -> None:
        """Make the objects of ``event`` exist, owned by its account, in its mode.

        Besides ``data.object``: the event itself (``GET /v1/events/<id>``), the connected account
        of a Connect event, a payout's destination as that account's external account, and the
        same-account objects ``data.object`` refers to by id (its customer, charge, ...). Registering
        ``account.application.deauthorized`` revokes the platform's access to that account: every
        later request acting as it, or reading it, gets a 403, as on Stripe.
        """
        payload = getattr(event, "payload", None)
        if not isinstance(payload, Mapping):
            raise UsageError(
                f"event must be an Event or ThinEvent (built with build_event or "
                f"build_thin_event), not {event!r:.80}"
            )
        if payload.get("object") == "v2.core.event":
            self._register_thin(event)
            return
        # An Event's body is its payload rendered: parsing it beats deep-copying the payload.
        body = event.body if isinstance(event, Event) else None
        with self._lock:
            self._store.register_event(
                event.payload,
                platform=self.platform_account,
                seed=int(getattr(event, "seed", 0)),
                body=body,
            )

    def _register_thin(self, event: Any) -> None:
        """A thin notification: its full event and v2 object (v2 side), its v1 object (v1 side)."""
        self._v2.register(event)
        context = event.payload.get("context")
        with self._lock:
            if isinstance(context, str):
                self._store.know_account(context)
        snapshot = getattr(event, "snapshot", None)
        if snapshot is not None:
            self.register_event(snapshot)

    def register_object(
        self, obj: Mapping[str, Any], *, account: str | None = None, livemode: bool = False
    ) -> None:
        """Make ``obj`` (a Stripe object with ``id`` and ``object``) exist for ``account``."""
        arguments.mapping(
            "obj", obj, example="{'id': 'cus_1', 'object': 'customer'}", optional=False
        )
        arguments.text("account", account, example="acct_1PgafTB7WZ01zgkW", optional=True)
        arguments.boolean("livemode", livemode)
        with self._lock:
            if account is not None:
                self._store.know_account(account)
            self._store.register_object(
                dict(obj), account, livemode, platform=self.platform_account
            )

    def register_reference(
        self,
        object_id: str,
        object_type: str,
        owner: str | None,
        livemode: bool,
        seed: int = 0,
    ) -> None:
        """Know ``object_id`` as an ``object_type`` of ``owner`` (None: the platform) in that mode.

        Recorded cheaply; the object is built on first fetch with
        :func:`connect_harness.events.objects.build_object` (or the description's example for types
        the contracts do not cover). An object already known keeps its state.
        """
        with self._lock:
            self._store.register_reference(object_id, object_type, owner, livemode, seed)

    def _build_object(
        self, object_type: str, object_id: str | None, owner: str | None, livemode: bool, seed: int
    ) -> dict[str, Any]:
        return build_object(
            object_type, object_id, owner, livemode, seed, routes_for_version(self.api_version)
        )

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
            refused = limits.refusal(request)
            if refused is not None:
                status, headers = refused.status, {"Connection": "close"}
                text = bodies.render(refused.body)
                call = bare_call(request, status, label, arrived)
            else:
                call, status, text, headers = self._handle(request, request_id, label, arrived)
        except Exception as err:  # a bug in the fake must not look like one of Stripe's answers
            status, headers = 500, {"Stripe-Should-Retry": "false"}
            text = bodies.render(
                bodies.error(
                    "api_error",
                    "connect_harness's fake Stripe API failed on this request: "
                    f"{type(err).__name__}: {err}",
                )
            )
            call = bare_call(request, status, label, arrived)
        with self._activity:
            self._calls.append(call)
            self._in_flight -= 1
            self._last_activity = time.monotonic()
        if self._on_call is not None:
            self._on_call(call)
        if status == 0:
            reset_connection(request)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("Stripe-Version") or self.api_version,
            **headers,
        }
        return WerkzeugResponse(
            text, status=status or 500, headers=headers, content_type="application/json"
        )

    def _fault_for(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.use()
                    return fault
        return None

    def _handle(
        self, request: Any, request_id: str, label: str | None, arrived: float
    ) -> tuple[ApiCall, int, str, dict[str, str]]:
        method = str(request.method).upper()
        path = str(request.path)
        query_pairs = parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)
        content_type = request.headers.get("Content-Type", "")
        form_pairs: list[tuple[str, str]] = []
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = limits.form_text(request.get_data())
            if isinstance(form, limits.Refusal):
                call = bare_call(request, form.status, label, arrived)
                return call, form.status, bodies.render(form.body), {}
            form_pairs = parse_qsl(form, keep_blank_values=True)
        # Thin events' fetch_related_object() sends the account as Stripe-Context instead.
        header_account = (
            request.headers.get("Stripe-Account") or request.headers.get("Stripe-Context") or None
        )
        stripe_account = None if header_account == self.platform_account else header_account
        idempotency_key = request.headers.get("Idempotency-Key") or None
        headers: dict[str, str] = {}
        if idempotency_key is not None and method == "POST":
            headers["Idempotency-Key"] = idempotency_key
        if header_account is not None:
            headers["Stripe-Account"] = header_account

        json_body: Any = None
        if path.startswith("/v2/") and content_type.startswith("application/json"):
            # v2 writes send JSON (the meter event paths); a body that is not JSON is a 400
            # the meter event answers give, as an empty one.
            raw = limits.form_text(request.get_data())
            if isinstance(raw, limits.Refusal):
                call = bare_call(request, raw.status, label, arrived)
                return call, raw.status, bodies.render(raw.body), {}
            try:
                json_body = json.loads(raw) if raw.strip() else {}
            except ValueError:
                json_body = None
            form_pairs = [("json", raw)]  # the idempotency fingerprint and the call record
        mode, key, auth_error = authenticate(request.headers.get("Authorization"))
        if method == "POST" and path == STREAM_PATH:
            # The stream's key is a meter event session's token, acting as the session's account.
            session = self._meters.session_for(
                request.headers.get("Authorization"), int(time.time())
            )
            if isinstance(session, Session):
                mode, key, auth_error = "live" if session.livemode else "test", session.token, None
                stripe_account = session.owner
            else:
                mode, key, auth_error = None, None, session.body
        replayed = False
        unserved = False
        emitted: list[Event | ThinEvent] = []
        fault = self._fault_for(method, path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        fault_name = None
        if fault is not None and (fault.reset or fault.status is not None):
            fault_name = f"{fault.method or '*'} {fault.path}"
            if fault.reset:
                answer, text = Answer(0, {}), ""
            else:
                assert fault.status is not None
                answer = Answer(fault.status, fault_body(fault.status, fault.code))
                text = bodies.render(answer.body)
        elif auth_error is not None:
            answer, text = Answer(401, auth_error), bodies.render(auth_error)
        else:
            assert mode is not None and key is not None
            context = Context(mode, stripe_account, key)
            replay_key = (key, stripe_account, idempotency_key or "")
            fingerprint = (method, path, tuple(sorted(form_pairs)))
            with self._lock:
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
                    answer = Answer(400, bodies.idempotency_mismatch(idempotency_key or ""))
                    text = bodies.render(answer.body)
                elif idempotency_key is not None and len(idempotency_key) > _MAX_IDEMPOTENCY_KEY:
                    answer = Answer(400, bodies.idempotency_key_too_long(idempotency_key))
                    text = bodies.render(answer.body)
                else:
                    version = request.headers.get("Stripe-Version") or None
                    self._dispatcher.acting.begin(
                        Request(request_id, idempotency_key, self.api_version, int(self._clock()))
                    )
                    answer, unserved = self._router.route(
                        method,
                        path,
                        query_pairs,
                        form_pairs,
                        context,
                        version,
                        json_body=json_body,
                        now=int(time.time()),
                        request_id=request_id,
                    )
                    emitted = [*self._emissions.store(self._dispatcher.acting.take_emitted())]
                    reports = self._meters.take_reports()
                    for report in reports:
                        self._v2.register(report)  # GET /v2/core/events/{id} serves it
                    emitted = [*emitted, *self._emissions.store_thin(reports)]
                    text = bodies.render(answer.body)
                    if (
                        idempotency_key is not None
                        and method == "POST"
                        and answer.status not in (401, 429)
                        and answer.status < 500
                    ):
                        # The replay sends ``text``; the answer keeps what the call record
                        # reads (status, the object, an error), not a 200's whole object again.
                        kept = (
                            answer
                            if answer.status != 200
                            else replace(answer, body={}, stored=None)
                        )
                        self._replays[replay_key] = _Replay(fingerprint, kept, text, request_id)
                        if self._max_replays is not None and len(self._replays) > self._max_replays:
                            self._replays.popitem(last=False)
            self._emissions.hand_over(emitted)
        call = ApiCall(
            method=method,
            path=path,
            query=dict(query_pairs),
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
            unserved=unserved,
            stripe_account_header=header_account,
            fault=fault_name,
            error=error_message(answer.body),
            user_agent=request.headers.get("User-Agent") or None,
            client_user_agent=request.headers.get("X-Stripe-Client-User-Agent") or None,
        )
        return call, answer.status, text, headers
