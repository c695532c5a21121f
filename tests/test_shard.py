"""``verify --shard K/N`` and ``connect-harness report merge``: a run split across CI machines joins
into the report one run would have written (through ``cli.main``, as a user runs them)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from connect_harness.checks.findings import check_ids
from connect_harness.cli import main
from endpoints.core import TEST_SECRET
from endpoints.serving import free_port

SECRET = TEST_SECRET
EVENTS = "customer.created,payment_intent.succeeded,account.updated"
HARNESS = Path(__file__).resolve().parents[1] / "harness"
TESTS = Path(__file__).resolve().parent


def app(bug: str | None) -> str:
    return (
        "endpoints.flask_endpoint:create_app()"
        if bug is None
        else (f"endpoints.flask_endpoint:create_app(bug={bug!r})")
    )


def verify(report: Path, bug: str | None, *more: str, seed: str = "11") -> int:
    argv = ["verify", "--app", app(bug), "--secret", SECRET, "--events", EVENTS, "--seed", seed]
    return main([*argv, "--report", str(report), *more])


def merge(capsys: pytest.CaptureFixture[str], *paths: Path | str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["report", "merge", *map(str, paths)])
    out, err = capsys.readouterr()
    return code, out, err


def comparable(report: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs from run to run: the fake's port, the seconds answers took,
    signature times; and without the shard's own parts."""
    summary = {k: v for k, v in report["summary"].items() if k not in ("fake_stripe_api", "shard")}
    text = json.dumps({"summary": summary, "checks": report["checks"]})
    text = re.sub(r"(after|took|in) \d+\.\d+ ?s", r"\1 N s", text)
    return json.loads(re.sub(r"--timestamp \d+", "--timestamp T", text))  # type: ignore[no-any-return]


def deliveries(section: dict[str, Any]) -> Counter[tuple[Any, ...]]:
    """What a shard delivered: each delivery's check, event type, permutation and body."""
    return Counter(
        (
            r["check"],
            r["event_type"],
            r["permutation"],
            r["variant"],
            json.dumps(r["request"]["body"]),
        )
        for r in section["records"]
    )


# --- the done-when: one run, 1 shard, 3 shards --------------------------------------------------


@pytest.mark.parametrize(
    "bug",
    [
        None,
        # the broken endpoints: the checks' logic, the same on every Python
        pytest.param("platform-auth", marks=pytest.mark.exhaustive),
        pytest.param("redirect", marks=pytest.mark.exhaustive),
    ],
)
def test_three_shards_merge_into_the_report_of_one_run(
    bug: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    single = tmp_path / "single.json"
    code = verify(single, bug)
    expected = json.loads(single.read_text())
    whole = tmp_path / "whole-1.json"
    parts = [tmp_path / f"shard-{k}.json" for k in (1, 2, 3)]
    codes = [verify(path, bug, "--shard", f"{k}/3") for k, path in enumerate(parts, 1)]
    codes.append(verify(whole, bug, "--shard", "1/1"))
    # A shard fails only on its own checks' findings (the merge judges the rest): never when the
    # run passes.
    assert max(codes) <= code
    out = capsys.readouterr().out
    assert "Shard 3/3: the checks above are this shard's" in out

    one_code, one_out, _ = merge(capsys, whole)
    three_code, three_out, err = merge(capsys, *reversed(parts))  # any order
    merged = json.loads(three_out)
    assert one_code == three_code == code
    assert comparable(merged) == comparable(json.loads(one_out)) == comparable(expected)
    assert f"report merge: 3 shards, {expected['summary']['deliveries']} deliveries" in err

    # each delivery in exactly one shard: the 3 shards' deliveries are the 1 shard's
    sections = [json.loads(path.read_text())["shard"] for path in parts]
    alone = json.loads(whole.read_text())["shard"]
    assert sum((deliveries(s) for s in sections), Counter()) == deliveries(alone)
    assert all(len(s["records"]) > 0 for s in sections)
    assert sum(len(s["records"]) for s in sections) == expected["summary"]["deliveries"]
    if bug is not None:  # findings are not empty, and the checks over every delivery judged them
        assert merged["summary"]["failed"] >= 1
        failing = {check["id"] for check in merged["checks"] if check["status"] == "fail"}
        assert failing & {"uses-connected-account-context", "no-redirects"}
    if bug == "redirect":
        assert merged["summary"]["headlines"]  # recomputed over every shard's deliveries
    for path in [*parts, whole]:
        assert SECRET not in path.read_text()
    assert whole.stat().st_size > single.stat().st_size  # the docs: a shard's report is larger


def test_the_split_does_not_depend_on_hash_randomization() -> None:
    program = (
        "from connect_harness.checks.run import VerifyConfig\n"
        "from connect_harness.checks.findings import check_ids\n"
        "from connect_harness.checks.sharding import ShardRun, shard_checks\n"
        "from connect_harness.delivery import WsgiTarget\n"
        "config = VerifyConfig(secret='whsec_x', seed=3)\n"
        "run = ShardRun(WsgiTarget(app=None), config, shard=(1, 3), plan=check_ids())\n"
        "print([(s.checks, s.event_types) for s in run.shares])\n"
        "print([shard_checks(config, check_ids(), (k, 3)) for k in (1, 2, 3)])\n"
    )
    outputs = set()
    for hash_seed in ("1", "2", "random"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=str(HARNESS))
        done = subprocess.run(
            [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert "accepts-valid-events" in outputs.pop()


# --- bad input: one line, exit 2 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("0/3", "K must be from 1 to 3"),
        ("4/3", "K must be from 1 to 3"),
        ("a/b", "is not K/N"),
        ("1/0", "splits the run into 0 shards"),
        ("2", "is not K/N"),
    ],
)
def test_a_bad_shard_is_one_line_and_exit_2(
    value: str, words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["verify", "--app", app(None), "--secret", SECRET, "--shard", value]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and words in err and "Traceback" not in err


def test_thin_payloads_are_not_split_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["verify", "--app", app(None), "--secret", SECRET, "--shard", "1/2"]
    assert main([*argv, "--payload", "thin"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert "--shard splits the snapshot checks, not --payload thin" in err


@pytest.mark.parametrize("bug", [None, pytest.param("logs-secret", marks=pytest.mark.exhaustive)])
def test_launched_endpoints_are_judged_by_each_machine_and_merged(
    bug: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    command = f"cd {shlex.quote(str(TESTS))} && PORT={port} exec {shlex.quote(sys.executable)}"
    command += " -m endpoints.served" + (f" --bug {bug}" if bug else "")
    argv = [
        "verify", "--serve", command, f"http://127.0.0.1:{port}/webhook", "--secret", SECRET,
        "--events", "customer.created,account.updated", "--examples", "1", "--seed", "6",
    ]  # fmt: skip
    single = tmp_path / "single.json"
    code = main([*argv, "--report", str(single)])
    parts = [tmp_path / f"shard-{k}.json" for k in (1, 2)]
    for k, path in enumerate(parts, 1):
        assert main([*argv, "--shard", f"{k}/2", "--report", str(path)]) in (0, 1)
    merged_code, out, _ = merge(capsys, *parts)
    merged, expected = json.loads(out), json.loads(single.read_text())
    assert merged_code == code == (1 if bug else 0)
    statuses = {check["id"]: check["status"] for check in merged["checks"]}
    assert statuses == {check["id"]: check["status"] for check in expected["checks"]}
    assert statuses["stays-alive"] == "pass"
    assert statuses["never-logs-secrets"] == ("fail" if bug else "pass")
    # each machine judged its own process: one finding per shard
    logs = next(c for c in merged["checks"] if c["id"] == "never-logs-secrets")
    assert len(logs["findings"]) == 2
    assert all(SECRET not in path.read_text() for path in [*parts, single])


def test_a_launched_endpoint_that_exits_is_one_headline_after_the_merge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    command = f"cd {shlex.quote(str(TESTS))} && PORT={port} exec {shlex.quote(sys.executable)}"
    command += (
        " -m endpoints.served --bug exits-after-answering"  # after its first customer.created
    )
    argv = [
        "verify", "--serve", command, f"http://127.0.0.1:{port}/webhook", "--secret", SECRET,
        "--events", "customer.created,account.updated", "--examples", "1", "--seed", "6",
    ]  # fmt: skip
    parts = [tmp_path / f"shard-{k}.json" for k in (1, 2)]
    for k, path in enumerate(parts, 1):
        main([*argv, "--shard", f"{k}/2", "--report", str(path)])
    code, out, _ = merge(capsys, *parts)
    merged = json.loads(out)
    statuses = {check["id"]: check["status"] for check in merged["checks"]}
    assert code == 1 and statuses["stays-alive"] == "fail"
    [headline] = merged["summary"]["headlines"]
    # the first exit in one run's order: the server ends itself 10 ms after the first
    # customer.created of accepts-valid-events, so the last answer before it went is that delivery
    # or one sent right after it (on a busy machine)
    assert headline["cause"] == "process-exited"
    assert re.search(r"exited after delivery [a-z-]+#\d+@\d", headline["text"]), headline["text"]
    # what got no answer after it is not judged, not blamed on the checks
    assert statuses["idempotent-redelivery"] == "skip"


@pytest.fixture(scope="module")
def two_shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The two shards' reports of one small run (and a plain report, last)."""
    folder = tmp_path_factory.mktemp("shards")
    small = ("--check", "accepts-valid-events", "--check", "rejects-wrong-secret")
    paths = [folder / f"shard-{k}.json" for k in (1, 2)]
    for k, path in enumerate(paths, 1):
        assert verify(path, None, *small, "--examples", "1", "--shard", f"{k}/2") == 0
    plain = folder / "plain.json"
    assert verify(plain, None, *small, "--examples", "1") == 0
    return [*paths, plain]


def _changed(source: Path, folder: Path, change: Any) -> Path:
    data = json.loads(source.read_text())
    change(data)
    path = folder / f"changed-{source.name}"
    path.write_text(json.dumps(data))
    return path


def _set(section_path: tuple[str, ...], value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        where = data["shard"]
        for key in section_path[:-1]:
            where = where[key]
        where[section_path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (_set(("config", "seed"), 12), "are shards of different runs (seed 11 vs 12)"),
        (_set(("api_version",), "2024-06-20"), "different runs (api version"),
        (_set(("target", "describe"), "http://127.0.0.1:1/x"), "different runs (target"),
        (_set(("checks",), ["accepts-valid-events"]), "different runs (other checks (--check))"),
        (_set(("config", "mode"), "development"), "different runs (mode differs)"),
        (_set(("count",), 3), "shards of different splits"),
        (_set(("format",), 99), "written by another version of connect-harness"),
        (_set(("interrupted",), True), "is shard 2/2 of a run interrupted by the user (Ctrl-C)"),
        (
            _set(("records",), None),
            "is a damaged shard report ('records' is missing or not a list)",
        ),
        (_set(("index",), 5), "says it is shard 5/2, which no split has"),
        (_set(("calls",), [{"method": "GET"}]), "is a damaged shard report (TypeError"),
    ],
    ids=lambda value: value if isinstance(value, str) and " " not in value else None,
)
def test_merge_refuses_shards_of_different_runs(
    change: Any,
    words: str,
    two_shards: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = _changed(two_shards[1], tmp_path, change)
    code, out, err = merge(capsys, two_shards[0], other)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and words in err, err


@pytest.mark.parametrize(
    ("which", "words"),
    [
        ((0, 0), "are both shard 1/2; give each shard's report once"),
        ((0,), "shard 2/2 is missing: give all 2 reports of the run (got 1)"),
        ((0, 1, 2), "is not a shard's report (no 'shard' section)"),
    ],
    ids=["duplicate", "missing", "plain-report"],
)
def test_merge_refuses_a_duplicate_a_missing_shard_and_a_plain_report(
    which: tuple[int, ...], words: str, two_shards: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = merge(capsys, *(two_shards[i] for i in which))
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and words in err, err


def test_merge_refuses_unreadable_files_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    for path, words in (
        (tmp_path / "absent.json", "cannot read the shard report"),
        (broken, "is not a JSON report"),
    ):
        code, out, err = merge(capsys, path)
        assert (code, out) == (2, "") and len(err.splitlines()) == 1 and words in err


def test_merge_writes_output_junit_and_html(
    two_shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed, _ = merge(capsys, *two_shards[:2])
    output, junit, html = tmp_path / "merged.json", tmp_path / "junit.xml", tmp_path / "r.html"
    argv = ["report", "merge", *map(str, two_shards[:2]), "--output", str(output)]
    assert main([*argv, "--junitxml", str(junit), "--html", str(html)]) == code == 0
    out, _ = capsys.readouterr()
    assert json.loads(output.read_text()) == json.loads(printed)
    assert "2 checks: 2 passed, 0 failed, 0 skipped" in out  # the table, not the JSON
    assert 'tests="2"' in junit.read_text() and "accepts-valid-events" in html.read_text()
    # the page's run time is the longest shard's, not a span across two machines' clocks
    spans = []
    for path in two_shards[:2]:
        records = json.loads(path.read_text())["shard"]["records"]
        spans.append(max(r["finished"] for r in records) - min(r["started"] for r in records))
    assert f'"duration_s":{round(max(spans), 3)},' in html.read_text()
    plain = json.loads(two_shards[2].read_text())
    assert comparable(json.loads(printed)) == comparable(plain)


def test_a_shard_that_delivers_nothing_still_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # one unit (a single check), two shards: the second has nothing to deliver
    paths = [tmp_path / f"s{k}.json" for k in (1, 2)]
    for k, path in enumerate(paths, 1):
        code = verify(path, None, "--check", "rejects-wrong-secret", "--shard", f"{k}/2")
        assert code == 0
    assert json.loads(paths[1].read_text())["shard"]["records"] == []
    code, out, _ = merge(capsys, *paths)
    assert code == 0 and json.loads(out)["summary"]["passed"] == 1


# --- the pytest plugin: --connect-shard -----------------------------------------------------------

PLUGIN_ARGS = (
    "-p", "connect_harness", "-p", "no:randomly", "-p", "no:cacheprovider",
    "--connect-app", "endpoints.flask_endpoint:create_app(bug='platform-auth')",
    "--connect-secret", SECRET, "--connect-seed", "5", "--connect-events", EVENTS,
    "--connect-examples", "1",
)  # fmt: skip


def test_plugin_shards_merge_into_the_plugins_single_report(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    paths = [str(Path(__file__).parent), str(HARNESS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))  # the test endpoints, for the runs
    single = pytester.path / "single.json"
    pytester.runpytest_subprocess(*PLUGIN_ARGS, f"--connect-report={single}")
    outcomes = []
    for k in (1, 2):
        result = pytester.runpytest_subprocess(
            *PLUGIN_ARGS, f"--connect-shard={k}/2", f"--connect-report={pytester.path}/s{k}.json"
        )
        outcomes.append(result.parseoutcomes())
        result.stdout.fnmatch_lines([f"connect_harness: shard {k}/2 ran its own checks; *"])
    # every catalogue test runs in exactly one shard; the other's are deselected
    ran = [sum(o.get(key, 0) for key in ("passed", "failed", "skipped")) for o in outcomes]
    assert all(ran) and sum(ran) < len(check_ids())  # the checks over every delivery: the merge's
    collected = {o.get("deselected", 0) + n for o, n in zip(outcomes, ran, strict=True)}
    assert len(collected) == 1  # the same tests collected by both, each shard keeping its own
    code, out, _ = merge(capsys, pytester.path / "s1.json", pytester.path / "s2.json")
    merged, expected = json.loads(out), json.loads(single.read_text())
    assert code == 1
    assert comparable(merged)["checks"] == comparable(expected)["checks"]
    assert merged["summary"]["deliveries"] == expected["summary"]["deliveries"]


def test_plugin_shard_without_a_report_says_it_wrote_none(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    paths = [str(Path(__file__).parent), str(HARNESS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    args = [*PLUGIN_ARGS, "--connect-events", "customer.created"]
    result = pytester.runpytest_subprocess(*args, "--connect-shard=2/2", "-k", "wrong_secret")
    result.stdout.fnmatch_lines(["*(this run wrote none: give --connect-report FILE.json)"])


def test_plugin_bad_shard_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "connect_harness", "--connect-shard=3/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "K must be from 1 to 2" in result.stderr.str()


ECHOING_APP = """
import stripe

SECRET = "{secret}"


def app(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    stripe.Webhook.construct_event(body, environ.get("HTTP_STRIPE_SIGNATURE", ""), SECRET)
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Debug", SECRET)])
    return [("verified with " + SECRET + " and sk_live_" + "4" * 24).encode()]
"""


def test_a_shard_report_never_holds_a_secret_the_endpoint_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "echoing.py").write_text(ECHOING_APP.format(secret=SECRET))
    monkeypatch.syspath_prepend(str(tmp_path))
    report = tmp_path / "shard.json"
    argv = ["verify", "--app", "echoing:app", "--secret", SECRET, "--events", "customer.created"]
    more = ["--check", "accepts-valid-events", "--examples", "1", "--shard", "1/1"]
    assert main([*argv, *more, "--report", str(report)]) == 0
    text = report.read_text()
    assert SECRET not in text and "sk_live_4444" not in text
    assert "verified with whsec_****" in text  # what the endpoint said, masked
    code, out, _ = merge(capsys, report)
    assert code == 0 and SECRET not in out


@pytest.mark.exhaustive  # the same logic on every Python: once, on py311
def test_an_endpoint_that_works_after_answering_gets_no_false_alarm_from_shards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It answers first and fetches every object its event names 0.2 s later: each shard's app sees
    # only its deliveries and each shard learns afresh that it works late, so a check that needs
    # those calls may be not judged where one run judged it; it never fails where one run passes.
    late = "endpoints.flask_endpoint:create_app(defer=0.2, follow='sdk')"
    argv = ["verify", "--app", late, "--secret", SECRET, "--events", EVENTS, "--seed", "8"]
    single = tmp_path / "single.json"
    code = main([*argv, "--report", str(single)])
    parts = [tmp_path / f"shard-{k}.json" for k in (1, 2, 3)]
    for k, path in enumerate(parts, 1):
        assert main([*argv, "--shard", f"{k}/3", "--report", str(path)]) <= code
    merged_code, out, _ = merge(capsys, *parts)
    merged, expected = json.loads(out), json.loads(single.read_text())
    # a correct endpoint: no check fails, in one run or merged (what is judged depends on timing)
    assert merged_code == code == 0
    assert merged["summary"]["failed"] == expected["summary"]["failed"] == 0
    assert merged["summary"]["deliveries"] > 0


@pytest.mark.exhaustive  # the same logic on every Python: once, on py311
def test_plugin_shards_of_a_launched_endpoint_merge(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makepyfile(test_contract_suite="from connect_harness.suite import *\n")
    paths = [str(TESTS), str(HARNESS), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    port = free_port()
    command = f"cd {shlex.quote(str(TESTS))} && PORT={port} exec {shlex.quote(sys.executable)}"
    args = [
        "-p", "connect_harness", "-p", "no:randomly", "-p", "no:cacheprovider",
        "--connect-serve", f"{command} -m endpoints.served --bug logs-secret",
        "--connect-url", f"http://127.0.0.1:{port}/webhook", "--connect-secret", SECRET,
        "--connect-seed", "5", "--connect-events", "customer.created", "--connect-examples", "1",
    ]  # fmt: skip
    for k in (1, 2):
        pytester.runpytest_subprocess(
            *args, f"--connect-shard={k}/2", f"--connect-report={pytester.path}/s{k}.json"
        )
    code, out, _ = merge(capsys, pytester.path / "s1.json", pytester.path / "s2.json")
    statuses = {check["id"]: check["status"] for check in json.loads(out)["checks"]}
    assert code == 1
    assert statuses["never-logs-secrets"] == "fail" and statuses["stays-alive"] == "pass"
