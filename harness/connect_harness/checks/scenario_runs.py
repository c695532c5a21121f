"""Delivering a scenario through a run: each event registered with the fake API just before it is sent
(a deauthorization revokes access from then on, as on Stripe), with a reproduction that rebuilds it.
A scenario run as a flow (:mod:`connect_harness.checks.scenario_flows`) first gives the run's fake
every object its flow made, in its latest state, and keeps it so after each event is registered: in
whatever order the events arrive, a fetch sees what Stripe would serve then, the latest state.
In the ``concurrent`` way, every event is sent twice at the same moment (the two copies of the
``duplicated`` order together), as Stripe may when a retry overlaps a slow first attempt."""

from __future__ import annotations

import json
import shlex
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connect_harness.checks.common import SECRET_PLACEHOLDER
from connect_harness.checks.scenario_flows import scenario_world
from connect_harness.events.build import Event
from connect_harness.events.ids import stripe_id
from connect_harness.events.scenarios import reorder
from connect_harness.stripe_api.fake import ApiCall

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord


@dataclass(frozen=True)
class Delivered:
    """One scenario delivered in one order: its events and their records, in delivery order."""

    name: str
    order: str
    account: str | None
    events: tuple[Event, ...]
    records: tuple[DeliveryRecord, ...]
    #: monotonic time the first delivery started and the time the endpoint went quiet after the last
    started: float
    ended: float

    def calls(self, run: CheckRun) -> list[ApiCall]:
        """The API calls made while this scenario was under way (the run settles after each one)."""
        return [call for call in run.fake_api.calls if self.started <= call.at <= self.ended]

    @property
    def what(self) -> str:
        how = {
            "duplicated": "with every event delivered twice in a row",
            CONCURRENT: "with every event delivered twice at the same moment",
        }.get(self.order, f"in {self.order} order")
        return f"scenario {self.name!r} delivered {how}"


#: The way of delivering a scenario that is not an order: each event's two copies at once.
CONCURRENT = "concurrent"


def scenario_account(check: str, name: str, order: str, seed: int) -> str:
    """A connected account of its own for one check's scenario in one order: no state is shared."""
    return stripe_id("acct", check, name, order, seed)


def deliver_scenario(
    run: CheckRun,
    check: str,
    name: str,
    *,
    order: str,
    account: str | None,
    livemode: bool,
    seed: int,
    settle_before: frozenset[str] = frozenset(),
) -> Delivered:
    """Send scenario ``name`` in ``order`` (or :data:`CONCURRENT`), one event at a time, then wait
    until the endpoint is quiet.

    ``settle_before``: event types before which the run waits for the endpoint to go quiet (so the
    work of earlier events is done before, e.g., a deauthorization).
    """
    concurrent = order == CONCURRENT
    world = scenario_world(
        name,
        account=account,
        livemode=livemode,
        seed=seed,
        api_version=run.config.api_version,
    )
    events = reorder(world.events, "duplicated" if concurrent else order, name=name, seed=seed)
    latest = world.latest()
    for obj in world.objects:
        run.fake_api.register_object(obj, account=world.owner, livemode=world.livemode)
    records: list[DeliveryRecord] = []
    started = time.monotonic()
    step = 2 if concurrent else 1
    for index in range(0, len(events), step):
        event = events[index]
        if event.type in settle_before:
            run.settle()
        run.register(event)
        if event.object_id in latest:  # the event's snapshot may be older than what Stripe serves
            run.fake_api.register_object(
                latest[event.object_id], account=world.owner, livemode=world.livemode
            )
        reproduce = _reproduce(
            run,
            event,
            name=name,
            order="duplicated" if concurrent else order,
            account=account,
            livemode=livemode,
            seed=seed,
            index=index,
            twice=concurrent,
        )
        variant = f"{name}:{order}:{index + 1}"
        if concurrent:
            records.extend(_send_twice_at_once(run, check, event, variant, reproduce))
            continue
        request = run.signed(event.body, livemode=event.livemode)
        records.append(run.send(check, request, event=event, variant=variant, reproduce=reproduce))
    run.settle()
    return Delivered(
        name=name,
        order=order,
        account=account,
        events=events,
        records=tuple(records),
        started=started,
        ended=time.monotonic(),
    )


def _send_twice_at_once(
    run: CheckRun, check: str, event: Event, variant: str, reproduce: str
) -> list[DeliveryRecord]:
    """Two copies of ``event`` released together; one label, as the fake cannot tell them apart."""
    label = run.next_label(check)
    requests = [run.signed(event.body, livemode=event.livemode) for _ in range(2)]
    out: list[DeliveryRecord] = []
    barrier = threading.Barrier(2)
    lock = threading.Lock()

    def send(index: int) -> None:
        barrier.wait()
        record = run.send(
            check,
            requests[index],
            event=event,
            variant=f"{variant}:copy-{index + 1}",
            reproduce=reproduce,
            label=label,
        )
        with lock:
            out.append(record)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(out, key=lambda record: record.sequence)


def _reproduce(
    run: CheckRun,
    event: Event,
    *,
    name: str,
    order: str,
    account: str | None,
    livemode: bool,
    seed: int,
    index: int,
    twice: bool = False,
) -> str:
    program = (
        "import sys; from connect_harness import build_scenario; "
        f"e = build_scenario({json.dumps(name)}, account={json.dumps(account)}, "
        f"livemode={livemode}, seed={seed}, order={json.dumps(order)}, "
        f"api_version={json.dumps(run.config.api_version)})[{index}]; "
        "sys.stdout.buffer.write(e.body)"
    ).replace("null", "None")
    parts = ["connect-harness", "sign", "--body-file", "-"]
    if livemode:
        parts.append("--live")
    command = run.finish_command(
        parts,
        secrets=(SECRET_PLACEHOLDER,),
        timestamp=None,
        note=f"the events before it in that order first ({event.type} is step {index + 1})"
        + ("; run it twice at the same time" if twice else ""),
    )
    return f"python -c {shlex.quote(program)} | {command}"
