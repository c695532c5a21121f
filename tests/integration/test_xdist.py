"""pytest-xdist splits the catalogue's deliveries: each once across the workers, results as one process.

The in-process tests deliver the shares of a :class:`ShardedRun` from two runs (two copies of the
endpoint, two fake Stripe APIs, as two workers have) and compare the merged results with one
:class:`ContractRun`; the pytester tests run ``-n 2`` and ``-n 0`` and count the deliveries.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from connect_harness.checks import shards
from connect_harness.checks.findings import CheckResult, check_ids
from connect_harness.checks.run import GLOBAL_CHECKS, ContractRun, VerifyConfig
from connect_harness.checks.shards import ShardedRun, split_work
from connect_harness.checks.share_exchange import ShareExchange
from connect_harness.checks.thin import THIN_CATALOGUE
from connect_harness.errors import HarnessError, UsageError
from endpoints import flask_endpoint
from endpoints.core import TEST_SECRET

EVENTS = ("customer.created", "payment_intent.succeeded", "account.updated", "payout.failed")
DELIVERING = [check for check in check_ids() if check not in GLOBAL_CHECKS]
WEIGHTS = [(f"type.{n}", n % 4 + 1) for n in range(40)]


# --- cutting the work ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 3])
def test_every_unit_goes_to_exactly_one_share(count: int) -> None:
    cut = split_work(DELIVERING, WEIGHTS, count)
    assert [share.index for share in cut] == list(range(count))
    checks = [check for share in cut for check in share.checks]
    types = [event_type for share in cut for event_type in share.event_types]
    assert sorted(checks) == sorted(c for c in DELIVERING if c != "accepts-valid-events")
    assert sorted(types) == sorted(t for t, _ in WEIGHTS)
    for share in cut:  # in catalogue / type order within a share
        assert list(share.checks) == [c for c in DELIVERING if c in share.checks]
        assert list(share.event_types) == [t for t, _ in WEIGHTS if t in share.event_types]


def test_the_cut_is_the_same_every_time_and_about_even() -> None:
    cut = split_work(DELIVERING, WEIGHTS, 2)
    assert cut == split_work(list(DELIVERING), list(WEIGHTS), 2)
    weight = dict(WEIGHTS)
    loads = [
        sum(weight[t] for t in share.event_types)
        + sum(shards._WEIGHTS.get(c, 2) for c in share.checks)
        for share in cut
    ]
    assert abs(loads[0] - loads[1]) <= max(shards._WEIGHTS.values())


def test_without_accepts_valid_events_no_types_are_delivered() -> None:
    cut = split_work(["rejects-wrong-secret", "order-independent"], WEIGHTS, 2)
    assert all(share.event_types == () for share in cut)
    assert sorted(c for share in cut for c in share.checks) == [
        "order-independent",
        "rejects-wrong-secret",
    ]


def test_no_shares_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="number of shares 0 must be 1 or more"):
        split_work(DELIVERING, WEIGHTS, 0)


# --- two runs sharing the work, in one process ------------------------------------------------------


def _config(**changes: Any) -> VerifyConfig:
    return VerifyConfig(secret=TEST_SECRET, events=EVENTS, seed=7, **changes)


def _timeless(text: str) -> str:
    """Without the seconds an answer took and the clock's time (they differ from run to run)."""
    text = re.sub(r"(after|took) \d+\.\d+ s", r"\1 N s", text)
    return re.sub(r"--timestamp \d+", "--timestamp T", text)


def _comparable(results: list[CheckResult]) -> list[dict[str, Any]]:
    """The results as JSON, as far as they do not depend on the clock."""
    return json.loads(_timeless(json.dumps([result.to_json() for result in results])))


def _split_in_two(
    bug: str | None, plan: list[str], folder: Path, **app: Any
) -> tuple[ShardedRun, ShardedRun]:
    exchange = ShareExchange(folder, 2)
    config = _config(**({"examples": app.pop("examples")} if "examples" in app else {}))
    runs = tuple(
        ShardedRun(
            flask_endpoint.create_app(bug=bug, **app),
            config,
            exchange=exchange,
            plan=plan,
            first=k,
        )
        for k in (0, 1)
    )
    assert runs[0].deliver_share(0) and runs[1].deliver_share(1)
    assert not runs[0].deliver_share(1)  # claimed: never delivered twice
    return runs[0], runs[1]


@pytest.mark.parametrize(
    "bug",
    [None, "crash-platform-events", "platform-auth", "live-key-for-test", "redirect"],
)
def test_two_shares_give_the_results_of_one_process(bug: str | None, tmp_path: Path) -> None:
    with ContractRun(flask_endpoint.create_app(bug=bug), _config()) as one:
        expected = one.run()
    first, second = _split_in_two(bug, list(check_ids()), tmp_path)
    with first, second:
        delivered = (len(first.records), len(second.records))  # each its own share, before merging
        assert first.run() == first.completed()
        assert _comparable(first.run()) == _comparable(second.run()) == _comparable(expected)
        assert first.deliveries == second.deliveries == one.deliveries == sum(delivered)
        assert min(delivered) > one.deliveries // 4  # both did a real part
        assert [r.event_type for r in first.records] == [r.event_type for r in one.records]


@pytest.mark.parametrize(
    "app",
    [{"follow": "sdk"}, {"examples": 3}],
    ids=["follows-references", "three-examples"],
)
def test_two_shares_judge_api_calls_and_examples_as_one_process(
    app: dict[str, Any], tmp_path: Path
) -> None:
    one_app = {k: v for k, v in app.items() if k != "examples"}
    one_config = _config(**{k: v for k, v in app.items() if k == "examples"})
    with ContractRun(flask_endpoint.create_app(**one_app), one_config) as one:
        expected = one.run()
    first, second = _split_in_two(None, list(check_ids()), tmp_path, **app)
    with first, second:
        assert _comparable(first.run()) == _comparable(expected)
        assert first.deliveries == one.deliveries


def test_a_refused_type_is_one_headline_across_shares(tmp_path: Path) -> None:
    with ContractRun(flask_endpoint.create_app(secret="whsec_other"), _config()) as one:
        expected = one.run()
    exchange = ShareExchange(tmp_path, 2)
    runs = [
        ShardedRun(
            flask_endpoint.create_app(secret="whsec_other"),
            _config(),
            exchange=exchange,
            plan=check_ids(),
            first=k,
        )
        for k in (0, 1)
    ]
    runs[1].deliver_share(1)
    merged = runs[0].run()
    skipped = {r.id for r in merged if r.status == "skip"}
    assert "rejects-wrong-secret" in skipped  # not judged: the wrong-secret headline
    assert _comparable(merged) == _comparable(expected)


def test_a_selection_delivers_only_its_checks(tmp_path: Path) -> None:
    first, second = _split_in_two(None, ["rejects-wrong-secret", "order-independent"], tmp_path)
    assert first.plan == ("rejects-wrong-secret", "order-independent")
    assert {r.check for r in first.records} | {r.check for r in second.records} == set(first.plan)
    assert first.run([]) == []
    assert [(r.id, r.status) for r in first.run(first.plan)] == [
        ("rejects-wrong-secret", "pass"),
        ("order-independent", "pass"),
    ]


def test_a_global_check_plans_every_delivering_check(tmp_path: Path) -> None:
    run = ShardedRun(
        flask_endpoint.create_app(),
        _config(),
        exchange=ShareExchange(tmp_path, 2),
        plan=["no-redirects"],
    )
    assert run.plan == (*DELIVERING, "no-redirects")


def test_the_plan_is_the_order_one_process_runs_the_checks_in(tmp_path: Path) -> None:
    run = ShardedRun(
        flask_endpoint.create_app(),
        _config(),
        exchange=ShareExchange(tmp_path, 2),
        plan=["idempotent-redelivery", "no-redirects", "rejects-wrong-secret", "no-redirects"],
    )
    rest = [c for c in DELIVERING if c != "idempotent-redelivery"]
    assert run.plan == ("idempotent-redelivery", *rest, "no-redirects")
    with pytest.raises(UsageError, match="did you mean 'no-redirects'"):
        ShardedRun(
            flask_endpoint.create_app(),
            _config(),
            exchange=ShareExchange(tmp_path, 2),
            plan=["no-redirect"],
        )


def test_a_check_outside_the_plan_runs_in_this_process(tmp_path: Path) -> None:
    first, _ = _split_in_two(None, ["rejects-wrong-secret"], tmp_path)
    assert first.result("rejects-v0-only").status == "pass"
    assert first.result("rejects-wrong-secret").status == "pass"
    assert [r.id for r in first.completed()] == ["rejects-wrong-secret", "rejects-v0-only"]


def test_one_process_takes_every_share_nobody_claimed(tmp_path: Path) -> None:
    run = ShardedRun(
        flask_endpoint.create_app(),
        _config(),
        exchange=ShareExchange(tmp_path, 3),
        plan=["rejects-wrong-secret", "rejects-v0-only", "accepts-valid-events"],
        first=2,
    )
    with run:
        assert [r.status for r in run.run(run.plan)] == ["pass", "pass", "pass"]
    assert sorted(p.name for p in tmp_path.glob("*.pickle")) == [
        f"share-{k}.pickle" for k in range(3)
    ]


def test_a_share_that_failed_fails_every_worker_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(run: ContractRun) -> list[Any]:
        raise HarnessError("the endpoint went away")

    monkeypatch.setitem(shards.CHECKS, "order-independent", broken)
    plan = ["rejects-wrong-secret", "order-independent"]
    runs = [
        ShardedRun(
            flask_endpoint.create_app(), _config(), exchange=ShareExchange(tmp_path, 2), plan=plan
        )
        for _ in (0, 1)
    ]
    for run in runs:
        with pytest.raises(
            HarnessError, match=r"share \d of the contract checks failed: the endpoint"
        ):
            run.result("rejects-wrong-secret")


def test_a_share_whose_process_ended_is_an_error_not_a_wait(tmp_path: Path) -> None:
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                           capture_output=True, text=True)  # fmt: skip
    (tmp_path / "share-1.claim").write_text(ended.stdout.strip())
    exchange = ShareExchange(tmp_path, 2)
    assert not exchange.claim(1)
    with pytest.raises(HarnessError, match="ended without its results"):
        exchange.collect(1)


# --- pytest -n 2 ------------------------------------------------------------------------------------

# Logs every delivery (event id, type, the xdist worker) to $DELIVERY_LOG; refuses payout.failed so
# the runs have failures and a headline to agree on. Under xdist a worker's first delivery waits
# until the other worker has delivered too: a worker that started first would otherwise (rightly)
# take over the share nobody claimed yet, and the test could not see the split.
COUNTING_APP = """
import json
import os
import time

import stripe

SECRET = "whsec_xdist_test_secret"


def wait_for_both_workers(worker):
    folder = os.environ["DELIVERY_LOG"] + ".workers"
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, worker), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    if worker != "main":
        wait_for_both_workers(worker)
    try:
        event = stripe.Webhook.construct_event(body, environ.get("HTTP_STRIPE_SIGNATURE", ""), SECRET)
    except Exception:
        start_response("400 Bad Request", [("Content-Type", "application/json")])
        return [b"{}"]
    with open(os.environ["DELIVERY_LOG"], "a") as log:
        log.write(json.dumps([event["id"], event["type"], worker]) + "\\n")
    status = "400 Bad Request" if event["type"] == "payout.failed" else "200 OK"
    start_response(status, [("Content-Type", "application/json")])
    return [b"{}"]
"""

ARGS = (
    "-p", "connect_harness", "-p", "no:randomly", "--connect-app", "counting_app:app",
    "--connect-secret", "whsec_xdist_test_secret", "--connect-seed", "23",
    "--connect-events", "customer.created,payout.failed,account.updated,invoice.paid",
)  # fmt: skip


def _run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: str, *more: str
) -> tuple[dict[str, int], list[list[str]], dict[str, Any]]:
    log = pytester.path / f"deliveries-{workers}-{len(more)}.log"
    report = pytester.path / f"report-{workers}-{len(more)}.json"
    monkeypatch.setenv("DELIVERY_LOG", str(log))
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # when this suite runs under xdist
    result = pytester.runpytest_subprocess(
        *ARGS, "-n", workers, f"--connect-report={report}", *more
    )
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    checks = json.loads(report.read_text())
    return result.parseoutcomes(), lines, checks


def _same_report(report: dict[str, Any]) -> str:
    return _timeless(json.dumps(report["checks"]))


def test_n2_delivers_each_event_once_across_workers_like_n0(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(
        counting_app=COUNTING_APP, test_contract_suite="from connect_harness.suite import *\n"
    )
    pytester.syspathinsert()
    one = _run(pytester, monkeypatch, "0")
    two = _run(pytester, monkeypatch, "2")
    # -n 0 counts the thin tests it deselects; xdist's workers collect without them
    assert one[0].pop("deselected") == len(THIN_CATALOGUE)
    assert two[0] == one[0] and one[0]["failed"] >= 1 and one[0]["passed"] >= 10
    # the same deliveries (a redelivery twice, in both), made by both workers
    assert sorted(e[:2] for e in two[1]) == sorted(e[:2] for e in one[1])
    assert {e[2] for e in two[1]} == {"gw0", "gw1"} and {e[2] for e in one[1]} == {"main"}
    assert _same_report(two[2]) == _same_report(one[2])
    assert two[2]["summary"] == one[2]["summary"] and one[2]["summary"]["deliveries"] > len(one[1])


def test_n2_with_a_selection_delivers_only_what_n0_does(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(counting_app=COUNTING_APP)
    pytester.syspathinsert()
    # The suite collected by its package name this time. no-redirects needs every delivering
    # check; -n 0 judges idempotent-redelivery before accepts-valid-events has refused payout.failed
    # (so it fails rather than being not judged), and -n 2 must say the same.
    selection = (
        "--pyargs",
        "connect_harness.suite",
        "-k",
        "wrong-secret or idempotent or redirects",
    )
    one = _run(pytester, monkeypatch, "0", *selection)
    two = _run(pytester, monkeypatch, "2", *selection)
    one[0].pop("deselected")  # xdist's summary does not count what the workers deselected
    assert one[0] == two[0] == {"passed": 2, "failed": 1}
    assert sorted(e[:2] for e in two[1]) == sorted(e[:2] for e in one[1])
    assert {e[2] for e in two[1]} == {"gw0", "gw1"}
    assert _same_report(two[2]) == _same_report(one[2])


# --- the one piece of xdist's private API ---------------------------------------------------------


def test_xdist_still_has_the_private_hook_the_serve_scheduler_overrides() -> None:
    scheduler = pytest.importorskip("xdist.scheduler")
    from connect_harness.xdist_schedule import CATALOGUE_SCOPE, CatalogueOnOneWorker

    assert callable(getattr(scheduler.LoadScopeScheduling, "_split_scope", None)), (
        "pytest-xdist no longer has LoadScopeScheduling._split_scope: "
        "connect_harness.xdist_schedule.CatalogueOnOneWorker (--connect-serve under -n) must change"
    )
    split = CatalogueOnOneWorker._split_scope
    assert split(None, "suite/test_x.py::test_contract[no-redirects]") == CATALOGUE_SCOPE
    assert split(None, "test_team.py::test_flow[3]") == "test_team.py::test_flow[3]"


@pytest.mark.parametrize(
    ("options", "one_worker"),
    [
        ({}, False),
        ({"serve": "python -m endpoint", "url": "http://127.0.0.1:9/webhook"}, True),
        ({"fake_stripe_port": 12111}, True),
    ],
)
def test_the_catalogue_stays_on_one_worker_only_where_one_port_is_shared(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], one_worker: bool
) -> None:
    from connect_harness import plugin, xdist_schedule
    from connect_harness.settings import resolve_settings

    # (xdist's scheduler needs a running session; the stand-in records that it was chosen)
    monkeypatch.setattr(xdist_schedule, "CatalogueOnOneWorker", lambda config, log: "one worker")
    config = SimpleNamespace(getvalue={"dist": "load"}.get, stash=pytest.Stash())
    config.stash[plugin._SETTINGS_KEY] = resolve_settings(
        option=options.get, ini=lambda key: None, environ={}
    )
    scheduler = plugin.pytest_xdist_make_scheduler(config, None)  # type: ignore[arg-type]
    assert scheduler == ("one worker" if one_worker else None)  # None: xdist's own scheduling
    config.getvalue = {"dist": "loadfile"}.get
    assert plugin.pytest_xdist_make_scheduler(config, None) is None  # type: ignore[arg-type]
