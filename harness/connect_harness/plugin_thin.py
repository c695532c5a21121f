"""The shipped suite's thin checks, for ``--connect-payload thin|both``: one run of them per session.

``--connect-payload`` says what the endpoint under test receives, as ``verify --payload`` does:
``snapshot`` (the default) runs the snapshot catalogue, ``thin`` the thin checks
(:data:`~connect_harness.checks.thin.THIN_CATALOGUE`), ``both`` each, against one destination. The
tests of the catalogue the payload does not select are deselected, not skipped, so ``--connect-strict``
(which fails skipped checks) keeps its meaning, and pytest's summary counts them ("6 deselected"
under the default ``snapshot``), so no collected test vanishes from it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from connect_harness.checks.findings import CheckResult
    from connect_harness.checks.share_exchange import ShareExchange
    from connect_harness.checks.thin import ThinConfig
    from connect_harness.delivery import Target
    from connect_harness.stripe_api.fake import FakeStripeAPI

__all__ = ["ThinContract", "deselect_for_payload"]


class ThinContract:
    """The thin checks against the endpoint, run once on the first :meth:`result` asked for.

    ``before`` runs first: with ``--connect-payload both`` it completes the snapshot checks, so
    the calls the endpoint makes for thin notifications never reach a snapshot check's judgement.
    ``exchange`` (under pytest-xdist): the workers share one run of the thin checks, as they split
    the snapshot catalogue: the first worker to ask claims it and delivers every notification
    once, the others read its results (:class:`~connect_harness.checks.share_exchange.ShareExchange`
    with one share).
    """

    def __init__(
        self,
        target: Target,
        fake_api: FakeStripeAPI,
        config: ThinConfig,
        *,
        before: Callable[[], object] | None = None,
        exchange: ShareExchange | None = None,
    ) -> None:
        self.target, self.fake_api, self.config = target, fake_api, config
        self._before = before
        self._exchange = exchange
        self._results: dict[str, CheckResult] | None = None

    def result(self, check_id: str) -> CheckResult:
        """The result of the thin check ``check_id``."""
        if self._results is None:
            self._results = self._shared() if self._exchange is not None else self._run()
        return self._results[check_id]

    def _run(self) -> dict[str, CheckResult]:
        from connect_harness.checks.thin import run_thin_checks
        from connect_harness.delivery import UrlTarget

        if self._before is not None:
            self._before()
        with contextlib.ExitStack() as stack:
            if not isinstance(self.target, UrlTarget):  # an in-process app's stripe-python
                stack.enter_context(self.fake_api.patch_stripe())
            results = run_thin_checks(self.target, self.fake_api, self.config)
        return {result.id: result for result in results}

    def _shared(self) -> dict[str, CheckResult]:
        exchange = self._exchange
        assert exchange is not None
        if exchange.claim(0):
            try:
                results = self._run()
            except Exception as err:  # the other workers must not wait for results that never come
                exchange.publish(0, {"error": f"the thin checks failed on another worker: {err}"})
                raise
            exchange.publish(0, {"results": results})
            return results
        shared: dict[str, Any] = exchange.collect(0)  # raises the owner's error, if it failed
        results = shared["results"]
        assert isinstance(results, dict)
        return results


def deselect_for_payload(
    config: pytest.Config, items: list[pytest.Item], payload: str, functions: Sequence[Any]
) -> None:
    """Deselect the shipped suite's tests of the catalogue ``payload`` does not select.

    ``functions`` is ``(test_contract, test_thin_contract)``: the snapshot and the thin test.
    """
    snapshot, thin = functions
    unwanted = {"snapshot": thin, "thin": snapshot}.get(payload)
    if unwanted is None:
        return
    dropped = [item for item in items if getattr(item, "function", None) is unwanted]
    if dropped:  # reported as deselected, so the summary accounts for every collected test
        items[:] = [item for item in items if getattr(item, "function", None) is not unwanted]
        config.hook.pytest_deselected(items=dropped)
