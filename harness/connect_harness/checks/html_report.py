"""The HTML report: one self-contained page a person opens to see what a run found.

It renders the same records as the text table and the JSON report (:mod:`connect_harness.checks.report`):
the :class:`~connect_harness.checks.findings.CheckResult` list, the root-cause headlines and the run's
``meta``, plus each delivery's request, answer and attributed API calls where a finding points at one.
The reproduction command a finding carries is put on the page as is, so the page copies the very string
the text report prints.

The page needs no network: its CSS and script are package data (``html_assets/``) inlined into it, and
its Content-Security-Policy forbids loading anything else. Everything the endpoint sent is hostile input:
it travels as JSON inside a ``<script type="application/json">`` block with ``<``, ``>`` and ``&``
escaped, and the script puts it on the page only as text nodes, never as markup.

To stay small on large runs (5,000 deliveries) the findings share one table of strings, only the
deliveries that failing findings point at keep their request and answer (:data:`MAX_DETAILED` of them),
and bodies are cut to :data:`MAX_BODY` characters.
"""

from __future__ import annotations

import json
import os
import platform
import re
import tempfile
from collections.abc import Mapping, Sequence
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

from connect_harness.checks.findings import CheckResult
from connect_harness.checks.grouping import Headline
from connect_harness.checks.masking import mask_secrets
from connect_harness.checks.records import DeliveryRecord
from connect_harness.checks.report import overall_status, summary_counts
from connect_harness.errors import UsageError

__all__ = [
    "CELL_OUTCOMES",
    "MAX_BODY",
    "MAX_DETAILED",
    "check_writable",
    "html_page",
    "matrix",
    "page_data",
    "visible",
    "write_html",
]

#: Characters of a request or answer body kept on the page.
MAX_BODY = 2000
#: Deliveries whose request, answer and API calls the page shows (those of failing findings first).
MAX_DETAILED = 400
#: Header values kept per request or answer (a hostile endpoint may send thousands).
MAX_HEADERS = 40
#: Deliveries a finding links to (a redelivery check sends the same event more than once).
MAX_LINKS = 4

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_FINDING_FIELDS = (
    "check",
    "status",
    "reason",
    "event_type",
    "permutation",
    "variant",
    "expected",
    "actual",
    "reproduce",
)


def visible(text: str) -> str:
    """``text`` with credentials masked and control characters (other than newline and tab) spelled
    ``\\xNN``: an endpoint's answer may echo its keys, and raw control characters confuse a reader."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", mask_secrets(text))


def page_data(
    results: Sequence[CheckResult],
    *,
    meta: Mapping[str, Any] | None = None,
    headlines: Sequence[Headline] = (),
    records: Sequence[DeliveryRecord] = (),
) -> dict[str, Any]:
    """What the page's script renders, as plain JSON-ready data.

    ``findings`` are arrays of indexes into ``strings`` (one per field of :data:`_FINDING_FIELDS`,
    -1 for null) followed by the indexes of their ``deliveries``; ``matrix`` lists the event type x
    permutation rows, the check columns and each row's cells (:func:`matrix`).
    """
    strings: list[str] = []
    index: dict[str, int] = {}

    def intern(value: str | None, *, exact: bool = False) -> int:
        if value is None:
            return -1
        key = ("=" if exact else "~") + value
        found = index.get(key)
        if found is None:
            found = index[key] = len(strings)
            strings.append(value if exact else visible(value))
        return found

    by_key: dict[tuple[str, str], list[int]] = {}
    by_command: dict[str, list[int]] = {}
    for position, record in enumerate(records):
        by_key.setdefault((record.check, record.reproduce), []).append(position)
        by_command.setdefault(record.reproduce, []).append(position)

    linked: dict[int, int] = {}  # record position -> index in deliveries
    deliveries: list[dict[str, Any]] = []
    ordered = sorted(
        ((result, finding) for result in results for finding in result.findings),
        key=lambda pair: pair[1].status != "fail",
    )
    links: dict[int, list[int]] = {}
    for result, finding in ordered:
        # Its own check's deliveries of that command, else another's: no-server-errors and
        # responds-in-time judge the deliveries every other check made.
        command = finding.reproduce or ""
        positions = (by_key.get((result.id, command)) or by_command.get(command, []))[:MAX_LINKS]
        for position in positions:
            if position not in linked and len(deliveries) < MAX_DETAILED:
                linked[position] = len(deliveries)
                deliveries.append(_delivery(records[position]))
        links[id(finding)] = [linked[p] for p in positions if p in linked]

    findings = [
        # The reproduction is ours, not the endpoint's, and the page copies it as the text report
        # prints it (a rotation's command names the made-up old secret: masking would break it).
        [intern(getattr(finding, name), exact=name == "reproduce") for name in _FINDING_FIELDS]
        + links.get(id(finding), [])
        for result in results
        for finding in result.findings
    ]
    rows, cells = matrix(results, records)
    data: dict[str, Any] = {
        "summary": {"status": overall_status(results), **summary_counts(results)},
        "meta": _meta(meta or {}, records),
        "headlines": [_visible_all(headline.to_json()) for headline in headlines],
        "checks": [
            {
                "id": result.id,
                "title": result.title,
                "status": result.status,
                "counts": dict(result.counts()),
                "skip_reason": result.skip_reason,
            }
            for result in results
        ],
        "matrix": {
            "rows": [list(row) for row in rows],
            "columns": [r.id for r in results],
            "cells": cells,
        },
        "fields": list(_FINDING_FIELDS),
        "strings": strings,
        "findings": findings,
        "deliveries": deliveries,
        "deliveries_total": len(records),
    }
    return data


#: A matrix cell's outcome, one letter each: a failing finding is about it; every finding about it
#: passed; none was judged (skipped); it was sent by a failing check that judged its deliveries
#: together (no finding about this cell alone); the check sent nothing of this type and permutation.
CELL_OUTCOMES = {"F": "fail", "P": "pass", "S": "skip", "s": "sent", "-": "none"}


def matrix(
    results: Sequence[CheckResult], records: Sequence[DeliveryRecord]
) -> tuple[list[tuple[str, str]], list[str]]:
    """The event type x permutation rows and, per row, one :data:`CELL_OUTCOMES` letter per check.

    A finding with a permutation is about that row; one without (``accepts-valid-events`` sums up
    a type's permutations) is about every row of its type. A cell with deliveries but no finding of
    its own takes its check's outcome when the check passed or was skipped, and is ``sent`` when
    the check failed: whatever failed it is named by its findings, not pinned on this cell.
    """
    sent: set[tuple[str, str, str]] = set()
    row_set: set[tuple[str, str]] = set()
    for record in records:
        if record.event_type:
            row = (record.event_type, record.permutation or "")
            row_set.add(row)
            sent.add((*row, record.check))
    for result in results:
        for finding in result.findings:
            if finding.event_type and finding.permutation:
                row_set.add((finding.event_type, finding.permutation))
    types_with_rows = {event_type for event_type, _ in row_set}
    for result in results:
        for finding in result.findings:
            if finding.event_type and finding.event_type not in types_with_rows:
                row_set.add((finding.event_type, ""))
    rows = sorted(row_set)
    by_type: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        by_type.setdefault(row[0], []).append(row)
    statuses: dict[tuple[str, str, str], set[str]] = {}
    for result in results:
        for finding in result.findings:
            if not finding.event_type:
                continue
            about = (
                [(finding.event_type, finding.permutation)]
                if finding.permutation
                else by_type.get(finding.event_type, [])
            )
            for row in about:
                statuses.setdefault((*row, result.id), set()).add(finding.status)
    cells = []
    for row in rows:
        letters = []
        for result in results:
            found = statuses.get((*row, result.id))
            if found:
                letter = "F" if "fail" in found else "P" if "pass" in found else "S"
            elif (*row, result.id) in sent:
                letter = {"pass": "P", "skip": "S", "fail": "s"}[result.status]
            else:
                letter = "-"
            letters.append(letter)
        cells.append("".join(letters))
    return rows, cells


def html_page(
    results: Sequence[CheckResult],
    *,
    meta: Mapping[str, Any] | None = None,
    headlines: Sequence[Headline] = (),
    records: Sequence[DeliveryRecord] = (),
) -> str:
    """The whole page, one string: the template with its CSS, script and :func:`page_data` inlined."""
    data = page_data(results, meta=meta, headlines=headlines, records=records)
    assets = resources.files("connect_harness.checks").joinpath("html_assets")
    template = assets.joinpath("report.html").read_text(encoding="utf-8")
    css = assets.joinpath("report.css").read_text(encoding="utf-8")
    script = assets.joinpath("report.js").read_text(encoding="utf-8")
    payload = (
        json.dumps(data, ensure_ascii=True, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    head, rest = template.split("@@CSS@@", 1)
    middle, rest = rest.split("@@DATA@@", 1)
    before_script, tail = rest.split("@@JS@@", 1)
    return head + css + middle + payload + before_script + script + tail


def write_html(
    path: str | PathLike[str],
    results: Sequence[CheckResult],
    *,
    meta: Mapping[str, Any] | None = None,
    headlines: Sequence[Headline] = (),
    records: Sequence[DeliveryRecord] = (),
    flag: str = "--html",
) -> None:
    """Write :func:`html_page` to ``path`` atomically (a temporary file beside it, then a rename), so
    a reader never sees half a page. ``flag`` names the option in the error for an unwritable path."""
    text = html_page(results, meta=meta, headlines=headlines, records=records)
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent if target.parent else "."
        )
    except OSError as err:
        raise UsageError(
            f"cannot write {flag} {str(path)!r}: {err.strerror}; give a writable path"
        ) from err
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as err:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(
            f"cannot write {flag} {str(path)!r}: {err.strerror}; give a writable path"
        ) from err


def check_writable(path: str, flag: str = "--html") -> None:
    """Raise a UsageError now, before the first delivery, if ``path``'s folder cannot take the page."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise UsageError(f"cannot write {flag} {path!r}: it is a directory; give a file path")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise UsageError(
            f"cannot write {flag} {path!r}: {str(folder)!r} is not a writable directory; "
            "give a writable path"
        )


def _meta(meta: Mapping[str, Any], records: Sequence[DeliveryRecord]) -> dict[str, Any]:
    from connect_harness import __version__

    out = {key: value for key, value in meta.items() if key != "headlines"}
    out.setdefault("connect_harness", __version__)
    out.setdefault("python", platform.python_version())
    sent = [record for record in records if record.finished]
    if sent:
        out.setdefault(
            "duration_s", round(max(r.finished for r in sent) - min(r.started for r in sent), 3)
        )
        slowest = max(sent, key=lambda r: r.response.elapsed)
        out.setdefault("slowest_answer_s", round(slowest.response.elapsed, 3))
    return _visible_all(json.loads(json.dumps(out, default=str)))  # type: ignore[no-any-return]


def _visible_all(value: Any) -> Any:
    """``value`` (JSON data) with :func:`visible` applied to every string in it."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {key: _visible_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_visible_all(item) for item in value]
    return value


def _body(data: bytes) -> dict[str, Any]:
    text = data[:MAX_BODY].decode("utf-8", errors="replace")
    return {"text": visible(text), "size": len(data), "cut": len(data) > MAX_BODY}


def _headers(headers: Sequence[tuple[str, str]]) -> list[list[str]]:
    return [[visible(name), visible(value)] for name, value in list(headers)[:MAX_HEADERS]]


def _delivery(record: DeliveryRecord) -> dict[str, Any]:
    request, response = record.request, record.response
    answer = _body(response.body)
    answer["size"] = response.size
    answer["cut"] = answer["cut"] or response.truncated
    return {
        "label": record.label,
        "check": record.check,
        "request": {
            "method": request.method,
            "url": visible(request.url),
            "headers": _headers(request.headers),
            "body": _body(request.body),
        },
        "response": {
            "status": response.status,
            "elapsed": round(response.elapsed, 4),
            "error": visible(response.error) if response.error else None,
            "headers": _headers(response.headers),
            "body": answer,
        },
        "calls": [
            {
                "method": call.method,
                "path": visible(call.path),
                "status": call.status,
                "account": call.stripe_account_header,
                "idempotency_key": visible(call.idempotency_key) if call.idempotency_key else None,
                "key_mode": call.key_mode,
                "error": visible(call.error) if call.error else None,
            }
            for call in record.calls[:50]
        ],
    }
