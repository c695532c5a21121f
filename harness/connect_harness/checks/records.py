"""What a run is given (:class:`VerifyConfig`) and what it keeps of each delivery
(:class:`DeliveryRecord`); :mod:`connect_harness.checks.run` re-exports both."""

from __future__ import annotations

from dataclasses import dataclass, field

from connect_harness import arguments
from connect_harness.checks.budget import DEFAULT_MAX_RUN_TIME, RunBudget
from connect_harness.checks.stopping import DEFAULT_STOP_AFTER, Breaker
from connect_harness.delivery import Response
from connect_harness.errors import UsageError
from connect_harness.events.build import event_permutations as _event_permutations
from connect_harness.events.examples import DEFAULT_EXAMPLES, check_count
from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import ApiCall
from connect_harness.wire.request import DeliveryRequest

__all__ = ["DeliveryRecord", "VerifyConfig"]


@dataclass(frozen=True)
class VerifyConfig:
    """What to send and how to judge it.

    ``endpoint_type``: ``connect`` (events carry ``account``), ``account`` (platform events) or ``both``;
    ``mode``: ``development`` endpoints get test events only; in ``production`` a Connect endpoint gets
    live and test events, an account endpoint live events only. ``events`` restricts the types ``accepts-valid-events`` sends (default: every supported type).
    ``max_response_time`` (seconds) is what ``responds-in-time`` allows; ``timeout`` is when a delivery
    is given up. ``seed`` varies every id (a persistent endpoint needs a new one per run, or the second
    run's events are redeliveries). ``examples`` is how many payloads ``accepts-valid-events`` and
    ``idempotent-redelivery`` send per type: the canonical event, then ones whose field values vary
    (:mod:`connect_harness.events.examples`). ``api_version`` is stamped on every event (default: the contracts'
    version); endpoints whose SDK checks it (stripe-go) need their pinned version here.
    ``max_run_time`` (seconds, from the first delivery) is the whole run's budget
    (:mod:`connect_harness.checks.budget`). ``concurrency`` bounds the independent deliveries
    in flight at once (None: the target's default, :mod:`connect_harness.delivery.concurrency`).
    """

    secret: str = field(repr=False)
    endpoint_type: str = "both"
    mode: str = "production"
    events: tuple[str, ...] | None = None
    max_response_time: float = 10.0
    seed: int = 0
    timeout: float = 30.0
    api_version: str | None = None
    stop_after: int = DEFAULT_STOP_AFTER
    examples: int = DEFAULT_EXAMPLES
    max_run_time: float = DEFAULT_MAX_RUN_TIME
    concurrency: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.secret, str) or not self.secret.strip():
            raise UsageError(
                "the signing secret is empty; pass the endpoint's signing secret (whsec_...), "
                'e.g. --secret "$STRIPE_WEBHOOK_SECRET"'
            )
        _event_permutations(endpoint_type=self.endpoint_type, mode=self.mode)  # validates both
        arguments.text("api_version", self.api_version, example="2026-10-28.endive", optional=True)
        arguments.number("max_response_time", self.max_response_time)
        arguments.number("timeout", self.timeout)
        if self.events is not None:
            if isinstance(self.events, str):
                raise UsageError(
                    f"events must be a sequence of event types, not the string {self.events!r}; "
                    "pass e.g. ('account.updated',)"
                )
            events = arguments.texts("events", self.events, example="account.updated")
            object.__setattr__(self, "events", events)
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
        Breaker(self.stop_after)  # validates it
        RunBudget(self.max_run_time)  # validates it
        check_count(self.examples)
        if self.concurrency is not None:
            from connect_harness.delivery.concurrency import check_concurrency

            check_concurrency(self.concurrency)

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
