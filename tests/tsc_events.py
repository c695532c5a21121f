"""Every event of a contract set as TypeScript typed by the stripe npm release of that version.

``write_set(version, folder, examples)`` writes ``events.<version>.ts``: one line per event (the
canonical event of every supported type, plus ``examples - 1`` varied ones per type), each
``export const eN: <type> = <json>;`` where the type is the event union ``Stripe.Event`` of the
package ``stripe-<version>`` installed in tests/node (an npm alias of the release pinning that
version, see tests/node/package.json). ``tsc --strict`` then rejects a field the SDK does not type,
a missing field the SDK types as always present, and a value outside the SDK's type.
``rejections`` maps tsc's diagnostics back to event types by line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from connect_harness.events.examples import build_examples
from connect_harness.spec import contracts

NODE = Path(__file__).resolve().parent / "node"

#: stripe npm 13.x (2023-08-16) has no per-type event interfaces (``Stripe.Event``'s data.object is
#: untyped): its events are checked as the envelope plus the object's own resource type.
NO_EVENT_UNION = {"2023-08-16"}


def package(version: str) -> str:
    return "stripe" if version == "2026-10-28.endive" else f"stripe-{version}"


#: Object types whose stripe-node name does not follow from the object's name.
_RESOURCE_NAMES = {"invoiceitem": "InvoiceItem", "scheduled_query_run": "Sigma.ScheduledQueryRun"}


def resource_type(object_type: str) -> str:
    """``billing.credit_grant`` -> ``Stripe.Billing.CreditGrant`` (stripe-node's naming)."""
    if object_type in _RESOURCE_NAMES:
        return f"Stripe.{_RESOURCE_NAMES[object_type]}"
    parts = [
        "".join(word[:1].upper() + word[1:] for word in segment.split("_"))
        for segment in object_type.split(".")
    ]
    return "Stripe." + ".".join(parts)


def _events(version: str, examples: int) -> Iterable[tuple[str, dict[str, object]]]:
    for event_type in contracts.supported_event_types(version=version):
        for example in build_examples(
            event_type, examples, account="acct_1TscCheck00000", api_version=version
        ):
            yield event_type, dict(example.event.payload)


def _import_line(version: str) -> str:
    # stripe npm 22.x exports only the client class from its entry point; its types namespace
    # (Stripe.Event ...) is in cjs/stripe.core. 23.x re-exports it; <= 21.x declares it ambiently.
    root = NODE / "node_modules" / package(version) / "cjs"
    entry = root / "stripe.cjs.node.d.ts"
    if (root / "stripe.core.d.ts").is_file() and "type Event " not in entry.read_text("utf-8"):
        return "import { Stripe } from 'stripe/cjs/stripe.core';"
    return "import Stripe from 'stripe';"


def write_set(version: str, folder: Path, examples: int = 1) -> tuple[Path, list[str]]:
    """The .ts file of every event of ``version`` and, per line, the event type it holds.

    ``folder/node_modules/stripe`` links to the release of that version, so ``import ... from
    'stripe'`` finds it whether its types are a module (>= 22) or ``declare module 'stripe'``.
    """
    modules = folder / "node_modules"
    modules.mkdir(parents=True, exist_ok=True)
    link = modules / "stripe"
    if not link.exists():
        link.symlink_to(NODE / "node_modules" / package(version), target_is_directory=True)
    types_dir = NODE / "node_modules" / "@types"
    if types_dir.is_dir() and not (modules / "@types").exists():
        (modules / "@types").symlink_to(types_dir, target_is_directory=True)
    lines = [_import_line(version)]
    types = ["(import)"]
    for index, (event_type, payload) in enumerate(_events(version, examples)):
        if version in NO_EVENT_UNION:
            objects = contracts.event_info(event_type, version=version).objects
            object_type = str(payload["data"]["object"]["object"])  # type: ignore[index]
            chosen = object_type if object_type in objects else objects[0]
            declared = f"Stripe.Event & {{data: {{object: {resource_type(chosen)}}}}}"
        else:
            declared = "Stripe.Event"
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        lines.append(f"export const e{index}: {declared} = {text};")
        types.append(event_type)
    path = folder / "events.ts"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, types


def tsc(folder: Path) -> str:
    """``tsc --strict`` over ``folder/events.ts``: its diagnostics (empty when every event passes)."""
    import subprocess

    result = subprocess.run(
        [
            "node",
            str(NODE / "node_modules" / "typescript" / "bin" / "tsc"),
            "--strict",
            "--noEmit",
            "--skipLibCheck",
            "--esModuleInterop",
            "--moduleResolution",
            "node",
            "--module",
            "commonjs",
            "--target",
            "es2020",
            "events.ts",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return result.stdout + result.stderr


_DIAGNOSTIC = re.compile(r"^(?P<file>[^(]+)\((?P<line>\d+),(?P<col>\d+)\): error (?P<code>TS\d+): ")


def rejections(output: str, types: list[str]) -> dict[str, list[str]]:
    """tsc's output -> event type -> its diagnostics, each one line (its context lines joined)."""
    found: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in output.splitlines():
        match = _DIAGNOSTIC.match(line)
        if match is None:
            if line.startswith("error TS"):
                found.setdefault("(tsc)", []).append(line)
                last = None
            elif line.startswith(" ") and last is not None:
                last[-1] += " | " + line.strip()
            continue
        number = int(match["line"])
        event_type = types[number - 1] if number - 1 < len(types) else "(beyond the file)"
        last = found.setdefault(event_type, [])
        last.append(line[match.end() :])
    return found
