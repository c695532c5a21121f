"""Checks of a thin-event destination: the endpoint that receives thin notifications and fetches.

:func:`run_thin_checks` delivers thin notifications (:func:`build_thin_event`) to the endpoint with
the fake Stripe API beside it and judges what comes back and what the endpoint fetched:

- ``thin-accepts-valid-notifications``: every sampled type x context x mode, correctly signed: 2xx.
- ``thin-rejects-forgeries``: the signature forgeries of the snapshot checks (missing, malformed,
  wrong secret, tampered body, stale, v0-only) on a thin body: 4xx.
- ``thin-fetches-with-context``: every request made while handling a connected account's
  notification carries ``Stripe-Context`` (or ``Stripe-Account``) = its ``context``; a platform
  notification's carry none.
- ``thin-survives-fetch-failure``: while every fetch fails (``FakeStripeAPI.fail``), the endpoint
  must not answer 2xx without having fetched (Stripe would not redeliver: the change is lost); once
  the API is back, the redelivery is fetched and acknowledged.
- ``thin-idempotent-redelivery``: the same notification again: no mutating API call repeated
  without the same ``Idempotency-Key``.
- ``thin-acknowledges-unknown-types``: a correctly signed notification of a type the endpoint
  cannot know: 2xx.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connect_harness.checks.common import SECRET_PLACEHOLDER
from connect_harness.checks.findings import CheckResult, CheckSpec, Finding
from connect_harness.delivery import deliver
from connect_harness.errors import UsageError
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT, event_permutations, render_body
from connect_harness.events.thin import ThinEvent, build_thin_event, thin_event_info
from connect_harness.wire.request import DEFAULT_URL, request_for_event
from connect_harness.wire.variants import bad_variants

if TYPE_CHECKING:
    from connect_harness.delivery import Response, Target
    from connect_harness.stripe_api.fake import ApiCall, FakeStripeAPI

__all__ = ["THIN_CATALOGUE", "THIN_TYPES", "ThinConfig", "run_thin_checks", "thin_check_ids"]

#: The thin types delivered by default: Accounts v2's and a v1 one.
THIN_TYPES: tuple[str, ...] = (
    "v2.core.account.updated",
    "v2.core.account[requirements].updated",
    "v2.core.account.closed",
    "v1.account.updated",
)

#: A type no endpoint can know (Stripe adds thin types every month).
UNKNOWN_THIN_TYPE = "v2.core.harness_probe.unknown_type"

THIN_CATALOGUE: tuple[CheckSpec, ...] = (
    CheckSpec(
        "thin-accepts-valid-notifications",
        "Accepts valid thin notifications",
        "every thin type x context x mode, correctly signed, gets 2xx",
    ),
    CheckSpec(
        "thin-rejects-forgeries",
        "Rejects forged thin notifications",
        "missing, malformed, wrong-secret, tampered, stale and v0-only signatures: 4xx",
    ),
    CheckSpec(
        "thin-fetches-with-context",
        "Fetches with the notification's context",
        "requests made for a connected account's notification carry Stripe-Context: <context>; "
        "a platform notification's carry none",
    ),
    CheckSpec(
        "thin-survives-fetch-failure",
        "Survives the fetch failing",
        "no 2xx for a notification whose fetch failed; the redelivery is fetched and gets 2xx",
    ),
    CheckSpec(
        "thin-idempotent-redelivery",
        "Idempotent on thin redelivery",
        "the same notification again: no mutating API call repeated without its Idempotency-Key",
    ),
    CheckSpec(
        "thin-acknowledges-unknown-types",
        "Acknowledges unknown thin types",
        "a correctly signed notification of a type the endpoint cannot know: 2xx",
    ),
)


def thin_check_ids() -> tuple[str, ...]:
    """Every thin check id, in catalogue order."""
    return tuple(spec.id for spec in THIN_CATALOGUE)


@dataclass(frozen=True)
class ThinConfig:
    """What to deliver: the secret, where (``url``'s path for in-process apps), types, model, seed."""

    secret: str
    url: str = DEFAULT_URL
    types: tuple[str, ...] = THIN_TYPES
    endpoint_type: str = "both"
    mode: str = "production"
    account: str = DEFAULT_CONNECTED_ACCOUNT
    seed: int = 0
    timeout: float = 30.0


@dataclass(frozen=True)
class _Delivery:
    event: ThinEvent
    response: Response
    calls: tuple[ApiCall, ...]
    label: str


class _ThinRun:
    def __init__(self, target: Target, api: FakeStripeAPI, config: ThinConfig) -> None:
        self.target, self.api, self.config = target, api, config
        self._count = 0

    def events(self, *, seed_offset: int = 0) -> list[ThinEvent]:
        out = []
        for name in self.config.types:
            for account, livemode in event_permutations(
                endpoint_type=self.config.endpoint_type, mode=self.config.mode
            ):
                context = self.config.account if account is not None else None
                out.append(
                    build_thin_event(
                        name,
                        account=context,
                        livemode=livemode,
                        seed=self.config.seed + seed_offset,
                    )
                )
        return out

    def send(self, event: ThinEvent, request: Any = None) -> _Delivery:
        self.api.register_event(event)
        if request is None:
            request = request_for_event(
                event,
                secrets=[self.config.secret],
                timestamp=int(time.time()),
                url=self.config.url,
            )
        self._count += 1
        label = f"thin#{self._count} {event.type} {event.id}"
        with self.api.delivery(label):
            response = deliver(request, self.target, timeout=self.config.timeout)
        self.api.wait_idle()
        return _Delivery(event, response, tuple(self.api.calls_for(label)), label)


def _ok(status: int) -> bool:
    return 200 <= status < 300


def _answer(response: Response) -> str:
    return str(response.status) if response.status else f"no answer ({response.error})"


def _finding(
    check: str, status: Any, reason: str, event: ThinEvent | None = None, **extra: Any
) -> Finding:
    return Finding(
        check=check,
        status=status,
        reason=reason,
        event_type=event.type if event else None,
        permutation=event.permutation if event else None,
        **extra,
    )


def _reproduce(event: ThinEvent, url: str) -> str:
    where = f"--account {event.context}" if event.context else "--platform"
    live = " --live" if event.livemode else ""
    return (
        f"connect-harness sign --thin '{event.type}' {where}{live} --seed {event.seed} "
        f"--secret {SECRET_PLACEHOLDER} --url {shlex.quote(url)} --format curl"
    )


def _accepts(run: _ThinRun, sent: list[_Delivery]) -> Iterator[Finding]:
    check = "thin-accepts-valid-notifications"
    for item in sent:
        if _ok(item.response.status):
            yield _finding(check, "pass", "accepted", item.event, actual=_answer(item.response))
        else:
            yield _finding(
                check,
                "fail",
                f"a correctly signed {item.event.type} notification was refused: Stripe retries "
                "it for three days and then disables the destination",
                item.event,
                expected="2xx",
                actual=_answer(item.response),
                reproduce=_reproduce(item.event, run.config.url),
            )


def _forgeries(run: _ThinRun, sent: list[_Delivery]) -> Iterator[Finding]:
    check = "thin-rejects-forgeries"
    event = sent[0].event
    now = int(time.time())
    for variant in bad_variants(
        event.body,
        secret=run.config.secret,
        timestamp=now,
        livemode=event.livemode,
        url=run.config.url,
    ):
        if variant.stripe_python_accepts:
            continue
        item = run.send(event, variant.request)
        status = item.response.status
        if 400 <= status < 500:
            yield _finding(
                check, "pass", variant.name, event, variant=variant.name, actual=str(status)
            )
        else:
            yield _finding(
                check,
                "fail",
                f"{variant.description} It answered {_answer(item.response)}: a forged thin "
                "notification makes the endpoint fetch and act on whatever it names",
                event,
                variant=variant.name,
                expected="4xx",
                actual=_answer(item.response),
            )


def _acting_as(call: ApiCall) -> str | None:
    return call.stripe_account


def _call_text(call: ApiCall) -> str:
    acting = _acting_as(call)
    context = f" [Stripe-Context: {acting}]" if acting else " [no Stripe-Context]"
    return f"{call.method} {call.path}{context} -> {call.status}"


def _context(run: _ThinRun, sent: list[_Delivery]) -> Iterator[Finding]:
    check = "thin-fetches-with-context"
    judged = 0
    for item in sent:
        for call in item.calls:
            judged += 1
            expected = item.event.context
            if _acting_as(call) == expected:
                continue
            want = f"Stripe-Context: {expected}" if expected else "no Stripe-Context"
            if expected is not None and _acting_as(call) is None:
                why = (
                    f"fetched with platform context while handling connected account {expected}'s "
                    "notification: Stripe answers 404 (the object is the account's); pass "
                    "stripe_context=notification.context (fetch_related_object() does)"
                )
            else:
                why = f"acted as {_acting_as(call)} while handling a notification of " + (
                    f"connected account {expected}" if expected else "the platform"
                )
            yield _finding(
                check,
                "fail",
                why,
                item.event,
                expected=want,
                actual=_call_text(call),
                reproduce=_reproduce(item.event, run.config.url),
            )
    if judged == 0:
        yield _finding(
            check,
            "skip",
            "the endpoint made no API calls while handling thin "
            "notifications (a thin handler fetches what changed)",
        )
    else:
        yield _finding(check, "pass", f"{judged} request(s) all used the notification's context")


def _fetch_failure(run: _ThinRun, sent: list[_Delivery]) -> Iterator[Finding]:
    check = "thin-survives-fetch-failure"
    fail: Callable[..., None] | None = getattr(run.api, "fail", None)
    clear: Callable[[], None] | None = getattr(run.api, "clear_faults", None)
    if fail is None or clear is None:
        yield _finding(check, "skip", "this fake Stripe API cannot inject faults")
        return
    fetching = [item for item in sent if item.calls]
    if not fetching:
        yield _finding(check, "skip", "the endpoint fetched nothing for valid notifications")
        return
    event = _fresh(fetching[0].event, run.config.seed + 7919)
    fail("*", status=500, times=None)
    try:
        first = run.send(event)
    finally:
        clear()
    run.api.wait_idle()
    later = run.api.calls_for(first.label)
    fetched = any(_ok(call.status) for call in later)
    if _ok(first.response.status):
        if fetched:
            yield _finding(check, "pass", "acknowledged, and fetched once the API was back", event)
            return
        yield _finding(
            check,
            "fail",
            "answered 2xx although every fetch failed (500): Stripe will not redeliver, so the "
            "change is lost; answer 5xx (or queue the work and fetch later)",
            event,
            expected="non-2xx while the fetch fails, or a later successful fetch",
            actual=f"{_answer(first.response)}; fetches: "
            + ", ".join(_call_text(c) for c in later),
            reproduce=_reproduce(event, run.config.url),
        )
        return
    second = run.send(event)
    if _ok(second.response.status) and any(_ok(call.status) for call in second.calls):
        yield _finding(
            check,
            "pass",
            f"answered {_answer(first.response)} while the fetch failed, then "
            "fetched and acknowledged the redelivery",
            event,
        )
        return
    yield _finding(
        check,
        "fail",
        "after a failed fetch the redelivery was not processed: the endpoint "
        + ("refused it" if not _ok(second.response.status) else "did not fetch again")
        + " (marking the event done before the work succeeded loses it)",
        event,
        expected="2xx and a successful fetch on redelivery",
        actual=f"{_answer(second.response)}; fetches: "
        + (", ".join(_call_text(c) for c in second.calls) or "none"),
        reproduce=_reproduce(event, run.config.url),
    )


def _fresh(event: ThinEvent, seed: int) -> ThinEvent:
    return build_thin_event(event.type, account=event.context, livemode=event.livemode, seed=seed)


def _mutations(calls: Sequence[ApiCall]) -> list[ApiCall]:
    return [call for call in calls if call.method in ("POST", "DELETE")]


def _idempotent(run: _ThinRun, sent: list[_Delivery]) -> Iterator[Finding]:
    check = "thin-idempotent-redelivery"
    judged = 0
    for item in sent:
        if not _ok(item.response.status):
            continue
        again = run.send(item.event)
        judged += 1
        before = {(c.method, c.path, c.idempotency_key) for c in _mutations(item.calls)}
        repeated = [
            c
            for c in _mutations(again.calls)
            if c.idempotency_key is None or (c.method, c.path, c.idempotency_key) not in before
        ]
        if repeated:
            yield _finding(
                check,
                "fail",
                f"the same {item.event.type} notification ({item.event.id}) delivered again made "
                "mutating calls again without the first delivery's Idempotency-Key: "
                "deduplicate on the event id",
                item.event,
                expected="no repeated mutation",
                actual=", ".join(_call_text(c) for c in repeated),
                reproduce=_reproduce(item.event, run.config.url),
            )
    if judged:
        yield _finding(check, "pass", f"{judged} redelivered notification(s) acted on once")
    else:
        yield _finding(check, "skip", "no notification was accepted, so none was redelivered")


def _unknown(run: _ThinRun, sent: list[_Delivery]) -> Iterator[Finding]:
    check = "thin-acknowledges-unknown-types"
    base = sent[0].event
    payload = json.loads(base.body)
    payload["type"] = UNKNOWN_THIN_TYPE
    payload["id"] = payload["id"] + "Unknown"
    full = {**base.full_event, "type": UNKNOWN_THIN_TYPE, "id": payload["id"]}
    event = ThinEvent(
        type=UNKNOWN_THIN_TYPE,
        payload=payload,
        body=render_body(payload),
        full_event=full,
        seed=base.seed,
    )
    item = run.send(event)
    if _ok(item.response.status):
        yield _finding(check, "pass", "acknowledged", event, actual=_answer(item.response))
    else:
        yield _finding(
            check,
            "fail",
            f"a correctly signed notification of a type it does not handle ({UNKNOWN_THIN_TYPE}) "
            "was refused: Stripe adds thin types, and refusals end in a disabled destination",
            event,
            expected="2xx",
            actual=_answer(item.response),
        )


_RUNNERS: dict[str, Callable[[_ThinRun, list[_Delivery]], Iterator[Finding]]] = {
    "thin-accepts-valid-notifications": _accepts,
    "thin-rejects-forgeries": _forgeries,
    "thin-fetches-with-context": _context,
    "thin-survives-fetch-failure": _fetch_failure,
    "thin-idempotent-redelivery": _idempotent,
    "thin-acknowledges-unknown-types": _unknown,
}
assert set(_RUNNERS) == set(thin_check_ids())


def run_thin_checks(
    target: Target,
    stripe_api: FakeStripeAPI,
    config: ThinConfig,
    *,
    only: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Deliver thin notifications to ``target`` and judge them: one result per thin check."""
    ids = thin_check_ids() if only is None else tuple(only)
    for check in ids:
        if check not in _RUNNERS:
            raise UsageError(
                f"{check!r} is not a thin check; pick from {', '.join(thin_check_ids())}"
            )
    for name in config.types:
        thin_event_info(name)
    run = _ThinRun(target, stripe_api, config)
    sent = [run.send(event) for event in run.events()]
    titles = {spec.id: spec.title for spec in THIN_CATALOGUE}
    return [CheckResult(check, titles[check], tuple(_RUNNERS[check](run, sent))) for check in ids]
