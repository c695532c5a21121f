"""pytest-xdist scheduling for ``--connect-serve`` and a fixed fake Stripe port: the catalogue on one worker.

Otherwise the workers split the catalogue's deliveries between them
(:mod:`connect_harness.xdist_shares`) under xdist's own scheduling. A launched endpoint listens at one
URL, and a fixed ``--connect-fake-stripe-port`` is one worker's fake Stripe API: then this scheduler
keeps the catalogue's tests together as one unit of work on one worker and hands out every other test
one at a time, as ``--dist load`` does. It overrides
xdist's private ``LoadScopeScheduling._split_scope``; tests/integration/test_xdist.py fails loudly
if xdist drops it.
"""

from __future__ import annotations

import re
from typing import Any

from xdist.scheduler import LoadScopeScheduling

from connect_harness.checks.findings import CATALOGUE

__all__ = ["CATALOGUE_SCOPE", "CatalogueOnOneWorker", "is_catalogue_test"]

CATALOGUE_SCOPE = "connect_harness-catalogue"

_CATALOGUE_TEST = re.compile(
    r"::test_contract\[(" + "|".join(re.escape(spec.id) for spec in CATALOGUE) + r")\]$"
)


def is_catalogue_test(nodeid: str) -> bool:
    """True for a test of the shipped suite, wherever it was collected (``--pyargs`` or imported)."""
    return _CATALOGUE_TEST.search(nodeid) is not None


class CatalogueOnOneWorker(LoadScopeScheduling):  # type: ignore[misc]
    """``--dist load``, except that the catalogue's tests form one unit that one worker runs."""

    def __init__(self, config: Any, log: Any = None) -> None:
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        return CATALOGUE_SCOPE if is_catalogue_test(nodeid) else nodeid
