"""The endpoint contract checks: deliver what Stripe can send, judge only what can be observed.

A :class:`ContractRun` is one run of the catalogue (:data:`connect_harness.checks.findings.CATALOGUE`) against one
target. It owns the fake Stripe API the endpoint talks to and a log of every delivery; each check sends
its deliveries through the run and turns status codes, timing and the API calls the endpoint made into
:class:`~connect_harness.checks.findings.Finding` records. Checks never look inside the endpoint: they will be
run against servers in other languages and frameworks.

The run is the edge where the clock is read: every delivery attempt is signed with a fresh
``t = int(time.time())``, as Stripe signs every attempt afresh. Event ids derive from ``config.seed``
(each check builds its own events, so one check's deliveries never look like redeliveries of another's).
"""

from __future__ import annotations

import base64
import contextlib
import json
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from connect_harness.checks import settling
from connect_harness.checks.findings import (
    CATALOGUE,
    CheckResult,
    Finding,
    Status,
    check_ids,
    check_spec,
    validate_check_ids,
)
from connect_harness.delivery import AsgiTarget, Response, Target, UrlTarget, WsgiTarget, deliver
from connect_harness.delivery import target_from as _target_from
from connect_harness.errors import UsageError
from connect_harness.events.build import Event, build_event
from connect_harness.events.build import event_permutations as _event_permutations
from connect_harness.events.build import raw_body_variants as _raw_body_variants
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import ApiCall, FakeStripeAPI
from connect_harness.wire.request import DEFAULT_URL, DeliveryRequest, delivery_request
from connect_harness.wire.signing import parse_signature_header
from connect_harness.wire.variants import bad_variants, rotated_variants

__all__ = [
    "ContractRun",
    "DeliveryRecord",
    "VerifyConfig",
    "run_checks",
]

#: What reproductions write instead of the secret: the secret never appears in any output.
SECRET_PLACEHOLDER = '"$STRIPE_WEBHOOK_SECRET"'

#: A type no endpoint can know; well-formed otherwise.
UNKNOWN_EVENT_TYPE = "connect_harness.unknown_event.created"

#: Correctly signed bodies that are not JSON.
INVALID_JSON_BODIES: tuple[tuple[str, bytes], ...] = (
    ("truncated-json", b'{"id": "evt_'),
    ("not-json", b"not json"),
)

#: The events whose handlers usually act (API calls, stored state): what redelivery must not repeat.
IDEMPOTENCY_EVENTS = (
    "payment_intent.succeeded",
    "payout.failed",
    "account.updated",
    "account.application.deauthorized",
    "customer.created",
)

#: The connected account that account.application.deauthorized events disconnect.
DISCONNECTED_ACCOUNT = "acct_1HarnessDisconnect"

# Events after which a correct endpoint stops acting for the account they name.
_ACCOUNT_ENDING_EVENTS = frozenset({"account.application.deauthorized"})

# Which bad-variant names (connect_harness.wire.variants) each rejects-* check sends. Variants matched by no
# check (a future timestamp, a duplicated t=) describe SDK differences, not endpoint bugs.
_REJECTION_VARIANTS: dict[str, Callable[[str], bool]] = {
    "rejects-missing-signature": lambda name: name == "missing-signature",
    "rejects-malformed-signature": lambda name: (
        name in {"malformed-garbage", "malformed-no-timestamp", "malformed-non-numeric-timestamp"}
    ),
    "rejects-wrong-secret": lambda name: name == "wrong-secret",
    "rejects-tampered-body": lambda name: name == "tampered-body",
    "rejects-stale-timestamp": lambda name: name.startswith("stale"),
    "rejects-v0-only": lambda name: name == "v0-only",
}

# Checks judged over the deliveries of every other check: they run last.
_GLOBAL_CHECKS = frozenset(
    {
        "uses-connected-account-context",
        "separates-livemode",
        "no-redirects",
        "no-server-errors",
        "responds-in-time",
    }
)


@dataclass(frozen=True)
class VerifyConfig:
    """What to send and how to judge it.

    ``endpoint_type``: ``connect`` (events carry ``account``), ``account`` (platform events) or ``both``;
    ``mode``: ``development`` endpoints get test events only; in ``production`` a Connect endpoint gets
    live and test events, an account endpoint live events only. ``events`` restricts the types ``accepts-valid-events`` sends (default: every supported type).
    ``max_response_time`` (seconds) is what ``responds-in-time`` allows; ``timeout`` is when a delivery
    is given up. ``seed`` varies every id (a persistent endpoint needs a new one per run, or the second
    run's events are redeliveries). ``api_version`` is stamped on every event (default: the contracts'
    version); endpoints whose SDK checks it (stripe-go) need their pinned version here.
    """

    secret: str
    endpoint_type: str = "both"
    mode: str = "production"
    events: tuple[str, ...] | None = None
    max_response_time: float = 10.0
    seed: int = 0
    timeout: float = 30.0
    api_version: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.secret, str) or not self.secret.strip():
            raise UsageError(
                "the signing secret is empty; pass the endpoint's signing secret (whsec_...), "
                'e.g. --secret "$STRIPE_WEBHOOK_SECRET"'
            )
        _event_permutations(endpoint_type=self.endpoint_type, mode=self.mode)  # validates both
        if self.events is not None:
            if isinstance(self.events, str):
                raise UsageError(
                    f"events must be a sequence of event types, not the string {self.events!r}; "
                    "pass e.g. ('account.updated',)"
                )
            object.__setattr__(self, "events", tuple(self.events))
            if not self.events:
                raise UsageError(
                    "the list of event types is empty; name at least one, or none for all"
                )
            for event_type in self.events:
                # UsageError with the closest matches, or saying this API version lacks it
                contracts.event_info(event_type, version=self.api_version)
        if not self.max_response_time > 0:
            raise UsageError(
                f"max_response_time {self.max_response_time!r} must be more than 0 seconds"
            )
        if not self.timeout > 0:
            raise UsageError(f"timeout {self.timeout!r} must be more than 0 seconds")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise UsageError(f"seed {self.seed!r} must be a whole number, 0 or more")

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types ``accepts-valid-events`` sends."""
        if self.events is not None:
            return self.events
        return contracts.supported_event_types(version=self.api_version)


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery of the run: why it was sent, what was sent, what came back, what the endpoint did.

    ``calls`` are the fake Stripe API requests attributed to this delivery (filled in when the run
    judges API calls; empty before). ``sequence`` is its position in the run's log.
    """

    check: str
    label: str
    request: DeliveryRequest
    response: Response
    event_type: str | None
    permutation: str | None
    variant: str | None
    account: str | None
    livemode: bool | None
    reproduce: str
    calls: tuple[ApiCall, ...] = ()
    sequence: int = 0
    started: float = 0.0
    finished: float = 0.0

    def answered_before(self, call: ApiCall) -> bool:
        """True if ``call`` reached the fake API while this delivery was still waiting for its answer."""
        return self.started <= call.at <= self.finished


@dataclass
class _Deliveries:
    records: list[DeliveryRecord] = field(default_factory=list)
    counter: int = 0


class ContractRun:
    """One run of the check catalogue against one target; deliveries are shared by the checks.

    ``target`` is a :class:`~connect_harness.delivery.Target`, a loopback URL or a WSGI/ASGI app. The run
    uses ``fake_api`` (or starts its own :class:`~connect_harness.stripe_api.fake.FakeStripeAPI` on first use,
    stopped by :meth:`close`) and, for in-process targets, points stripe-python at it while a check runs.
    ``url`` is where deliveries are addressed: a URL target's own URL, else (default
    ``http://127.0.0.1:4242/webhook``) the path and query an in-process app is called with. Use the run
    as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        target: Target | str | object,
        config: VerifyConfig,
        *,
        fake_api: FakeStripeAPI | None = None,
        url: str | None = None,
    ) -> None:
        if isinstance(target, (UrlTarget, WsgiTarget, AsgiTarget)):
            self.target: Target = target
        else:
            self.target = _target_from(target)
        self.config = config
        self._url = url or DEFAULT_URL
        self._own_fake = fake_api is None
        self.fake_api = fake_api if fake_api is not None else FakeStripeAPI()
        self._results: dict[str, CheckResult] = {}
        self._log = _Deliveries()
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._judged_calls: tuple[DeliveryRecord, ...] | None = None
        self._after_answering: tuple[tuple[DeliveryRecord, ...], bool] | None = None
        self._settled = False  # a settle of this run happened (it learnt when the endpoint calls)

    # --- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> ContractRun:
        self._start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _start(self) -> None:
        if self._stack is not None:
            return
        stack = contextlib.ExitStack()
        if self._own_fake:
            self.fake_api.start()
            stack.callback(self.fake_api.stop)
        self._stack = stack

    def close(self) -> None:
        """Stop the fake API if this run started it."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    # --- public API ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL deliveries are addressed to (for an in-process app, only its path matters)."""
        if isinstance(self.target, UrlTarget):
            return self.target.url
        return self._url

    @property
    def records(self) -> tuple[DeliveryRecord, ...]:
        """Every delivery made so far, in order (``calls`` filled in once API calls were judged)."""
        if self._judged_calls is not None and len(self._judged_calls) == len(self._log.records):
            return self._judged_calls
        return tuple(self._log.records)

    @property
    def deliveries(self) -> int:
        """How many deliveries the run has made."""
        return len(self._log.records)

    def result(self, check_id: str) -> CheckResult:
        """The result of one check, running it (and what it needs) the first time it is asked for."""
        spec = check_spec(check_id)
        cached = self._results.get(spec.id)
        if cached is not None:
            return cached
        self._start()
        if spec.id in _GLOBAL_CHECKS:
            for other in check_ids():
                if other not in _GLOBAL_CHECKS:
                    self.result(other)
        with contextlib.ExitStack() as stack:
            if not isinstance(self.target, UrlTarget):
                stack.enter_context(self.fake_api.patch_stripe())
            findings = tuple(_CHECKS[spec.id](self))
        result = CheckResult(id=spec.id, title=spec.title, findings=findings)
        self._results[spec.id] = result
        return result

    def run(self, only: Iterable[str] | None = None) -> list[CheckResult]:
        """Run every check (or ``only`` these ids) and return their results in catalogue order."""
        wanted = check_ids() if only is None else validate_check_ids(only)
        # Delivering checks first, so the checks judged over all deliveries see every one of them.
        for check_id in sorted(wanted, key=lambda c: c in _GLOBAL_CHECKS):
            self.result(check_id)
        return [self._results[check_id] for check_id in wanted]

    # --- sending ---------------------------------------------------------------------------------

    def _seed(self, check_id: str, sub: int = 0) -> int:
        """A seed per check (and sub-case), so no two checks deliver the same event id."""
        index = check_ids().index(check_id)
        return self.config.seed * 64 + 2 * index + sub

    def _permutations(self, event_type: str | None = None) -> list[tuple[str | None, bool]]:
        perms = _event_permutations(endpoint_type=self.config.endpoint_type, mode=self.config.mode)
        if event_type is None:
            return list(perms)
        receivable = contracts.event_info(event_type).receivable_by
        return [
            (account, live)
            for account, live in perms
            if ("connect" if account else "account") in receivable
        ]

    def _representative(self) -> tuple[str | None, bool]:
        """The permutation signature checks use: a Connect test event where the endpoint gets those,
        else the first permutation it gets (a production account endpoint gets live events only)."""
        perms = self._permutations("customer.created")
        return next(((a, live) for a, live in perms if not live), perms[0])

    def _representative_event(self, check_id: str, sub: int = 0) -> Event:
        """customer.created in the representative permutation (see :meth:`_representative`)."""
        account, livemode = self._representative()
        return self._event("customer.created", account, livemode, self._seed(check_id, sub))

    def _event(
        self,
        event_type: str,
        account: str | None,
        livemode: bool,
        seed: int,
        overrides: Mapping[str, Any] | None = None,
    ) -> Event:
        if account is not None and event_type in _ACCOUNT_ENDING_EVENTS:
            # Disconnecting is final: a correct endpoint stops acting for that account, so the
            # disconnect goes to an account of its own and the others' events stay observable.
            account = DISCONNECTED_ACCOUNT
        event = build_event(
            event_type,
            account=account,
            livemode=livemode,
            seed=seed,
            overrides=overrides,
            api_version=self.config.api_version,
        )
        self._register(event)
        return event

    def _register(self, event: Event) -> None:
        """Make the event's objects exist in the fake API (owned by its account, in its mode)."""
        self.fake_api.register_event(event)

    def _signed(
        self, body: bytes, *, livemode: bool, secrets: Sequence[str] | None = None
    ) -> DeliveryRequest:
        return delivery_request(
            body,
            secrets=list(secrets) if secrets is not None else self.config.secret,
            timestamp=int(time.time()),
            livemode=livemode,
            url=self.url,
        )

    def _next_label(self, check_id: str) -> str:
        with self._lock:
            self._log.counter += 1
            return f"{check_id}#{self._log.counter}"

    def _send(
        self,
        check_id: str,
        request: DeliveryRequest,
        *,
        event: Event | None = None,
        event_type: str | None = None,
        variant: str | None = None,
        reproduce: str,
        label: str | None = None,
    ) -> DeliveryRecord:
        label = label or self._next_label(check_id)
        with self.fake_api.delivery(label):
            started = time.monotonic()
            response = deliver(request, self.target, timeout=self.config.timeout)
            finished = time.monotonic()
        record = DeliveryRecord(
            check=check_id,
            label=label,
            request=request,
            response=response,
            event_type=event.type if event is not None else event_type,
            permutation=event.permutation if event is not None else None,
            variant=variant,
            account=event.account if event is not None else None,
            livemode=event.livemode if event is not None else None,
            reproduce=reproduce,
            started=started,
            finished=finished,
        )
        with self._lock:
            record = replace(record, sequence=len(self._log.records))
            self._log.records.append(record)
        return record

    def _send_event(
        self,
        check_id: str,
        event: Event,
        *,
        seed: int,
        overrides: Mapping[str, Any] | None = None,
        variant: str | None = None,
        label: str | None = None,
        note: str | None = None,
    ) -> DeliveryRecord:
        request = self._signed(event.body, livemode=event.livemode)
        reproduce = self._reproduce_event(event, seed=seed, overrides=overrides, note=note)
        return self._send(
            check_id, request, event=event, variant=variant, reproduce=reproduce, label=label
        )

    # --- reproductions ---------------------------------------------------------------------------

    def _reproduce_event(
        self,
        event: Event,
        *,
        seed: int,
        overrides: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        secrets: Sequence[str] = (SECRET_PLACEHOLDER,),
        note: str | None = None,
    ) -> str:
        """``connect-harness sign ...`` that rebuilds this event's delivery, on one line.

        ``event.type`` is the type it was built as; ``overrides`` (``--set``) change the rest.
        """
        parts = ["connect-harness", "sign", event.type]
        parts += ["--account", event.account] if event.account else ["--platform"]
        if event.livemode:
            parts.append("--live")
        parts += ["--seed", str(seed)]
        if self.config.api_version:
            parts += ["--api-version", self.config.api_version]
        for path, value in (overrides or {}).items():
            parts += ["--set", shlex.quote(f"{path}={_json_text(value)}")]
        return self._finish_command(parts, secrets=secrets, timestamp=timestamp, note=note)

    def _reproduce_body(self, body: bytes, *, livemode: bool, note: str | None = None) -> str:
        """``... | connect-harness sign --body-file - ...`` for a body the builder does not make."""
        text = _utf8(body)
        if text is not None and "\n" not in text and len(text) <= 120:
            source = f"printf '%s' {shlex.quote(text)}"
        else:
            source = f"echo {base64.b64encode(body).decode('ascii')} | base64 -d"
        parts = ["connect-harness", "sign", "--body-file", "-"]
        if livemode:
            parts.append("--live")
        command = self._finish_command(
            parts, secrets=(SECRET_PLACEHOLDER,), timestamp=None, note=note
        )
        return f"{source} | {command}"

    def _reproduce_raw_body(self, event: Event, name: str, *, seed: int) -> str:
        """Rebuild one body of ``raw_body_variants`` with Python, then sign those exact bytes."""
        account = json.dumps(event.account) if event.account else "None"
        program = (
            "import sys; from connect_harness.events.build import build_event, raw_body_variants as v; "
            f"e = build_event({json.dumps(event.type)}, account={account}, "
            f"livemode={event.livemode}, seed={seed}, "
            f"api_version={json.dumps(self.config.api_version)}); "
            f"sys.stdout.buffer.write(dict(v(e))[{json.dumps(name)}])"
        )
        parts = ["connect-harness", "sign", "--body-file", "-"]
        if event.livemode:
            parts.append("--live")
        command = self._finish_command(
            parts, secrets=(SECRET_PLACEHOLDER,), timestamp=None, note=None
        )
        return f"python -c {shlex.quote(program)} | {command}"

    def _finish_command(
        self,
        parts: list[str],
        *,
        secrets: Sequence[str],
        timestamp: int | None,
        note: str | None,
    ) -> str:
        for secret in secrets:
            parts += ["--secret", secret]
        if timestamp is not None:
            parts += ["--timestamp", str(timestamp)]
        parts += ["--url", shlex.quote(self.url), "--format", "curl"]
        command = " ".join(parts)
        if note:
            command += "  # then: " + " ".join(note.split())
        return command

    # --- judging API calls -----------------------------------------------------------------------

    def _judged_records(self) -> tuple[DeliveryRecord, ...]:
        """Every record with the API calls attributed to it, after the fake API went quiet."""
        if self._judged_calls is not None and len(self._judged_calls) == len(self._log.records):
            return self._judged_calls
        self.settle()
        by_label: dict[str, list[ApiCall]] = {}
        for call in list(self.fake_api.calls):
            label = call.delivery
            if label is not None:
                by_label.setdefault(label, []).append(call)
        # Records sharing a label (concurrent copies) cannot be told apart: the first one gets the
        # calls, so nothing is judged twice.
        judged = tuple(
            replace(record, calls=tuple(by_label.pop(record.label, ())))
            for record in self._log.records
        )
        self._judged_calls = judged
        return judged

    def certainly_for(self, record: DeliveryRecord, call: ApiCall) -> bool:
        """True if ``call`` was certainly made for ``record``'s event.

        That holds when the endpoint does all its work before answering and the call came while
        ``record`` waited for its answer. An endpoint that answers first and works later (as Stripe
        advises) makes its calls while later deliveries are under way: then no call is tied to an
        event by timing, and the checks judge it only by the object it touches.
        """
        return not self._works_after_answering() and record.answered_before(call)

    def _works_after_answering(self) -> bool:
        records = self._judged_records()
        if self._after_answering is None or self._after_answering[0] is not records:
            late = any(not r.answered_before(call) for r in records for call in r.calls)
            self._after_answering = (records, late)
        return self._after_answering[1]

    def settle(self) -> None:
        """Wait until the endpoint stops calling the fake API (work it does after answering).

        Only as long as calls are in flight or the endpoint is known to call after answering
        (:mod:`connect_harness.checks.settling`); a server at a URL gets a longer quiet time.
        """
        quiet = 0.05 if isinstance(self.target, WsgiTarget) else 0.5
        first = not self._settled
        self._settled = self._settled or bool(self._log.records)
        settling.settle(
            self.fake_api, self._log.records, quiet=quiet, first=first, bound=max(2.0, 4 * quiet)
        )

    def unattributed_calls(self) -> list[ApiCall]:
        """API calls the fake recorded outside any delivery of this run."""
        labels = {record.label for record in self._log.records}
        return [call for call in self.fake_api.calls if call.delivery not in labels]


def run_checks(
    target: Target | str | object,
    config: VerifyConfig,
    *,
    fake_api: FakeStripeAPI | None = None,
    only: Iterable[str] | None = None,
) -> list[CheckResult]:
    """Run the catalogue (or ``only`` these check ids) against ``target`` and return the results."""
    with ContractRun(target, config, fake_api=fake_api) as run:
        return run.run(only)


# --- the checks ------------------------------------------------------------------------------------


def _is_2xx(status: int) -> bool:
    return 200 <= status < 300


def _describe_response(response: Response) -> str:
    if response.status == 0:
        return f"no HTTP answer ({response.error or 'no response'})"
    text = str(response.status)
    location = response.header("Location")
    if 300 <= response.status < 400 and location:
        text += f" (Location: {location})"
    if response.error and response.status >= 500:
        text += f" ({_short(response.error)})"
    return text


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _finding_for(
    record: DeliveryRecord,
    *,
    status: Status,
    reason: str,
    expected: str,
    actual: str | None = None,
    check: str | None = None,
) -> Finding:
    """A finding about one delivery; failing ones carry its reproduction.

    ``check`` is the judging check when it is not the one that sent the delivery.
    """
    if check is not None and check != record.check:
        reason = f"{reason} (delivered by {record.check})"
    return Finding(
        check=check or record.check,
        status=status,
        reason=reason,
        event_type=record.event_type,
        permutation=record.permutation,
        variant=record.variant,
        expected=expected,
        actual=actual if actual is not None else _describe_response(record.response),
        reproduce=record.reproduce if status == "fail" else None,
    )


def _judge_acceptance(record: DeliveryRecord, what: str) -> Finding | None:
    """A fail finding if ``record`` did not get 2xx, else None."""
    response = record.response
    if _is_2xx(response.status):
        return None
    if response.status == 0:
        why = f"{what} got no answer: Stripe counts that as a failed delivery and retries"
    elif 300 <= response.status < 400:
        why = f"{what} was redirected; Stripe never follows redirects, so the delivery failed"
    elif response.status >= 500:
        why = f"{what} got a server error; Stripe retries it for days, then disables the endpoint"
    else:
        why = f"{what} was refused; Stripe retries it for days, then disables the endpoint"
    return _finding_for(record, status="fail", reason=why, expected="2xx")


def _check_accepts_valid_events(run: ContractRun) -> Iterator[Finding]:
    check = "accepts-valid-events"
    seed = run._seed(check)
    for event_type in run.config.event_types:
        perms = run._permutations(event_type)
        if not perms:
            receivable = " and ".join(contracts.event_info(event_type).receivable_by)
            yield Finding(
                check=check,
                status="skip",
                reason=f"{event_type} is only sent to {receivable} endpoints, and this is "
                f"{'an' if run.config.endpoint_type == 'account' else 'a'} "
                f"{run.config.endpoint_type} endpoint",
                event_type=event_type,
            )
            continue
        failed = False
        for account, live in perms:
            event = run._event(event_type, account, live, seed)
            record = run._send_event(check, event, seed=seed)
            finding = _judge_acceptance(record, f"a correctly signed {event_type} event")
            if finding is not None:
                failed = True
                yield finding
        if not failed:
            yield Finding(
                check=check,
                status="pass",
                reason=f"every permutation got 2xx ({', '.join(_perm_label(a, live) for a, live in perms)})",
                event_type=event_type,
                expected="2xx",
                actual="2xx",
            )


def _acceptance_finding(record: DeliveryRecord, what: str, *, passed: str, advice: str) -> Finding:
    """Pass if ``record`` got 2xx, else the failure with ``advice`` on how to fix it."""
    finding = _judge_acceptance(record, what)
    if finding is None:
        return _finding_for(record, status="pass", reason=passed, expected="2xx")
    return replace(finding, reason=f"{finding.reason}; {advice}")


def _perm_label(account: str | None, livemode: bool) -> str:
    return f"{'connect' if account else 'platform'}-{'live' if livemode else 'test'}"


def _judge_rejection(record: DeliveryRecord, description: str) -> Finding:
    status = record.response.status
    expected = "400 (any 4xx passes)"
    if status == 400:
        return _finding_for(
            record, status="pass", reason=f"rejected {description} with 400", expected=expected
        )
    if 400 <= status < 500:
        return _finding_for(
            record,
            status="pass",
            reason=f"rejected {description} with {status}, not the usual 400; any 4xx tells Stripe "
            "the delivery failed, so this passes",
            expected=expected,
        )
    if _is_2xx(status):
        why = f"accepted {description}: {_ACCEPTED_CONSEQUENCE.get(record.variant or '', _FORGERY)}"
    elif 300 <= status < 400:
        why = f"redirected {description} instead of rejecting it with 400"
    elif status >= 500:
        why = (
            f"answered {description} with a server error; a request that fails verification "
            "should get 400 (a 5xx looks like an outage and hides the real problem)"
        )
    else:
        why = f"gave no answer to {description}; it should be rejected with 400"
    return _finding_for(record, status="fail", reason=why, expected=expected)


def _rejection_check(check: str) -> Callable[[ContractRun], Iterator[Finding]]:
    wants = _REJECTION_VARIANTS[check]

    def run_check(run: ContractRun) -> Iterator[Finding]:
        seed = run._seed(check)
        event = run._representative_event(check)
        now = int(time.time())
        variants = [
            v
            for v in bad_variants(
                event.body,
                secret=run.config.secret,
                timestamp=now,
                livemode=event.livemode,
                url=run.url,
                now=now,
            )
            if wants(v.name)
        ]
        if not variants:
            yield Finding(
                check=check,
                status="skip",
                reason="connect_harness.wire.variants offered no request for this check",
                event_type=event.type,
                permutation=event.permutation,
            )
            return
        for variant in variants:
            parsed_t = _signature_timestamp(variant.request)
            reproduce = run._reproduce_event(
                event,
                seed=seed,
                timestamp=parsed_t if variant.name.startswith("stale") else None,
                secrets=(_OTHER_SECRET,)
                if variant.name == "wrong-secret"
                else (SECRET_PLACEHOLDER,),
                note=_variant_note(variant.name, variant.description),
            )
            record = run._send(
                check, variant.request, event=event, variant=variant.name, reproduce=reproduce
            )
            yield _judge_rejection(record, _variant_phrase(variant.name, variant.description))

    run_check.__name__ = f"check_{check.replace('-', '_')}"
    return run_check


# How findings name each bad variant, and what to change in the reproduced delivery (None: the command
# itself is exact).
_VARIANT_WORDS: dict[str, tuple[str, str | None]] = {
    "missing-signature": (
        "a request without a Stripe-Signature header",
        "drop the Stripe-Signature header",
    ),
    "malformed-garbage": (
        "a Stripe-Signature of 'garbage'",
        "send 'Stripe-Signature: garbage' instead",
    ),
    "malformed-no-timestamp": (
        "a Stripe-Signature without its t= item",
        "delete the t=... item from Stripe-Signature",
    ),
    "malformed-non-numeric-timestamp": (
        "a Stripe-Signature whose t= is not a number",
        "replace t=<digits> with t=not-a-timestamp in Stripe-Signature",
    ),
    "wrong-secret": ("an event signed with a secret that is not the endpoint's", None),
    "tampered-body": (
        "a body changed after it was signed",
        "change one character of the body and keep the header",
    ),
    "stale-timestamp": ("a signature older than the 300 s tolerance", None),
    "v0-only": (
        "a Stripe-Signature with only a v0 signature (made with the right secret)",
        "replace Stripe-Signature with t=<t>,v0=<the v1 value>",
    ),
}

_FORGERY = "the endpoint acts on requests Stripe did not sign, so anyone who knows its URL can forge events"
_ACCEPTED_CONSEQUENCE = {
    "stale-timestamp": "a captured delivery can be replayed at any time later (is the tolerance "
    "set to 0 or None?)",
    "v0-only": "a downgrade: only v1 signatures come from Stripe, so v0 must be ignored",
    "truncated-json": "a body that is not an event was acted on; parse after verifying and "
    "answer 400 when parsing fails",
    "not-json": "a body that is not an event was acted on; parse after verifying and answer 400 "
    "when parsing fails",
}

#: Made-up secrets the reproductions use where another secret is the point.
_OTHER_SECRET = "whsec_not_this_endpoints_secret"
_ROTATED_OUT_SECRET = "whsec_rotated_out_old_secret"


def _variant_phrase(name: str, description: str) -> str:
    words = _VARIANT_WORDS.get(name)
    return words[0] if words else f"the {name} request ({_short(description, 100)})"


def _variant_note(name: str, description: str) -> str | None:
    words = _VARIANT_WORDS.get(name)
    return words[1] if words else _short(description, 100)


def _signature_timestamp(request: DeliveryRequest) -> int | None:
    return parse_signature_header(request.header("Stripe-Signature")).timestamp


def _check_accepts_rotated_secret(run: ContractRun) -> Iterator[Finding]:
    check = "accepts-rotated-secret"
    seed = run._seed(check)
    event = run._representative_event(check)
    now = int(time.time())
    variants = rotated_variants(
        event.body, secret=run.config.secret, timestamp=now, livemode=event.livemode, url=run.url
    )
    for variant in variants:
        order = (
            (SECRET_PLACEHOLDER, _ROTATED_OUT_SECRET)
            if variant.name == "rotated-new-first"
            else (_ROTATED_OUT_SECRET, SECRET_PLACEHOLDER)
        )
        reproduce = run._reproduce_event(event, seed=seed, secrets=order)
        record = run._send(
            check, variant.request, event=event, variant=variant.name, reproduce=reproduce
        )
        yield _acceptance_finding(
            record,
            f"an event signed during a secret rotation ({variant.name})",
            passed=f"accepted {variant.name}",
            advice="during a rotation Stripe sends one v1 per active secret and any one that "
            "matches must be accepted",
        )


def _check_verifies_raw_body(run: ContractRun) -> Iterator[Finding]:
    check = "verifies-raw-body"
    seed = run._seed(check)
    base = run._representative_event(check)
    for name, body in _raw_body_variants(base):
        record = run._send(
            check,
            run._signed(body, livemode=base.livemode),
            event=base,
            variant=name,
            reproduce=run._reproduce_raw_body(base, name, seed=seed),
        )
        yield _acceptance_finding(
            record,
            f"a correctly signed event body with {name.replace('-', ' ')}",
            passed=f"accepted the {name} body",
            advice="verify the signature over the raw request bytes, before any JSON parsing "
            "(a re-serialized body no longer matches)",
        )


def _check_rejects_invalid_json(run: ContractRun) -> Iterator[Finding]:
    check = "rejects-invalid-json"
    livemode = run._representative()[1]
    for name, body in INVALID_JSON_BODIES:
        record = run._send(
            check,
            run._signed(body, livemode=livemode),
            event_type=None,
            variant=name,
            reproduce=run._reproduce_body(body, livemode=livemode),
        )
        yield _judge_rejection(record, f"a correctly signed body that is not JSON ({body!r})")


def _check_acknowledges_unknown_events(run: ContractRun) -> Iterator[Finding]:
    check = "acknowledges-unknown-events"
    seed = run._seed(check)
    overrides = {"type": UNKNOWN_EVENT_TYPE}
    for account, live in run._permutations("customer.created"):
        event = run._event("customer.created", account, live, seed, overrides=overrides)
        record = run._send_event(check, event, seed=seed, overrides=overrides)
        record = replace(record, event_type=UNKNOWN_EVENT_TYPE)
        finding = _judge_acceptance(
            record, f"a correctly signed event of the unknown type {UNKNOWN_EVENT_TYPE}"
        )
        if finding is None:
            yield _finding_for(
                record,
                status="pass",
                reason="acknowledged the unknown type with 2xx",
                expected="2xx",
            )
        else:
            yield replace(
                finding,
                reason=finding.reason
                + "; answer 2xx to every type you do not handle (Stripe adds new types any time)",
            )


def _check_idempotent_redelivery(run: ContractRun) -> Iterator[Finding]:
    check = "idempotent-redelivery"
    seed = run._seed(check)
    events = [
        run._event(event_type, account, live, seed)
        for event_type in IDEMPOTENCY_EVENTS
        for account, live in run._permutations(event_type)
    ]
    firsts = [
        run._send_event(check, event, seed=seed, variant="first-delivery") for event in events
    ]
    run.settle()
    again = "run it twice; the second delivery is the redelivery"
    seconds = [
        run._send_event(check, event, seed=seed, variant="redelivery", note=again)
        for event in events
    ]
    concurrent: tuple[DeliveryRecord, DeliveryRecord] | None = None
    if isinstance(run.target, UrlTarget):
        event = run._event(
            "payment_intent.succeeded",
            *run._permutations("payment_intent.succeeded")[0],
            run._seed(check, 1),
        )
        concurrent = _deliver_twice_concurrently(run, check, event, seed=run._seed(check, 1))
    records = run._judged_records()

    mutating_seen = False
    findings: list[Finding] = []
    # Keys of every first copy: a call made after its delivery was answered can land in the next
    # delivery's window, so a key is only judged against all first copies together.
    keys = {
        key
        for first_sent in firsts
        for c in records[first_sent.sequence].calls
        if c.mutating and (key := c.idempotency_key)
    }
    for first_sent, second_sent in zip(firsts, seconds, strict=True):
        first, second = records[first_sent.sequence], records[second_sent.sequence]
        first_mutations = [c for c in first.calls if c.mutating]
        mutating_seen = mutating_seen or bool(first_mutations)
        if not _is_2xx(second.response.status):
            findings.append(
                _finding_for(
                    second,
                    status="fail",
                    reason="a redelivery of an event already received was refused; answer 2xx "
                    "to every copy (Stripe delivers at least once and retries until it gets 2xx)",
                    expected="2xx",
                )
            )
            continue
        repeated = [c for c in second.calls if c.mutating and c.idempotency_key not in keys]
        if repeated:
            findings.append(
                _finding_for(
                    second,
                    status="fail",
                    reason=f"the redelivery repeated a side effect: {_call_text(repeated[0])} "
                    "without an Idempotency-Key already used for the first copy; deduplicate on "
                    "event.id or send an idempotency key derived from it",
                    expected="no new mutating API calls (or the same Idempotency-Key)",
                    actual=f"{len(repeated)} new mutating call(s), e.g. {_call_text(repeated[0])}",
                )
            )
        elif first_mutations:
            findings.append(
                _finding_for(
                    second,
                    status="pass",
                    reason=f"redelivery answered 2xx and repeated none of the {len(first_mutations)} "
                    "mutating API call(s) of the first copy",
                    expected="2xx, no repeated side effects",
                )
            )
    findings.extend(_repeated_on_objects(check, events, seconds, records))
    if concurrent is not None:
        a, b = records[concurrent[0].sequence], records[concurrent[1].sequence]
        calls = [c for c in (*a.calls, *b.calls) if c.mutating]
        mutating_seen = mutating_seen or bool(calls)
        for record in (a, b):
            if not _is_2xx(record.response.status) and record.response.status != 409:
                findings.append(
                    _finding_for(
                        record,
                        status="fail",
                        reason="one of two concurrent copies of the same event was refused; "
                        "answer 2xx to both (or 409 so that Stripe retries later)",
                        expected="2xx",
                    )
                )
        duplicated = _duplicated_mutations(calls)
        if duplicated is not None:
            findings.append(
                _finding_for(
                    b,
                    status="fail",
                    reason=f"two concurrent copies of one event both made {_call_text(duplicated)} "
                    "without sharing one Idempotency-Key; claim the event id atomically (a unique "
                    "constraint) before acting",
                    expected="each side effect once",
                    actual=f"{_call_text(duplicated)} made twice",
                )
            )
    if not mutating_seen and not any(f.status == "fail" for f in findings):
        yield Finding(
            check=check,
            status="skip",
            reason="no mutating API calls observed; side effects outside the Stripe API cannot be seen",
        )
        return
    yield from findings


def _repeated_on_objects(
    check: str,
    events: Sequence[Event],
    seconds: Sequence[DeliveryRecord],
    records: Sequence[DeliveryRecord],
) -> Iterator[Finding]:
    """Side effects on an event's own object made twice without one Idempotency-Key between them.

    Judged by the object the calls name, not by which delivery they arrived during, so an endpoint
    that answers first and acts later is judged as fairly as one that acts before answering.
    """
    # Every delivery of this check: a late call lands in whichever delivery was last under way.
    mutations = [
        call
        for record in records
        if record.check == check
        for call in record.calls
        if call.mutating
    ]
    for event, second in zip(events, seconds, strict=True):
        own = [call for call in mutations if event.object_id and call.object_id == event.object_id]
        duplicated = _duplicated_mutations(own)
        if duplicated is not None:
            yield _finding_for(
                records[second.sequence],
                status="fail",
                reason=f"{_call_text(duplicated)} was made again for the redelivered event without "
                "the Idempotency-Key of the first time; deduplicate on event.id or derive the key "
                "from it",
                expected="each side effect once (or the same Idempotency-Key)",
                actual=f"{_call_text(duplicated)} made more than once",
            )


def _deliver_twice_concurrently(
    run: ContractRun, check: str, event: Event, *, seed: int
) -> tuple[DeliveryRecord, DeliveryRecord]:
    label = run._next_label(check)
    requests = [run._signed(event.body, livemode=event.livemode) for _ in range(2)]
    reproduce = run._reproduce_event(
        event, seed=seed, note="run this command twice at the same time"
    )
    out: list[DeliveryRecord | None] = [None, None]
    barrier = threading.Barrier(2)

    def send(index: int) -> None:
        barrier.wait()
        out[index] = run._send(
            check,
            requests[index],
            event=event,
            variant=f"concurrent-copy-{index + 1}",
            reproduce=reproduce,
            label=label,  # one label: the fake cannot tell which copy caused a call
        )

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = out
    assert first is not None and second is not None
    return first, second


def _duplicated_mutations(calls: Sequence[ApiCall]) -> ApiCall | None:
    groups: dict[tuple[str, str], list[ApiCall]] = {}
    for call in calls:
        groups.setdefault((call.method, call.path), []).append(call)
    for group in groups.values():
        if len(group) < 2:
            continue
        keys = {call.idempotency_key for call in group}
        if None in keys or len(keys) > 1:
            return group[1]
    return None


def _check_uses_connected_account_context(run: ContractRun) -> Iterator[Finding]:
    check = "uses-connected-account-context"
    records = run._judged_records()
    connect_records = [r for r in records if r.account is not None]
    if not connect_records:
        yield Finding(
            check=check,
            status="skip",
            reason=f"no Connect events were delivered (endpoint type {run.config.endpoint_type})",
        )
        return
    judged = 0
    failures: list[Finding] = []
    for record in records:
        for call in record.calls:
            verdict = _account_context_problem(
                record, call, certain=run.certainly_for(record, call)
            )
            if verdict is None:
                if record.account is not None or call.object_owner is not None:
                    judged += 1
                continue
            judged += 1
            problem, expected = verdict
            failures.append(
                _finding_for(
                    record,
                    status="fail",
                    reason=problem,
                    expected=expected,
                    actual=_call_text(call),
                    check=check,
                )
            )
    for call in run.unattributed_calls():
        owner = call.object_owner
        if owner is None or call.path.startswith("/v1/accounts/"):
            continue
        if call.stripe_account != owner:
            failures.append(
                Finding(
                    check=check,
                    status="fail",
                    reason=f"{_call_text(call)} touched an object of connected account {owner} "
                    "without acting as it (outside any delivery)",
                    expected=f"Stripe-Account: {owner}",
                    actual=_call_text(call),
                )
            )
    yield from failures
    if failures:
        return
    if judged == 0:
        yield Finding(
            check=check,
            status="skip",
            reason="no API calls observed while handling Connect events",
        )
        return
    yield Finding(
        check=check,
        status="pass",
        reason=f"{judged} API call(s) made while handling Connect events all used the right "
        "account context",
        expected="Stripe-Account: <event.account> for connected-account objects",
        actual="as expected",
    )


def _account_context_problem(
    record: DeliveryRecord, call: ApiCall, *, certain: bool
) -> tuple[str, str] | None:
    """Why ``call`` made during ``record`` acts as the wrong account, with what was expected; or None."""
    path = call.path
    acting_as = call.stripe_account
    owner = call.object_owner
    if owner is not None and acting_as != owner:
        if acting_as is None and path.startswith(f"/v1/accounts/{owner}"):
            return None  # the platform may read and manage its connected accounts directly
        what = f"as {acting_as}" if acting_as else "with platform auth (no Stripe-Account)"
        return (
            f"{_call_text(call)} requested an object of connected account {owner} {what}; "
            "Stripe answers 'No such ...': pass stripe_account=event.account",
            f"Stripe-Account: {owner}",
        )
    if acting_as is not None and owner is None and not certain:
        return None  # which event this call served cannot be told
    if acting_as is not None and acting_as not in (record.account, owner):
        handling = f"connected account {record.account}" if record.account else "the platform"
        return (
            f"{_call_text(call)} acted as {acting_as} while handling an event of {handling}",
            f"Stripe-Account: {record.account}" if record.account else "no Stripe-Account",
        )
    return None


def _check_separates_livemode(run: ContractRun) -> Iterator[Finding]:
    check = "separates-livemode"
    judged = 0
    failures: list[Finding] = []
    for record in run._judged_records():
        for call in record.calls:
            key_mode = call.key_mode
            object_live = call.object_livemode
            # The event's mode counts only for calls certainly made for it.
            event_live = record.livemode if run.certainly_for(record, call) else None
            wanted = {live for live in (event_live, object_live) if live is not None}
            if key_mode is None or not wanted:
                continue
            judged += 1
            wrong = [live for live in wanted if ("live" if live else "test") != key_mode]
            if not wrong:
                continue
            expected_mode = "live" if wrong[0] else "test"
            what = "event" if event_live == wrong[0] else "object"
            failures.append(
                _finding_for(
                    record,
                    status="fail",
                    reason=f"{_call_text(call)} used a {key_mode}-mode key for a {expected_mode}-mode "
                    f"{what}; choose the API key by event.livemode (a {key_mode} key cannot see "
                    f"{expected_mode} objects)",
                    expected=f"a {expected_mode}-mode key (sk_{expected_mode}_...)",
                    actual=f"{key_mode}-mode key: {_call_text(call)}",
                    check=check,
                )
            )
    for call in run.unattributed_calls():
        key_mode = call.key_mode
        object_live = call.object_livemode
        if key_mode is None or object_live is None:
            continue
        judged += 1
        expected_mode = "live" if object_live else "test"
        if key_mode != expected_mode:
            failures.append(
                Finding(
                    check=check,
                    status="fail",
                    reason=f"{_call_text(call)} used a {key_mode}-mode key for a {expected_mode}-mode "
                    "object (outside any delivery)",
                    expected=f"a {expected_mode}-mode key",
                    actual=f"{key_mode}-mode key",
                )
            )
    yield from failures
    if failures:
        return
    if judged == 0:
        yield Finding(check=check, status="skip", reason="no API calls observed")
        return
    yield Finding(
        check=check,
        status="pass",
        reason=f"{judged} API call(s) all used a key of their event's mode",
        expected="key mode = event mode",
        actual="as expected",
    )


def _over_all_deliveries(
    check: str,
    bad: Callable[[DeliveryRecord], str | None],
    expected: str,
    summary: str,
) -> Callable[[ContractRun], Iterator[Finding]]:
    def run_check(run: ContractRun) -> Iterator[Finding]:
        records = run.records
        failing = 0
        for record in records:
            reason = bad(record)
            if reason is None:
                continue
            failing += 1
            yield Finding(
                check=check,
                status="fail",
                reason=f"{reason} (delivered by {record.check})",
                event_type=record.event_type,
                permutation=record.permutation,
                variant=record.variant,
                expected=expected,
                actual=_describe_response(record.response)
                + f" after {record.response.elapsed:.3f} s",
                reproduce=record.reproduce,
            )
        if not records:
            yield Finding(check=check, status="skip", reason="no deliveries were made")
        elif failing == 0:
            yield Finding(
                check=check,
                status="pass",
                reason=summary.format(n=len(records)),
                expected=expected,
                actual="as expected",
            )

    run_check.__name__ = f"check_{check.replace('-', '_')}"
    return run_check


def _redirected(record: DeliveryRecord) -> str | None:
    status = record.response.status
    if 300 <= status < 400:
        location = record.response.header("Location")
        where = f" to {location}" if location else ""
        return (
            f"answered {status}{where}; Stripe never follows redirects, so every such delivery "
            "fails: serve the exact URL registered with Stripe"
        )
    return None


def _server_error(record: DeliveryRecord) -> str | None:
    if record.response.status >= 500:
        return (
            f"answered {record.response.status}; a 5xx makes Stripe retry for days and then "
            "disable the endpoint"
        )
    return None


def _too_slow(limit: float) -> Callable[[DeliveryRecord], str | None]:
    def judge(record: DeliveryRecord) -> str | None:
        response = record.response
        if response.status == 0 and (response.error or "").startswith("timed out"):
            return f"did not answer before the {response.error}; return 2xx before slow work"
        if response.elapsed > limit:
            return (
                f"took {response.elapsed:.3f} s, more than {limit:g} s; acknowledge first and do "
                "slow work afterwards, or Stripe times out and delivers again"
            )
        return None

    return judge


def _check_no_redirects(run: ContractRun) -> Iterator[Finding]:
    return _over_all_deliveries(
        "no-redirects", _redirected, "no 3xx", "none of {n} deliveries was redirected"
    )(run)


def _check_no_server_errors(run: ContractRun) -> Iterator[Finding]:
    return _over_all_deliveries(
        "no-server-errors", _server_error, "no 5xx", "none of {n} deliveries got a 5xx"
    )(run)


def _check_responds_in_time(run: ContractRun) -> Iterator[Finding]:
    limit = run.config.max_response_time
    return _over_all_deliveries(
        "responds-in-time",
        _too_slow(limit),
        f"an answer within {limit:g} s",
        f"all {{n}} deliveries were answered within {limit:g} s",
    )(run)


_CHECKS: dict[str, Callable[[ContractRun], Iterable[Finding]]] = {
    "accepts-valid-events": _check_accepts_valid_events,
    **{check: _rejection_check(check) for check in _REJECTION_VARIANTS},
    "accepts-rotated-secret": _check_accepts_rotated_secret,
    "verifies-raw-body": _check_verifies_raw_body,
    "rejects-invalid-json": _check_rejects_invalid_json,
    "acknowledges-unknown-events": _check_acknowledges_unknown_events,
    "idempotent-redelivery": _check_idempotent_redelivery,
    "uses-connected-account-context": _check_uses_connected_account_context,
    "separates-livemode": _check_separates_livemode,
    "no-redirects": _check_no_redirects,
    "no-server-errors": _check_no_server_errors,
    "responds-in-time": _check_responds_in_time,
}
assert set(_CHECKS) == {spec.id for spec in CATALOGUE}


# --- API call helpers --------------------------------------------------------------------------------


def _call_text(call: ApiCall) -> str:
    text = f"{call.method} {call.path}"
    account = call.stripe_account
    if account:
        text += f" [Stripe-Account: {account}]"
    key = call.idempotency_key
    if key and call.mutating:
        text += f" [Idempotency-Key: {_short(key, 40)}]"
    return text


def _json_text(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _utf8(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
