"""``--concurrency N``: independent deliveries in flight together, with the findings of one at a time.

The done-when of issue 20's concurrency part: the reports (findings and headlines, not timings) of
``--concurrency 1`` and ``--concurrency 4`` are equal for correct endpoints (one answering first
and calling the API 0.3 s later, ones calling Stripe for the platform's own account) and broken
ones, through the CLI and the plugin; bad values are one line and exit 2.
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from connect_harness.checks.attribution import resolve_concurrent
from connect_harness.checks.run import ContractRun, VerifyConfig
from connect_harness.cli import main
from connect_harness.delivery.concurrency import check_concurrency, deliver_all
from connect_harness.errors import UsageError
from connect_harness.stripe_api.fake import FakeStripeAPI
from endpoints import flask_endpoint
from endpoints.core import TEST_KEY, TEST_SECRET
from endpoints.serving import free_port, served

SECRET = TEST_SECRET
#: Types whose permutations share objects (account.updated: one account in both modes) and ones
#: that do not, with and without API calls from the test endpoints.
EVENTS = "customer.created,payment_intent.succeeded,account.updated,payout.paid,charge.refunded"
HARNESS = Path(__file__).resolve().parents[1] / "harness"


def comparable(report: dict[str, Any]) -> str:
    """A report's findings and headlines, without what differs from run to run: seconds, signature
    times, the fake's port, and the Idempotency-Keys stripe-python makes up at random."""
    summary = {
        k: v
        for k, v in report["summary"].items()
        if k not in ("fake_stripe_api", "duration", "target")
    }
    text = json.dumps({"summary": summary, "checks": report["checks"]}, sort_keys=True)
    text = re.sub(r"(after|took|in) \d+\.\d+ ?s", r"\1 N s", text)
    text = re.sub(r"\d+\.\d+ s after", "N s after", text)
    text = re.sub(r"Idempotency-Key: [0-9a-f-]{36}", "Idempotency-Key: K", text)
    # How many late calls were judged in a pass line depends on when they came (0.3 s after
    # answering, against later deliveries): it differs between two runs one at a time too.
    text = re.sub(r"\d+ (API )?call\(s\)", "N call(s)", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    # Which of two copies sent at once (idempotent-redelivery's, a scenario's) the endpoint served
    # first is the race those checks provoke on purpose, whatever --concurrency says.
    text = re.sub(r"(concurrent[^\"]*?copy-)\d", r"\1K", text)  # each run serves a fresh endpoint
    return re.sub(r"--timestamp \d+", "--timestamp T", text)


def verify_report(
    options: dict[str, Any], tmp_path: Path, n: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    """``verify URL --concurrency n`` against a fresh test endpoint served over HTTP, its Stripe API
    base a fixed port the CLI's fake takes; the exit code and the comparable report."""
    port = free_port()
    monkeypatch.setattr(stripe, "api_base", f"http://127.0.0.1:{port}")
    report = tmp_path / f"concurrency-{n}.json"
    with served(flask_endpoint.create_app(SECRET, **options)) as url:
        argv = ["verify", url, "--secret", SECRET, "--events", EVENTS, "--seed", "11"]
        argv += ["--fake-stripe-port", str(port), "--concurrency", str(n)]
        code = main([*argv, "--report", str(report)])
    return code, comparable(json.loads(report.read_text()))


ENDPOINTS: list[Any] = [
    pytest.param({}, id="correct"),
    pytest.param({"defer": 0.3}, id="answers-first-calls-0.3s-later", marks=pytest.mark.exhaustive),
    # fetches every object an event names; on platform events as the platform's own account
    pytest.param(
        {"follow": "http"}, id="calls-for-the-platform-account", marks=pytest.mark.exhaustive
    ),
    pytest.param({"follow": "sdk"}, id="follows-references", marks=pytest.mark.exhaustive),
    pytest.param({"bug": "platform-auth"}, id="platform-auth", marks=pytest.mark.exhaustive),
    pytest.param({"bug": "live-key-for-test"}, id="live-key", marks=pytest.mark.exhaustive),
    pytest.param(
        {"bug": "platform-auth-references"}, id="references", marks=pytest.mark.exhaustive
    ),
    pytest.param(
        {"bug": "no-idempotency", "defer": 0.3},
        id="late-no-idempotency",
        marks=pytest.mark.exhaustive,
    ),
    pytest.param({"bug": "crash-platform-events"}, id="crash", marks=pytest.mark.exhaustive),
]


@pytest.mark.parametrize("options", ENDPOINTS)
def test_concurrency_4_reports_what_1_reports(
    options: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    one = verify_report(options, tmp_path, 1, monkeypatch)
    four = verify_report(options, tmp_path, 4, monkeypatch)
    capsys.readouterr()
    assert four == one
    assert one[0] == (1 if "bug" in options else 0)  # a broken endpoint is caught both ways


def _contract_run(url: str, fake: FakeStripeAPI, n: int) -> ContractRun:
    config = VerifyConfig(secret=SECRET, seed=3, events=tuple(EVENTS.split(",")), concurrency=n)
    return ContractRun(url, config, fake_api=fake)


@pytest.mark.parametrize("options", [{}, {"defer": 0.3}], ids=["while-answering", "answer-first"])
def test_deliveries_really_overlap_and_keep_their_order(options: dict[str, Any]) -> None:
    with (
        served(flask_endpoint.create_app(SECRET, **options)) as url,
        FakeStripeAPI() as fake,
        fake.patch_stripe(),
        _contract_run(url, fake, 4) as run,
    ):
        result = run.result("accepts-valid-events")
        records = run.judged_records()
        sequential_since = run.sequential_since
        batched = run.batched
    assert result.status == "pass"
    assert sequential_since is None
    assert batched >= 3 * 4  # the permutations of every type but account.updated's went together
    overlapping = [
        (a, b)
        for a, b in itertools.pairwise(records)
        if b.started < a.finished and a.check == b.check
    ]
    assert overlapping  # in flight together, not one after another
    # logged, labelled and numbered in sending order, as one at a time
    assert [r.sequence for r in records] == list(range(len(records)))
    numbers = [int(r.label.rsplit("#", 1)[1]) for r in records]
    assert numbers == sorted(numbers)
    # every call the endpoint made went to the delivery whose event it names
    called = [r for r in records if r.calls]
    assert called
    for record in called:
        for call in record.calls:
            assert call.object_id is None or call.object_id.encode() in record.request.body


def _balance_every_time(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """Retrieves the platform's test-mode balance for every event: a call that names nothing of
    its event and acts as nobody, so content cannot tie it to one of several deliveries."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    stripe.Balance.retrieve(api_key=TEST_KEY)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def test_a_call_no_content_ties_sends_the_rest_one_by_one_and_blames_nobody() -> None:
    config = VerifyConfig(
        secret=SECRET,
        seed=5,
        events=("customer.created", "payout.paid"),
        concurrency=4,
        examples=1,
    )
    with (
        served(_balance_every_time) as url,
        FakeStripeAPI() as fake,
        fake.patch_stripe(),
        ContractRun(url, config, fake_api=fake) as run,
    ):
        run.result("accepts-valid-events")
        ambiguous = run.ambiguous_calls()
        since = run.sequential_since
        batched = run.batched
        records = run.judged_records()
    assert since is not None and "GET /v1/balance" in since
    assert batched == 3  # the first type's three permutations, then one by one
    # the batch's calls are tied to no delivery; the later ones by timing, one per delivery
    assert ambiguous and all(call.path == "/v1/balance" for call in ambiguous)
    assert all(not r.calls for r in records[:3])
    assert all(len(r.calls) == 1 for r in records[3:])


def test_a_wsgi_app_is_called_one_at_a_time_by_default() -> None:
    config = VerifyConfig(secret=SECRET, seed=5, events=("customer.created",), examples=1)
    with ContractRun(flask_endpoint.create_app(SECRET), config) as run:
        run.result("accepts-valid-events")
        assert run.concurrency == 1
        assert run.batched == 0


def test_a_batch_call_naming_one_in_flight_event_is_that_deliverys() -> None:
    """Unit: what content ties a concurrent call to (attribution.resolve_concurrent)."""
    with (
        served(flask_endpoint.create_app(SECRET)) as url,
        FakeStripeAPI() as fake,
        fake.patch_stripe(),
        _contract_run(url, fake, 4) as run,
    ):
        run.result("accepts-valid-events")
        records = list(run.records)
        calls = run.observed_calls()
    batch = [r for r in records if r.event_type == "payment_intent.succeeded"][:3]
    for call in calls:
        label = resolve_concurrent(call, batch, records)
        named = [r for r in batch if call.object_id and call.object_id.encode() in r.request.body]
        if len(named) == 1:
            assert label == named[0].label


# --- the plugin -----------------------------------------------------------------------------------


@pytest.mark.exhaustive  # the same logic on every Python: once, on py311
def test_plugin_connect_concurrency_reports_what_one_at_a_time_reports(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    paths = [str(Path(__file__).parent), str(HARNESS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    reports = []
    for n in (1, 4):  # a fresh endpoint and fake port each time, as in two CI jobs
        port = free_port()
        monkeypatch.setattr(stripe, "api_base", f"http://127.0.0.1:{port}")
        with served(flask_endpoint.create_app(SECRET, bug="platform-auth")) as url:
            path = pytester.path / f"c{n}.json"
            result = pytester.runpytest_subprocess(
                "-p", "connect_harness", "-p", "no:randomly", "-p", "no:cacheprovider",
                f"--connect-url={url}", f"--connect-secret={SECRET}", "--connect-seed=5",
                f"--connect-events={EVENTS}", f"--connect-fake-stripe-port={port}",
                f"--connect-concurrency={n}", f"--connect-report={path}",
            )  # fmt: skip
            assert result.ret == 1, result.stdout.str()[-2000:]
            reports.append(comparable(json.loads(path.read_text())))
    assert reports[0] == reports[1]


def test_plugin_bad_concurrency_is_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    result = pytester.runpytest_subprocess(
        "-p", "connect_harness", "--connect-app=x:y", "--connect-secret=whsec_x",
        "--connect-concurrency=0",
    )  # fmt: skip
    assert result.ret == 4  # pytest's usage error
    assert "concurrency '0' is outside 1-32" in result.stderr.str()
    assert "Traceback" not in result.stderr.str()


# --- bad values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "concurrency '0' is outside 1-32; 1 sends one delivery at a time"),
        ("-1", "concurrency '-1' is outside 1-32"),
        ("x", "concurrency 'x' is not a whole number"),
        ("33", "concurrency '33' is outside 1-32"),
    ],
)
def test_bad_concurrency_is_one_line_and_exit_2(
    value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["verify", "--app", "endpoints.flask_endpoint:create_app()", "--secret", SECRET]
    assert main([*argv, "--concurrency", value]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("connect-harness: error: ")
    assert message in err


@pytest.mark.parametrize("value", [0, -1, "4", 1.5, True, 33])
def test_python_api_refuses_bad_concurrency(value: object) -> None:
    with pytest.raises(UsageError, match="must be a whole number from 1 to 32"):
        VerifyConfig(secret=SECRET, concurrency=value)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="must be a whole number from 1 to 32"):
        check_concurrency(value)


def test_deliver_all_keeps_the_order_given() -> None:
    jobs = [lambda i=i: i * i for i in range(10)]
    assert deliver_all(jobs, 4) == [i * i for i in range(10)]
    assert deliver_all(jobs, 1) == [i * i for i in range(10)]


@pytest.fixture(autouse=True)
def _no_leftover_api_base() -> Iterator[None]:
    base = stripe.api_base
    yield
    stripe.api_base = base


# --- the docs' claims -----------------------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_documented_default_is_one_for_every_target() -> None:
    from connect_harness.delivery import AsgiTarget, UrlTarget, WsgiTarget
    from connect_harness.delivery.concurrency import default_concurrency

    verify_doc = (DOCS / "reference" / "verify.md").read_text()
    plugin_doc = (DOCS / "reference" / "plugin.md").read_text()
    assert "`--concurrency N` (default 1)" in verify_doc
    assert "`--concurrency N` (1 to 32, default 1;" in verify_doc
    assert "(1 to 32, default 1) |" in plugin_doc
    targets = [
        UrlTarget("http://127.0.0.1:9/webhook"),
        WsgiTarget(flask_endpoint.create_app(SECRET)),
        AsgiTarget(object()),
    ]
    assert [default_concurrency(target) for target in targets] == [1, 1, 1]


def test_a_type_whose_permutations_share_an_object_goes_one_at_a_time() -> None:
    """The docs: account.updated's Connect events share their account, so they are not batched."""
    config = VerifyConfig(secret=SECRET, seed=3, events=("account.updated",), concurrency=4)
    with (
        served(flask_endpoint.create_app(SECRET)) as url,
        FakeStripeAPI() as fake,
        fake.patch_stripe(),
        ContractRun(url, config, fake_api=fake) as run,
    ):
        run.result("accepts-valid-events")
        assert run.batched == 0
        assert run.deliveries >= 3


@pytest.mark.parametrize("bug", [None, pytest.param("platform-auth", marks=pytest.mark.exhaustive)])
def test_an_asgi_app_reports_the_same_with_deliveries_in_flight_together(
    bug: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = f"endpoints.starlette_endpoint:create_app({SECRET!r}, bug={bug!r})"
    reports = []
    for n in (1, 4):
        report = tmp_path / f"asgi-{n}.json"
        argv = ["verify", "--app", app, "--secret", SECRET, "--events", EVENTS, "--seed", "11"]
        code = main([*argv, "--concurrency", str(n), "--report", str(report)])
        reports.append((code, comparable(json.loads(report.read_text()))))
    capsys.readouterr()
    assert reports[0] == reports[1]
    assert reports[0][0] == (0 if bug is None else 1)


def test_an_asgi_apps_permutations_really_go_together() -> None:
    from endpoints import starlette_endpoint

    config = VerifyConfig(secret=SECRET, seed=3, events=("customer.created",), concurrency=4)
    with ContractRun(starlette_endpoint.create_app(SECRET), config) as run:
        assert run.result("accepts-valid-events").status == "pass"
        assert run.batched == 3
        assert run.sequential_since is None


def test_verify_says_when_the_run_went_back_to_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    monkeypatch.setattr(stripe, "api_base", f"http://127.0.0.1:{port}")
    with served(_balance_every_time) as url:
        argv = ["verify", url, "--secret", SECRET, "--events", "customer.created,payout.paid"]
        argv += ["--fake-stripe-port", str(port), "--concurrency", "4", "--examples", "1"]
        main([*argv, "--check", "accepts-valid-events"])
    err = capsys.readouterr().err
    assert (
        "connect-harness: note: --concurrency 4: the rest of the run sent one delivery at a "
        "time, because GET /v1/balance came while deliveries were in flight together" in err
    )
