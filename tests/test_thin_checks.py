"""The thin checks: a correct thin handler passes every one; each bug fails exactly its check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connect_harness.checks.thin import (
    THIN_CATALOGUE,
    ThinConfig,
    run_thin_checks,
    thin_check_ids,
)
from connect_harness.delivery import WsgiTarget
from connect_harness.errors import UsageError
from connect_harness.stripe_api.fake import FakeStripeAPI
from endpoints.thin import TEST_SECRET, THIN_BUGS, thin_app

#: Each bug and the check it is for.
EXPECTED = {
    "no-verify": "thin-rejects-forgeries",
    "platform-context": "thin-fetches-with-context",
    "ack-on-fetch-failure": "thin-survives-fetch-failure",
    "dedupe-first": "thin-survives-fetch-failure",
    "acts-twice": "thin-idempotent-redelivery",
    "rejects-unknown": "thin-acknowledges-unknown-types",
}
#: What else a bug brings down: fetching without the context gets Stripe's 404, so the handler
#: answers 500 to connected accounts' notifications, their redeliveries included.
CONSEQUENCES = {
    "platform-context": ["thin-accepts-valid-notifications", "thin-survives-fetch-failure"]
}


@pytest.fixture
def fake() -> Iterator[FakeStripeAPI]:
    with FakeStripeAPI() as api:
        yield api


def statuses(fake: FakeStripeAPI, bug: str | None) -> dict[str, str]:
    target = WsgiTarget(thin_app(fake.url, bug=bug))
    results = run_thin_checks(target, fake, ThinConfig(secret=TEST_SECRET))
    return {result.id: result.status for result in results}


def test_a_correct_thin_handler_passes_every_check(fake: FakeStripeAPI) -> None:
    assert statuses(fake, None) == dict.fromkeys(thin_check_ids(), "pass")


def test_every_bug_has_its_check() -> None:
    assert set(EXPECTED) == set(THIN_BUGS)
    assert set(EXPECTED.values()) | {"thin-accepts-valid-notifications"} == {
        spec.id for spec in THIN_CATALOGUE
    }


@pytest.mark.parametrize("bug", sorted(EXPECTED))
def test_each_bug_fails_exactly_its_check(fake: FakeStripeAPI, bug: str) -> None:
    got = statuses(fake, bug)
    failing = sorted(check for check, status in got.items() if status == "fail")
    assert failing == sorted([EXPECTED[bug], *CONSEQUENCES.get(bug, [])]), got


def test_the_context_finding_says_what_to_send(fake: FakeStripeAPI) -> None:
    target = WsgiTarget(thin_app(fake.url, bug="platform-context"))
    (result,) = run_thin_checks(
        target, fake, ThinConfig(secret=TEST_SECRET), only=["thin-fetches-with-context"]
    )
    failure = result.failures()[0]
    assert failure.expected == "Stripe-Context: acct_1HarnessConnect0"
    assert "no Stripe-Context" in (failure.actual or "")
    assert failure.reproduce is not None and "--thin" in failure.reproduce
    # The command runs as printed: the secret's variable quoted, the run's URL named.
    assert '--secret "$STRIPE_WEBHOOK_SECRET"' in failure.reproduce
    assert "--url http://127.0.0.1:4242/webhook" in failure.reproduce


def test_unknown_check_and_type_are_usage_errors(fake: FakeStripeAPI) -> None:
    target = WsgiTarget(thin_app(fake.url))
    with pytest.raises(UsageError, match="not a thin check"):
        run_thin_checks(target, fake, ThinConfig(secret=TEST_SECRET), only=["nope"])
    with pytest.raises(UsageError, match="not a thin event type"):
        run_thin_checks(target, fake, ThinConfig(secret=TEST_SECRET, types=("v2.nope",)))
