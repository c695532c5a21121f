"""One run of the catalogue split into shares that several processes deliver (pytest-xdist workers).

:func:`split_work` cuts the deliveries of the checks a session runs into ``count`` shares: each event
type of ``accepts-valid-events`` (nine in ten of a full run's deliveries) is a unit, and every other
delivering check is a unit of its own, so a scenario's events, a redelivery and its original, and a
concurrency probe stay in one process. Units go to the lightest share, heaviest first, so the shares
take about as long.

A :class:`ShardedRun` is a :class:`~connect_harness.checks.run.ContractRun` whose first result
delivers the shares: it claims a share no process has claimed, delivers it and judges its checks,
publishes the records (with the API calls each caused) and findings through a
:class:`~connect_harness.checks.share_exchange.ShareExchange`, claims the next unclaimed share, and
then reads the others' shares. From the merged records, in the order one process would have made
them, it judges the checks over every delivery (API-call context, modes, redirects, 5xx, timing) and
the root-cause headlines, so every process ends with the results one process would have had, and
each delivery happened once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from connect_harness.checks.attribution import Attribution
from connect_harness.checks.findings import (
    CheckResult,
    Finding,
    check_ids,
    check_spec,
    validate_check_ids,
)
from connect_harness.checks.gaps import excuse_our_gaps
from connect_harness.checks.grouping import headlines, point_upstream, regroup
from connect_harness.checks.registry import CHECKS
from connect_harness.checks.run import GLOBAL_CHECKS, ContractRun, DeliveryRecord, VerifyConfig
from connect_harness.checks.share_exchange import ShareExchange
from connect_harness.checks.stopping import unjudged
from connect_harness.delivery import Target, UrlTarget
from connect_harness.errors import HarnessError, UsageError
from connect_harness.stripe_api.fake import ApiCall, FakeStripeAPI

__all__ = ["ShardedRun", "Share", "split_work"]

ACCEPTS = "accepts-valid-events"

#: About how many deliveries a check makes (a Connect endpoint in production); the rest make 1-3.
_WEIGHTS = {
    "order-independent": 27,
    "idempotent-redelivery": 26,
    "survives-api-errors": 10,
    "verifies-raw-body": 5,
    "after-deauthorization": 5,
}


@dataclass(frozen=True)
class Share:
    """What one process delivers: whole ``checks`` and the ``event_types`` of ``accepts-valid-events``."""

    index: int
    checks: tuple[str, ...]
    event_types: tuple[str, ...]


def split_work(
    checks: Sequence[str], event_weights: Sequence[tuple[str, int]], count: int
) -> tuple[Share, ...]:
    """Cut the delivering ``checks`` (and ``accepts-valid-events``' types, each weighing its number of
    deliveries) into ``count`` shares of about equal weight; the same input always gives the same cut."""
    if count < 1:
        raise UsageError(f"the number of shares {count!r} must be 1 or more")
    units: list[tuple[int, int, str, str | None]] = []  # (-weight, position, check, event type)
    position = 0
    for check in checks:
        if check == ACCEPTS:
            for event_type, weight in event_weights:
                units.append((-max(weight, 1), position, ACCEPTS, event_type))
                position += 1
        else:
            units.append((-_WEIGHTS.get(check, 2), position, check, None))
            position += 1
    loads = [0] * count
    owned: list[list[tuple[int, str, str | None]]] = [[] for _ in range(count)]
    for weight, pos, name, of_type in sorted(units):
        lightest = min(range(count), key=lambda k: (loads[k], k))
        loads[lightest] -= weight
        owned[lightest].append((pos, name, of_type))
    shares = []
    for index, units_of in enumerate(owned):
        units_of.sort()
        shares.append(
            Share(
                index=index,
                checks=tuple(c for _, c, t in units_of if t is None),
                event_types=tuple(t for _, c, t in units_of if t is not None),
            )
        )
    return tuple(shares)


def _one_process_order(plan: Iterable[str]) -> tuple[str, ...]:
    """The checks one process runs, in its order, when its tests ask for ``plan`` in this order:
    a check judged over every delivery first runs every delivering check it has not run."""
    order: list[str] = []
    for check in plan:
        check = check_spec(check).id  # a UsageError naming the closest ids
        if check in GLOBAL_CHECKS:
            order += [c for c in check_ids() if c not in GLOBAL_CHECKS and c not in order]
        if check not in order:
            order.append(check)
    return tuple(order)


class ShardedRun(ContractRun):
    """A run of the checks in ``plan`` whose deliveries are split with other processes.

    ``plan`` lists the checks the session's tests ask for, in test order: results, records and
    root-cause headlines are those one process would have had, asked in that order. Every process
    of the run builds it with the same ``plan``, configuration and ``exchange``;
    ``first`` is the share this process tries to claim first (its worker number). Checks outside the
    plan (asked for directly) run in a run of this process's own.
    """

    def __init__(
        self,
        target: Target | str | object,
        config: VerifyConfig,
        *,
        exchange: ShareExchange,
        plan: Iterable[str],
        first: int = 0,
        fake_api: FakeStripeAPI | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(target, config, fake_api=fake_api, url=url)
        #: Every check this run judges, in the order one process would run them.
        self.plan = _one_process_order(plan)
        delivering = [check for check in self.plan if check not in GLOBAL_CHECKS]
        extra = config.examples - 1  # further examples of each type the endpoint receives
        weights = [
            (t, len(perms) + extra if perms else 0)
            for t, perms in ((t, self.permutations(t)) for t in config.event_types)
        ]
        self.shares = split_work(delivering, weights, exchange.count)
        self.exchange = exchange
        self.first = first
        self._merged = False
        self._observed: tuple[ApiCall, ...] | None = None
        self._share: int | None = None
        self._own: ContractRun | None = None

    # --- results ---------------------------------------------------------------------------------

    def result(self, check_id: str) -> CheckResult:
        """The check's result over every share (delivering and merging the shares the first time)."""
        check = validate_check_ids([check_id])[0]
        if check not in self.plan:
            return self._own_run().result(check)
        if not self._merged:
            self._gather()
        return self._results[check]

    def run(self, only: Iterable[str] | None = None) -> list[CheckResult]:
        """Every check (or ``only`` these ids), in catalogue order."""
        wanted = check_ids() if only is None else validate_check_ids(only)
        return [self.result(check) for check in wanted]

    def completed(self) -> list[CheckResult]:
        """The results of the checks run so far, in catalogue order."""
        own = {r.id: r for r in self._own.completed()} if self._own is not None else {}
        done = {**own, **self._results}
        return [done[check] for check in check_ids() if check in done]

    def _answered_before(self, record: DeliveryRecord, call: ApiCall) -> bool:
        """As in one process: once merged (the shares' clocks are not comparable), every earlier
        delivery in one-process order, since one process had answered each before the call came."""
        if not self._merged:
            return super()._answered_before(record, call)
        return any(other.label != record.label for other in self._log.records[: record.sequence])

    def observed_calls(self) -> tuple[ApiCall, ...]:
        """Every share's API calls once merged; before, this process's."""
        if self._observed is not None:
            return self._observed
        return super().observed_calls()

    def close(self) -> None:
        if self._own is not None:
            self._own.close()
        super().close()

    def _own_run(self) -> ContractRun:
        if self._own is None:
            self._own = ContractRun(self.target, self.config, fake_api=self.fake_api, url=self.url)
        return self._own

    def next_label(self, check_id: str) -> str:
        label = super().next_label(check_id)
        return label if self._share is None else f"{label}@{self._share}"  # unique across shares

    # --- delivering a share ----------------------------------------------------------------------

    def deliver_share(self, index: int) -> bool:
        """Claim share ``index`` and deliver it, unless a process did; True if this one did."""
        if not self.exchange.claim(index):
            return False
        self.exchange.publish(index, self._deliver_guarded(self.shares[index]))
        return True

    def _gather(self) -> None:
        count = self.exchange.count
        for step in range(count):
            self.deliver_share((self.first + step) % count)
        payloads = [self.exchange.collect(index) for index in range(count)]
        for payload in payloads:
            if payload["plan"] != self.plan or payload["seed"] != self.config.seed:
                raise HarnessError(
                    "the workers planned different contract runs (another seed or other checks); "
                    "run again with the same options for every worker"
                )
        self._merge(payloads)

    def _deliver_guarded(self, share: Share) -> dict[str, Any]:
        try:
            return self._deliver(share)
        except Exception as err:  # the other processes must not wait for a share that never comes
            return {"error": f"share {share.index} of the contract checks failed: {err}"}

    def _deliver(self, share: Share) -> dict[str, Any]:
        self._start()
        first_record = len(self._log.records)
        first_call = len(self.fake_api.calls)
        raw: dict[str, tuple[Finding, ...]] = {}
        owned = ([ACCEPTS] if share.event_types else []) + list(share.checks)
        with contextlib.ExitStack() as stack:
            if not isinstance(self.target, UrlTarget):
                stack.enter_context(self.fake_api.patch_stripe())
            self._share = share.index
            try:
                for check in sorted(owned, key=self.plan.index):
                    before = len(self._log.records)
                    if check == ACCEPTS:
                        findings = self._accepts(share.event_types)
                    else:
                        findings = tuple(CHECKS[check](self))
                    findings = unjudged(check, findings, self._log.records[before:], self.breaker)
                    raw[check] = excuse_our_gaps(self, findings)
            finally:
                self._share = None
            records = self.judged_records()[first_record:]
        calls = tuple(self.fake_api.calls)[first_call:]
        mine = {id(call) for call in calls}
        tied = self._attribution
        return {
            "plan": self.plan,
            "seed": self.config.seed,
            "raw": raw,
            "records": records,
            "calls": calls,
            "outside": tuple(call for call in tied.outside if id(call) in mine),
            "ambiguous": tuple(call for call in tied.ambiguous if id(call) in mine),
            "after_answering": tied.after_answering,
        }

    def _accepts(self, event_types: tuple[str, ...]) -> tuple[Finding, ...]:
        """``accepts-valid-events`` over these types only (ids and seeds as in the whole run)."""
        whole = self.config
        self.config = replace(whole, events=event_types)
        try:
            return tuple(CHECKS[ACCEPTS](self))
        finally:
            self.config = whole

    # --- merging ---------------------------------------------------------------------------------

    def _merge(self, payloads: Sequence[dict[str, Any]]) -> None:
        position = {check: i for i, check in enumerate(self.plan)}
        type_position = {t: i for i, t in enumerate(self.config.event_types)}

        def in_one_process_order(record: DeliveryRecord) -> tuple[int, int, int]:
            by_type = (
                type_position.get(record.event_type or "", 0) if record.check == ACCEPTS else 0
            )
            return (position[record.check], by_type, record.sequence)

        records = sorted((r for p in payloads for r in p["records"]), key=in_one_process_order)
        merged = tuple(replace(record, sequence=i) for i, record in enumerate(records))
        self._log.records = list(merged)
        self._judged_calls = merged
        self._observed = tuple(call for p in payloads for call in p["calls"])
        self._attribution = Attribution(
            by_label={},  # the merged records carry their calls
            outside=tuple(call for p in payloads for call in p["outside"]),
            ambiguous=tuple(call for p in payloads for call in p["ambiguous"]),
            after_answering=any(p["after_answering"] for p in payloads),
        )
        raw: dict[str, list[Finding]] = {}
        for payload in payloads:
            for check, findings in payload["raw"].items():
                raw.setdefault(check, []).extend(findings)
        if ACCEPTS in raw:
            raw[ACCEPTS].sort(key=lambda f: type_position.get(f.event_type or "", 0))
        for check in self.plan:
            if check in GLOBAL_CHECKS:
                findings = excuse_our_gaps(self, tuple(CHECKS[check](self)))
                so_far = merged
            else:
                findings = tuple(raw.get(check, ()))
                so_far = tuple(r for r in merged if position[r.check] <= position[check])
            self._raw[check] = CheckResult(
                id=check, title=check_spec(check).title, findings=findings
            )
            # The headlines one process would have drawn when it judged this check.
            causes = headlines(so_far, self._raw.get(ACCEPTS))
            self._results[check] = point_upstream(
                regroup(self._raw[check], causes), self._raw.get(ACCEPTS)
            )
        self._merged = True
