"""Every claim in the README has a test: its tables and flags are parsed here and checked against
the code, so a documented option, fixture, check or command that does not exist fails the suite.

Parametrized over what the README says, not over what the code has: adding a row to a table adds a
test case, and a row that names something missing is a failure with the row in its id.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from connect_harness.checks.findings import CATALOGUE
from connect_harness.cli import _build_parser, main
from connect_harness.settings import SETTINGS

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")


def table(header: str) -> list[list[str]]:
    """The rows of the README table whose header row starts with ``header`` (cells stripped)."""
    lines = TEXT.splitlines()
    for index, line in enumerate(lines):
        if line.replace(" ", "").startswith(header.replace(" ", "")):
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"README has no table starting {header!r}")


def code(cell: str) -> str | None:
    match = re.search(r"`([^`]+)`", cell)
    return match.group(1) if match else None


PLUGIN_ROWS = table("| option | environment | ini key | meaning |")
FIXTURE_ROWS = table("| fixture | scope | what |")
CHECK_ROWS = table("| id | what must hold |")

# A valid value for each plugin setting, to prove its option, variable and ini key are read. A new
# README row without a sample here fails test_every_plugin_row_has_a_sample: add one.
SAMPLES = {
    "url": "http://127.0.0.1:9/webhook",
    "app": "readme_app:app",
    "path": "/stripe/webhook",
    "secret": "whsec_readme_table",
    "events": "payout.failed",
    "endpoint_type": "connect",
    "mode": "development",
    "payload": "thin",
    "max_response_time": "7",
    "fake_stripe_port": "0",
    "seed": "4242",
    "api_version": "2026-10-28.endive",
    "serve": "python -m my_server",
    "examples": "5",
}


def setting_name(option: str) -> str:
    return option.removeprefix("--connect-").replace("-", "_")


def test_every_plugin_row_has_a_sample() -> None:
    names = [setting_name(code(row[0]) or "") for row in PLUGIN_ROWS if code(row[1])]
    assert [name for name in names if name not in SAMPLES] == []


def test_the_plugin_table_lists_every_setting() -> None:
    documented = {setting_name(code(row[0]) or "") for row in PLUGIN_ROWS}
    assert {spec.name for spec in SETTINGS} <= documented


ROWS_WITH_ENV = [row for row in PLUGIN_ROWS if code(row[1])]


@pytest.fixture(scope="module")
def headers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The plugin's report header with every documented setting given one way: option, env, ini."""
    found = {}
    for source in ("option", "environment", "ini"):
        folder = tmp_path_factory.mktemp(source)
        (folder / "readme_app.py").write_text("def app(environ, start_response):\n    return []\n")
        (folder / "test_x.py").write_text("def test_x():\n    pass\n")
        args = [sys.executable, "-m", "pytest", "-p", "connect_harness", "-p", "no:cacheprovider"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_HARNESS_")}
        env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
        ini = ["[pytest]"]
        for row in ROWS_WITH_ENV:
            option, variable, key = code(row[0]), code(row[1]), code(row[2])
            assert option and variable and key
            value = SAMPLES.get(setting_name(option), "")
            if source == "option":
                args.append(f"{option}={value}")
            elif source == "environment":
                env[variable] = value
            else:
                ini.append(f"{key} = {value}")
        (folder / "pytest.ini").write_text("\n".join(ini) + "\n")
        result = subprocess.run(
            args, cwd=folder, env=env, capture_output=True, text=True, check=False, timeout=120
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("connect_harness:")]
        # A documented option pytest does not know fails every row of that run, with pytest's words.
        found[source] = lines[0] if lines else (result.stdout + result.stderr).strip()
    return found


@pytest.mark.parametrize("row", ROWS_WITH_ENV, ids=lambda row: code(row[0]))
@pytest.mark.parametrize("source", ["option", "environment", "ini"])
def test_plugin_option_env_and_ini_key_are_real(
    headers: dict[str, str], row: list[str], source: str
) -> None:
    option, variable, key = code(row[0]), code(row[1]), code(row[2])
    shown = {"option": option, "environment": f"env {variable}", "ini": f"ini {key}"}[source]
    header = headers[source]
    assert f"({shown})" in header or f"from {shown}" in header, header


def test_documented_fixtures_exist(pytester: pytest.Pytester) -> None:
    names = [name for row in FIXTURE_ROWS for name in re.findall(r"`([a-z_]+)`", row[0])]
    assert len(names) >= len(FIXTURE_ROWS)
    result = pytester.runpytest("-p", "connect_harness", "--fixtures")
    listed = {line.split()[0] for line in result.stdout.lines if line and not line[0].isspace()}
    assert [name for name in names if name not in listed] == []


def test_the_check_table_is_the_catalogue() -> None:
    assert [row[0].strip("`") for row in CHECK_ROWS] == [check.id for check in CATALOGUE]


def cli_flags() -> dict[str, set[str]]:
    """Every flag each CLI command accepts (``contracts build`` as ``contracts``)."""
    parser = _build_parser()
    flags: dict[str, set[str]] = {}

    def walk(name: str, sub: argparse.ArgumentParser) -> None:
        found = flags.setdefault(name, set())
        for action in sub._actions:
            found.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for child, child_parser in action.choices.items():
                    walk(child if name == "" else name, child_parser)

    walk("", parser)
    return flags


FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9])(?![\w*-])")


def readme_flags() -> set[str]:
    """Every ``--flag`` the README gives our commands: inline code that is a flag or one of our
    command lines, and our command lines in shell blocks (other tools' lines are theirs)."""
    found: set[str] = set()
    inline = re.findall(r"`([^`\n]+)`", TEXT)
    blocks = re.findall(r"```sh\n(.*?)```", TEXT, re.S)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    for snippet in inline + lines:
        text = snippet.strip()
        if text.startswith("--") or text.startswith(("connect-harness", "pytest")):
            found.update(FLAG.findall(text))
    return found


NOT_OURS = {"--pyargs"}


@pytest.fixture(scope="module")
def plugin_options() -> set[str]:
    """Every ``--connect-*`` option ``pytest -p connect_harness --help`` lists."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECT_HARNESS_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "connect_harness", "--help"],
        capture_output=True, text=True, check=False, timeout=120, env=env,
    )  # fmt: skip
    return set(re.findall(r"^\s+(--connect-[a-z-]+)", result.stdout, re.M))


@pytest.mark.parametrize("row", PLUGIN_ROWS, ids=lambda row: code(row[0]))
def test_every_plugin_option_row_is_a_plugin_option(
    row: list[str], plugin_options: set[str]
) -> None:
    assert code(row[0]) in plugin_options, sorted(plugin_options)


@pytest.mark.parametrize("flag", sorted(readme_flags()))
def test_every_documented_flag_exists(flag: str, plugin_options: set[str]) -> None:
    plugin = {spec.option for spec in SETTINGS} | plugin_options
    accepted = set().union(*cli_flags().values()) | plugin | NOT_OURS
    if flag in NOT_OURS:
        pytest.skip(f"{flag} belongs to another tool's command line in the README")
    assert flag in accepted, f"the README documents {flag}, which no command or plugin option takes"


def cli_examples() -> list[list[str]]:
    """The README's ``connect-harness`` command lines that need nothing running."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", TEXT, re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if not line.startswith("connect-harness "):
                continue
            argv = shlex.split(line)[1:]
            for index, word in enumerate(argv):
                if word in {">", ">>", "|", "&&"}:  # the shell's part of the line, not ours
                    argv = argv[:index]
                    break
            if argv[0] in {"verify", "contracts", "listen", "trigger", "resend", "stripe-api"}:
                continue  # need a server, a running session or Stripe's data: tested elsewhere
            if any("..." in arg or "$" in arg for arg in argv):
                continue
            commands.append(argv)
    return commands


@pytest.mark.parametrize("argv", cli_examples(), ids=lambda argv: " ".join(argv)[:60])
def test_readme_cli_examples_run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0, capsys.readouterr().err
    assert capsys.readouterr().out


THIN_CHECK_ROWS = table("| thin check | what must hold |")
V2_ROUTE_ROWS = table("| v2 route | what the fake serves |")


def test_the_thin_check_table_is_the_thin_catalogue() -> None:
    from connect_harness.checks.thin import THIN_CATALOGUE

    assert [row[0] for row in THIN_CHECK_ROWS] == [spec.id for spec in THIN_CATALOGUE]


@pytest.mark.parametrize("row", V2_ROUTE_ROWS, ids=[row[0] for row in V2_ROUTE_ROWS])
def test_every_documented_v2_route_is_served(row: list[str]) -> None:
    import stripe

    from connect_harness.events.thin import build_thin_event
    from connect_harness.stripe_api.fake import FakeStripeAPI

    route = (code(row[0]) or "").removeprefix("GET ")
    name = "v2.core.account_person.created" if "persons" in route else "v2.core.account.closed"
    event = build_thin_event(name, account="acct_1ReadmeRoutes00")
    related = event.related_object or {}
    url = f"/v2/core/events/{event.id}" if "events" in route else related["url"]
    with FakeStripeAPI() as fake:
        fake.register_event(event)
        client = stripe.StripeClient("sk_test_readme", base_addresses={"api": fake.url})
        got = client.raw_request("get", url, stripe_context="acct_1ReadmeRoutes00")
        assert got.code == 200
        with pytest.raises(stripe.InvalidRequestError):
            client.raw_request("get", url)
