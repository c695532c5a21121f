"""connect_harness.strategies: drawn events are signed, accepted by stripe-python, valid, and varied."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, Phase, find, given, seed, settings
from hypothesis import strategies as st

from connect_harness import Event, UsageError, build_event, sign_payload, validate_event
from connect_harness.events.build import DEFAULT_CONNECTED_ACCOUNT
from connect_harness.lifecycle.state_checks import contradictions
from connect_harness.spec import contracts
from connect_harness.strategies import events
from known_sdk_issues import BALANCE_SETTINGS_NULL_RULES, stripe_python_chokes_on

SECRET = "whsec_strategies_test"
ACCOUNT = "acct_1PgafTB7WZ01zgkW"
ID_LIKE = re.compile(r"^[a-z]+(_[a-z]+)*_[0-9A-Za-z]{14,}$")

# Generation only, no example database, the same examples on every run.
QUICK = settings(
    database=None,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)


def canonical(event: Event) -> Event:
    return build_event(
        event.type, account=event.account, livemode=event.livemode, object_type=event.object_type
    )


def draws(strategy: st.SearchStrategy[Event], count: int, at: int = 0) -> list[Event]:
    """``count`` events from ``strategy``, the same ones for the same ``at``."""
    drawn: list[Event] = []

    @seed(at)
    @settings(QUICK, max_examples=count, derandomize=False)
    @given(strategy)
    def collect(event: Event) -> None:
        drawn.append(event)

    collect()
    return drawn


def walk(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, (*path, index))


def at(value: Any, path: tuple[Any, ...]) -> Any:
    """The value at ``path``, or KeyError (the class) where nothing is there."""
    for part in path:
        inside = isinstance(value, dict) and part in value
        inside = inside or (isinstance(value, list) and isinstance(part, int) and part < len(value))
        if not inside:
            return KeyError
        value = value[part]
    return value


@settings(QUICK, max_examples=300)
@given(events())
def test_drawn_events_are_signed_accepted_by_stripe_python_and_valid(event: Event) -> None:
    now = int(time.time())
    header = sign_payload(event.body, SECRET, timestamp=now)
    if stripe_python_chokes_on(event.payload):
        with pytest.raises(AttributeError, match=BALANCE_SETTINGS_NULL_RULES):
            stripe.Webhook.construct_event(event.body, header, SECRET)
    else:
        parsed = stripe.Webhook.construct_event(event.body, header, SECRET)
        assert parsed.id == event.id
        assert parsed.type == event.type
    assert validate_event(event.payload) == []
    assert json.loads(event.body) == event.payload
    assert event.body == json.dumps(event.payload, indent=2, ensure_ascii=False).encode()


@settings(QUICK, max_examples=200)
@given(events())
def test_ids_owners_and_modes_are_those_of_build_event(event: Event) -> None:
    base = canonical(event)
    for key in ("object", "account", "livemode", "created", "type", "api_version", "request"):
        assert event.payload.get(key) == base.payload.get(key), key
    assert event.data_object.get("id") == base.data_object.get("id")
    assert event.object_type == base.object_type
    for path, value in walk(base.data_object):
        if path and (
            path[-1] in {"id", "object", "livemode", "account", "customer"}
            or (isinstance(value, str) and ID_LIKE.match(value))
        ):
            assert at(event.data_object, path) in (value, KeyError), path
    previous = base.payload["data"].get("previous_attributes")
    assert event.payload["data"].get("previous_attributes") == previous
    for key in previous or {}:
        assert event.data_object[key] == base.data_object[key], key


def test_an_event_whose_contents_differ_has_an_id_of_its_own() -> None:
    drawn = draws(events("invoice.paid", account=ACCOUNT, livemode=False), 60)
    base = build_event("invoice.paid", account=ACCOUNT)
    by_id: dict[str, bytes] = {}
    for event in drawn:
        assert by_id.setdefault(event.id, event.body) == event.body, "one id, two contents"
        assert (event.id == base.id) is (event.body == base.body)
        assert event.id.startswith("evt_") and len(event.id) == len(base.id)
    assert len(by_id) > 30


def test_values_vary_over_many_invoice_events() -> None:
    drawn = draws(events("invoice.paid"), 200)
    reasons = Counter(event.data_object.get("billing_reason", "(absent)") for event in drawn)
    assert len(reasons) >= 2, reasons

    nullable_seen: dict[tuple[Any, ...], set[bool]] = {}
    for event in drawn:
        for path, value in walk(event.data_object):
            nullable_seen.setdefault(path, set()).add(value is None)
    assert any(seen == {True, False} for seen in nullable_seen.values())

    base_keys = set(build_event("invoice.paid").data_object)
    assert any(base_keys - set(event.data_object) for event in drawn), "no optional field absent"
    assert len({event.data_object.get("amount_due") for event in drawn}) >= 3
    assert len({event.data_object.get("currency") for event in drawn}) >= 3
    assert len({event.account for event in drawn}) == 2
    assert len({event.livemode for event in drawn}) == 2
    non_ascii = [
        event
        for event in drawn
        if any(not (key + value).isascii() for key, value in event.data_object["metadata"].items())
    ]
    assert non_ascii


def test_one_currency_per_event() -> None:
    for event in draws(events("invoice.paid", account=None, livemode=True), 80):
        currencies = {
            value
            for path, value in walk(event.data_object)
            if path and path[-1] == "currency" and isinstance(value, str)
        }
        assert len(currencies) <= 1, currencies


def test_enum_values_drawn_are_only_the_listed_ones() -> None:
    schema = contracts.object_schema("invoice")["properties"]["billing_reason"]
    listed = set(schema.get("enum") or schema.get("examples") or []) | {None}
    drawn = draws(events("invoice.paid"), 150)
    assert {event.data_object.get("billing_reason") for event in drawn} <= listed


@settings(QUICK, max_examples=150)
@given(events(["customer.created", "invoice.paid", "payout.failed", "account.updated"]))
def test_metadata_stays_within_stripes_limits(event: Event) -> None:
    for path, value in walk(event.data_object):
        if path and path[-1] == "metadata" and isinstance(value, dict):
            assert len(value) <= 50
            for key, text in value.items():
                assert 1 <= len(key) <= 40 and "[" not in key and "]" not in key
                assert isinstance(text, str) and len(text) <= 500


def test_the_same_seed_gives_the_same_events() -> None:
    first = [event.body for event in draws(events(), 40, at=1234)]
    again = [event.body for event in draws(events(), 40, at=1234)]
    other = [event.body for event in draws(events(), 40, at=4321)]
    assert first == again
    assert first != other


def test_the_simplest_event_is_the_canonical_one() -> None:
    strategy = events("invoice.paid", account=ACCOUNT, livemode=True)
    simplest = find(strategy, lambda event: True, settings=QUICK)
    assert simplest.body == build_event("invoice.paid", account=ACCOUNT, livemode=True).body


def test_shrinking_keeps_only_the_change_that_matters() -> None:
    strategy = events("invoice.paid", account=None, livemode=False)
    base = build_event("invoice.paid").data_object

    def changed_reason(event: Event) -> bool:
        return event.data_object.get("billing_reason") not in (base["billing_reason"], None)

    shrink = settings(QUICK, max_examples=2000, phases=[Phase.generate, Phase.shrink])
    found = find(strategy, changed_reason, settings=shrink)
    changed = {key for key in base if found.data_object.get(key, KeyError) != base[key]}
    assert changed == {"billing_reason"}


def test_types_account_and_livemode_take_values_lists_and_strategies() -> None:
    one = draws(events("payout.failed", account=ACCOUNT, livemode=True), 20)
    assert {(e.type, e.account, e.livemode) for e in one} == {("payout.failed", ACCOUNT, True)}

    several = draws(
        events(
            ["payout.failed", "customer.created"],
            account=st.sampled_from([ACCOUNT, None]),
            livemode=st.just(False),
        ),
        60,
    )
    assert {e.type for e in several} == {"payout.failed", "customer.created"}
    assert {e.account for e in several} == {ACCOUNT, None}
    assert {e.livemode for e in several} == {False}


def test_left_out_account_follows_who_receives_the_type() -> None:
    connect_only = draws(events("account.updated"), 30)
    assert {e.account for e in connect_only} == {DEFAULT_CONNECTED_ACCOUNT}
    platform_only = draws(events("transfer.created"), 30)
    assert {e.account for e in platform_only} == {None}


def test_every_object_of_a_polymorphic_type_is_drawn() -> None:
    drawn = draws(events("account.external_account.updated"), 60)
    assert {e.object_type for e in drawn} == set(
        contracts.event_info("account.external_account.updated").objects
    )


def test_api_version_is_passed_to_build_event() -> None:
    drawn = draws(events("customer.created", api_version="2024-06-20"), 5)
    assert {e.payload["api_version"] for e in drawn} == {"2024-06-20"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"types": "acount.updated"}, "did you mean 'account.updated'?"),
        ({"types": []}, "types=[] names no event type"),
        ({"types": 3}, "types=3 is not an event type or a list of them"),
        ({"account": "cus_123"}, "account='cus_123' is not a connected account id"),
        ({"livemode": "yes"}, "livemode='yes' is not a boolean"),
        ({"api_version": 2023}, "api_version=2023 is not a version string"),
    ],
)
def test_bad_arguments_say_what_and_how_to_fix(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        events(**kwargs)


def test_the_public_module_is_tiny() -> None:
    import connect_harness.strategies as public

    assert public.__all__ == ["events"]


README = Path(__file__).resolve().parents[1] / "README.md"
README_APP = """
from pathlib import Path

from sample_app import create_app

app = create_app(
    webhook_secret="whsec_readme_example",
    db_path=Path(__file__).with_name("readme.sqlite3"),
    environ={},
)
"""


def readme_example(heading: str) -> str:
    """The first python code block under ``heading`` in the README."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no python example under {heading!r}"
    return match.group(1)


def test_the_readme_property_test_example_runs_against_the_sample_app(
    pytester: pytest.Pytester,
) -> None:
    source = readme_example("## Property tests: `connect_harness.strategies`")
    assert "from connect_harness.strategies import events" in source
    pytester.makepyfile(readme_app=README_APP, test_readme_example=source)
    pytester.syspathinsert()

    result = pytester.runpytest(
        "-p", "connect_harness",
        "--connect-app", "readme_app:app",
        "--connect-secret", "whsec_readme_example",
        "-p", "no:cacheprovider",
    )  # fmt: skip

    result.assert_outcomes(passed=1)


def test_the_readme_example_fails_against_an_endpoint_that_chokes(
    pytester: pytest.Pytester,
) -> None:
    """The example can fail: an endpoint that reads the body as ASCII is caught by unicode values."""
    source = readme_example("## Property tests: `connect_harness.strategies`")
    choking_app = README_APP + (
        "\n_inner = app.wsgi_app\n\n"
        "def app(environ, start_response):\n"
        "    body = environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))\n"
        "    body.decode('ascii')  # the bug: UnicodeDecodeError, a 500 from any WSGI server\n"
        "    environ['wsgi.input'] = io.BytesIO(body)\n"
        "    return _inner(environ, start_response)\n"
    )
    choking_app = "import io\n" + choking_app
    pytester.makepyfile(readme_app=choking_app, test_readme_example=source)
    pytester.syspathinsert()

    result = pytester.runpytest(
        "-p", "connect_harness",
        "--connect-app", "readme_app:app",
        "--connect-secret", "whsec_readme_example",
        "-p", "no:cacheprovider",
    )  # fmt: skip

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*status=500*UnicodeDecodeError*"])


def test_importing_the_package_does_not_import_hypothesis() -> None:
    code = "import sys, connect_harness; connect_harness.build_event; print('hypothesis' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert completed.stdout.strip() == "False"


@pytest.mark.parametrize(
    "event_type",
    [
        name
        for name in contracts.supported_event_types()
        if "currency" in (build_event(name).payload["data"].get("previous_attributes") or {})
    ],
)
def test_a_changed_currency_keeps_the_value_it_changed_to(event_type: str) -> None:
    base = build_event(event_type).data_object
    for event in draws(events(event_type, account=None, livemode=False), 40):
        assert event.data_object["currency"] == base["currency"]


DRAW_SCRIPT = """
import hashlib, sys
from hypothesis import Phase, given, seed, settings
from connect_harness.strategies import events

def draw(strategy, at, count):
    bodies = []

    @seed(at)
    @settings(database=None, deadline=None, max_examples=count, phases=[Phase.generate])
    @given(strategy)
    def collect(event):
        bodies.append(event.body)

    collect()
    return bodies

if sys.argv[1:] == ["--warm"]:  # other draws first, other permutations first
    draw(events(["account.updated", "invoice.paid"], account=None, livemode=True), 5, 25)
bodies = draw(events(["payout.failed", "invoice.paid", "account.updated"]), 99, 30)
print(hashlib.sha256(b"".join(bodies)).hexdigest())
"""


def test_the_same_seed_gives_the_same_events_whatever_was_drawn_before() -> None:
    """What a process drew earlier (its caches) never changes what a seed draws: xdist needs it."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", DRAW_SCRIPT, *argv],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.strip()
        for argv in ([], ["--warm"])
    ]
    assert len(outputs[0]) == 64
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("version", contracts.contract_versions(), ids=str)
def test_drawn_events_at_every_contract_version_are_accepted_and_valid(version: str | None) -> None:
    now = int(time.time())
    for event in draws(events(api_version=version), 120, at=3):
        if version is not None:
            assert event.payload["api_version"] == version
        assert validate_event(event.payload) == [], event.type
        header = sign_payload(event.body, SECRET, timestamp=now)
        if stripe_python_chokes_on(event.payload):
            continue  # the known SDK issue, asserted in the property test above
        assert stripe.Webhook.construct_event(event.body, header, SECRET).id == event.id


def test_amounts_stay_within_stripes_limits_and_balances_go_negative() -> None:
    balances = set()
    for event in draws(events("customer.created", account=None, livemode=False), 120):
        balance = event.data_object.get("balance")
        if balance is not None:
            balances.add(balance)
        for path, value in walk(event.data_object):
            if path and path[-1] == "amount" and isinstance(value, int):
                assert 0 <= value <= 99_999_999
    assert min(balances) < 0 < max(balances)


_STATEFUL = [
    "payment_intent.succeeded",
    "payment_intent.canceled",
    "charge.refunded",
    "charge.succeeded",
    "invoice.paid",
    "payout.failed",
    "customer.subscription.deleted",
    "transfer.reversed",
    "charge.dispute.closed",
]


@settings(QUICK, max_examples=300)
@given(events(_STATEFUL))
def test_drawn_events_stay_in_the_state_their_type_names(event: Event) -> None:
    assert contradictions(event.payload) == []


def test_partial_refunds_are_drawn_as_well_as_full_ones() -> None:
    refunded = {
        event.data_object["refunded"] for event in draws(events("charge.refunded"), 60, at=3)
    }
    assert refunded == {True, False}
