"""Add a Stripe API version: its description, its contract set, its SDK for the tsc check.

usage (from the repository root, with Stripe's data folder writable):

    python scripts/add_version.py 2026-12-16.endive [--spec-dir ../shared/stripe-spec] [--no-derive]

1. Derives ``openapi.spec3.VERSION.derived.json`` with the spec folder's ``derive/derive.sh VERSION
   --discover`` (the stripe npm and stripe-python releases pinning VERSION, found in the
   registries), unless that file, or Stripe's real ``openapi.spec3.VERSION.json``, is already there
   (or ``--no-derive``). derive.sh prints its checks: Stripe's fixtures and the changelog facts.
2. Lists VERSION in ``connect_harness/spec/versions.py`` (``RELEASED``) and its description in
   ``connect_harness/spec/builder.py`` (``CONTRACT_SETS``), where they are missing.
3. Rebuilds every set: ``connect-harness contracts build --spec-dir DIR --out contracts``.
4. Adds the stripe npm release pinning VERSION to tests/node as ``stripe-VERSION`` (npm install).
5. Runs the tests that compare the set with Stripe's fixtures, the version rules and the tsc check,
   and says what to do with their results (docs/versions.md).

A new set's version must be the newest or the first of a major release: a set between two others of
one major changes nothing a pinned version gets, as Stripe only adds within a major release.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILDER = ROOT / "harness" / "connect_harness" / "spec" / "builder.py"
VERSIONS = ROOT / "harness" / "connect_harness" / "spec" / "versions.py"
NODE = ROOT / "tests" / "node"
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}\.[a-z]+")


class AddError(Exception):
    """Bad input or a failed step: one line for the user."""


def check_version(version: str) -> str:
    if not _VERSION.fullmatch(version):
        raise AddError(
            f"{version!r} is not a Stripe API version of a named release; give one like "
            "2026-12-16.endive"
        )
    return version


def add_release(text: str, version: str) -> str:
    """``versions.py``'s text with ``version`` in ``RELEASED`` (date order); unchanged if there."""
    body = text.split("RELEASED: Final[tuple[str, ...]] = (\n", 1)
    if len(body) != 2:
        raise AddError("spec/versions.py has no RELEASED tuple to add the version to")
    head, rest = body
    listing, tail = rest.split("\n)\n", 1)
    names = [line.strip().strip('",') for line in listing.splitlines() if line.strip()]
    if version in names:
        return text
    names = sorted([*names, version], key=lambda name: (name[:10], name))
    lines = "\n".join(f'    "{name}",' for name in names)
    return f"{head}RELEASED: Final[tuple[str, ...]] = (\n{lines}\n)\n{tail}"


def add_set(text: str, version: str, spec_file: str) -> str:
    """``builder.py``'s text with a ``ContractSet`` of ``spec_file`` in date order."""
    start = text.index("CONTRACT_SETS: Final = (\n") + len("CONTRACT_SETS: Final = (\n")
    end = text.index("\n)\n", start)
    rows = [line for line in text[start:end].splitlines() if line.strip()]
    if any(f'"{spec_file}"' in row for row in rows):
        return text
    # Sets of the fixtures' major release (2026-07-29.dahlia) and later drop from `required` what
    # Stripe's fixtures leave out; older ones keep what was removed after them (see ContractSet).
    relax = version[:10] >= "2026-03-25"
    row = f'    ContractSet("{spec_file}", relax_required={relax}),'

    def date_of(line: str) -> str:
        found = re.search(r"openapi\.spec3\.(\d{4}-\d{2}-\d{2})", line)
        return found[1] if found else ""

    rows = sorted([*rows, row], key=date_of)
    return text[:start] + "\n".join(rows) + text[end:]


def _run(argv: list[str], **kwargs: object) -> None:
    print("+ " + " ".join(argv), flush=True)
    result = subprocess.run(argv, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise AddError(
            f"{argv[0]} {argv[1] if len(argv) > 1 else ''} failed (exit {result.returncode})"
        )


def _spec_file(spec_dir: Path, version: str) -> str | None:
    for name in (f"openapi.spec3.{version}.json", f"openapi.spec3.{version}.derived.json"):
        if (spec_dir / name).is_file():
            return name
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="add_version.py", description=__doc__.split("\n")[0])
    parser.add_argument("version")
    parser.add_argument("--spec-dir", default="../shared/stripe-spec")
    parser.add_argument(
        "--no-derive", action="store_true", help="use the description already there"
    )
    parser.add_argument("--no-tests", action="store_true", help="skip step 5")
    args = parser.parse_args(argv)
    try:
        version = check_version(args.version)
        spec_dir = Path(args.spec_dir)
        if not spec_dir.is_dir():
            raise AddError(f"spec folder '{spec_dir}' does not exist; pass --spec-dir")
        spec_file = _spec_file(spec_dir, version)
        if spec_file is None:
            if args.no_derive:
                raise AddError(
                    f"no openapi.spec3.{version}[.derived].json in '{spec_dir}'; drop --no-derive "
                    "to derive it"
                )
            derive = spec_dir / "derive" / "derive.sh"
            if not derive.is_file():
                raise AddError(f"'{derive}' is missing: the derive tool comes with Stripe's data")
            _run(["bash", str(derive), version, "--discover"])
            spec_file = f"openapi.spec3.{version}.derived.json"
        VERSIONS.write_text(add_release(VERSIONS.read_text("utf-8"), version), "utf-8")
        BUILDER.write_text(add_set(BUILDER.read_text("utf-8"), version, spec_file), "utf-8")
        env_path = str(ROOT / "harness")
        build = [sys.executable, "-m", "connect_harness", "contracts", "build"]
        _run(
            [*build, "--spec-dir", str(spec_dir), "--out", str(ROOT / "contracts")],
            env={**_env(), "PYTHONPATH": env_path},
        )
        derived = json.loads((spec_dir / spec_file).read_text("utf-8")).get("info", {})
        npm = str(derived.get("x-derivation", {}).get("npm_target", "")).split(" ")[0]
        if npm.startswith("stripe@"):
            _run(
                [
                    "npm",
                    "install",
                    "--save-exact",
                    "--prefix",
                    str(NODE),
                    f"stripe-{version}@npm:{npm}",
                ]
            )
        else:
            print(
                f"note: no stripe npm release recorded in {spec_file}; add "
                f'"stripe-{version}": "npm:stripe@X" to tests/node/package.json by hand'
            )
        if not args.no_tests:
            tests = [
                "tests/test_api_versions.py",
                "tests/test_contracts.py",
                "tests/test_event_types_tsc.py",
            ]
            _run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                cwd=ROOT,
                env={
                    **_env(),
                    "PYTHONPATH": env_path,
                    "CONNECT_HARNESS_STRIPE_SPEC": str(spec_dir.resolve()),
                },
            )
    except AddError as err:
        print(f"add_version.py: error: {err}", file=sys.stderr)
        return 2
    print(
        f"{version}: added. Update the README's version table and tests/node/tsc_known.json as "
        "the failing tests say (docs/versions.md), then commit."
    )
    return 0


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


if __name__ == "__main__":
    raise SystemExit(main())
