"""A webhook handler with no framework in it: correct by default, or with one named bug switched on."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import stripe

from connect_harness.spec import contracts
from endpoints import references

#: The made-up signing secret endpoints use unless given another.
TEST_SECRET = "whsec_test_secret"

#: Made-up keys; only their mode prefix matters to the fake Stripe API.
LIVE_KEY = "sk_live_fake"
TEST_KEY = "sk_test_fake"

#: The one bug a broken endpoint has, and the check it is for.
BUGS: dict[str, str] = {
    "accepts-unsigned": "never verifies the signature (the secret is unset, so verification is skipped)",
    "unsigned-when-header-missing": "verifies the signature only when a Stripe-Signature header is sent",
    "skips-unparseable-header": "accepts a request whose Stripe-Signature it cannot parse",
    "format-only": "checks the header's shape and age but never computes the HMAC",
    "500-on-bad-signature": "lets the signature error escape: 500 instead of 400",
    "no-tolerance": "verifies with tolerance=0, which turns the timestamp check off",
    "v0-accepted": "falls back to the v0 signature when there is no v1",
    "first-v1-only": "compares only the first v1 signature, so a rotation breaks it",
    "reserialized": "verifies json.dumps(request.json) instead of the raw body",
    "invalid-json-200": "answers 200 to a signed body that is not JSON",
    "400-unknown-types": "answers 400 to event types it does not handle",
    "no-idempotency": "no dedupe on event.id and no Idempotency-Key on its API calls",
    "platform-auth": "fetches connected-account objects with platform auth (no Stripe-Account)",
    "platform-auth-references": "follows every reference of an event, fetching data.object as the "
    "event's account but the objects it names with platform auth",
    "live-key-for-test": "uses the live key for every event, test events too",
    "slow": "takes 0.5 s over balance.available events",
    "crash-platform-events": "reads event['account'] unconditionally: 500 on platform events",
    "redirect": "serves /webhook/ and redirects /webhook there with a 301",
    "order-dependent": "asserts events arrive in order: 500 when an event is older than the last "
    "one seen for the same object",
    "swallows-api-errors": "answers 200 when its Stripe calls fail (429, 500, connection), so the "
    "event is lost",
    "crashes-on-deauthorized-403": "forgets account.application.deauthorized, keeps calling the "
    "API as the disconnected account and lets Stripe's 403 escape: 500 to the late events",
    "dedupes-failed-attempts": "records the event id as processed before its work and keeps it "
    "when the work fails, so Stripe's retry is answered as a duplicate and the work is lost",
    "acknowledges-second-failure": "acknowledges an event whose work failed again on a retry (to "
    "stop Stripe's retries), so an API outage that outlasts one retry loses the event",
}

_KNOWN_TYPES = frozenset(contracts.supported_event_types())


class _Rejected(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class WebhookCore:
    """Verify, deduplicate on event.id, act, answer. ``bug`` switches on one entry of :data:`BUGS`."""

    secret: str
    bug: str | None = None
    #: Answer first and act this many seconds later in a worker thread, as Stripe advises.
    defer: float | None = None
    #: With ``defer``: how many times the worker tries its work (1: it gives up on the first
    #: failure, and the event is lost).
    job_attempts: int = 20
    #: With ``defer``: the worker also waits until this is set (a test decides when work happens).
    gate: threading.Event | None = None
    #: Also fetch data.object and every object it names: with stripe-python (``"sdk"``) or plain
    #: HTTP (``"http"``, an empty ``Stripe-Account`` header on platform events).
    follow: str | None = None
    #: Keep no list of disconnected accounts: act for every event, and take Stripe's 403 for a
    #: disconnected account as the permanent error it is (log it, answer 2xx).
    handles_403: bool = False
    #: Only read from Stripe (retrieve data.object) and write the endpoint's own store.
    reads_only: bool = False
    #: Answer 500 to every later delivery of an event whose work failed once (it stored the event
    #: before the work, and storing it again violates a unique constraint): Stripe's retries fail.
    refuses_retries: bool = False
    #: What ``reads_only`` stored: object id -> the status Stripe returned.
    store: dict[str, str] = field(default_factory=dict)
    #: How many objects following references fetched.
    followed: int = 0
    _revoked: set[str] = field(default_factory=set)
    #: The newest ``created`` seen per data.object id (the order-dependent bug's state).
    _latest: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    #: Event ids whose work failed at least once (the acknowledges-second-failure bug's state).
    _failed: set[str] = field(default_factory=set)
    api_errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.bug is not None and self.bug not in BUGS:
            raise ValueError(f"unknown bug {self.bug!r}; pick one of {', '.join(BUGS)}")
        if self.bug == "platform-auth-references" and self.follow is None:
            self.follow = "sdk"

    def handle(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Answer one delivery: (status, JSON body)."""
        try:
            event = self._verified_event(body, signature)
        except _Rejected as err:
            return err.status, {"error": str(err)}
        if self.bug == "400-unknown-types" and event.get("type") not in _KNOWN_TYPES:
            return 400, {"error": f"unhandled event type {event.get('type')}"}
        event_id = str(event.get("id"))
        if self.refuses_retries and event_id in self._failed:
            return 500, {"error": "UNIQUE constraint failed: events.id"}
        if self.bug != "no-idempotency":
            with self._lock:
                if event_id in self.seen:
                    return 200, {"received": True, "duplicate": True}
                self.seen.add(event_id)
        if self.bug == "order-dependent":
            self._assert_in_order(event)
        if self.defer is not None:
            worker = threading.Timer(self.defer, self._act_until_done, args=(event,))
            worker.daemon = True
            worker.start()
            return 200, {"received": True, "queued": True}
        try:
            self._act(event)
        except BaseException:
            with self._lock:
                failed_before = event_id in self._failed
                self._failed.add(event_id)
                if self.bug != "dedupes-failed-attempts":
                    self.seen.discard(event_id)
            if self.bug == "acknowledges-second-failure" and failed_before:
                return 200, {"received": True, "gave_up": True}
            raise
        return 200, {"received": True}

    # --- verification -----------------------------------------------------------------------------

    def _verified_event(self, body: bytes, signature: str | None) -> dict[str, Any]:
        bug = self.bug
        if bug == "accepts-unsigned" or (bug == "unsigned-when-header-missing" and not signature):
            return _parse(body)
        if not signature:
            if bug == "500-on-bad-signature":
                raise RuntimeError("no Stripe-Signature header")
            raise _Rejected("missing Stripe-Signature header")
        if not signature.isascii():
            raise _Rejected("Stripe-Signature is not ASCII")
        items = _items(signature)
        if bug == "skips-unparseable-header" and not items.get("t", [""])[0].isdigit():
            return _parse(body)
        if bug == "format-only":
            return self._check_format_only(body, items)
        if bug == "first-v1-only":
            return self._check_first_v1(body, items)
        signed = body
        if bug == "reserialized":
            signed = json.dumps(_parse(body), indent=2).encode("utf-8")
        if bug == "v0-accepted" and "v1" not in items and "v0" in items:
            signature = signature.replace("v0=", "v1=")
        tolerance = 0 if bug == "no-tolerance" else 300
        try:
            # Verify the bytes, then parse them ourselves: stripe-python 16.1.0's construct_event
            # crashes on some payloads Stripe really sends (balance_settings.updated).
            stripe.WebhookSignature.verify_header(signed, signature, self.secret, tolerance)
        except stripe.SignatureVerificationError as err:
            if bug == "500-on-bad-signature":
                raise
            raise _Rejected(f"bad signature: {err.user_message}") from err
        if bug == "invalid-json-200":
            try:
                return _parse(body)
            except _Rejected:
                return {"id": None, "type": None}
        return _parse(body)

    def _check_format_only(self, body: bytes, items: dict[str, list[str]]) -> dict[str, Any]:
        timestamp = items.get("t", [""])[0]
        if not timestamp.isdigit() or int(timestamp) < time.time() - 300:
            raise _Rejected("bad or old timestamp")
        if not any(len(v) == 64 for v in items.get("v1", [])):
            raise _Rejected("no v1 signature")
        return _parse(body)

    def _check_first_v1(self, body: bytes, items: dict[str, list[str]]) -> dict[str, Any]:
        timestamp = items.get("t", [""])[0]
        first = items.get("v1", [""])[0]
        if not timestamp.isdigit() or int(timestamp) < time.time() - 300:
            raise _Rejected("bad or old timestamp")
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, first):
            raise _Rejected("signature mismatch")
        return _parse(body)

    def _act_until_done(self, event: dict[str, Any]) -> None:
        """Work after answering: Stripe will not retry a 2xx, so retry transient API errors here."""
        if self.gate is not None:
            self.gate.wait()
        for _ in range(self.job_attempts):
            try:
                self._act(event)
                return
            except stripe.StripeError:
                time.sleep(0.25)
        self.api_errors.append(f"{event.get('type')}: gave up after 20 attempts")

    def _assert_in_order(self, event: dict[str, Any]) -> None:
        obj = event.get("data", {}).get("object", {})
        object_id, created = str(obj.get("id")), int(event.get("created") or 0)
        with self._lock:
            if created < self._latest.get(object_id, created):
                raise RuntimeError(
                    f"{event.get('type')} arrived after a newer event of {object_id}"
                )
            self._latest[object_id] = created

    # --- acting -----------------------------------------------------------------------------------

    def _act(self, event: dict[str, Any]) -> None:
        if self.bug == "crash-platform-events":
            account: str | None = event["account"]
        else:
            account = event.get("account")
        event_type = event.get("type")
        if event_type == "account.application.deauthorized" and account:
            if self.bug != "crashes-on-deauthorized-403" and not self.handles_403:
                with self._lock:  # the platform may no longer act as that account
                    self._revoked.add(account)
            return
        if account in self._revoked:
            return
        if self.bug == "slow" and event_type == "balance.available":
            time.sleep(0.5)
        livemode = bool(event.get("livemode"))
        key = LIVE_KEY if livemode or self.bug == "live-key-for-test" else TEST_KEY
        if self.follow is not None:
            self._follow(event, key)
        if event_type != "payment_intent.succeeded":
            return
        as_account = None if self.bug == "platform-auth" else account
        intent_id = event["data"]["object"]["id"]
        options: dict[str, Any] = {"api_key": key, "stripe_account": as_account}
        try:
            intent = stripe.PaymentIntent.retrieve(intent_id, **options)
            if self.reads_only:
                with self._lock:
                    self.store[intent_id] = str(intent.status)
                return
            if self.bug != "no-idempotency":
                options["idempotency_key"] = f"{event['id']}:mark-handled"
            stripe.PaymentIntent.modify(intent_id, metadata={"webhook_handled": "true"}, **options)
        except stripe.StripeError as err:
            status = err.http_status
            if self.bug != "swallows-api-errors" and (
                status is None or status == 429 or status >= 500
            ):
                raise  # transient: answer 5xx, so that Stripe retries the event later
            if self.bug == "crashes-on-deauthorized-403" and status == 403:
                raise
            # Permanent (the object is gone, access was revoked): log it; the event was received.
            self.api_errors.append(f"{type(err).__name__}: {err.user_message}")

    def _follow(self, event: dict[str, Any], key: str) -> None:
        fetch = references.fetch_with_sdk if self.follow == "sdk" else references.fetch_over_http
        try:
            fetched = references.follow(
                event, fetch(key), nested_as_platform=self.bug == "platform-auth-references"
            )
        except stripe.StripeError as err:
            if self.bug != "swallows-api-errors" and _transient(err):
                raise
            self.api_errors.append(f"{event.get('type')}: {type(err).__name__}: {err}")
            return
        with self._lock:
            self.followed += fetched


def _transient(err: stripe.StripeError) -> bool:
    """A rate limit, a Stripe-side error or no answer: worth retrying later."""
    status = err.http_status
    return status is None or status == 429 or status >= 500


def _parse(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise _Rejected(f"the body is not JSON: {err}") from err
    if not isinstance(payload, dict):
        raise _Rejected("the body is not a JSON object")
    return payload


def _items(signature: str) -> dict[str, list[str]]:
    items: dict[str, list[str]] = {}
    for item in signature.split(","):
        key, _, value = item.partition("=")
        items.setdefault(key, []).append(value)
    return items
