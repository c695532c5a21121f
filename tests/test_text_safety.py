"""What an endpoint (or a client of the fake) sends is shown, never obeyed by the terminal, and
never makes XML invalid (issue 21)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from connect_harness.stripe_api.command import call_line
from connect_harness.stripe_api.server import ApiCall
from connect_harness.wire.text_safety import safe_lines, safe_text, xml_text

HOSTILE = "ok\x1b[2J\x1b[Hall checks passed\x07\r\nnext\x00\x9b\u202egnp.exe\ud800"


def test_safe_text_escapes_every_control_and_reordering_character() -> None:
    shown = safe_text(HOSTILE)

    assert shown == (
        "ok\\x1b[2J\\x1b[Hall checks passed\\x07\\r\\nnext\\x00\\x9b\\u202egnp.exe\\ud800"
    )
    assert shown.isprintable()
    shown.encode("utf-8")  # no lone surrogate left


def test_safe_lines_keeps_newlines_and_tabs_only() -> None:
    assert safe_lines("a\tb\nc\rd\x1b") == "a\tb\nc\\rd\\x1b"


@pytest.mark.parametrize("text", ["plain", "café 日本", "a & b < c", "tab\there"])
def test_safe_text_leaves_ordinary_text_alone(text: str) -> None:
    assert safe_text(text) == text.replace("\t", "\\t")


def test_xml_text_can_always_be_parsed_back() -> None:
    element = ET.Element("failure", message=xml_text(HOSTILE))
    element.text = xml_text(HOSTILE)

    parsed = ET.fromstring(ET.tostring(element, encoding="unicode"))

    assert parsed.text is not None
    assert "\\x1b[2J" in parsed.text
    assert "\\ud800" in parsed.get("message", "")


def test_the_fake_prints_a_hostile_request_path_escaped() -> None:
    call = ApiCall(
        method="GET",
        path="/v1/customers/\x1b]0;owned\x07",
        query={},
        stripe_account=None,
        idempotency_key=None,
        key_mode="test",
        object_id=None,
        object_type=None,
        object_owner=None,
        object_livemode=None,
        status=404,
        delivery=None,
        mutating=False,
        at=0.0,
        stripe_account_header="acct_\x1b[31m",
    )

    line = call_line(call)

    assert "\x1b" not in line and "\x07" not in line
    assert line.startswith("GET /v1/customers/\\x1b]0;owned\\x07 Stripe-Account=acct_\\x1b[31m")
