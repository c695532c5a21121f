"""The traps a new team met with the plugin, each reproduced in a pytester run and now passing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import stripe  # noqa: F401  (one copy of stripe for inline runs, as in test_plugin)

from connect_harness.checks.thin import THIN_CATALOGUE

SECRET = "whsec_trust_test_secret"

# Deduplicates on the event id like a real handler, and logs every delivery (id, type, signature)
# to the file named by $DELIVERY_LOG, so runs in several processes can be counted.
COUNTING_APP = """
import json
import os

import stripe

SECRET = "whsec_trust_test_secret"
seen = set()


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    header = environ.get("HTTP_STRIPE_SIGNATURE", "")
    try:
        stripe.Webhook.construct_event(body, header, SECRET)
        event = json.loads(body)
        event_id = event["id"]
    except Exception:
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [b'{"error": "bad request"}']
    log = os.environ.get("DELIVERY_LOG")
    if log:
        with open(log, "a") as handle:
            handle.write(json.dumps([event_id, event.get("type"), header]) + "\\n")
    duplicate = event_id in seen
    seen.add(event_id)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"duplicate": duplicate}).encode()]
"""


def write_app(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(counting_app=COUNTING_APP)
    pytester.syspathinsert()


ARGS = ("-p", "connect_harness", "--connect-app", "counting_app:app", "--connect-secret", SECRET)

TWO_TESTS = """
import json


def test_first(connect_client):
    response = connect_client.send("payment_intent.succeeded", account="acct_1PgafTB7WZ01zgkW")
    assert json.loads(response.body) == {"duplicate": False}
    print("ID", connect_client.history[-1][0].body[:80])


def test_second(connect_client):
    response = connect_client.send("payment_intent.succeeded", account="acct_1PgafTB7WZ01zgkW")
    assert json.loads(response.body) == {"duplicate": False}
"""


def logged(path: Path) -> list[list[str]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_two_tests_about_one_type_and_account_send_two_ids(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_app(pytester)
    log = tmp_path / "deliveries.log"
    monkeypatch.setenv("DELIVERY_LOG", str(log))
    pytester.makepyfile(test_ids=TWO_TESTS)
    pytester.runpytest(*ARGS, "--connect-seed", "7").assert_outcomes(passed=2)
    both = [entry[0] for entry in logged(log)]
    assert len(both) == 2 and both[0] != both[1]
    # Stable under test order and selection: the second test alone sends the same id.
    log.unlink()
    pytester.runpytest(*ARGS, "--connect-seed", "7", "-k", "second").assert_outcomes(passed=1)
    assert [entry[0] for entry in logged(log)] == [both[1]]


def test_send_type_follows_the_run_seed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_app(pytester)
    log = tmp_path / "deliveries.log"
    monkeypatch.setenv("DELIVERY_LOG", str(log))
    pytester.makepyfile(
        test_one="def test_one(connect_client):\n    connect_client.send('payout.failed')\n"
    )
    ids = []
    for seed in ("1", "2", "1"):
        pytester.runpytest(*ARGS, "--connect-seed", seed).assert_outcomes(passed=1)
        ids.append(logged(log)[-1][0])
    assert ids[0] != ids[1] and ids[0] == ids[2]


REDELIVERY_TESTS = """
import json


def test_sending_an_event_again_is_a_redelivery(connect_client, connect_events):
    event = connect_events("payout.failed")
    assert json.loads(connect_client.send(event).body) == {"duplicate": False}
    assert json.loads(connect_client.redeliver(event).body) == {"duplicate": True}
    first, again = (request for request, _ in connect_client.history)
    assert first.body == again.body


def test_send_concurrently_delivers_copies_at_once(connect_client, connect_events):
    event = connect_events("payout.failed")
    responses = connect_client.send_concurrently(event, copies=3)
    assert sorted(json.loads(r.body)["duplicate"] for r in responses) == [False, True, True]


def test_fixed_seed_or_id_repeats_on_purpose(connect_events):
    assert connect_events("payout.failed", seed=3).id == connect_events("payout.failed", seed=3).id
    assert connect_events("payout.failed", id="evt_1Mine").id == "evt_1Mine"
    assert connect_events("payout.failed").id != connect_events("payout.failed").id


def test_events_are_connect_events_unless_told(connect_events):
    assert connect_events("payout.failed").account is not None
    assert connect_events("payout.failed", account=None).account is None


def test_unique_event_ids_keep_one_world(connect_events):
    first, second = connect_events("payout.failed"), connect_events("payout.failed")
    assert first.id != second.id
    assert first.payload["request"] == second.payload["request"]  # automatic: both null
    assert first.data_object["id"] == second.data_object["id"]
"""


def test_redelivery_and_concurrent_copies_are_explicit(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_app(pytester)
    monkeypatch.setenv("DELIVERY_LOG", str(tmp_path / "deliveries.log"))
    pytester.makepyfile(test_redelivery=REDELIVERY_TESTS)
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(passed=5)
    ids = [entry[0] for entry in logged(tmp_path / "deliveries.log")]
    assert ids[0] == ids[1] and ids[2] == ids[3] == ids[4] and ids[0] != ids[2]


def test_conftest_overrides_reach_the_shipped_suite(pytester: pytest.Pytester) -> None:
    write_app(pytester)
    pytester.makeconftest(
        f"""
        import pytest
        from connect_harness import target_from


        @pytest.fixture(scope="session")
        def connect_secret():
            return "{SECRET}"


        @pytest.fixture(scope="session")
        def connect_target():
            import counting_app
            return target_from(counting_app.app)
        """
    )
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    result = pytester.runpytest(
        "-p", "connect_harness", "--connect-events", "payout.failed", "-k", "rejects-wrong-secret"
    )
    result.assert_outcomes(passed=1, deselected=22 + len(THIN_CATALOGUE))


def test_missing_secret_names_the_way_that_works_for_the_suite(pytester: pytest.Pytester) -> None:
    write_app(pytester)
    result = pytester.runpytest(
        "-p", "connect_harness", "--pyargs", "connect_harness.suite",
        "--connect-app", "counting_app:app", "-k", "rejects-wrong-secret",
    )  # fmt: skip
    result.stdout.fnmatch_lines(
        ["*no webhook signing secret*from connect_harness.suite import [*]*"]
    )


# xdist: each delivery once across the workers, outcomes as -n 0: tests/integration/test_xdist.py


HYPOTHESIS_TEST = """
import json

import stripe
from hypothesis import given, settings, strategies as st

EXAMPLES = []


@settings(max_examples=30, deadline=None, database=None)
@given(
    event_type=st.sampled_from(["payout.failed", "payment_intent.succeeded", "account.updated"]),
    livemode=st.booleans(),
    tag=st.text(max_size=8),
)
def test_every_example_is_new_to_a_stateful_app(connect_world, event_type, livemode, tag):
    with connect_world.example() as client:
        assert client.stripe_api.calls == []
        response = client.send(event_type, livemode=livemode, merge={"data": {"object": {"metadata": {"tag": tag}}}})
        assert json.loads(response.body) == {"duplicate": False}
        stripe.Customer.create(api_key="sk_test_trust", email="a@example.com")  # state to reset
        assert len(client.stripe_api.calls) == 1
    EXAMPLES.append(event_type)


def test_ran_thirty_examples():
    assert len(EXAMPLES) == 30
"""


def test_given_with_connect_world_needs_no_health_check_suppression(
    pytester: pytest.Pytester,
) -> None:
    write_app(pytester)
    pytester.makepyfile(test_property=HYPOTHESIS_TEST)
    result = pytester.runpytest(*ARGS, "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_pytest_l_on_a_fixture_error_prints_no_secret(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    write_app(pytester)
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def broken(connect_settings, connect_secret, connect_contract):
            raise RuntimeError("the team's own fixture failed")
        """
    )
    pytester.makepyfile(test_fixture_error="def test_x(broken):\n    pass\n")
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest(*ARGS, "-l", "--tb=long", f"--junitxml={junit}")
    result.assert_outcomes(errors=1)
    text = result.stdout.str() + result.stderr.str() + junit.read_text()
    assert "the team's own fixture failed" in text
    assert "connect_settings" in text and "whsec_****" in text  # the locals were printed...
    assert SECRET not in text  # ...masked


STRICT_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]
"""


def test_skipped_checks_are_named_and_strict_makes_them_fail(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(counting_app=COUNTING_APP, lax_app=STRICT_APP)
    pytester.syspathinsert()
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    args = (*ARGS, "--connect-events", "payout.failed", "-k", "account-context or rejects-wrong")
    report = tmp_path / "report.json"
    lax = pytester.runpytest(*args, f"--connect-report={report}")
    lax.assert_outcomes(passed=1, skipped=1, deselected=21 + len(THIN_CATALOGUE))
    lax.stdout.fnmatch_lines(
        [
            "*connect_harness: skipped contract checks*",
            "SKIP uses-connected-account-context: *",
            "*--connect-strict makes a skipped contract check fail*",
        ]
    )
    statuses = {check["id"]: check["status"] for check in json.loads(report.read_text())["checks"]}
    assert statuses["rejects-wrong-secret"] == "pass"
    assert statuses["uses-connected-account-context"] == "skip"
    strict = pytester.runpytest(*args, "--connect-strict")
    strict.assert_outcomes(passed=1, failed=1, deselected=21 + len(THIN_CATALOGUE))
    strict.stdout.fnmatch_lines(
        ["*skipped under --connect-strict: uses-connected-account-context*"]
    )
    assert "test_catalogue.py:" not in strict.stdout.str()  # the finding, not our source


def test_a_bad_marker_keyword_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_matrix="""
        import pytest

        @pytest.mark.connect_matrix(["payout.failed"], endpoint_typ="connect")
        def test_each(connect_event):
            pass
        """
    )
    result = pytester.runpytest("-p", "connect_harness")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # a collection error
    lines = result.stdout.lines
    start = lines.index(next(line for line in lines if "ERROR collecting" in line))
    end = lines.index(next(line for line in lines if "short test summary" in line))
    assert len(lines[start + 1 : end]) == 1, lines[start:end]
    assert re.search(r"connect_matrix does not take keyword 'endpoint_typ'", lines[start + 1])


def test_the_plugin_reads_stripe_webhook_secret_like_verify(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_app(pytester)
    monkeypatch.delenv("CONNECT_HARNESS_SECRET", raising=False)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    pytester.makepyfile(
        test_one="def test_one(connect_client):\n    assert connect_client.send('payout.failed').status == 200\n"
    )
    result = pytester.runpytest("-p", "connect_harness", "--connect-app", "counting_app:app")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*secret from env STRIPE_WEBHOOK_SECRET*"])


def test_an_unreachable_url_is_one_line_shown_once(pytester: pytest.Pytester) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    result = pytester.runpytest(
        "-p", "connect_harness", "--connect-url", f"http://127.0.0.1:{port}/webhook",
        "--connect-secret", SECRET, "-k", "rejects",
    )  # fmt: skip
    result.assert_outcomes(errors=7, deselected=16 + len(THIN_CATALOGUE))
    out = result.stdout.str()
    errors = out.split("short test summary info")[0]  # the summary's lines are cut to the width
    assert errors.count(f"nothing answers at http://127.0.0.1:{port}/webhook") == 1
    assert errors.count("connect_harness: the same setup error as above") == 6
    assert "Traceback" not in out and "harness/connect_harness" not in out


STRATEGIES_TEST = """
from hypothesis import given, settings

from connect_harness.strategies import events

SEEN = []


@settings(max_examples=30, deadline=None, database=None)
@given(event=events(["payout.failed", "account.updated", "customer.created"]))
def test_every_rendering_is_acknowledged(connect_world, event):
    with connect_world.example() as client:
        assert client.stripe_api.calls == []
        assert client.send(event).status == 200
    SEEN.append(event.id)


def test_thirty_examples_ran():
    assert len(SEEN) == 30
"""


def test_the_readme_strategies_example_runs_with_connect_world(pytester: pytest.Pytester) -> None:
    write_app(pytester)
    pytester.makepyfile(test_world_strategies=STRATEGIES_TEST)
    pytester.runpytest(*ARGS).assert_outcomes(passed=2)
