"""scripts/add_version.py: the source edits it makes and its one-line errors (the derive, build and
npm steps it runs are the commands docs/versions.md describes, each tested where it lives)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "add_version", ROOT / "scripts" / "add_version.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["add_version"] = module
    spec.loader.exec_module(module)
    return module


add_version = _script()


def test_add_release_lists_a_new_version_in_date_order_once() -> None:
    text = add_version.VERSIONS.read_text("utf-8")
    added = add_version.add_release(text, "2026-12-16.endive")
    assert '    "2026-11-18.endive",\n    "2026-12-16.endive",\n)\n' in added
    assert add_version.add_release(added, "2026-12-16.endive") == added
    assert add_version.add_release(text, "2026-11-18.endive") == text
    namespace: dict[str, object] = {}
    exec(compile(added, "versions.py", "exec"), namespace)
    released = namespace["RELEASED"]
    assert isinstance(released, tuple) and released[-1] == "2026-12-16.endive"
    assert list(released) == sorted(released, key=lambda name: (name[:10], name))


def test_add_set_inserts_a_contract_set_in_date_order() -> None:
    text = add_version.BUILDER.read_text("utf-8")
    added = add_version.add_set(text, "2027-03-31.fig", "openapi.spec3.2027-03-31.fig.derived.json")
    assert (
        '    ContractSet("openapi.spec3.2026-11-18.endive.derived.json", relax_required=True),\n'
        '    ContractSet("openapi.spec3.2027-03-31.fig.derived.json", relax_required=True),\n)\n'
    ) in added
    assert (
        add_version.add_set(added, "2027-03-31.fig", "openapi.spec3.2027-03-31.fig.derived.json")
        == added
    )
    compile(added, "builder.py", "exec")
    older = add_version.add_set(text, "2024-03-31.x", "openapi.spec3.2024-03-31.x.json")
    assert (
        '    ContractSet("openapi.spec3.2023-08-16.json", relax_required=False),\n'
        '    ContractSet("openapi.spec3.2024-03-31.x.json", relax_required=False),\n'
    ) in older


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["2026-12-16"],
            "add_version.py: error: '2026-12-16' is not a Stripe API version of a named release; "
            "give one like 2026-12-16.endive\n",
        ),
        (
            ["2026-12-16.endive", "--spec-dir", "/nonexistent/stripe-spec"],
            "add_version.py: error: spec folder '/nonexistent/stripe-spec' does not exist; pass "
            "--spec-dir\n",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add_version.main(argv) == 2
    assert capsys.readouterr().err == message


def test_no_derive_without_a_description_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = add_version.BUILDER.read_text("utf-8")
    assert add_version.main(["2026-12-16.endive", "--spec-dir", str(tmp_path), "--no-derive"]) == 2
    assert capsys.readouterr().err == (
        f"add_version.py: error: no openapi.spec3.2026-12-16.endive[.derived].json in "
        f"'{tmp_path}'; drop --no-derive to derive it\n"
    )
    assert add_version.BUILDER.read_text("utf-8") == before  # nothing edited
