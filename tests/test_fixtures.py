"""The fixture runner (lifecycle/fixtures.py) through its Python API: a file is checked before any
request is sent, references resolve from earlier answers, --override/--add/--remove/--skip change a
file as the Stripe CLI's flags do, and a refused step stops the flow naming the step."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connect_harness.errors import UsageError
from connect_harness.lifecycle.fixtures import (
    FixtureError,
    FlowRefused,
    Reply,
    Request,
    apply_changes,
    encode_form,
    fixture_document,
    load_fixture,
    load_flow,
    parse_change,
    run_fixture,
)


def document(*steps: dict[str, Any], meta: dict[str, Any] | None = None) -> str:
    return json.dumps({"_meta": meta or {"template_version": 0}, "fixtures": list(steps)})


CUSTOMER = {"name": "customer", "path": "/v1/customers", "method": "post", "params": {"email": "a"}}
UPDATE = {
    "name": "customer_updated",
    "path": "/v1/customers/${customer:id}",
    "method": "post",
    "params": {"metadata": {"card": "${card:id}"}},
}


class Recorder:
    """A send() that answers from a table and records what was sent."""

    def __init__(self, answers: dict[str, Reply]) -> None:
        self.answers = answers
        self.sent: list[Request] = []

    def __call__(self, request: Request) -> Reply:
        self.sent.append(request)
        return self.answers.get(request.step, Reply(200, {"id": f"obj_{request.step}"}))


def run(fixture_text: str, answers: dict[str, Reply] | None = None, **env: str) -> Recorder:
    recorder = Recorder(answers or {})
    run_fixture(
        load_fixture(fixture_text, "test"),
        recorder,
        env=env,
        now=lambda: "2026-12-08T00:00:00Z",
        new_uuid=lambda: "uuid-1",
    )
    return recorder


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "test is not JSON ("),
        ("[]", "expected a JSON object with 'fixtures'"),
        (json.dumps({"_meta": {"template_version": 0}}), "expected 'fixtures', a non-empty list"),
        (document(CUSTOMER, meta={"template_version": 1}),
         "_meta.template_version 1 is not supported; expected 0"),
        (document({"path": "/v1/customers", "method": "post"}), "fixtures[0]: expected 'name'"),
        (document({**CUSTOMER, "method": "put"}), "step 'customer': 'method' 'put' is not one of"),
        (document({**CUSTOMER, "path": "v1/customers"}), "expected 'path', an API path"),
        (document({**CUSTOMER, "params": [1]}), "'params' must be an object"),
        (document(CUSTOMER, {**UPDATE, "params": {}, "path": "/v1/customers/${custmer:id}"}),
         "step 'customer_updated', path: ${custmer:id} names no step 'custmer'; the steps before "
         "it are customer; did you mean 'customer'?"),
        (document(CUSTOMER, UPDATE, {"name": "card", "path": "/v1/x", "method": "post"}),
         "step 'customer_updated', params.metadata.card: ${card:id} refers to step 'card', which "
         "runs later"),
        (document({**CUSTOMER, "params": {"x": "${customer}"}}),
         "${customer} is not a reference; expected ${step:path}"),
    ],
)  # fmt: skip
def test_a_bad_file_is_one_error_naming_the_fixture_and_key_before_any_request(
    text: str, message: str
) -> None:
    with pytest.raises(FixtureError) as raised:
        run(text)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_references_resolve_from_earlier_answers_whole_or_inside_text() -> None:
    steps = [
        {"name": "list", "path": "/v1/disputes", "method": "get", "params": {"limit": 3}},
        {
            "name": "close",
            "path": "/v1/disputes/${list:data.1.id}/close",
            "method": "post",
            "params": {
                "amount": "${list:data.0.amount}",
                "note": "for ${list:data.0.id} at ${time-now-RFC3339}",
                "key": "${generate-uuid}",
                "phone": "${.env:PHONE}",
                "country": "${.env:COUNTRY|US}",
            },
            "headers": {"Authorization": "Bearer ${list:token}"},
        },
    ]
    answers = {
        "list": Reply(200, {"token": "tk", "data": [{"id": "dp_1", "amount": 5}, {"id": "dp_2"}]})
    }
    sent = run(document(*steps), answers, PHONE="+1555").sent
    assert [(r.method, r.path) for r in sent] == [
        ("get", "/v1/disputes"),
        ("post", "/v1/disputes/dp_2/close"),
    ]
    assert sent[1].params == {
        "amount": 5,
        "note": "for dp_1 at 2026-12-08T00:00:00Z",
        "key": "uuid-1",
        "phone": "+1555",
        "country": "US",
    }
    assert sent[1].headers == {"Authorization": "Bearer tk"}


def test_a_path_that_does_not_resolve_and_a_missing_variable_are_one_line() -> None:
    with pytest.raises(
        FixtureError,
        match=r"step 'customer_updated', path: \$\{customer:id\} "
        r"does not resolve: step 'customer''s answer has no 'id' under the answer",
    ):
        run(document(CUSTOMER, {**UPDATE, "params": {}}), {"customer": Reply(200, {"x": 1})})
    with pytest.raises(FixtureError, match="needs the environment variable PHONE"):
        run(document({**CUSTOMER, "params": {"phone": "${.env:PHONE}"}}))


def test_a_refused_step_stops_the_flow_naming_the_step_and_stripes_error() -> None:
    error = {"error": {"type": "invalid_request_error", "message": "No such coupon: 'x'"}}
    with pytest.raises(FlowRefused) as raised:
        run(document(CUSTOMER, {**UPDATE, "params": {}}), {"customer": Reply(400, error)})
    assert str(raised.value) == (
        "test: step 'customer' (POST /v1/customers) was refused: invalid_request_error: "
        "No such coupon: 'x'"
    )


def test_an_expected_error_goes_on_and_another_error_does_not() -> None:
    card = {"error": {"type": "card_error", "message": "Your card was declined."}}
    failing = {**CUSTOMER, "expected_error_type": "card_error"}
    after = {"name": "after", "path": "/v1/balance", "method": "get"}
    assert len(run(document(failing, after), {"customer": Reply(402, card)}).sent) == 2
    other = {"error": {"type": "api_error", "message": "boom"}}
    with pytest.raises(FlowRefused, match=r"\(it expects a card_error\): api_error: boom"):
        run(document(failing, after), {"customer": Reply(500, other)})


def test_the_form_encoding_is_stripes() -> None:
    assert encode_form(
        {
            "amount": 2000,
            "confirm": True,
            "types": ["card"],
            "items": [{"price": "p", "quantity": 2}],
            "shipping": {"address": {"line1": "x"}},
            "recurring[interval]": "month",
            "coupon": "",
        }
    ) == [
        ("amount", "2000"),
        ("confirm", "true"),
        ("types[0]", "card"),
        ("items[0][price]", "p"),
        ("items[0][quantity]", "2"),
        ("shipping[address][line1]", "x"),
        ("recurring[interval]", "month"),
        ("coupon", ""),
    ]


def test_override_add_remove_and_skip_change_the_file_as_the_cli_flags_do() -> None:
    flow = load_flow("payment_intent.succeeded")
    changed = apply_changes(
        flow,
        [
            parse_change("--override", "payment_intent:amount=5000"),
            parse_change("--add", "payment_intent:metadata.order=42"),
            parse_change("--remove", "payment_intent:shipping.address.state"),
            parse_change("--override", "payment_intent:payment_method_types.0=link"),
        ],
    )
    params = changed.steps[0].params
    assert params["amount"] == "5000" and params["metadata"] == {"order": "42"}
    assert "state" not in params["shipping"]["address"]
    assert params["payment_method_types"] == ["link"]
    assert flow.steps[0].params["amount"] == 2000  # the flow itself is unchanged
    named = apply_changes(
        load_flow("customer.created"), [parse_change("--override", "customer:name=Zoë")]
    )
    assert named.steps[0].params["name"] == "Zoë"  # as the Stripe CLI: set even when absent
    skipped = apply_changes(load_flow("charge.dispute.updated"), [], ["disputes_update"])
    assert [step.name for step in skipped.steps] == ["payment_intent", "disputes_list"]


@pytest.mark.parametrize(
    ("flag", "text", "skip", "message"),
    [
        ("--override", "amount=5", [], "--override 'amount=5' is not STEP:PATH=VALUE; e.g."),
        ("--remove", "payment_intent:amount=5", [], "is not STEP:PATH; e.g. --remove customer:"),
        ("--override", "payment_intnt:amount=5", [], "no step named 'payment_intnt'; its steps"),
        ("--add", "payment_intent:amount.cents=5", [], "has no hash or list at 'amount'"),
        ("--remove", "payment_intent:nope", [], "has no param 'nope'"),
        ("--override", "payment_intent:amount=5", ["payment_intent"], "--skip leaves no step"),
    ],
)  # fmt: skip
def test_a_bad_change_is_one_line(flag: str, text: str, skip: list[str], message: str) -> None:
    with pytest.raises(UsageError) as raised:
        apply_changes(load_flow("payment_intent.succeeded"), [parse_change(flag, text)], skip)
    assert message in str(raised.value)


def test_skipping_a_step_a_later_one_uses_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(FixtureError, match=r"names no step 'payment_intent'.*\(after --skip "):
        apply_changes(load_flow("charge.refunded"), [], ["payment_intent"])


def test_a_change_goes_to_the_first_step_of_a_repeated_name() -> None:
    changed = apply_changes(
        load_flow("quote.accepted"), [parse_change("--add", "quote:metadata.x=1")]
    )
    quotes = [step for step in changed.steps if step.name == "quote"]
    assert len(quotes) == 3 and quotes[0].params["metadata"] == {"x": "1"}
    assert "metadata" not in quotes[1].params


def test_a_fixture_reads_back_from_its_document() -> None:
    flow = load_flow("v1.billing.meter.error_report_triggered")
    again = load_fixture(json.dumps(fixture_document(flow)), flow.source)
    assert again == flow


def test_an_unknown_trigger_name_suggests_the_closest() -> None:
    with pytest.raises(UsageError) as raised:
        load_flow("payment_intent.succeded")
    assert (
        "no trigger named 'payment_intent.succeded'; did you mean 'payment_intent.succeeded'"
        in (str(raised.value))
    )


def test_a_value_added_with_a_reference_is_checked_like_the_files_own() -> None:
    with pytest.raises(FixtureError) as raised:
        apply_changes(
            load_flow("customer.created"), [parse_change("--add", "customer:email=${nope:id}")]
        )
    assert "${nope:id} names no step 'nope'" in str(raised.value)
    assert "--skip" not in str(raised.value)
