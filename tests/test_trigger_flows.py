"""Our flows make the Stripe CLI's calls: for each of its 123 trigger names, the same requests in the
same order (method, path with references resolved in shape, the params on the wire), compared with
the CLI's fixture files in ../shared/stripe-cli/triggers (Apache-2.0, Stripe), and the wheel ships
them."""

from __future__ import annotations

import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest

from connect_harness.lifecycle.fixtures import (
    encode_form,
    flow_names,
    load_fixture,
    load_flow,
)

REPO = Path(__file__).resolve().parents[1]
# The CLI's fixtures sit beside Stripe's spec in ../shared (CONNECT_HARNESS_STRIPE_SPEC moves both).
_SPEC = os.environ.get("CONNECT_HARNESS_STRIPE_SPEC")
STRIPE_CLI = (Path(_SPEC).parent if _SPEC else REPO.parent / "shared") / "stripe-cli"
TRIGGERS = STRIPE_CLI / "triggers"
needs_cli = pytest.mark.skipif(
    not TRIGGERS.is_dir(), reason=f"Stripe's data (the CLI's triggers) is not at {TRIGGERS}"
)
#: The CLI's two aliases (its triggers.go, as ../shared/stripe-cli/README.md says).
ALIASES = {
    "customer_cash_balance_transaction.created": "cash_balance.funds_available",
    "invoice.payment_succeeded": "invoice.paid",
}
REFERENCE = re.compile(r"\$\{([^}:]*)(?::[^}]*)?\}")


def cli_names() -> list[str]:
    if not TRIGGERS.is_dir():
        return []
    return sorted([path.stem for path in TRIGGERS.glob("*.json")] + list(ALIASES))


def shape(text: str) -> str:
    """A reference's place, not its value: ``/v1/customers/${customer:id}`` -> ``.../<ref>``."""
    return REFERENCE.sub(lambda match: "<ref>" if match.group(1) != ".env" else "<env>", text)


def descriptive(ours: str, theirs: str) -> bool:
    """Text that says who made an object: the CLI names itself, we name ourselves."""
    return "Stripe CLI" in theirs and "connect-harness" in ours


def wire(step: dict[str, Any]) -> dict[str, str]:
    """The params as the request carries them (form pairs; ``a[]`` is ``a[0]``)."""
    return {
        key.replace("[]", "[0]"): shape(value)
        for key, value in encode_form(step.get("params") or {})
    }


def calls(document: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    return [
        (step["method"].lower(), shape(step["path"]), wire(step)) for step in document["fixtures"]
    ]


@needs_cli
def test_there_is_a_flow_for_every_cli_trigger_name_and_no_other() -> None:
    assert len(cli_names()) == 123
    assert sorted(flow_names()) == cli_names()
    assert {name: flow_names()[name] for name in ALIASES} == ALIASES


@needs_cli
@pytest.mark.exhaustive
@pytest.mark.parametrize("name", cli_names())
def test_our_flow_makes_the_clis_calls(name: str) -> None:
    stem = ALIASES.get(name, name)
    theirs = json.loads((TRIGGERS / f"{stem}.json").read_text(encoding="utf-8"))
    ours = json.loads(
        (REPO / "harness/connect_harness/lifecycle/flows" / f"{stem}.json").read_text("utf-8")
    )
    assert [step["name"] for step in ours["fixtures"]] == [
        step["name"] for step in theirs["fixtures"]
    ], "step names are what --override/--skip name; keep the CLI's"
    mine, cli = calls(ours), calls(theirs)
    assert len(mine) == len(cli)
    for (method, path, params), (their_method, their_path, their_params) in zip(
        mine, cli, strict=True
    ):
        assert (method, path) == (their_method, their_path)
        assert params.keys() == their_params.keys(), path
        for key, value in params.items():
            assert value == their_params[key] or descriptive(value, their_params[key]), (key, path)
    for step, their_step in zip(ours["fixtures"], theirs["fixtures"], strict=True):
        for key in ("expected_error_type", "api_base"):
            assert step.get(key) == their_step.get(key), (step["name"], key)
        assert {k: shape(v) for k, v in step.get("headers", {}).items()} == {
            k: shape(v) for k, v in their_step.get("headers", {}).items()
        }
    load_flow(name)  # and it passes our own checks


@needs_cli
@pytest.mark.exhaustive
@pytest.mark.parametrize("name", cli_names())
def test_the_clis_own_file_loads_with_our_reader(name: str) -> None:
    """A user's fixture file in the CLI's format is one we run: each of the CLI's 121 loads."""
    stem = ALIASES.get(name, name)
    fixture = load_fixture((TRIGGERS / f"{stem}.json").read_bytes(), stem)
    assert fixture.steps


def test_the_wheel_ships_every_flow(tmp_path: Path) -> None:
    builders = pytest.importorskip("hatchling.builders.wheel", reason="hatchling builds the wheel")
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    path = next(
        iter(builders.WheelBuilder(str(REPO)).build(directory=str(tmp_path), versions=["standard"]))
    )
    names = set(zipfile.ZipFile(path).namelist())
    flows = {n for n in names if n.startswith("connect_harness/lifecycle/flows/")}
    assert flows == {
        f"connect_harness/lifecycle/flows/{stem}.json" for stem in set(flow_names().values())
    }
    assert len(flows) == 121
