"""One run of the catalogue split across CI machines: ``verify --shard K/N`` (``--connect-shard``).

Each machine runs the same command with the same ``--seed``, ``K`` from 1 to ``N``. The work is cut
as pytest-xdist cuts it (:func:`connect_harness.checks.shards.split_work`: each event type of
``accepts-valid-events`` a unit, every other delivering check whole), which depends on the checks,
the event types and ``N`` only: every machine computes the same cut, and each delivery is in exactly
one shard. A :class:`ShardRun` delivers shard ``K`` and judges its delivering checks; the checks
judged over every delivery (API-call context, modes, redirects, 5xx, timing) and the root-cause
headlines wait for ``connect-harness report merge``
(:mod:`connect_harness.checks.report_merge`), which judges them over every shard's records.

So a shard's JSON report carries, under ``"shard"``, what the merge needs: the run's configuration
(never the secret), the plan, and the shard's raw findings, delivery records and API calls
(:func:`shard_section`); :func:`payload_from_json` reads them back.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from connect_harness.checks.findings import CheckResult, Finding, check_spec, validate_check_ids
from connect_harness.checks.gaps import excuse_our_gaps
from connect_harness.checks.masking import mask_secrets
from connect_harness.checks.records import DeliveryRecord, VerifyConfig
from connect_harness.checks.registry import CHECKS
from connect_harness.checks.run import GLOBAL_CHECKS
from connect_harness.checks.shards import ACCEPTS, ShardedRun
from connect_harness.checks.share_exchange import ShareExchange
from connect_harness.checks.stopping import Breaker
from connect_harness.delivery import Response, Target, UrlTarget, WsgiTarget
from connect_harness.delivery.process import ServedProcess
from connect_harness.errors import HarnessError, UsageError
from connect_harness.spec import contracts
from connect_harness.stripe_api.calls import ApiCall
from connect_harness.stripe_api.fake import FakeStripeAPI
from connect_harness.wire.request import DeliveryRequest

__all__ = [
    "FORMAT",
    "ShardRun",
    "config_from_json",
    "payload_from_json",
    "shard_checks",
    "shard_section",
]

#: The version of the ``"shard"`` section's layout; ``report merge`` refuses another.
FORMAT = 1

#: What stands for the signing secret wherever the endpoint echoed it in what a shard keeps.
SECRET_MARK = "whsec_****"

#: The checks of a launched endpoint's process (``--serve``): each machine judges its own.
PROCESS_CHECKS = ("stays-alive", "never-logs-secrets")

#: The configuration a shard keeps: every field of :class:`VerifyConfig` but the secret.
_CONFIG_FIELDS = tuple(f.name for f in fields(VerifyConfig) if f.name != "secret")


class ShardRun(ShardedRun):
    """Shard ``index`` (from 1) of ``count`` of a run of the checks in ``plan``.

    The first result asked for delivers this shard's units and judges them; :meth:`result` of a
    check this shard does not judge (another shard's, or one judged over every delivery) is a skip
    that says so. :meth:`shard_section` is what the shard's report carries for the merge.
    """

    def __init__(
        self,
        target: Target | str | object,
        config: VerifyConfig,
        *,
        shard: tuple[int, int],
        plan: Iterable[str],
        fake_api: FakeStripeAPI | None = None,
        url: str | None = None,
        process: ServedProcess | None = None,
    ) -> None:
        plan = list(plan)
        index, count = shard
        if not 1 <= index <= count:
            raise UsageError(f"shard {index}/{count}: K must be from 1 to {count}, e.g. 1/{count}")
        # No other process claims a share: the machines agree on the cut, not through files.
        super().__init__(
            target,
            config,
            exchange=ShareExchange(Path(), count),
            plan=plan,
            first=index - 1,
            fake_api=fake_api,
            url=url,
        )
        self.shard = shard
        #: This machine's launched endpoint (verify --serve): its own checks are judged here.
        self.process = process
        #: The checks asked for, in their order (the report lists these).
        self.asked = tuple(validate_check_ids(plan))
        self.payload: dict[str, Any] | None = None

    @property
    def mine(self) -> tuple[str, ...]:
        """The checks this shard delivers (some of ``accepts-valid-events``' types, or all)."""
        share = self.shares[self.shard[0] - 1]
        owned = {*share.checks, *([ACCEPTS] if share.event_types else [])}
        return tuple(check for check in self.plan if check in owned)

    def result(self, check_id: str) -> CheckResult:
        check = validate_check_ids([check_id])[0]
        if check not in self.plan:
            return super().result(check)  # outside the plan: a run of this process's own
        if not self._merged:
            self._gather()
        if check in self.mine:
            return self._results[check]
        index, count = self.shard
        if check in GLOBAL_CHECKS:
            why = (
                f"judged over every shard's deliveries: not by shard {index}/{count} but by "
                "'connect-harness report merge' over the shards' reports"
            )
        else:
            why = f"delivered by another shard than {index}/{count}; 'report merge' joins them"
        finding = Finding(check=check, status="skip", reason=why)
        return CheckResult(id=check, title=check_spec(check).title, findings=(finding,))

    def completed(self) -> list[CheckResult]:
        """The results of this shard's checks run so far (and of checks outside the plan)."""
        return [r for r in super().completed() if r.id in self.mine or r.id not in self.plan]

    def _gather(self) -> None:
        payload = self._deliver_guarded(self.shares[self.shard[0] - 1])
        if "error" in payload:
            raise HarnessError(str(payload["error"]))
        if self.process is not None:  # what only this machine saw: its process and its output
            judged = [check for check in PROCESS_CHECKS if check in self.plan]
            payload["process"] = {
                "raw": {c: excuse_our_gaps(self, tuple(CHECKS[c](self))) for c in judged},
                "died_after": None if self.died_after is None else self.died_after.label,
            }
        self.payload = payload
        self._merge([payload])  # this shard's own checks, judged over its own deliveries

    def shard_section(self) -> dict[str, Any]:
        """The report's ``"shard"`` section (delivering the shard first if no result was asked)."""
        if not self._merged:
            self._gather()
        assert self.payload is not None
        section = shard_section(self.config, self.plan, self.shard, self.payload, self.breaker)
        is_url = isinstance(self.target, UrlTarget)
        section["target"] = {
            "kind": "url" if is_url else "app",
            "describe": self.target.describe(),
            "url": self.target.describe() if is_url else None,  # credentials masked
        }
        section["api_version"] = self.config.api_version or contracts.api_version()
        section["checks"] = list(self.asked)
        return section


def shard_checks(
    config: VerifyConfig, plan: Iterable[str], shard: tuple[int, int]
) -> tuple[str, ...]:
    """The checks of ``plan`` that shard ``shard`` delivers, before any run (the pytest plugin
    deselects the others' tests)."""
    stand_in = WsgiTarget(app=None, name="the plan")  # never called: nothing is delivered
    return ShardRun(stand_in, config, shard=shard, plan=plan).mine


# --- to and from JSON ----------------------------------------------------------------------------


def config_to_json(config: VerifyConfig) -> dict[str, Any]:
    """Every setting of the run that decides its deliveries, without the secret."""
    values = {name: getattr(config, name) for name in _CONFIG_FIELDS}
    values["events"] = list(config.event_types)  # the types themselves: the same on every machine
    return values


def config_from_json(values: Mapping[str, Any]) -> VerifyConfig:
    """The run's configuration back, with a made-up secret (the merge signs nothing)."""
    given = {name: values[name] for name in _CONFIG_FIELDS if name in values}
    given["events"] = tuple(given.get("events") or ()) or None
    return VerifyConfig(secret="whsec_report_merge", **given)


def shard_section(
    config: VerifyConfig,
    plan: Sequence[str],
    shard: tuple[int, int],
    payload: Mapping[str, Any],
    breaker: Breaker,
) -> dict[str, Any]:
    """What ``report merge`` needs of one shard, as JSON (the secret masked wherever it was echoed)."""
    secret = config.secret
    calls: list[ApiCall] = list(payload["calls"])
    index_of = {id(call): i for i, call in enumerate(calls)}

    def call_index(call: ApiCall) -> int:
        if id(call) not in index_of:
            index_of[id(call)] = len(calls)
            calls.append(call)
        return index_of[id(call)]

    records = [
        _record_to_json(record, [call_index(c) for c in record.calls], secret)
        for record in payload["records"]
    ]
    outside = [call_index(call) for call in payload["outside"]]
    ambiguous = [call_index(call) for call in payload["ambiguous"]]
    return {
        "format": FORMAT,
        "index": shard[0],
        "count": shard[1],
        "config": config_to_json(config),
        "plan": list(plan),
        "raw": {
            check: [finding.to_json() for finding in findings]
            for check, findings in payload["raw"].items()
        },
        "records": records,
        "calls": [_call_to_json(call, secret) for call in calls],
        "outside": outside,
        "ambiguous": ambiguous,
        "after_answering": bool(payload["after_answering"]),
        "stopped": breaker.stopped,
        "stopped_by": breaker.cause,
        "interrupted": breaker.interrupted,
        "process": None
        if payload.get("process") is None
        else {
            "raw": {
                check: [finding.to_json() for finding in findings]
                for check, findings in payload["process"]["raw"].items()
            },
            "died_after": payload["process"]["died_after"],
        },
    }


def payload_from_json(section: Mapping[str, Any]) -> dict[str, Any]:
    """A shard's payload as :meth:`ShardedRun._merge` takes it, from its ``"shard"`` section."""
    calls = tuple(_call_from_json(call) for call in section["calls"])
    return {
        "plan": tuple(section["plan"]),
        "seed": section["config"]["seed"],
        "raw": {
            check: tuple(Finding(**finding) for finding in findings)
            for check, findings in section["raw"].items()
        },
        "records": [_record_from_json(record, calls) for record in section["records"]],
        "calls": calls,
        "outside": tuple(calls[i] for i in section["outside"]),
        "ambiguous": tuple(calls[i] for i in section["ambiguous"]),
        "after_answering": bool(section["after_answering"]),
        "process": None
        if not section.get("process")
        else {
            "raw": {
                check: tuple(Finding(**finding) for finding in findings)
                for check, findings in section["process"]["raw"].items()
            },
            "died_after": section["process"]["died_after"],
        },
    }


def _bytes_to_json(data: bytes, secret: str | None = None) -> dict[str, str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if secret:
            data = data.replace(secret.encode("utf-8"), SECRET_MARK.encode("ascii"))
        return {"base64": base64.b64encode(data).decode("ascii")}
    return {"text": mask_secrets(text.replace(secret, SECRET_MARK)) if secret else text}


def _bytes_from_json(value: Mapping[str, str]) -> bytes:
    if "text" in value:
        return value["text"].encode("utf-8")
    return base64.b64decode(value["base64"])


def _masked(text: str | None, secret: str) -> str | None:
    """``text`` without the signing secret nor anything that looks like a key (``whsec_...``,
    ``sk_live_...``), as findings show the endpoint's words."""
    return None if text is None else mask_secrets(text.replace(secret, SECRET_MARK))


def _record_to_json(record: DeliveryRecord, calls: list[int], secret: str) -> dict[str, Any]:
    request, response = record.request, record.response
    return {
        "check": record.check,
        "label": record.label,
        "request": {
            "method": request.method,
            "url": request.url,
            "headers": [list(pair) for pair in request.headers],
            "body": _bytes_to_json(request.body),
        },
        "response": None
        if response is Breaker.NOT_SENT
        else {
            "status": response.status,
            "headers": [[name, _masked(value, secret)] for name, value in response.headers],
            "body": _bytes_to_json(response.body, secret),
            "elapsed": response.elapsed,
            "error": _masked(response.error, secret),
            "size": response.size,
        },
        "event_type": record.event_type,
        "permutation": record.permutation,
        "variant": record.variant,
        "account": record.account,
        "livemode": record.livemode,
        "reproduce": record.reproduce,
        "calls": calls,
        "sequence": record.sequence,
        "started": record.started,
        "finished": record.finished,
    }


def _record_from_json(value: Mapping[str, Any], calls: Sequence[ApiCall]) -> DeliveryRecord:
    request = value["request"]
    answer = value["response"]
    response = (
        Breaker.NOT_SENT
        if answer is None
        else Response(
            status=answer["status"],
            headers=tuple((name, text) for name, text in answer["headers"]),
            body=_bytes_from_json(answer["body"]),
            elapsed=answer["elapsed"],
            error=answer["error"],
            size=answer["size"],
        )
    )
    record = DeliveryRecord(
        check=value["check"],
        label=value["label"],
        request=DeliveryRequest(
            method=request["method"],
            url=request["url"],
            headers=tuple((name, text) for name, text in request["headers"]),
            body=_bytes_from_json(request["body"]),
        ),
        response=response,
        event_type=value["event_type"],
        permutation=value["permutation"],
        variant=value["variant"],
        account=value["account"],
        livemode=value["livemode"],
        reproduce=value["reproduce"],
        sequence=value["sequence"],
        started=value["started"],
        finished=value["finished"],
    )
    return replace(record, calls=tuple(calls[i] for i in value["calls"]))


def _call_to_json(call: ApiCall, secret: str) -> dict[str, Any]:
    values = {f.name: getattr(call, f.name) for f in fields(ApiCall)}
    for name in ("form", "query"):  # what the endpoint sent: never a secret in the file
        values[name] = {
            key: mask_secrets(str(value).replace(secret, SECRET_MARK))
            for key, value in values[name].items()
        }
    return values


def _call_from_json(value: Mapping[str, Any]) -> ApiCall:
    names = {f.name for f in fields(ApiCall)}
    return ApiCall(**{name: item for name, item in value.items() if name in names})
