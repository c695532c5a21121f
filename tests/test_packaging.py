"""What users install: the wheel carries the contracts, the console script and the pytest11 entry point."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from connect_harness.spec import contracts

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    builders = pytest.importorskip("hatchling.builders.wheel", reason="hatchling builds the wheel")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    out = tmp_path_factory.mktemp("wheel")
    path = next(
        iter(builders.WheelBuilder(str(ROOT)).build(directory=str(out), versions=["standard"]))
    )
    return zipfile.ZipFile(path)


def test_wheel_contains_every_contract_file(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    source = ROOT / "contracts"
    expected = {
        "connect_harness/contracts/" + p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file()
    }
    assert expected and expected <= names
    # The fake Stripe API's route data of every contract set ships with it.
    routes = {name for name in names if name.endswith("/api/routes.json")}
    assert routes == {
        f"connect_harness/contracts/{version}/api/routes.json"
        for version in contracts.contract_versions()
    }
    assert "connect_harness/py.typed" in names
    assert "connect_harness/suite/test_catalogue.py" in names


def test_wheel_declares_the_console_script_and_the_pytest_plugin(wheel: zipfile.ZipFile) -> None:
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "connect-harness = connect_harness.cli:main" in text
    assert "[pytest11]\nconnect_harness = connect_harness.plugin" in text


@pytest.mark.skipif(
    "TOX_ENV_NAME" not in os.environ, reason="only meaningful where tox installed the wheel"
)
def test_tox_runs_against_the_installed_wheel_not_the_checkout() -> None:
    assert contracts.contracts_dir() != ROOT / "contracts"
    assert "site-packages" in contracts.contracts_dir().parts


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [block.strip() for block in quick_start.split("```")[1::2]]
    assert len(blocks) == 2, "the Quick start holds exactly two commands"
    test_command = blocks[1].removeprefix("sh\n").strip()
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_wheel_stays_small_with_every_contract_set(wheel: zipfile.ZipFile) -> None:
    # Sets store what a newer set has identically once (contracts/README.md, "Shared content"):
    # the wheel holds nine sets in a few MB; the limit the project keeps is 25 MB.
    assert wheel.filename is not None
    size = Path(wheel.filename).stat().st_size
    assert size < 25_000_000
    contract_bytes = sum(
        info.file_size
        for info in wheel.infolist()
        if info.filename.startswith("connect_harness/contracts/")
    )
    assert contract_bytes < 15_000_000
