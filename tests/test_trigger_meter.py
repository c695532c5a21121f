"""The v1.billing.meter.* trigger names through a listen session (docs/trigger.md): the flow's v2
meter event session and stream run on the session's fake, and the thin report goes to
--forward-thin-to, signed, where an event destination parses it with stripe-python and fetches the
meter it names from the same fake."""

from __future__ import annotations

import subprocess
from pathlib import Path

from test_listen import Endpoint, cli, session

__all__ = ["session"]  # the listen session fixture, shared with test_listen


def test_the_meter_flows_deliver_their_thin_reports_to_forward_thin_to(
    session: tuple[Path, Endpoint, subprocess.Popen[str]],
) -> None:
    cache, endpoint, _ = session
    sent = cli(cache, "trigger", "v1.billing.meter.error_report_triggered")
    assert sent.returncode == 0, sent.stderr
    steps = [line.split(":")[0] for line in sent.stdout.splitlines() if line.startswith("> ")]
    assert steps == [
        "> list_billing_meters",
        "> billing_meter",
        "> list_billing_meters_after_creation",
        "> billing_meter_event_session",
        "> create_billing_meter_event_stream",
    ]
    status = [line for line in sent.stdout.splitlines() if line[:1] not in (">", " ")]
    assert [line.split()[0] for line in status] == [
        "billing.meter.created",
        "v1.billing.meter.error_report_triggered",
    ]
    assert "/webhook: 200" in status[0] and "/thin: 200" in status[1]
    meter = endpoint.received[0]["payload"]["data"]["object"]
    report = endpoint.received[1]
    assert report["path"] == "/thin"
    assert report["payload"]["related_object"]["id"] == meter["id"]
    assert endpoint.fetched == [200]  # the destination fetched the meter from the session's fake

    # The docs do not say Stripe refuses a second meter with the same event_name (the CLI's step
    # only expects it may): each run makes one, and the report names the newest, data.0 of the list.
    again = cli(cache, "trigger", "v1.billing.meter.error_report_triggered")
    assert again.returncode == 0, again.stderr
    newest = endpoint.received[2]["payload"]["data"]["object"]["id"]
    assert newest != meter["id"]
    assert endpoint.received[3]["payload"]["related_object"]["id"] == newest

    missing = cli(cache, "trigger", "v1.billing.meter.no_meter_found")
    assert missing.returncode == 0, missing.stderr
    assert [item["payload"]["type"] for item in endpoint.received[-1:]] == [
        "v1.billing.meter.no_meter_found"
    ]
