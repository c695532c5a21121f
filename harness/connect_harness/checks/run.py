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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

from connect_harness import arguments
from connect_harness.checks import settling
from connect_harness.checks.attribution import (
    Attribution,
    attribute,
    names_its_event,
    resolve_concurrent,
)
from connect_harness.checks.budget import RunBudget
from connect_harness.checks.common import (
    ACCOUNT_ENDING_EVENTS,
    DISCONNECTED_ACCOUNT,
    SECRET_PLACEHOLDER,
    json_text,
    utf8,
)
from connect_harness.checks.findings import (
    CheckResult,
    Finding,
    check_ids,
    check_spec,
    validate_check_ids,
)
from connect_harness.checks.gaps import excuse_our_gaps
from connect_harness.checks.grouping import Headline, headlines, point_upstream, regroup
from connect_harness.checks.records import DeliveryRecord, VerifyConfig
from connect_harness.checks.registry import CHECKS
from connect_harness.checks.sdk_spelling import Sdk, sdk_of
from connect_harness.checks.stopping import Breaker, gone, unjudged
from connect_harness.delivery import AsgiTarget, Target, UrlTarget, WsgiTarget, deliver
from connect_harness.delivery import target_from as _target_from
from connect_harness.delivery.concurrency import default_concurrency, deliver_all
from connect_harness.delivery.process import ServedProcess
from connect_harness.events.build import Event, build_event
from connect_harness.events.build import event_permutations as _event_permutations
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import ApiCall, FakeStripeAPI
from connect_harness.wire.request import DEFAULT_URL, DeliveryRequest, delivery_request

__all__ = [
    "ContractRun",
    "DeliveryRecord",
    "VerifyConfig",
    "run_checks",
]


#: How long a delivery that got no answer waits for a launched process to be seen exiting.
PROCESS_EXIT_GRACE = 1.0

# Checks judged over the deliveries of every other check: they run last.
GLOBAL_CHECKS = frozenset(
    {
        "uses-connected-account-context",
        "separates-livemode",
        "no-redirects",
        "no-server-errors",
        "responds-in-time",
        "stays-alive",
        "never-logs-secrets",
    }
)


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
        process: ServedProcess | None = None,
    ) -> None:
        if isinstance(target, (UrlTarget, WsgiTarget, AsgiTarget)):
            self.target: Target = target
        else:
            self.target = _target_from(target)
        arguments.instance(
            "config", config, VerifyConfig, hint="make one with VerifyConfig(secret=...)"
        )
        arguments.instance(
            "fake_api", fake_api, (FakeStripeAPI, type(None)), hint="pass a FakeStripeAPI() or None"
        )
        arguments.text("url", url, example=DEFAULT_URL, optional=True)
        self.config = config
        self._url = url or DEFAULT_URL
        self._own_fake = fake_api is None
        self.fake_api = fake_api if fake_api is not None else FakeStripeAPI()
        self._results: dict[str, CheckResult] = {}
        #: The launched endpoint (verify --serve), watched after every delivery.
        self.process = process
        #: The delivery after which the launched endpoint's process was first seen dead.
        self.died_after: DeliveryRecord | None = None
        self._raw: dict[str, CheckResult] = {}
        self._log = _Deliveries()
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._judged_calls: tuple[DeliveryRecord, ...] | None = None
        self._attribution = Attribution(
            by_label={}, outside=(), ambiguous=(), after_answering=False
        )
        #: Trips after ``config.stop_after`` deliveries in a row got no answer, on interrupt(),
        #: or out of the time budget, ``config.max_run_time`` (:mod:`.budget`).
        self.breaker = Breaker(
            config.stop_after,
            budget=RunBudget(
                config.max_run_time,
                planned_acceptance=lambda: sum(
                    len(self.permutations(t)) for t in self.config.event_types
                ),
            ),
        )
        # A server at a URL gets a longer quiet time than an app called in this process.
        quiet = 0.05 if isinstance(self.target, WsgiTarget) else 0.5
        self._settler = settling.Settler(quiet=quiet, bound=max(2.0, 4 * quiet))
        self._attributed: tuple[int, int] | None = None  # records and calls _attribution saw
        self._checking: list[str] = []  # the checks running, innermost last
        #: When each check that judged API calls was judged (its result kept).
        self._judged_at: dict[str, float] = {}
        self._judging: set[str] = set()  # checks that settled while they ran
        #: Deliveries in flight at once for independent deliveries (``--concurrency``).
        self.concurrency = (
            config.concurrency
            if config.concurrency is not None
            else default_concurrency(self.target)
        )
        #: Why the run went back to one delivery at a time (None: it did not).
        self.sequential_since: str | None = None
        #: Concurrent batches by the tag the fake labelled their calls with: their records' labels.
        self._batches: dict[str, tuple[str, ...]] = {}
        #: The deliveries sent in a concurrent batch.
        self.batched = 0
        self._resolved: list[ApiCall] = []  # the fake's calls, batch tags resolved to labels
        self._learned_calls = 0  # calls looked at by _may_batch

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
        if spec.id in GLOBAL_CHECKS:
            for other in check_ids():
                if other not in GLOBAL_CHECKS:
                    self.result(other)
        first = len(self._log.records)
        self._checking.append(spec.id)
        try:
            with contextlib.ExitStack() as stack:
                if not isinstance(self.target, UrlTarget):
                    stack.enter_context(self.fake_api.patch_stripe())
                findings = excuse_our_gaps(self, tuple(CHECKS[spec.id](self)))
        finally:
            self._checking.pop()
        findings = unjudged(spec.id, findings, self._log.records[first:], self.breaker)
        raw = CheckResult(id=spec.id, title=spec.title, findings=findings)
        self._raw[spec.id] = raw
        result = point_upstream(
            regroup(raw, self.headlines()), self._raw.get("accepts-valid-events")
        )
        self._results[spec.id] = result
        if spec.id in self._judging:
            self._judged_at[spec.id] = time.monotonic()
        return result

    def headlines(self) -> list[Headline]:
        """The root causes the run has shown so far (:mod:`connect_harness.checks.grouping`)."""
        return headlines(
            self._log.records,
            self._raw.get("accepts-valid-events"),
            died_after=self.died_after,
            silent_after=None if self.died_after is not None else self.silent_after(),
        )

    def silent_after(self) -> DeliveryRecord | None:
        """The last delivery answered before the endpoint stopped answering for good: every
        delivery after it that was sent got no answer, two or more (or one, and then the run
        stopped) because the connection was refused or reset. None while the endpoint answers (a
        timeout is ``responds-in-time``'s, not this)."""
        records = self._log.records
        last = next(
            (i for i in range(len(records) - 1, -1, -1) if records[i].response.status != 0), None
        )
        if last is None:
            return None
        after = records[last + 1 :]
        refused = sum(1 for record in after if gone(record.response))
        stopped = self.breaker.stopped is not None and not self.breaker.not_judging
        # Twice, or once and then the run stopped sending: a server that drops one odd request
        # and answers the next is not dead.
        if refused >= 2 or (refused and stopped):
            return records[last]
        return None

    def completed(self) -> list[CheckResult]:
        """The results of the checks run so far, in catalogue order (none is run by asking)."""
        return [self._results[check_id] for check_id in check_ids() if check_id in self._results]

    def run(self, only: Iterable[str] | None = None) -> list[CheckResult]:
        """Run every check (or ``only`` these ids) and return their results in catalogue order."""
        wanted = check_ids() if only is None else validate_check_ids(only)
        with contextlib.ExitStack() as stack:
            if not isinstance(self.target, UrlTarget):
                # From the first check to the last, so an in-process app's work that lags behind
                # one check's end reaches the fake during the next one.
                self._start()
                stack.enter_context(self.fake_api.patch_stripe())
            # Delivering checks first, so the checks judged over all deliveries see every one.
            for check_id in sorted(wanted, key=lambda c: c in GLOBAL_CHECKS):
                self.result(check_id)
        return [self._results[check_id] for check_id in wanted]

    # --- sending ---------------------------------------------------------------------------------

    def seed(self, check_id: str, sub: int = 0) -> int:
        """A seed per check (and sub-case), so no two checks deliver the same event id."""
        index = check_ids().index(check_id)
        return self.config.seed * 64 + 2 * index + sub

    def scenario_seed(self, k: int) -> int:
        """Seeds for platform scenarios (which cannot be kept apart by a connected account of their
        own): the top 16 of the run's 64, above every check's two (see :meth:`_seed`)."""
        assert 0 <= k < 16 and 2 * len(check_ids()) <= 48
        return self.config.seed * 64 + 48 + k

    def permutations(self, event_type: str | None = None) -> list[tuple[str | None, bool]]:
        perms = _event_permutations(endpoint_type=self.config.endpoint_type, mode=self.config.mode)
        if event_type is None:
            return list(perms)
        receivable = contracts.event_info(event_type).receivable_by
        return [
            (account, live)
            for account, live in perms
            if ("connect" if account else "account") in receivable
        ]

    def representative(self) -> tuple[str | None, bool]:
        """The permutation signature checks use: a Connect test event where the endpoint gets those,
        else the first permutation it gets (a production account endpoint gets live events only)."""
        perms = self.permutations("customer.created")
        return next(((a, live) for a, live in perms if not live), perms[0])

    def representative_event(self, check_id: str, sub: int = 0) -> Event:
        """customer.created in the representative permutation (see :meth:`_representative`)."""
        account, livemode = self.representative()
        return self.event("customer.created", account, livemode, self.seed(check_id, sub))

    def event(
        self,
        event_type: str,
        account: str | None,
        livemode: bool,
        seed: int,
        overrides: Mapping[str, Any] | None = None,
    ) -> Event:
        if account is not None and event_type in ACCOUNT_ENDING_EVENTS:
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
        self.register(event)
        return event

    def register(self, event: Event) -> None:
        """Make the event's objects exist in the fake API (owned by its account, in its mode)."""
        self.fake_api.register_event(event)

    def signed(
        self, body: bytes, *, livemode: bool, secrets: Sequence[str] | None = None
    ) -> DeliveryRequest:
        return delivery_request(
            body,
            secrets=list(secrets) if secrets is not None else self.config.secret,
            timestamp=int(time.time()),
            livemode=livemode,
            url=self.url,
        )

    def next_label(self, check_id: str) -> str:
        with self._lock:
            self._log.counter += 1
            return f"{check_id}#{self._log.counter}"

    def send(
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
        label = label or self.next_label(check_id)
        with self.fake_api.delivery(label):
            started = time.monotonic()
            response = self.breaker.not_sent(check_id)
            if response is None:
                # Threads a WSGI app starts while handling the delivery may work on after its
                # answer: the settles wait for them. (An ASGI framework starts pools of its own
                # that live on idle; a URL endpoint's threads are not in this process.)
                wsgi = isinstance(self.target, WsgiTarget)
                threads = self._settler.watch_start() if wsgi else frozenset()
                response = deliver(request, self.target, timeout=self.config.timeout)
                if wsgi:
                    self._settler.watch_end(threads)
                self.breaker.record(response)
            finished = time.monotonic()
        return self._keep(
            DeliveryRecord(
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
        )

    def _keep(self, record: DeliveryRecord) -> DeliveryRecord:
        """Log ``record`` (numbered in sending order); stop the run if the launched process died."""
        died = self.process is not None and self.died_after is None and self._process_died(record)
        with self._lock:
            record = replace(record, sequence=len(self._log.records))
            self._log.records.append(record)
            if died and self.died_after is None:
                self.died_after = self.last_answered()
        if died and self.died_after is not None:
            # Known gone (no process of its group left, its port closed): every later delivery
            # would wait for nothing, so none is sent (issue 21: a hung or dead --serve cost minutes).
            self.breaker.stop(
                f"the endpoint's process exited after delivery {self.died_after.label}: "
                "the run stopped sending",
                cause="gone",
            )
        return record

    def send_events(
        self, check_id: str, events: Sequence[Event], *, seed: int
    ) -> list[DeliveryRecord]:
        """Deliver independent ``events`` (no two name one object), as :meth:`send_event` each.

        Up to :attr:`concurrency` at once while the endpoint's API calls so far were all tied to
        their deliveries by content (:meth:`_may_batch`), else one by one. Either way the records
        are logged, labelled and numbered in the order of ``events``, as one by one.
        """
        if not self._may_batch(events):
            records = []
            for event in events:
                # As one by one: the fake holds each event's objects as that event has them when
                # it is sent (events of one type can share an id, e.g. a report type's, and the
                # last one built would otherwise own it for every delivery).
                self.register(event)
                records.append(self.send_event(check_id, event, seed=seed))
            return records
        labels = [self.next_label(check_id) for _ in events]
        requests = [self.signed(event.body, livemode=event.livemode) for event in events]
        reproduce = [self.reproduce_event(event, seed=seed) for event in events]
        unsent = [self.breaker.not_sent(check_id) for _ in events]

        def job(index: int) -> Any:
            def one() -> tuple[float, Any, float]:
                started = time.monotonic()
                response = unsent[index]
                if response is None:
                    response = deliver(requests[index], self.target, timeout=self.config.timeout)
                return started, response, time.monotonic()

            return one

        tag = f"concurrent {labels[0]}"
        self._batches[tag] = tuple(labels)
        wsgi = isinstance(self.target, WsgiTarget)
        threads = self._settler.watch_start() if wsgi else frozenset()
        with self.fake_api.delivery(tag):
            results = deliver_all([job(i) for i in range(len(events))], self.concurrency)
        if wsgi:
            self._settler.watch_end(threads)
        self.batched += len(events)
        records = []
        for event, label, request, command, was_unsent, (started, response, finished) in zip(
            events, labels, requests, reproduce, unsent, results, strict=True
        ):
            if was_unsent is None:
                self.breaker.record(response)
            record = DeliveryRecord(
                check=check_id,
                label=label,
                request=request,
                response=response,
                event_type=event.type,
                permutation=event.permutation,
                variant=None,
                account=event.account,
                livemode=event.livemode,
                reproduce=command,
                started=started,
                finished=finished,
            )
            records.append(self._keep(record))
        return records

    def _may_batch(self, events: Sequence[Event]) -> bool:
        """True if ``events`` may be in flight together: concurrency above 1, the run not back
        to one at a time, no event naming another's object (or account and mode: then a call is
        tied to its event by what it names or by who it acts as), and every API call seen so far
        tied to a delivery by content alone, as it would be in a batch (a call that was not
        sends the rest of the run one by one)."""
        if self.concurrency <= 1 or len(events) < 2 or self.sequential_since is not None:
            return False
        if self.breaker.stopped is not None or (self.process is not None and self.died_after):
            return False
        keys = {(event.account, event.livemode) for event in events}
        objects = [event.object_id for event in events]
        if len(keys) < len(events) or len(set(objects)) < len(objects):
            return False
        bodies = [event.body.decode("utf-8", "replace") for event in events]
        for i, name in enumerate(objects):
            if name is None or any(name in body for j, body in enumerate(bodies) if j != i):
                return False
        self._learn_calls()
        return self.sequential_since is None

    def _learn_calls(self) -> None:
        """Look at the calls made since the last look: one a batch's content did not tie to a
        delivery, or one made during a single delivery that content would have tied elsewhere,
        sends the rest of the run one by one (:attr:`sequential_since`)."""
        calls = self.resolved_calls()
        records = tuple(self._log.records)
        by_label = {record.label: record for record in records}
        for call in calls[self._learned_calls :]:
            if call.delivery in self._batches:
                self.sequential_since = (
                    f"{call.method} {call.path} came while deliveries were in flight together "
                    "and names nothing that ties it to one of them"
                )
                return
            own = by_label.get(str(call.delivery))
            if own is None:
                continue  # outside every delivery, or one still being logged
            # As if this delivery had been sent with the others of its type and check.
            peers = [r for r in records if r.check == own.check and r.event_type == own.event_type]
            label = resolve_concurrent(call, peers, records)
            if label is None or by_label[label].request.body != own.request.body:
                self.sequential_since = (
                    f"{call.method} {call.path} (for delivery {own.label}) is tied to its "
                    "delivery by timing only"
                )
                return
        self._learned_calls = len(calls)

    def resolved_calls(self) -> list[ApiCall]:
        """The fake's calls, each made while a concurrent batch was in flight (or after it, before
        the next delivery) relabelled with the delivery content ties it to; one it ties to none
        keeps the batch's tag (judged as ambiguous)."""
        calls = self.fake_api.calls
        if len(self._resolved) < len(calls):
            records = tuple(self._log.records)
            by_label: dict[str, DeliveryRecord] = {r.label: r for r in records}
            for call in calls[len(self._resolved) :]:
                labels = self._batches.get(str(call.delivery))
                if labels is not None:
                    batch = [by_label[label] for label in labels if label in by_label]
                    label = resolve_concurrent(call, batch, records)
                    if label is not None:
                        call = replace(call, delivery=label)
                self._resolved.append(call)
        return list(self._resolved)

    def _process_died(self, record: DeliveryRecord) -> bool:
        """True if the launched process exited; a delivery with no answer waits a moment for it."""
        assert self.process is not None
        if not self.process.alive:
            return True
        if record.response is self.breaker.NOT_SENT:
            return False  # nothing was sent: waiting the grace per unsent delivery cost minutes
        return record.response.status == 0 and self.process.exits_within(PROCESS_EXIT_GRACE)

    def last_answered(self) -> DeliveryRecord:
        """The last delivery that got an HTTP answer (the one after which the process died)."""
        answered = [r for r in self._log.records if r.response.status != 0]
        return answered[-1] if answered else self._log.records[-1]

    def send_event(
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
        request = self.signed(event.body, livemode=event.livemode)
        reproduce = self.reproduce_event(event, seed=seed, overrides=overrides, note=note)
        return self.send(
            check_id, request, event=event, variant=variant, reproduce=reproduce, label=label
        )

    # --- reproductions ---------------------------------------------------------------------------

    def reproduce_event(
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
            parts += ["--set", shlex.quote(f"{path}={json_text(value)}")]
        return self.finish_command(parts, secrets=secrets, timestamp=timestamp, note=note)

    def reproduce_body(self, body: bytes, *, livemode: bool, note: str | None = None) -> str:
        """``... | connect-harness sign --body-file - ...`` for a body the builder does not make."""
        text = utf8(body)
        if text is not None and "\n" not in text and len(text) <= 120:
            source = f"printf '%s' {shlex.quote(text)}"
        else:
            source = f"echo {base64.b64encode(body).decode('ascii')} | base64 -d"
        parts = ["connect-harness", "sign", "--body-file", "-"]
        if livemode:
            parts.append("--live")
        command = self.finish_command(
            parts, secrets=(SECRET_PLACEHOLDER,), timestamp=None, note=note
        )
        return f"{source} | {command}"

    def reproduce_raw_body(self, event: Event, name: str, *, seed: int) -> str:
        """Rebuild one body of ``raw_body_variants`` with Python, then sign those exact bytes."""
        account = json.dumps(event.account) if event.account else "None"
        program = (
            "import sys; from connect_harness.events.build import build_event, raw_body_variants as v; "
            f"e = build_event({json.dumps(event.type)}, account={account}, "
            f"livemode={event.livemode}, seed={seed}, "
            f"api_version={self.config.api_version!r}); "
            f"sys.stdout.buffer.write(dict(v(e))[{json.dumps(name)}])"
        )
        parts = ["connect-harness", "sign", "--body-file", "-"]
        if event.livemode:
            parts.append("--live")
        command = self.finish_command(
            parts, secrets=(SECRET_PLACEHOLDER,), timestamp=None, note=None
        )
        return f"python -c {shlex.quote(program)} | {command}"

    def finish_command(
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

    def judged_records(self) -> tuple[DeliveryRecord, ...]:
        """Every record with the API calls attributed to it, after the fake API went quiet."""
        if self._judged_calls is not None and len(self._judged_calls) == len(self._log.records):
            return self._judged_calls
        self.settle()
        by_label = {label: list(calls) for label, calls in self._attribution.by_label.items()}
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

        That holds when the endpoint does all its work before answering, the call came while
        ``record`` waited for its answer, and either it names something of ``record``'s event or no
        earlier delivery had been answered yet. An endpoint that answers first and works later (as Stripe
        advises) makes its calls while later deliveries are under way: then no call is tied to an
        event by timing, and the checks judge it only by the object it touches.
        """
        if self._works_after_answering() or not record.answered_before(call):
            return False
        if names_its_event(record, call):
            return True
        # A call naming nothing of this event may be the late work of a delivery answered before
        # it arrived (one call an endpoint makes after answering can land inside the next
        # delivery): timing alone is proof only when no earlier delivery could have made it.
        return not self._answered_before(record, call)

    def _answered_before(self, record: DeliveryRecord, call: ApiCall) -> bool:
        """True if another delivery than ``record``'s had been answered when ``call`` came."""
        return any(
            other.finished <= call.at for other in self._log.records if other.label != record.label
        )

    def _works_after_answering(self) -> bool:
        self.judged_records()
        return self._attribution.after_answering

    def settle(self) -> None:
        """Wait until the endpoint stops calling the fake API (work it does after answering).

        Only as long as calls are in flight, the endpoint is known to call after answering, or the
        run has yet to learn whether it does for an event type (:mod:`connect_harness.checks.settling`);
        a server at a URL gets a longer quiet time. Then ties the calls to their deliveries.
        """
        checking = self._checking[-1] if self._checking else None
        if checking is not None:
            self._judging.add(checking)
        records = tuple(self._log.records)
        self._settler.settle(_Resolved(self), records, final=checking in GLOBAL_CHECKS)
        calls = self.resolved_calls()
        if self._attributed != (len(records), len(calls)):
            self._attribution = _unresolved_ambiguous(attribute(records, calls), self._batches)
            self._attributed = (len(records), len(calls))
            self._judged_calls = None  # calls came since the records were judged
        if self._attribution.after_answering:
            self._settler.mark_late()  # a late call that landed inside a later delivery
        self._note_calls_after_judging(records)

    def _note_calls_after_judging(self, records: Sequence[DeliveryRecord]) -> None:
        """A check judged before a call for one of its deliveries arrived says so, in a skip
        finding of its result: it was judged without that call (the endpoint worked on longer than
        the run waited), and the run's settles wait full quiet periods from then on."""
        if not self._judged_at:
            return
        checks = {record.label: record.check for record in records}
        for label, calls in self._attribution.by_label.items():
            check = checks.get(label)
            judged = self._judged_at.get(check or "")
            if check is None or judged is None or check in GLOBAL_CHECKS:
                continue
            after = [call for call in calls if call.at > judged]
            if not after:
                continue
            self._settler.mark_late()
            del self._judged_at[check]  # one note per check
            result = self._results[check]
            note = Finding(
                check=check,
                status="skip",
                reason=f"the endpoint called the fake Stripe API for delivery {label} "
                f"({after[0].method} {after[0].path}) {after[0].at - judged:.2f} s after this "
                "check was judged: not judged on that call; the run waited for quiet from then on",
            )
            self._results[check] = replace(result, findings=(*result.findings, note))

    def sdk(self) -> Sdk:
        """The Stripe library the endpoint's calls came from so far (advice is spelled in it)."""
        return sdk_of(self.fake_api.calls)

    def observed_calls(self) -> tuple[ApiCall, ...]:
        """Every API call the endpoint made to the fake during the run."""
        return tuple(self.fake_api.calls)

    def unattributed_calls(self) -> list[ApiCall]:
        """API calls tied to no delivery of this run: made outside every delivery, or after an
        answer with nothing observable tying them to one (:meth:`ambiguous_calls`)."""
        self.judged_records()
        return [*self._attribution.outside, *self._attribution.ambiguous]

    def ambiguous_calls(self) -> list[ApiCall]:
        """Calls made after an answer that no observable fact ties to exactly one delivered event
        (:mod:`connect_harness.checks.attribution`)."""
        self.judged_records()
        return list(self._attribution.ambiguous)


class _Resolved:
    """The run's fake API as a settle sees it: its calls with concurrent batches resolved."""

    def __init__(self, run: ContractRun) -> None:
        self._run = run

    @property
    def calls(self) -> list[ApiCall]:
        return self._run.resolved_calls()

    def wait_idle(self, *, quiet: float = 0.05, timeout: float = 2.0) -> bool:
        return self._run.fake_api.wait_idle(quiet=quiet, timeout=timeout)


def _unresolved_ambiguous(found: Attribution, batches: Mapping[str, object]) -> Attribution:
    """A call made while deliveries were in flight together that content tied to none of them is
    ambiguous (judged only by the object it touches), not a call outside every delivery."""
    unresolved = tuple(call for call in found.outside if call.delivery in batches)
    if not unresolved:
        return found
    return replace(
        found,
        outside=tuple(call for call in found.outside if call.delivery not in batches),
        ambiguous=(*found.ambiguous, *unresolved),
    )


def run_checks(
    target: Target | str | object,
    config: VerifyConfig,
    *,
    fake_api: FakeStripeAPI | None = None,
    only: Iterable[str] | None = None,
) -> list[CheckResult]:
    """Run the catalogue (or ``only`` these check ids) against ``target`` and return the results."""
    if only is not None:
        only = arguments.texts("only", only, example="rejects-wrong-secret")
    with ContractRun(target, config, fake_api=fake_api) as run:
        return run.run(only)
