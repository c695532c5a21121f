"""Every claim in the README and the documentation in docs/ has a test: their tables and flags are
parsed here and checked against the code, so a documented option, fixture, check or command that
does not exist fails the suite, and the walk-throughs (the README's "use it in your repo", the
tutorial, the non-Python endpoint) are run as a user would run them.

Parametrized over what the documents say, not over what the code has: adding a row to a table adds a
test case, and a row that names something missing is a failure with the row in its id.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import stripe  # once here: pytester drops modules an inline run imports first (two copies break requests)

from connect_harness.checks.findings import CATALOGUE
from connect_harness.checks.thin import THIN_CATALOGUE
from connect_harness.cli import _build_parser, main
from connect_harness.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: Every document a user reads: the README, then the pages of the documentation site.
PAGES = {
    path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
    for path in [README, *sorted(DOCS.rglob("*.md"))]
}
TEXT = "\n\n".join(PAGES.values())


def table(header: str) -> list[list[str]]:
    """The rows of the table (README or docs) whose header row starts with ``header``."""
    lines = TEXT.splitlines()
    for index, line in enumerate(lines):
        if line.replace(" ", "").startswith(header.replace(" ", "")):
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append([cell.strip() for cell in row.strip().strip("|").split("|")])
            return rows
    raise AssertionError(f"no document has a table starting {header!r}")


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
    "max_run_time": "600",
    "fake_stripe_port": "0",
    "seed": "4242",
    "api_version": "2026-10-28.endive",
    "serve": "python -m my_server",
    "examples": "5",
    "concurrency": "4",
    "shard": "1/2",
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
            if argv[0] in {
                "verify",
                "contracts",
                "listen",
                "trigger",
                "resend",
                "stripe-api",
                "fixtures",
            }:
                continue  # need a server, a session, a user's file or Stripe's data: tested elsewhere
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
    assert [row[0] for row in THIN_CHECK_ROWS] == [spec.id for spec in THIN_CATALOGUE]


@pytest.mark.parametrize("row", V2_ROUTE_ROWS, ids=[row[0] for row in V2_ROUTE_ROWS])
def test_every_documented_v2_route_is_served(row: list[str]) -> None:

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


# --- what the documents add to the tables ---------------------------------------------------------


def fenced(text: str) -> list[tuple[str, str]]:
    """Every fenced code block of ``text``: (its language, or "" for a plain one; its content)."""
    found: list[tuple[str, str]] = []
    language: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("```"):
            if language is None:
                language, lines = line[3:].strip(), []
            else:
                found.append((language, "\n".join(lines) + "\n"))
                language = None
        elif language is not None:
            lines.append(line)
    return found


def blocks(language: str, page: str | None = None) -> list[str]:
    """The fenced code blocks of ``language`` in ``page`` (or in every document)."""
    texts = [PAGES[page]] if page else list(PAGES.values())
    return [body for text in texts for kind, body in fenced(text) if kind == language]


def ini_keys() -> set[str]:
    """Every ``connect_*`` key an ``ini`` block of the documents sets."""
    return {
        match
        for block in blocks("ini")
        for match in re.findall(r"^(connect_[a-z_]+)\s*=", block, re.M)
    }


@pytest.mark.parametrize("key", sorted(ini_keys()))
def test_every_documented_ini_key_is_read(key: str) -> None:
    assert key in {spec.ini for spec in SETTINGS}, f"the documents set {key}, which nothing reads"


def figures(pattern: str) -> list[tuple[str, int]]:
    return [
        (page, int(number))
        for page, text in PAGES.items()
        for number in re.findall(pattern, text.replace("\n", " "))
    ]


@pytest.mark.parametrize(
    ("page", "count"), figures(r"(\d+) contract checks"), ids=lambda value: str(value)
)
def test_the_documented_number_of_checks_is_the_catalogue(page: str, count: int) -> None:
    assert count == len(CATALOGUE), (
        f"{page} says {count} contract checks; there are {len(CATALOGUE)}"
    )


@pytest.mark.parametrize(
    ("page", "count"), figures(r"(?:all|the) (\d+) event types"), ids=lambda value: str(value)
)
def test_the_documented_number_of_event_types_is_the_catalogue(page: str, count: int) -> None:
    from connect_harness.spec import contracts

    assert count == len(contracts.supported_event_types()), page


def test_the_documented_default_summary_counts_what_the_suite_collects() -> None:
    found = re.findall(r"(\d+) passed, (\d+) deselected", TEXT)
    assert found
    assert {(int(a), int(b)) for a, b in found} == {(len(CATALOGUE), len(THIN_CATALOGUE))}


PUBLIC = re.compile(r"`(?:connect_harness\.)?([A-Za-z_]+)\(")


def test_every_name_of_the_python_api_page_is_public() -> None:
    import connect_harness

    names = re.findall(
        r"^::: connect_harness\.([A-Za-z_.]+)$", PAGES["docs/reference/python-api.md"], re.M
    )
    public = {name for name in names if "." not in name}
    assert public == set(connect_harness.__all__) - {"CATALOGUE", "EventCase"}
    for name in names:
        module, _, attr = ("connect_harness." + name).rpartition(".")
        assert getattr(__import__(module, fromlist=[attr]), attr)


def test_every_page_is_in_the_site_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").split("\nnav:\n", 1)[1]
    listed = set(re.findall(r":\s*(\S+\.md)\s*$", nav, re.M))
    pages = {page.removeprefix("docs/") for page in PAGES if page.startswith("docs/")}
    assert pages - listed == set(), "pages missing from mkdocs.yml's nav"


def test_the_readme_stays_short() -> None:
    # The README is the way in; the reference lives in docs/.
    assert len(PAGES["README.md"].splitlines()) <= 250


# --- the walk-throughs, as a user follows them --------------------------------------------------


def python_blocks(page: str) -> list[str]:
    return blocks("python", page)


def shown_output(page: str) -> list[str]:
    """pytest's output as the page shows it (its ``text`` blocks), as patterns: "..." stands for what
    differs between runs (a seed, a time), each line may go on past what is shown."""
    return [
        "*" + line.strip().replace("[", "[[]").replace("...", "*") + "*"
        for block in blocks("text", page)
        for line in block.splitlines()
        if line.strip() and line.strip() != "..."
    ]


def user_repo(pytester: pytest.Pytester, page: str, app: str) -> str:
    """A repository laid out as ``page`` says: ``shop/app.py``, its ``pytest.ini`` keys and its one
    test module. Returns the test module's path."""
    (ini,) = blocks("ini", page)[:1]
    pytester.makefile(".ini", pytest=ini)
    package = pytester.mkpydir("shop")
    (package / "app.py").write_text(app, encoding="utf-8")
    module = next(block for block in python_blocks(page) if "connect_harness.suite" in block)
    tests = pytester.mkdir("tests")
    (tests / "test_stripe_contract.py").write_text(module, encoding="utf-8")
    pytester.syspathinsert()
    return "tests/test_stripe_contract.py"


TUTORIAL = "docs/tutorial.md"


def tutorial_apps() -> tuple[str, str]:
    broken, fixed = [block for block in python_blocks(TUTORIAL) if "Flask(__name__)" in block]
    return broken, fixed


def test_the_tutorial_leads_to_a_failing_finding_and_its_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    broken, fixed = tutorial_apps()
    path = user_repo(pytester, TUTORIAL, broken)
    secret = re.search(r"connect_secret = (\S+)", PAGES[TUTORIAL])
    assert secret is not None
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", secret.group(1))  # what the app reads
    result = pytester.runpytest(path)  # the plugin loads itself: no -p
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(shown_output(TUTORIAL))

    (pytester.path / "shop" / "app.py").write_text(fixed, encoding="utf-8")
    for name in [name for name in sys.modules if name == "shop" or name.startswith("shop.")]:
        monkeypatch.delitem(sys.modules, name)
    again = pytester.runpytest(path)
    claim = re.search(r"again: `(\d+) passed, (\d+) skipped, (\d+) deselected`", PAGES[TUTORIAL])
    assert claim is not None
    passed, skipped, deselected = (int(number) for number in claim.groups())
    again.assert_outcomes(passed=passed, skipped=skipped, deselected=deselected)


def test_the_readme_repo_recipe_leads_to_the_finding_it_shows(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    broken = tutorial_apps()[0]
    path = user_repo(pytester, "README.md", broken)
    own = next(block for block in python_blocks("README.md") if "def test_" in block)
    (pytester.path / "tests" / "test_own.py").write_text(own, encoding="utf-8")
    result = pytester.runpytest(path)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(shown_output("README.md"))
    mine = pytester.runpytest("tests/test_own.py")
    mine.assert_outcomes(passed=1)


NON_PYTHON = "docs/how-to/non-python-endpoint.md"


def node_with_stripe() -> str:
    node = shutil.which("node")
    modules = ROOT / "tests" / "node" / "node_modules" / "stripe"
    if node is None or not modules.is_dir():
        pytest.skip("node or the stripe npm package is missing; run `npm ci --prefix tests/node`")
    return node


def test_the_node_endpoint_of_the_docs_passes_verify_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from endpoints.serving import free_port

    node_with_stripe()
    (server,) = blocks("javascript", NON_PYTHON)
    (tmp_path / "server.js").write_text(server, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NODE_PATH", str(ROOT / "tests" / "node" / "node_modules"))
    line = next(
        line
        for block in blocks("sh", NON_PYTHON)
        for line in block.splitlines()
        if "node server.js" in line
    )
    port = str(free_port())
    argv = [word.replace("4242", port) for word in shlex.split(line)[1:]]
    assert main(argv) == 0, capsys.readouterr().out[-3000:]
    out = capsys.readouterr().out
    assert "stays-alive" in out and "FAIL" not in out


def test_the_node_endpoint_runs_under_the_plugins_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from endpoints.serving import free_port

    node_with_stripe()
    (server,) = blocks("javascript", NON_PYTHON)
    (pytester.path / "server.js").write_text(server, encoding="utf-8")
    monkeypatch.setenv("NODE_PATH", str(ROOT / "tests" / "node" / "node_modules"))
    (ini,) = blocks("ini", NON_PYTHON)
    pytester.makefile(".ini", pytest=ini.replace("4242", str(free_port())))
    line = next(
        line for line in blocks("sh", NON_PYTHON)[1].splitlines() if line.startswith("pytest")
    )
    result = pytester.runpytest_subprocess(
        *shlex.split(line)[1:], "--connect-events", "customer.created",
        "-k", "rejects-wrong-secret or stays-alive",
    )  # fmt: skip
    result.assert_outcomes(passed=2, deselected=len(CATALOGUE) - 2 + len(THIN_CATALOGUE))


EXIT_ROWS = table("| command | code | when |")


def test_a_malformed_plugin_value_is_pytests_usage_error(pytester: pytest.Pytester) -> None:
    rows = [row for row in EXIT_ROWS if row[0].startswith("`pytest") and row[1] == "4"]
    assert rows
    pytester.makeini("[pytest]\nconnect_mode = staging\n")
    result = pytester.runpytest("-p", "connect_harness")
    assert result.ret == pytest.ExitCode.USAGE_ERROR == 4
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize("argv", [["verify", "--examples", "0"], ["event", "no.such.type"]])
def test_bad_usage_of_any_command_is_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert any(row[1] == "2" for row in EXIT_ROWS)
    with pytest.raises(SystemExit) as exited:
        sys.exit(main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(("app", "code"), [(0, 1), (1, 0)], ids=["broken-1", "fixed-0"])
def test_verify_exits_as_the_table_says(
    app: int,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert [row[1] for row in EXIT_ROWS if row[0] == "`connect-harness verify`"][:2] == ["0", "1"]
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "app.py").write_text(tutorial_apps()[app], encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_tutorial_secret")
    for name in [name for name in sys.modules if name == "shop" or name.startswith("shop.")]:
        monkeypatch.delitem(sys.modules, name)
    argv = ["verify", "--app", "shop.app:app", "--events", "customer.created", "--examples", "1"]
    assert main(argv) == code, capsys.readouterr().out[-2000:]


DOCUMENTED = set(FLAG.findall(TEXT))


def public_cli_flags() -> list[tuple[str, str]]:
    """(command, flag) for every flag a command shows in its ``--help`` (not the hidden ones)."""
    found = set()

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child, child_parser in action.choices.items():
                    walk(child if name == "connect-harness" else name, child_parser)
            elif action.help != argparse.SUPPRESS:
                found.update((name, flag) for flag in action.option_strings if flag != "--help")

    walk("connect-harness", _build_parser())
    return sorted((command, flag) for command, flag in found if flag.startswith("--"))


@pytest.mark.parametrize(("command", "flag"), public_cli_flags())
def test_every_cli_flag_is_documented(command: str, flag: str) -> None:
    assert flag in DOCUMENTED, f"{command} takes {flag}, which neither the README nor docs/ mention"


SAMPLE_APP = """
from pathlib import Path

from sample_app import create_app

app = create_app(
    webhook_secret="whsec_docs_example",
    secret_key_test="sk_test_docs_example",
    secret_key_live="sk_live_docs_example",
    db_path=Path(__file__).with_name("docs.sqlite3"),
    environ={},
)
"""

TEST_EXAMPLES = [
    (page, block)
    for page in PAGES
    if page.startswith("docs/")
    for block in blocks("python", page)
    if "def test_" in block
]


@pytest.mark.parametrize(("page", "source"), TEST_EXAMPLES, ids=[page for page, _ in TEST_EXAMPLES])
def test_the_docs_test_examples_pass_against_the_sample_app(
    pytester: pytest.Pytester, page: str, source: str
) -> None:
    pytester.makepyfile(docs_app=SAMPLE_APP, test_docs_example=source)
    pytester.syspathinsert()
    result = pytester.runpytest(
        "-p", "connect_harness", "--connect-app", "docs_app:app",
        "--connect-secret", "whsec_docs_example", "-p", "no:cacheprovider",
    )  # fmt: skip
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1 and set(outcomes) == {"passed"}, result.stdout.str()[
        -3000:
    ]


@pytest.mark.parametrize(
    "target", sorted(set(re.findall(r"\]\((docs/[^)#]+\.md)(?:#[^)]*)?\)", PAGES["README.md"])))
)
def test_every_readme_link_into_the_docs_exists(target: str) -> None:
    # mkdocs --strict checks the links between pages; the README's own links are checked here.
    assert (ROOT / target).is_file()
