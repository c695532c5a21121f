"""stripe-python accepts every event of every supported type, as Stripe would deliver it.

Every supported type x platform/Connect x live/test at the contracts' default version; the types
follow ``contracts.supported_event_types()``, so new contracts are covered without editing this
file. The one known SDK issue (README, "Known SDK issues") is asserted separately, as failing.
"""

from __future__ import annotations

import json
import time

import pytest
import stripe

from connect_harness.events.build import EventCase, render_body
from connect_harness.spec import contracts
from connect_harness.wire.request import delivery_request
from connect_harness.wire.signing import sign_payload
from known_sdk_issues import (
    BALANCE_SETTINGS_NULL_RULES,
    balance_settings_updated,
    stripe_python_chokes_on,
)

SECRETS = ("whsec_interop_current", "whsec_interop_previous")
ACCOUNT = "acct_1PgafTB7WZ01zgkW"


def _known_issue(event_type: str) -> bool:
    """Types whose object stripe-python 16.1.0 cannot construct as Stripe renders it."""
    return "balance_settings" in contracts.event_info(event_type).objects


def _cases(*, known_issue: bool) -> list[EventCase]:
    return [
        EventCase(event_type, account, livemode)
        for event_type in contracts.supported_event_types()
        if _known_issue(event_type) is known_issue
        for account in (None, ACCOUNT)
        for livemode in (False, True)
    ]


@pytest.mark.parametrize("case", _cases(known_issue=False), ids=lambda case: case.id)
def test_every_type_and_permutation_is_accepted_by_stripe_python(case: EventCase) -> None:
    now = int(time.time())
    event = case.build(seed=now)
    for secrets in (SECRETS[:1], SECRETS):
        request = delivery_request(
            event.body, secrets=list(secrets), timestamp=now, livemode=case.livemode
        )
        header = request.header("Stripe-Signature")
        assert header is not None
        assert (",v0=" in header) is (not case.livemode)
        for secret in secrets:
            parsed = stripe.Webhook.construct_event(request.body, header, secret)
            assert parsed.id == event.id
            assert parsed.type == case.type
            assert parsed.livemode is case.livemode
            assert getattr(parsed, "account", None) == case.account
            assert json.loads(request.body) == event.payload


@pytest.mark.parametrize("case", _cases(known_issue=True), ids=lambda case: case.id)
def test_the_known_sdk_issue_still_fails_on_the_events_we_render(case: EventCase) -> None:
    """We render what Stripe renders (null transfer rules); stripe-python 16.1.0 raises on it."""
    event = case.build()
    assert stripe_python_chokes_on(event.payload), "no longer rendered as Stripe renders it"
    now = int(time.time())
    header = sign_payload(event.body, SECRETS[0], timestamp=now)
    with pytest.raises(AttributeError, match=BALANCE_SETTINGS_NULL_RULES):
        stripe.Webhook.construct_event(event.body, header, SECRETS[0])


def test_stripe_python_still_chokes_on_balance_settings_as_stripe_renders_it() -> None:
    """Pins the SDK behaviour the README documents: when a new stripe-python fixes it, this fails."""
    now = int(time.time())
    payload = balance_settings_updated()
    body = render_body(payload)
    with pytest.raises(AttributeError, match=BALANCE_SETTINGS_NULL_RULES):
        stripe.Webhook.construct_event(
            body, sign_payload(body, SECRETS[0], timestamp=now), SECRETS[0]
        )
    # Its signature is fine: the check alone passes, and so does the same event with rules set.
    assert stripe.WebhookSignature.verify_header(
        body, sign_payload(body, SECRETS[0], timestamp=now), SECRETS[0], 300
    )
    payload["data"]["object"]["payments"]["payouts"]["automatic_transfer_rules_by_currency"] = {}
    fixed = render_body(payload)
    parsed = stripe.Webhook.construct_event(
        fixed, sign_payload(fixed, SECRETS[0], timestamp=now), SECRETS[0]
    )
    assert parsed.type == "balance_settings.updated"


def test_the_matrix_follows_the_contracts() -> None:
    covered = {case.type for case in _cases(known_issue=False) + _cases(known_issue=True)}
    assert covered == set(contracts.supported_event_types())
    assert len(_cases(known_issue=False)) + len(_cases(known_issue=True)) == 4 * len(covered)
