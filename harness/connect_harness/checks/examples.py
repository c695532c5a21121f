"""The examples a check sends besides the canonical events: ``--examples N`` payloads per type.

The canonical event of a type goes to every permutation, as it always has; examples 2 to N
(:mod:`connect_harness.events.examples`) go to one permutation, test mode where the endpoint gets
test events (Connect first), so varied values cost one delivery each, not one per permutation. A delivery of
an example names it (its id and the fields that differ) and reproduces it exactly: ``--seed`` of
its world and one ``--set`` per changed field, the event id among them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connect_harness.checks.common import ACCOUNT_ENDING_EVENTS, DISCONNECTED_ACCOUNT
from connect_harness.events.examples import Example, build_example, example_seed, overrides_as_text

if TYPE_CHECKING:
    from connect_harness.checks.interface import CheckRun
    from connect_harness.checks.records import DeliveryRecord


def extra_examples(run: CheckRun, event_type: str, seed: int) -> list[Example]:
    """Examples 2 to ``config.examples`` of ``event_type``, registered with the fake API."""
    perms = run.permutations(event_type)
    if not perms:
        return []  # this endpoint never receives the type
    # One permutation for all of them (test mode where the endpoint gets it): a second event of
    # one type and permutation renders from a template, so each further example costs little.
    account, livemode = next(((a, live) for a, live in perms if not live), perms[0])
    found = []
    for index in range(2, run.config.examples + 1):
        if account is not None and event_type in ACCOUNT_ENDING_EVENTS:
            account = DISCONNECTED_ACCOUNT  # as CheckRun.event does
        example = build_example(
            event_type,
            index,
            account=account,
            livemode=livemode,
            seed=seed,
            api_version=run.config.api_version,
        )
        run.register(example.event)
        found.append(example)
    return found


def send_example(
    run: CheckRun,
    check: str,
    example: Example,
    *,
    seed: int,
    variant: str | None = None,
    note: str | None = None,
) -> DeliveryRecord:
    """Deliver ``example``; its record's variant names it and its reproduction rebuilds it."""
    event = example.event
    request = run.signed(event.body, livemode=event.livemode)
    reproduce = run.reproduce_event(
        event,
        seed=example_seed(seed, example.index),
        overrides=overrides_as_text(example.overrides),
        note=note,
    )
    described = example.describe()
    return run.send(
        check,
        request,
        event=event,
        variant=f"{variant}: {described}" if variant else described,
        reproduce=reproduce,
    )
