"""Every call of the Stripe CLI's trigger fixtures that touches billing or Connect objects runs on
the fake without an error, through stripe-python, and emits the event the fixture is named after."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.spec import contracts
from connect_harness.stripe_api.fake import FakeStripeAPI

REPO = Path(__file__).resolve().parents[1]
# Beside Stripe's API descriptions: ../shared/stripe-cli, or next to $CONNECT_HARNESS_STRIPE_SPEC.
_SPEC = os.environ.get("CONNECT_HARNESS_STRIPE_SPEC")
TRIGGERS = (Path(_SPEC).parent if _SPEC else REPO.parent / "shared") / "stripe-cli" / "triggers"

# The collections whose lifecycles are billing's and Connect's (lifecycle/billing.py, connect.py).
OURS = re.compile(
    r"^/v1/(products|prices|plans|coupons|promotion_codes|invoiceitems|invoices|subscriptions|"
    r"subscription_schedules|quotes|credit_notes|accounts|transfers|payouts|topups|"
    r"application_fees)\b"
)
OURS_EVENTS = re.compile(
    r"^(product|price|plan|coupon|promotion_code|invoiceitem|invoice|customer\.subscription|"
    r"customer\.discount|subscription_schedule|quote|credit_note|account|transfer|payout|topup|"
    r"application_fee)\."
)
FIXTURE_VERSION = "2023-08-16"
# Fixtures whose payment Stripe declines (402) by design: the event is the refusal's.
DECLINED = {"invoice.payment_failed", "invoice.payment_action_required"}
# Fixtures whose named event the fake does not emit, and why (each says where the docs are silent
# or what is outside this fake).
NOT_EMITTED = {
    "customer.subscription.trial_will_end": "a 1-day trial: emitted (fewer than three days left)",
    "subscription_schedule.aborted": "aborted needs delinquency; a cancel emits canceled",
    "subscription_schedule.completed": "needs a test clock to advance past the schedule's end",
    "subscription_schedule.expiring": "needs a test clock to advance to 7 days before the end",
    "subscription.payment_failed": "not an event type of Stripe's catalogue",
    "subscription.payment_succeeded": "not an event type of Stripe's catalogue",
    "balance.available": "funds becoming available happens later, not in answer to a call",
    "invoice.updated": "emitted",
}
# Fixtures that stop at a call outside billing and Connect, and where: each entry must still stop
# (so the list shrinks as the fake grows), and no other fixture may.
STOPS_OUTSIDE = {}


def _fixtures() -> list[Path]:
    if not TRIGGERS.is_dir():
        return []
    found = []
    for path in sorted(TRIGGERS.glob("*.json")):
        calls = json.loads(path.read_text("utf-8"))["fixtures"]
        if any(OURS.match(call["path"]) for call in calls):
            found.append(path)
    return found


FIXTURES = _fixtures()
needs_fixtures = pytest.mark.skipif(
    not FIXTURES, reason=f"Stripe's data (the Stripe CLI's fixtures) is not at {TRIGGERS}"
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


def _resolve(value: Any, answers: dict[str, Any]) -> Any:
    """The Stripe CLI's ``${name:path}``: a field of an earlier call's answer (``data.0.id``)."""
    if isinstance(value, dict):
        return {key: _resolve(item, answers) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, answers) for item in value]
    if not isinstance(value, str):
        return value

    def field(match: re.Match[str]) -> str:
        name, path = match.group(1), match.group(2)
        found: Any = answers[name]
        for part in path.split("."):
            found = found[int(part)] if isinstance(found, list) else found[part]
        return str(found)

    return re.sub(r"\$\{([\w-]+):([\w.]+)\}", field, value)


def run_fixture(fake: FakeStripeAPI, path: Path) -> tuple[list[str], str | None]:
    """Run a fixture's calls against the fake with stripe-python.

    Returns the event types emitted, and the first call outside billing and Connect that failed
    (the fixture stops there), if one did. A call of ours that fails fails the test.
    """
    # The fixtures are written for the API version of their time (coupon= on customers, phases'
    # iterations): the CLI sends the account's default version, here the oldest one we serve.
    client = stripe.StripeClient(
        "sk_test_fake", base_addresses={"api": fake.url}, stripe_version=FIXTURE_VERSION
    )
    answers: dict[str, Any] = {}
    fake.reset()
    for call in json.loads(path.read_text("utf-8"))["fixtures"]:
        url = _resolve(call["path"], answers)
        if not url.startswith("/v1/"):
            continue  # v2 meter events are not served here
        params = _resolve(call.get("params") or {}, answers)
        method = call.get("method", "post")
        try:
            response = client.raw_request(method, url, **params)
        except stripe.StripeError as err:
            failed = f"{method.upper()} {url}: {err.user_message}"
            if OURS.match(url) and err.http_status == 402 and path.stem in DECLINED:
                break  # Stripe refuses this payment too; the refusal is what emits the event
            if OURS.match(url):
                raise AssertionError(f"{path.name}: {failed}") from err
            return [event.type for event in fake.emitted_events()], failed
        answers[call["name"]] = json.loads(response.body)
    return [event.type for event in fake.emitted_events()], None


@pytest.mark.skipif(
    not FIXTURES, reason=f"Stripe's data (the Stripe CLI's fixtures) is not at {TRIGGERS}"
)
@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_every_call_of_the_clis_fixtures_runs_and_emits_its_event(
    fake: FakeStripeAPI, path: Path
) -> None:
    emitted, stopped = run_fixture(fake, path)
    name = path.stem
    if name in STOPS_OUTSIDE or stopped is not None:
        # Not a skip: under CONNECT_HARNESS_REQUIRE a skip or xfail fails the run.
        assert stopped is not None and stopped.startswith(STOPS_OUTSIDE.get(name, "?")), (
            f"{path.name} stopped at {stopped!r}; STOPS_OUTSIDE says {STOPS_OUTSIDE.get(name)!r}"
        )
        return
    if not OURS_EVENTS.match(name):
        return  # a fixture of another object that creates ours on the way (checkout, links)
    if name in NOT_EMITTED and NOT_EMITTED[name] != "emitted":
        return
    assert name in emitted, f"{path.name} emitted {emitted}"


@pytest.mark.exhaustive
@pytest.mark.skipif(
    not FIXTURES, reason=f"Stripe's data (the Stripe CLI's fixtures) is not at {TRIGGERS}"
)
@pytest.mark.parametrize("api_version", ["2023-08-16", "2026-05-27.dahlia", "2026-10-28.endive"])
def test_every_event_the_fixtures_emit_is_valid_in_the_endpoints_version(api_version: str) -> None:
    """What billing and Connect emit is what Stripe's description says an event of that version
    holds, field by field (the contracts validate each payload)."""
    problems: list[tuple[str, str, list[str]]] = []
    checked = 0
    with FakeStripeAPI(api_version=api_version) as fake:
        for path in FIXTURES:
            run_fixture(fake, path)
            for event in fake.emitted_events():
                checked += 1
                found = contracts.validate_event(event.payload, version=api_version)
                if found:
                    problems.append((path.stem, event.type, [str(p) for p in found[:2]]))
    assert problems == []
    assert checked >= 3 * len(FIXTURES)  # every fixture emits, most several events
