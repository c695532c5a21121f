"""The pytest plugin inside someone else's test run, through pytester."""

from __future__ import annotations

import pytest
import stripe  # noqa: F401  (imported once here: pytester drops modules first imported in an inline run, and a second copy of stripe would not see the fake API patch)

SECRET = "whsec_plugin_test_secret"

GOOD_APP = """
import json

import stripe
from flask import Flask, request

SECRET = "whsec_plugin_test_secret"
KEYS = {True: "sk_live_fakekey", False: "sk_test_fakekey"}
app = Flask(__name__)
seen = set()
disconnected = set()


@app.post("/webhook")
def webhook():
    try:
        stripe.Webhook.construct_event(
            request.get_data(), request.headers.get("Stripe-Signature"), SECRET
        )
        event = json.loads(request.get_data())
    except Exception:
        return {"error": "bad request"}, 400
    if not isinstance(event, dict) or "id" not in event:
        return {"error": "bad request"}, 400
    if event["id"] in seen:
        return {"duplicate": True}, 200
    seen.add(event["id"])
    if event.get("type") == "account.application.deauthorized":
        disconnected.add(event.get("account"))
    if event.get("type") == "payment_intent.succeeded" and event.get("account") not in disconnected:
        options = {"api_key": KEYS[bool(event.get("livemode"))]}
        if event.get("account"):
            options["stripe_account"] = event["account"]
        pi_id = event["data"]["object"]["id"]
        try:
            stripe.PaymentIntent.retrieve(pi_id, **options)
            stripe.PaymentIntent.modify(
                pi_id, metadata={"done": "1"}, idempotency_key="fulfil-" + event["id"], **options
            )
        except (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError):
            seen.discard(event["id"])  # Stripe retries: do it then
            return {"error": "try again"}, 503
        except stripe.StripeError:
            pass
    return {"received": True}, 200
"""

BROKEN_APP = GOOD_APP.replace(
    'return {"error": "bad request"}, 400\n    if not',
    'return {"error": "bad"}, 500\n    if not',
    1,
)


def write_app(pytester: pytest.Pytester, source: str, name: str = "endpoint_app") -> None:
    pytester.makepyfile(**{name: source})
    pytester.syspathinsert()


def test_fixtures_sign_deliver_and_record_api_calls(pytester: pytest.Pytester) -> None:
    write_app(pytester, GOOD_APP)
    pytester.makepyfile(
        test_mine="""
        def test_direct_charge_is_fetched_as_the_connected_account(connect_client, connect_events, stripe_api):
            event = connect_events("payment_intent.succeeded", account="acct_1PgafTB7WZ01zgkW")
            response = connect_client.send(event)
            assert response.status == 200
            retrieve = [call for call in stripe_api.calls if call.method == "GET"]
            assert retrieve and retrieve[0].stripe_account == "acct_1PgafTB7WZ01zgkW"
            assert retrieve[0].key_mode == "test"

        def test_unsigned_request_is_refused(connect_client, connect_events):
            request = connect_client.request_for(connect_events("customer.created"))
            assert connect_client.deliver(request.without_header("Stripe-Signature")).status == 400
        """
    )
    result = pytester.runpytest(
        "-p", "connect_harness", "--connect-app", "endpoint_app:app", "--connect-secret", SECRET
    )
    result.assert_outcomes(passed=2)


def test_report_header_names_target_and_sources_but_never_the_secret(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_app(pytester, GOOD_APP)
    monkeypatch.setenv("CONNECT_HARNESS_SECRET", SECRET)
    pytester.makeini("[pytest]\nconnect_mode = development\n")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest(
        "-p", "connect_harness", "--connect-app", "endpoint_app:app", "--connect-seed", "42"
    )
    result.assert_outcomes(passed=1)
    header = next(line for line in result.outlines if line.startswith("connect_harness: "))
    assert "app=endpoint_app:app (--connect-app)" in header
    assert "secret from env CONNECT_HARNESS_SECRET" in header
    assert "mode=development (ini connect_mode)" in header
    assert "seed=42 (--connect-seed)" in header
    assert SECRET not in result.stdout.str()


def test_marker_parametrizes_with_readable_stable_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_matrix="""
        import pytest

        @pytest.mark.connect_matrix(["account.updated", "payout.failed"], endpoint_type="both", mode="production")
        def test_each(connect_event):
            assert connect_event.type in {"account.updated", "payout.failed"}
        """
    )
    result = pytester.runpytest("-p", "connect_harness", "--collect-only", "-q")
    ids = [line for line in result.outlines if "::" in line]
    # A production account endpoint gets live events only (Stripe's livemode rule), a production
    # Connect endpoint live and test events.
    assert ids == [
        f"test_matrix.py::test_each[{t}-{perm}]"
        for t in ("account.updated", "payout.failed")
        for perm in ("connect-live", "connect-test", "platform-live")
    ]


def test_marker_with_an_unknown_type_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_matrix="""
        import pytest

        @pytest.mark.connect_matrix(["acount.updated"])
        def test_each(connect_event):
            pass
        """
    )
    result = pytester.runpytest("-p", "connect_harness")
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*unknown event type 'acount.updated'; did you mean 'account.updated'*"]
    )


def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("-p", "connect_harness", "--connect-mode", "staging")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mode 'staging' is not one of development, production*"])


def test_bad_env_value_names_its_source(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECT_HARNESS_MAX_RESPONSE_TIME", "soon")
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("-p", "connect_harness")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*env CONNECT_HARNESS_MAX_RESPONSE_TIME: 'soon' is not a number of seconds*"]
    )


def test_missing_secret_fails_with_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONNECT_HARNESS_SECRET", raising=False)
    write_app(pytester, GOOD_APP)
    pytester.makepyfile(test_x="def test_x(connect_client): pass")
    result = pytester.runpytest("-p", "connect_harness", "--connect-app", "endpoint_app:app")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*connect_harness: no webhook signing secret; pass --connect-secret*"]
    )


def test_fixtures_are_overridable_in_conftest(pytester: pytest.Pytester) -> None:
    write_app(pytester, GOOD_APP)
    pytester.makeconftest(
        f"""
        import pytest
        from connect_harness import target_from
        from endpoint_app import app

        @pytest.fixture(scope="session")
        def connect_secret():
            return "{SECRET}"

        @pytest.fixture(scope="session")
        def connect_target():
            return target_from(app)
        """
    )
    pytester.makepyfile(
        test_x="""
        def test_x(connect_client):
            assert connect_client.send("customer.created").status == 200
        """
    )
    result = pytester.runpytest("-p", "connect_harness")
    result.assert_outcomes(passed=1)


def test_shipped_suite_passes_a_correct_endpoint(pytester: pytest.Pytester) -> None:
    write_app(pytester, GOOD_APP)
    result = pytester.runpytest(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite",
        "--connect-app", "endpoint_app:app", "--connect-secret", SECRET,
        "--connect-events", "payment_intent.succeeded,account.updated,payout.failed", "-rs",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    # stays-alive and never-logs-secrets need --connect-serve.
    assert outcomes["passed"] == 21, result.stdout.str()


def test_shipped_suite_fails_a_broken_endpoint_readably(pytester: pytest.Pytester) -> None:
    write_app(pytester, BROKEN_APP)
    result = pytester.runpytest(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite",
        "--connect-app", "endpoint_app:app", "--connect-secret", SECRET,
        "--connect-events", "customer.created",
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = result.stdout.str()
    assert "test_contract[rejects-wrong-secret] FAILED" in text or "FAILED" in text
    result.stdout.fnmatch_lines(
        ["*connect_harness: 1 contract check(s) failed: rejects-missing-signature*"]
    )
    result.stdout.fnmatch_lines(["*reproduce: connect-harness sign*"])
    assert SECRET not in text


def test_loads_with_plugin_autoload_disabled(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(
        test_x="""
        def test_x(connect_events):
            assert connect_events("payout.failed").type == "payout.failed"
        """
    )
    without = pytester.runpytest_subprocess()
    without.assert_outcomes(errors=1)
    with_plugin = pytester.runpytest_subprocess("-p", "connect_harness")
    with_plugin.assert_outcomes(passed=1)


def test_xdist_workers_share_the_random_seed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    monkeypatch.setenv("SEED_DIR", str(pytester.path))
    pytester.makepyfile(
        test_matrix="""
        import os
        import pytest

        @pytest.mark.connect_matrix(["customer.created", "payout.failed"])
        def test_each(connect_event, connect_seed):
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            name = f"seed-{worker}-{connect_event.type}-{connect_event.permutation}"
            with open(os.path.join(os.environ["SEED_DIR"], name), "w") as out:
                out.write(str(connect_seed))
        """
    )
    result = pytester.runpytest_subprocess("-p", "connect_harness", "-n", "2")
    result.assert_outcomes(passed=6)
    header = next(line for line in result.outlines if line.startswith("connect_harness: "))
    seed = header.split("seed=", 1)[1].split(" ", 1)[0]
    written = list(pytester.path.glob("seed-*"))
    workers = {path.name.split("-")[1] for path in written}
    assert len(written) == 6 and workers <= {"gw0", "gw1"}
    assert {path.read_text() for path in written} == {seed}
