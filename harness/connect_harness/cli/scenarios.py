"""``connect-harness scenarios``: list the named flows :func:`connect_harness.build_scenario` builds."""

from __future__ import annotations

import argparse
import json
from typing import Any

from connect_harness.events.scenarios import ORDERS, SCENARIOS


def add_scenarios_command(subparsers: Any) -> None:
    """Add ``scenarios`` to the CLI's subcommands."""
    parser = subparsers.add_parser(
        "scenarios", help="list the named scenarios (flows of events over time)"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run_scenarios)


def run_scenarios(args: argparse.Namespace) -> int:
    """Print every scenario: its name, who receives it, its description, its events in order, and
    the API calls of its flow (or why it is built from the contracts instead)."""
    if args.json:
        rows = [
            {
                "name": flow.name,
                "description": flow.description,
                "receivable_by": sorted(flow.receivers),
                "events": [step.event_type for step in flow.steps],
                "flow": [dict(step) for step in flow.flow],
                "built_because": flow.built_because or None,
            }
            for flow in SCENARIOS
        ]
        print(json.dumps({"orders": list(ORDERS), "scenarios": rows}, indent=2))
        return 0
    width = max(len(flow.name) for flow in SCENARIOS)
    for flow in SCENARIOS:
        print(f"{flow.name:<{width}}  {' + '.join(sorted(flow.receivers))}  -- {flow.description}")
        print(f"{'':<{width}}    {' -> '.join(step.event_type for step in flow.steps)}")
        if flow.flow:
            calls = ", ".join(f"{step['method'].upper()} {step['path']}" for step in flow.flow)
            print(f"{'':<{width}}    flow: {calls}")
        else:
            print(f"{'':<{width}}    built from the contracts: {flow.built_because}")
    print(
        f"\n{len(SCENARIOS)} scenarios; orders: {', '.join(ORDERS)} "
        "(connect_harness.build_scenario(name, account=..., order=...))."
    )
    return 0
