"""A fuzz over the public Python API: any value of any type for any argument gives a result or a
HarnessError (UsageError) whose message is one line and holds no secret; never a TypeError,
AttributeError or ValueError from deep inside, never a traceback a user must read (issue 21)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connect_harness as ch
from connect_harness.errors import HarnessError

SECRET = "whsec_fuzzsecretvalue"

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "\x1b[2J", "\ud800", "acct_\r\n", "payout.failed", SECRET, "\x00"]),
    st.binary(max_size=8),
    st.lists(st.sampled_from([SECRET, 5, None]), max_size=3),
    st.dictionaries(st.sampled_from(["a", SECRET]), st.sampled_from([1, float("nan")]), max_size=2),
)


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


# (name, the call with one hostile value in one argument)
CALLS: list[tuple[str, Callable[[Any], object]]] = [
    ("build_event event_type", lambda v: ch.build_event(v)),
    ("build_event account", lambda v: ch.build_event("payout.failed", account=v)),
    ("build_event livemode", lambda v: ch.build_event("payout.failed", livemode=v)),
    ("build_event seed", lambda v: ch.build_event("payout.failed", seed=v)),
    ("build_event created", lambda v: ch.build_event("payout.failed", created=v)),
    ("sign_payload payload", lambda v: ch.sign_payload(v, SECRET, timestamp=1)),
    ("sign_payload secret", lambda v: ch.sign_payload(b"{}", v, timestamp=1)),
    ("sign_payload timestamp", lambda v: ch.sign_payload(b"{}", SECRET, timestamp=v)),
    ("WebhookClient secret", lambda v: ch.WebhookClient(ch.target_from(_app), secret=v)),
    ("target_from", lambda v: ch.target_from(v)),
    ("FakeStripeAPI api_version", lambda v: ch.FakeStripeAPI(api_version=v)),
    ("FakeStripeAPI max_calls", lambda v: ch.FakeStripeAPI(max_calls=v)),
    ("VerifyConfig secret", lambda v: ch.VerifyConfig(secret=v)),
    ("VerifyConfig timeout", lambda v: ch.VerifyConfig(secret=SECRET, timeout=v)),
    ("build_event overrides", lambda v: ch.build_event("payout.failed", overrides={"data.object.metadata.k": v})),
    ("build_event merge", lambda v: ch.build_event("payout.failed", merge={"data": {"object": {"metadata": {"k": v}}}})),
]  # fmt: skip


@pytest.mark.parametrize("call", [c[1] for c in CALLS], ids=[c[0] for c in CALLS])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=HOSTILE)
def test_a_hostile_argument_is_a_result_or_one_clear_line(
    call: Callable[[Any], object], value: Any
) -> None:
    try:
        result = call(value)
    except HarnessError as err:
        message = str(err)
        assert "\n" not in message and "\r" not in message, message
        assert "fuzzsecretvalue" not in message, message
    else:
        if isinstance(result, ch.Event):  # what is sent must be JSON: no NaN, no Infinity
            json.loads(result.body, parse_constant=_not_json)


def _not_json(name: str) -> None:
    raise AssertionError(f"the body holds {name}, which is not JSON")
