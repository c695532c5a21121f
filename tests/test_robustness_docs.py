"""docs/robustness.md's figures are the code's."""

from __future__ import annotations

from pathlib import Path

import sample_app.webhook
from connect_harness.cli import history, session
from connect_harness.stripe_api import command, limits, server

DOC = (Path(__file__).resolve().parents[1] / "docs" / "robustness.md").read_text(encoding="utf-8")


def test_the_documented_figures_are_the_codes() -> None:
    assert limits.MAX_BODY_BYTES == 16 * 1024 * 1024 and "larger than 16 MiB gets `413`" in DOC
    assert command.KEPT_CALLS == 1000 and "keeps the latest 1000 calls" in DOC
    assert server._KEPT_REPLAYS == 5000 and "5000 idempotency keys" in DOC
    assert history.KEEP == 1000 and "keeps the latest 1000 events" in DOC
    assert session.history_file().name == "listen-history.jsonl" and "`listen-history.jsonl`" in DOC
    assert sample_app.webhook._ABANDONED_AFTER == 600.0 and "10-minute lease" in DOC


def test_every_test_file_the_doc_names_exists() -> None:
    tests = Path(__file__).resolve().parent
    named = {word.strip("(),.`").split("::")[0] for word in DOC.split() if "tests/" in word}
    assert named and all((tests.parent / name).exists() for name in named), named
