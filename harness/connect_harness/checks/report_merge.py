"""``connect-harness report merge``: the shards' reports of one run joined into the report one run
would have written.

Each shard's report (``verify --shard K/N --report FILE``) carries its raw findings, delivery records
and API calls (:mod:`connect_harness.checks.sharding`). :func:`merge_reports` checks that the files
are the ``N`` shards of one run (the same seed, API version, target, settings and checks, each shard
once), puts the records in the order one process would have made them, and judges what only the
whole run shows: the checks over every delivery (API-call context, modes, redirects, 5xx, timing)
and the root-cause headlines, as :class:`~connect_harness.checks.shards.ShardedRun` does for
pytest-xdist workers. Counts are those of the joined findings; nothing is delivered again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connect_harness.checks.findings import CheckResult, check_spec
from connect_harness.checks.grouping import Headline, headlines, point_upstream, regroup
from connect_harness.checks.records import DeliveryRecord
from connect_harness.checks.report import to_json
from connect_harness.checks.run import GLOBAL_CHECKS
from connect_harness.checks.sdk_spelling import Sdk, sdk_of
from connect_harness.checks.sharding import (
    FORMAT,
    PROCESS_CHECKS,
    config_from_json,
    payload_from_json,
)
from connect_harness.checks.shards import ACCEPTS, ShardedRun
from connect_harness.checks.share_exchange import ShareExchange
from connect_harness.checks.stopping import Breaker
from connect_harness.delivery import UrlTarget, WsgiTarget
from connect_harness.errors import UsageError
from connect_harness.stripe_api.calls import ApiCall

__all__ = ["Merged", "merge_reports", "read_reports"]

#: The order of verify's report summary, which a merged report keeps.
_VERIFY_ORDER = (
    "deliveries",
    "seed",
    "target",
    "endpoint_type",
    "mode",
    "events",
    "max_response_time",
    "api_version",
    "fake_stripe_api",
    "headlines",
    "fake_stripe_api_gaps",
    "stopped",
    "stopped_by",
    "max_run_time",
    "sent",
)


@dataclass(frozen=True)
class Merged:
    """The joined run: its results (the checks asked for, in their order), the report's ``meta``,
    its headlines and every delivery record (for the HTML report)."""

    results: list[CheckResult]
    meta: dict[str, Any]
    headlines: list[Headline]
    records: tuple[DeliveryRecord, ...]
    #: Seconds from each shard's first delivery to its last, by its own machine's clock (the
    #: machines' clocks cannot be compared: the run took about the longest of these).
    durations: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON report, as ``verify --report`` writes it for one run."""
        return to_json(self.results, meta=self.meta)


def read_reports(paths: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """Each file's JSON (a UsageError, one line, for a file that is missing, not JSON or no
    shard's report)."""
    reports = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise UsageError(
                f"cannot read the shard report {path!r}: {err.strerror}; give the --report files "
                "of 'verify --shard K/N'"
            ) from None
        except UnicodeDecodeError:
            raise UsageError(f"{path!r} is not a JSON report (not UTF-8 text)") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise UsageError(
                f"{path!r} is not a JSON report ({err.msg} at line {err.lineno})"
            ) from None
        if not isinstance(data, dict) or not isinstance(data.get("shard"), dict):
            raise UsageError(
                f"{path!r} is not a shard's report (no 'shard' section); write one with "
                "'connect-harness verify --shard K/N --report FILE.json'"
            )
        if data["shard"].get("format") != FORMAT:
            raise UsageError(
                f"{path!r} was written by another version of connect-harness (shard format "
                f"{data['shard'].get('format')!r}, this one reads {FORMAT}); run every shard and "
                "the merge with one version"
            )
        reports.append((path, data))
    return reports


def merge_reports(
    reports: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    gaps: Callable[[Sequence[ApiCall]], list[str]] | None = None,
) -> Merged:
    """Join the shards' reports (``(name, JSON)`` pairs, any order) of one run; ``gaps`` lists the
    calls the fake did not serve for the report's ``fake_stripe_api_gaps``."""
    if not reports:
        raise UsageError(
            "report merge needs the shards' reports; give e.g. shard-1.json shard-2.json"
        )
    sections = [(name, _checked(name, data["shard"])) for name, data in reports]
    first_name, first = sections[0]
    count: int = first["count"]
    by_index: dict[int, str] = {}
    for name, section in sections:
        if section.get("count") != count:
            raise UsageError(
                f"{first_name!r} is shard {first.get('index')}/{count} but {name!r} is shard "
                f"{section.get('index')}/{section.get('count')}: shards of different splits; "
                "merge the reports of one run"
            )
        different = _difference(first, section)
        if different:
            raise UsageError(
                f"{first_name!r} and {name!r} are shards of different runs ({different}); merge "
                "the reports of one run, whose shards ran with the same options and --seed"
            )
        index: int = section["index"]
        if section.get("interrupted"):
            raise UsageError(
                f"{name!r} is shard {index}/{count} of a run interrupted by the user (Ctrl-C): "
                "what it did not send says nothing about the endpoint; run that shard again"
            )
        if index in by_index:
            raise UsageError(
                f"{by_index.get(index, name)!r} and {name!r} are both shard {index}/{count}; give "
                "each shard's report once"
            )
        by_index[index] = name
    missing = [k for k in range(1, int(count) + 1) if k not in by_index]
    if missing:
        which = ", ".join(f"{k}/{count}" for k in missing)
        raise UsageError(
            f"shard {which} is missing: give all {count} reports of the run (got {len(reports)})"
        )
    ordered = [section for _, section in sorted(sections, key=lambda item: item[1]["index"])]
    summaries = [
        data.get("summary") or {}
        for _, data in sorted(reports, key=lambda r: r[1]["shard"]["index"])
    ]
    payloads = []
    for section in ordered:
        try:
            payloads.append(payload_from_json(section))
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise UsageError(
                f"{by_index[section['index']]!r} is a damaged shard report ({type(err).__name__}: "
                f"{err}); write it again with 'verify --shard K/N --report FILE.json'"
            ) from None
    durations = tuple(
        max((r.finished for r in p["records"]), default=0.0)
        - min((r.started for r in p["records"]), default=0.0)
        for p in payloads
    )
    run = _MergedRun(first)
    run.join(payloads)
    results = [run.result(check) for check in first["checks"]]
    causes = run.headlines()
    stopped = next((s["stopped"] for s in ordered if s.get("stopped")), None)
    stopped_by = next((s.get("stopped_by") for s in ordered if s.get("stopped")), None)
    summary = summaries[0]
    meta = {
        "deliveries": run.deliveries,
        "seed": run.config.seed,
        "target": first["target"]["describe"],
        "endpoint_type": run.config.endpoint_type,
        "mode": run.config.mode,
        "events": len(run.config.event_types),
        "max_response_time": run.config.max_response_time,
        "api_version": first["api_version"],
        "headlines": [cause.to_json() for cause in causes],
        "fake_stripe_api_gaps": gaps(run.observed_calls()) if gaps is not None else [],
        "stopped": stopped,
        "stopped_by": stopped_by,
        "max_run_time": run.config.max_run_time,
        "sent": sum(1 for record in run.records if record.response is not Breaker.NOT_SENT),
    }
    if summary.get("fake_stripe_api"):  # verify's shards name theirs: the first one's
        meta = {**meta, "fake_stripe_api": summary["fake_stripe_api"]}
        meta = {key: meta[key] for key in _VERIFY_ORDER if key in meta}
    return Merged(
        results=results, meta=meta, headlines=causes, records=run.records, durations=durations
    )


#: The keys of a shard's section and the type of each.
_SECTION = {
    "index": int,
    "count": int,
    "config": dict,
    "plan": list,
    "checks": list,
    "raw": dict,
    "records": list,
    "calls": list,
    "outside": list,
    "ambiguous": list,
    "target": dict,
    "api_version": str,
}


def _checked(name: str, section: Mapping[str, Any]) -> Mapping[str, Any]:
    """``section`` if it has the keys a merge reads; else a UsageError naming the file."""
    for key, kind in _SECTION.items():
        if not isinstance(section.get(key), kind) or isinstance(section.get(key), bool):
            raise UsageError(
                f"{name!r} is a damaged shard report ('{key}' is missing or not a "
                f"{kind.__name__}); write it again with 'verify --shard K/N --report FILE.json'"
            )
    if not 1 <= section["index"] <= section["count"]:
        raise UsageError(
            f"{name!r} says it is shard {section['index']}/{section['count']}, which no split has; "
            "write it again with 'verify --shard K/N --report FILE.json'"
        )
    if "seed" not in section["config"] or not {"kind", "describe"} <= set(section["target"]):
        raise UsageError(
            f"{name!r} is a damaged shard report (its configuration or target is incomplete); "
            "write it again with 'verify --shard K/N --report FILE.json'"
        )
    return section


def _difference(one: Mapping[str, Any], other: Mapping[str, Any]) -> str | None:
    """What differs between two shards' runs, in words, or None."""
    for key in ("seed", "api_version"):
        a, b = one["config"].get(key), other["config"].get(key)
        if key == "api_version":
            a, b = one.get(key), other.get(key)
        if a != b:
            return f"{key.replace('_', ' ')} {a} vs {b}"
    if one.get("target") != other.get("target"):
        return f"target {one['target'].get('describe')!r} vs {other['target'].get('describe')!r}"
    if bool(one.get("process")) != bool(other.get("process")):
        return "one launched its endpoint with --serve, the other did not"
    if one.get("plan") != other.get("plan") or one.get("checks") != other.get("checks"):
        return "other checks (--check)"
    for key in one["config"]:
        if one["config"].get(key) != other["config"].get(key):
            return f"{key.replace('_', ' ')} differs"
    if set(other["config"]) != set(one["config"]):
        return "other settings"
    return None


class _MergedRun(ShardedRun):
    """A run that delivers nothing: it judges the shards' records as one process would have."""

    def __init__(self, section: Mapping[str, Any]) -> None:
        target = section["target"]
        stand_in = (
            UrlTarget(target["url"])
            if target["kind"] == "url"
            else WsgiTarget(app=None, name=target["describe"])  # never called
        )
        super().__init__(
            stand_in,
            config_from_json(section["config"]),
            exchange=ShareExchange(Path(), int(section["count"])),
            plan=section["plan"],
        )

    def join(self, payloads: Sequence[dict[str, Any]]) -> None:
        """Judge the shards' payloads (in shard order) as the results of one run; the checks of
        launched processes (``--serve``) are each machine's own findings, joined."""
        self._merge(payloads)
        launched = [p["process"] for p in payloads if p.get("process")]
        if not launched:
            return
        # The first exit in one-process order (each machine's process may have exited).
        died = {p["died_after"] for p in launched if p["died_after"]}
        self.died_after = next((r for r in self._log.records if r.label in died), None)
        for check in PROCESS_CHECKS:
            if check in self.plan:
                findings = tuple(f for p in launched for f in p["raw"].get(check, ()))
                self._raw[check] = CheckResult(
                    id=check, title=check_spec(check).title, findings=findings
                )
        # As one run judged each check: with the headline of the process's exit once it exited.
        position = {check: i for i, check in enumerate(self.plan)}
        accepts = self._raw.get(ACCEPTS)
        for check in self.plan:
            so_far = [
                r
                for r in self._log.records
                if check in GLOBAL_CHECKS or position[r.check] <= position[check]
            ]
            exited = self.died_after if self.died_after in so_far else None
            causes = headlines(so_far, accepts, died_after=exited)
            self._results[check] = point_upstream(regroup(self._raw[check], causes), accepts)

    def sdk(self) -> Sdk:
        """The Stripe library of every shard's calls (the merge's own fake saw none)."""
        return sdk_of(list(self.observed_calls()))
