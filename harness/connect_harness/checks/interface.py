"""What a check family receives from the run: the one interface between the run and the checks.

A family (``acceptance``, ``signatures``, ``api_faults``...) is a function of a :class:`CheckRun`:
it builds events and their seeds, sends deliveries, waits for the endpoint to settle, puts faults on
the fake Stripe API, and reads what was sent, answered and called. It imports this protocol, never
:mod:`connect_harness.checks.run`, whose :class:`~connect_harness.checks.run.ContractRun` is the one
implementation; so the families and the run do not import each other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from connect_harness.checks.records import DeliveryRecord, VerifyConfig
    from connect_harness.checks.sdk_spelling import Sdk
    from connect_harness.delivery import Target
    from connect_harness.delivery.process import ServedProcess
    from connect_harness.events.build import Event
    from connect_harness.stripe_api.fake import ApiCall, FakeStripeAPI
    from connect_harness.wire.request import DeliveryRequest

__all__ = ["CheckRun"]


class CheckRun(Protocol):
    """One run of the catalogue, as a check family sees it."""

    #: The run's settings (secret, endpoint type and mode, events, seed, timeouts).
    config: VerifyConfig
    #: The fake Stripe API the endpoint calls: its calls, and ``fail()`` / ``clear_faults()``.
    fake_api: FakeStripeAPI
    #: Where deliveries go.
    target: Target
    #: The launched endpoint (``verify --serve``), or None.
    process: ServedProcess | None
    #: The delivery after which the launched endpoint's process was first seen dead.
    died_after: DeliveryRecord | None

    @property
    def url(self) -> str: ...
    @property
    def records(self) -> tuple[DeliveryRecord, ...]: ...
    @property
    def deliveries(self) -> int: ...

    # --- building -------------------------------------------------------------------------------

    def seed(self, check_id: str, sub: int = 0) -> int: ...
    def scenario_seed(self, k: int) -> int: ...
    def permutations(self, event_type: str | None = None) -> list[tuple[str | None, bool]]: ...
    def representative(self) -> tuple[str | None, bool]: ...
    def representative_event(self, check_id: str, sub: int = 0) -> Event: ...
    def event(
        self,
        event_type: str,
        account: str | None,
        livemode: bool,
        seed: int,
        overrides: Mapping[str, Any] | None = None,
    ) -> Event: ...
    def register(self, event: Event) -> None: ...

    # --- sending --------------------------------------------------------------------------------

    def signed(
        self, body: bytes, *, livemode: bool, secrets: Sequence[str] | None = None
    ) -> DeliveryRequest: ...
    def next_label(self, check_id: str) -> str: ...
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
    ) -> DeliveryRecord: ...
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
    ) -> DeliveryRecord: ...
    def send_events(
        self, check_id: str, events: Sequence[Event], *, seed: int
    ) -> list[DeliveryRecord]: ...
    def last_answered(self) -> DeliveryRecord: ...
    def silent_after(self) -> DeliveryRecord | None: ...

    # --- reproductions --------------------------------------------------------------------------

    def reproduce_event(
        self,
        event: Event,
        *,
        seed: int,
        overrides: Mapping[str, Any] | None = None,
        timestamp: int | None = None,
        secrets: Sequence[str] = ...,
        note: str | None = None,
    ) -> str: ...
    def reproduce_body(self, body: bytes, *, livemode: bool, note: str | None = None) -> str: ...
    def reproduce_raw_body(self, event: Event, name: str, *, seed: int) -> str: ...
    def finish_command(
        self, parts: list[str], *, secrets: Sequence[str], timestamp: int | None, note: str | None
    ) -> str: ...

    # --- what was called ------------------------------------------------------------------------

    def settle(self) -> None: ...
    def judged_records(self) -> tuple[DeliveryRecord, ...]: ...
    def certainly_for(self, record: DeliveryRecord, call: ApiCall) -> bool: ...
    def observed_calls(self) -> tuple[ApiCall, ...]: ...
    def unattributed_calls(self) -> list[ApiCall]: ...
    def ambiguous_calls(self) -> list[ApiCall]: ...
    def sdk(self) -> Sdk: ...
