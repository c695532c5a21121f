"""The README's test command: every Python it finds, its own virtual environment, no silent skips."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import hidden_failure

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "test"


def test_the_readme_test_command_is_the_script_ci_runs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "```sh\nbash scripts/test\n```" in readme
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^bash scripts/test$", ci, re.MULTILINE)
    assert "CONNECT_HARNESS_ALL_PYTHONS=1" in ci
    script = SCRIPT.read_text(encoding="utf-8")
    assert "venv=.venv-test" in script  # its own environment, never the user's .venv
    assert not re.search(r"\.venv/bin|venv \.venv\b", ci + script)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_script_says_which_pythons_it_runs_and_refuses_when_ci_needs_all(
    tmp_path: Path,
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3.11"
    fake.write_text("#!/bin/sh\necho 3.11.9\n")
    fake.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYENV_ROOT": str(tmp_path / "no-pyenv"),
        "CONNECT_HARNESS_ALL_PYTHONS": "1",
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "scripts/test: testing on Python 3.11.9; not found: 3.10 3.12 3.13" in result.stdout
    assert "Python 3.10 3.12 3.13 is missing" in result.stderr
    assert not (REPO / ".venv-test").exists() or os.environ.get("TOX_ENV_NAME")


@pytest.mark.parametrize(
    ("reason", "required", "hidden"),
    [
        ("node is not installed; install Node.js 20+", {"node"}, "node"),
        ("the stripe npm package is not installed", {"node"}, "node"),
        ("Stripe's data is not at ../shared/stripe-spec", {"spec", "node"}, "spec"),
        ("Stripe's data is not at ../shared/stripe-spec", {"node"}, None),
        ("curl is not installed", {"node", "spec"}, None),
        ("node is not installed", set(), None),
    ],
)
def test_a_skip_for_want_of_a_required_input_is_a_failure(
    reason: str, required: set[str], hidden: str | None
) -> None:
    assert hidden_failure(reason, required) == hidden


def test_required_inputs_turn_those_skips_into_failures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(
        """
        import pytest

        def test_node():
            pytest.skip("node is not installed")

        @pytest.mark.skipif(True, reason="curl is not installed")
        def test_curl():
            pass
        """
    )
    monkeypatch.setenv("CONNECT_HARNESS_REQUIRE", "node")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(failed=1, skipped=1)
    monkeypatch.setenv("CONNECT_HARNESS_REQUIRE", "")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=2)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_a_pyenv_shim_that_fails_is_passed_over_for_pyenvs_own_install(tmp_path: Path) -> None:
    # pyenv puts a shim for every installed version on PATH; it fails unless that version is active.
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "python3.10"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.10: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    installed = tmp_path / "pyenv" / "versions" / "3.10.13" / "bin"
    installed.mkdir(parents=True)
    real = installed / "python3.10"
    real.write_text("#!/bin/sh\necho 3.10.13\n")
    real.chmod(0o755)
    env = {
        "PATH": f"{shims}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "CONNECT_HARNESS_ALL_PYTHONS": "1",
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    # (the system may have other Pythons in /usr/bin: only 3.10's choice matters here)
    assert "scripts/test: testing on Python 3.10.13" in result.stdout
    assert "command not found" not in result.stderr
