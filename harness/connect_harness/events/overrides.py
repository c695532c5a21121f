"""User-given changes to an event: ``overrides`` paths (``--set PATH=VALUE``), ``merge`` (``--merge``)
and JSON read from the user, each mistake a one-line :class:`UsageError`."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

from connect_harness.errors import UsageError

__all__ = ["loads_json", "parse_assignment"]


def deep_merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            deep_merge(current, value)
        else:
            target[key] = plain(value)


def plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if not path or any(not part for part in parts):
        raise UsageError(
            f"override path {path!r} is empty or has an empty part; use e.g. 'data.object.id'"
        )
    node: Any = payload
    walked: list[str] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        where = ".".join(walked) or "the event"
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UsageError(
                    f"override path {path!r}: {where} is a list of {len(node)} items, "
                    f"so {part!r} must be an index from 0 to {len(node) - 1}"
                )
            key: Any = int(part)
        elif isinstance(node, dict):
            if part not in node and not (last and walked and walked[-1] == "metadata"):
                hint = difflib.get_close_matches(part, [str(k) for k in node], n=1)
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                raise UsageError(
                    f"override path {path!r}: {where} has no key {part!r}{suggestion} "
                    "(use merge, or --merge on the command line, to add new keys)"
                )
            key = part
        else:
            raise UsageError(
                f"override path {path!r}: {where} is {json.dumps(node)}, not a hash or list, "
                f"so it has no {part!r}"
            )
        if last:
            node[key] = plain(value)
        else:
            node = node[key]
        walked.append(part)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse a CLI ``PATH=VALUE`` override; VALUE is JSON when it parses (false, 3, null, "x"), else text."""
    path, sep, raw = text.partition("=")
    if not sep or not path.strip():
        raise UsageError(
            f"--set {text!r} is not PATH=VALUE; write e.g. --set data.object.charges_enabled=false"
        )
    try:
        value: Any = loads_json(raw, what=f"--set {path.strip()}")
    except UsageError as err:
        raise UsageError(f"--set {path.strip()}: {err}") from None
    except ValueError:
        value = raw
    return path.strip(), value


def _no_constant(name: str) -> Any:
    raise UsageError(
        f"{name} is not a JSON number (JSON has no NaN or Infinity); give a finite number or a "
        "string"
    )


def loads_json(text: str | bytes, *, what: str) -> Any:
    """``json.loads`` for user input: NaN/Infinity and nesting too deep for Python are a
    :class:`UsageError` naming ``what``; other malformed JSON stays a ``ValueError``."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise UsageError(
            f"{what}: the JSON is nested too deeply to read; Stripe's events nest a few levels, so "
            "flatten it"
        ) from None
