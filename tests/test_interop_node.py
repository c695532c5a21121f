"""Signatures from connect_harness verified by the stripe npm package 23.1.0, next to stripe-python.

All cases go to one ``node tests/node/verify.js`` process as a JSON batch. Besides "what we sign is
accepted, what we break is refused", the cases pin down where the two SDKs disagree, so a check
that says "Stripe's SDK accepts this" can say which one.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, Phase, given, settings

from connect_harness.events.build import Event, build_event, render_body
from connect_harness.spec import contracts
from connect_harness.strategies import events
from connect_harness.wire.request import delivery_request
from connect_harness.wire.signing import compute_signature, sign_payload
from connect_harness.wire.variants import bad_variants, rotated_variants
from known_sdk_issues import balance_settings_updated

NODE_DIR = Path(__file__).parent / "node"
PINNED = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["stripe"]
SECRET = "whsec_test_secret"
ACCEPT = "accept"


def event_body(livemode: bool, **extra: Any) -> bytes:
    data = {"id": "evt_1", "object": "event", "created": 1700000000, "livemode": livemode}
    return json.dumps(data | extra, indent=2, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Case:
    """One delivery and what each SDK does with it: ACCEPT, or a substring of its error."""

    body: bytes
    header: str | None
    secret: str
    node: str
    python: str


def delivered(
    livemode: bool, secrets: list[str], verify_with: str, **extra: Any
) -> Callable[[int], Case]:
    def build(now: int) -> Case:
        request = delivery_request(
            event_body(livemode, **extra), secrets=secrets, timestamp=now, livemode=livemode
        )
        return Case(request.body, request.header("Stripe-Signature"), verify_with, ACCEPT, ACCEPT)

    return build


def variant(name: str, node: str, python: str, livemode: bool = False) -> Callable[[int], Case]:
    def build(now: int) -> Case:
        body = event_body(livemode)
        made = bad_variants(body, secret=SECRET, timestamp=now, livemode=livemode)
        made += rotated_variants(body, secret=SECRET, timestamp=now, livemode=livemode)
        [request] = [v.request for v in made if v.name == name]
        return Case(request.body, request.header("Stripe-Signature"), SECRET, node, python)

    return build


def header_case(
    make_header: Callable[[int, str], str], node: str, python: str
) -> Callable[[int], Case]:
    """A hand-made header; ``make_header(now, good_v1)`` gets the right v1 for ``now``."""

    def build(now: int) -> Case:
        body = event_body(True)
        good = compute_signature(body, secret=SECRET, timestamp=now)
        return Case(body, make_header(now, good), SECRET, node, python)

    return build


NOT_MATCHING = "No signatures found matching the expected signature for payload"
UNABLE = "Unable to extract timestamp and signatures from header"
NODE_SIG_ERROR = "StripeSignatureVerificationError: "
PY_SIG_ERROR = "SignatureVerificationError: "

CASES: dict[str, Callable[[int], Case]] = {
    # What we sign is accepted by both.
    "live-one-secret": delivered(True, [SECRET], SECRET),
    "test-one-secret-with-v0": delivered(False, [SECRET], SECRET),
    "live-rotation-verified-with-first": delivered(True, [SECRET, "whsec_old"], SECRET),
    "live-rotation-verified-with-second": delivered(True, ["whsec_new", SECRET], SECRET),
    "test-three-secrets": delivered(False, ["whsec_a", "whsec_b", SECRET], SECRET),
    "literal-non-ascii-body": delivered(True, [SECRET], SECRET, name="Zoë 😀 O'Brien"),
    "rotated-new-first": variant("rotated-new-first", ACCEPT, ACCEPT),
    "rotated-old-first": variant("rotated-old-first", ACCEPT, ACCEPT),
    # Every bad variant, and what each SDK says.
    "missing-signature": variant(
        "missing-signature",
        NODE_SIG_ERROR + "No stripe-signature header value was provided.",
        PY_SIG_ERROR + "No Stripe-Signature header value was provided.",
    ),
    "malformed-garbage": variant(
        "malformed-garbage", NODE_SIG_ERROR + UNABLE, PY_SIG_ERROR + UNABLE
    ),
    "malformed-no-timestamp": variant(
        "malformed-no-timestamp", NODE_SIG_ERROR + UNABLE, PY_SIG_ERROR + UNABLE
    ),
    # node: parseInt("not-a-timestamp") is NaN, which is not its "missing" marker -1, so it signs
    # "NaN.<body>" and finds no match; python's int() raises, so it cannot extract.
    "malformed-non-numeric-timestamp": variant(
        "malformed-non-numeric-timestamp", NODE_SIG_ERROR + NOT_MATCHING, PY_SIG_ERROR + UNABLE
    ),
    "wrong-secret": variant(
        "wrong-secret", NODE_SIG_ERROR + NOT_MATCHING, PY_SIG_ERROR + NOT_MATCHING
    ),
    "tampered-body": variant(
        "tampered-body", NODE_SIG_ERROR + NOT_MATCHING, PY_SIG_ERROR + NOT_MATCHING
    ),
    "stale-timestamp": variant(
        "stale-timestamp",
        NODE_SIG_ERROR + "Timestamp outside the tolerance zone",
        PY_SIG_ERROR + "Timestamp outside the tolerance zone",
    ),
    "future-timestamp": variant("future-timestamp", ACCEPT, ACCEPT),
    "v0-only": variant(
        "v0-only",
        NODE_SIG_ERROR + "No signatures found with expected scheme",
        PY_SIG_ERROR + "No signatures found with expected scheme v1",
    ),
    # The SDKs disagree: node reads the last t (and accepts), python the first (and refuses).
    "duplicated-timestamp-live": variant(
        "duplicated-timestamp", ACCEPT, PY_SIG_ERROR + NOT_MATCHING, livemode=True
    ),
    "duplicated-timestamp-test": variant(
        "duplicated-timestamp", ACCEPT, PY_SIG_ERROR + NOT_MATCHING, livemode=False
    ),
    # node's parseInt("<n>.0") is n; python's int("<n>.0") raises.
    "timestamp-with-fraction": header_case(
        lambda now, good: f"t={now}.0,v1={good}", ACCEPT, PY_SIG_ERROR + UNABLE
    ),
    # A non-ASCII character in a v1 value. python: hmac.compare_digest refuses non-ASCII str with
    # an uncaught TypeError, whatever the length. node: lengths are compared first in UTF-16 code
    # units; only a 64-unit value reaches crypto.timingSafeEqual, whose byte lengths then differ:
    # an uncaught RangeError. A shorter or longer value is simply "no match".
    "non-ascii-v1-64-units": header_case(
        lambda now, good: f"t={now},v1={good[:63]}é",
        "RangeError: Input buffers must have the same byte length",
        "TypeError: comparing strings with non-ASCII characters is not supported",
    ),
    "non-ascii-v1-short": header_case(
        lambda now, good: f"t={now},v1=é",
        NODE_SIG_ERROR + NOT_MATCHING,
        "TypeError: comparing strings with non-ASCII characters is not supported",
    ),
    # python stops at the first matching v1 (any() short-circuits); node compares every v1.
    "non-ascii-v1-after-a-good-one": header_case(
        lambda now, good: f"t={now},v1={good},v1={good[:63]}é",
        "RangeError: Input buffers must have the same byte length",
        ACCEPT,
    ),
    "non-ascii-v1-before-a-good-one": header_case(
        lambda now, good: f"t={now},v1={good[:63]}é,v1={good}",
        "RangeError: Input buffers must have the same byte length",
        "TypeError: comparing strings with non-ASCII characters is not supported",
    ),
    # Uppercase hex is a different string to both: no match.
    "uppercase-v1": header_case(
        lambda now, good: f"t={now},v1={good.upper()}",
        NODE_SIG_ERROR + NOT_MATCHING,
        PY_SIG_ERROR + NOT_MATCHING,
    ),
}


def matches(expected: str, got: str) -> bool:
    return got == ACCEPT if expected == ACCEPT else got.startswith(expected)


def verdict_from_node(result: dict[str, Any]) -> str:
    if result["accepted"]:
        return ACCEPT
    error = result["error"]
    return f"{error['type'] or error['name']}: {error['message']}"


def verdict_from_python(case: Case) -> str:
    try:
        stripe.Webhook.construct_event(case.body, case.header, case.secret, tolerance=300)
    except Exception as err:
        return f"{type(err).__name__}: {err}"
    return ACCEPT


def node_or_skip() -> str:
    """The node binary, with the pinned stripe npm package installed; else skip (or fail)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip(
            "node is not installed; install Node.js 20+ to run the stripe-node interop tests"
        )
    installed = NODE_DIR / "node_modules" / "stripe" / "package.json"
    if not installed.is_file():
        pytest.skip(
            "the stripe npm package is not installed for the interop tests; "
            "run `npm ci --prefix tests/node`"
        )
    version = json.loads(installed.read_text())["version"]
    if version != PINNED:
        pytest.fail(
            f"tests/node has stripe {version} installed but package.json pins {PINNED}; "
            "run `npm ci --prefix tests/node`"
        )
    return node


def verify_with_node(cases: dict[str, Case]) -> dict[str, dict[str, Any]]:
    """Verify a whole batch in one node process (node's start-up is paid once): name -> result."""
    node = node_or_skip()
    batch = {
        "cases": [
            {
                "name": name,
                "body_base64": base64.b64encode(case.body).decode("ascii"),
                "header": case.header,
                "secret": case.secret,
                "tolerance": 300,
            }
            for name, case in cases.items()
        ]
    }
    completed = subprocess.run(
        [node, str(NODE_DIR / "verify.js")],
        input=json.dumps(batch).encode(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    return {result["name"]: result for result in json.loads(completed.stdout)}


@pytest.fixture(scope="module")
def node_run() -> tuple[dict[str, Case], dict[str, str]]:
    """Build every case at the current time and verify the whole batch in one node process."""
    now = int(time.time())
    cases = {name: build(now) for name, build in CASES.items()}
    results = verify_with_node(cases)
    return cases, {name: verdict_from_node(result) for name, result in results.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_stripe_node(node_run: tuple[dict[str, Case], dict[str, str]], name: str) -> None:
    cases, results = node_run
    expected, got = cases[name].node, results[name]
    assert matches(expected, got), got


@pytest.mark.parametrize("name", list(CASES))
def test_stripe_python_on_the_same_case(
    node_run: tuple[dict[str, Case], dict[str, str]], name: str
) -> None:
    case = node_run[0][name]
    got = verdict_from_python(case)
    assert matches(case.python, got), got


def test_every_variant_is_covered() -> None:
    names = {v.name for v in bad_variants(b"{}", secret=SECRET, timestamp=10**9, livemode=True)}
    names |= {
        v.name for v in rotated_variants(b"{}", secret=SECRET, timestamp=10**9, livemode=True)
    }
    covered = {name.removesuffix("-live").removesuffix("-test") for name in CASES}
    assert names <= covered


def test_sign_payload_matches_node_generate_test_header_string() -> None:
    """stripe-node's own test-header helper produces the same value as sign_payload."""
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "stripe").is_dir():
        pytest.skip("node or the stripe npm package is missing; run `npm ci --prefix tests/node`")
    body = event_body(True, name="Zoë")
    script = (
        "const Stripe = require('stripe'); const s = new Stripe('sk_test_fake');"
        "let input = ''; process.stdin.on('data', (c) => input += c);"
        "process.stdin.on('end', () => process.stdout.write(s.webhooks.generateTestHeaderString("
        "{payload: input, secret: 'whsec_test_secret', timestamp: 1700000000})));"
    )
    completed = subprocess.run(
        [node, "-e", script],
        input=body,
        capture_output=True,
        timeout=60,
        cwd=NODE_DIR,
        check=True,
    )
    assert completed.stdout.decode() == sign_payload(body, SECRET, timestamp=1700000000)


# -- events of every supported type, and drawn ones ----------------------------------------------

PERMUTATIONS = (
    (None, False),
    ("acct_1PgafTB7WZ01zgkW", True),
    (None, True),
    ("acct_1PgafTB7WZ01zgkW", False),
)
DRAWN = 40


def drawn_events(count: int) -> list[Event]:
    """``count`` events from ``connect_harness.strategies.events()``, the same on every run."""
    drawn: list[Event] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(events())
    def collect(event: Event) -> None:
        drawn.append(event)

    collect()
    return drawn


def signed_case(event: Event, now: int) -> Case:
    request = delivery_request(event.body, secrets=[SECRET], timestamp=now, livemode=event.livemode)
    return Case(request.body, request.header("Stripe-Signature"), SECRET, ACCEPT, ACCEPT)


@pytest.fixture(scope="module")
def node_events() -> tuple[dict[str, Event], dict[str, dict[str, Any]]]:
    """One event per supported type (the permutations taken in turn) and drawn events, one batch."""
    now = int(time.time())
    events_by_name: dict[str, Event] = {}
    for index, event_type in enumerate(contracts.supported_event_types()):
        account, livemode = PERMUTATIONS[index % len(PERMUTATIONS)]
        events_by_name[event_type] = build_event(
            event_type, account=account, livemode=livemode, seed=now
        )
    for index, event in enumerate(drawn_events(DRAWN)):
        events_by_name[f"drawn-{index}"] = event
    cases = {name: signed_case(event, now) for name, event in events_by_name.items()}
    # The payload stripe-python 16.1.0 cannot construct (README, "Known SDK issues").
    known = render_body(balance_settings_updated())
    cases["balance-settings-null-rules"] = Case(
        known, sign_payload(known, SECRET, timestamp=now), SECRET, ACCEPT, ACCEPT
    )
    return events_by_name, verify_with_node(cases)


@pytest.mark.parametrize("event_type", contracts.supported_event_types())
def test_stripe_node_accepts_every_supported_type(
    node_events: tuple[dict[str, Event], dict[str, dict[str, Any]]], event_type: str
) -> None:
    events_by_name, results = node_events
    result = results[event_type]
    assert result["accepted"], result["error"]
    assert result["event_id"] == events_by_name[event_type].id


def test_stripe_node_accepts_what_stripe_python_cannot_construct(
    node_events: tuple[dict[str, Event], dict[str, dict[str, Any]]],
) -> None:
    result = node_events[1]["balance-settings-null-rules"]
    assert result["accepted"], result["error"]
    assert result["event_id"] == balance_settings_updated()["id"]


def test_stripe_node_accepts_drawn_events(
    node_events: tuple[dict[str, Event], dict[str, dict[str, Any]]],
) -> None:
    events_by_name, results = node_events
    drawn = [name for name in events_by_name if name.startswith("drawn-")]
    assert len(drawn) == DRAWN
    refused = {name: results[name]["error"] for name in drawn if not results[name]["accepted"]}
    assert refused == {}
    assert all(results[name]["event_id"] == events_by_name[name].id for name in drawn)
