"""A flow's requests over HTTP to a fake Stripe API, as the Stripe CLI sends a fixture's.

:mod:`connect_harness.lifecycle.fixtures` reads, checks and runs a fixture file with a ``send`` it is
given; here is that ``send`` for a fake at a URL (form-encoded, a test or live key, ``Stripe-Account``,
``Stripe-Version``), and :func:`run_flow`, which ``trigger`` and the ``listen`` session call.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connect_harness.errors import UsageError
from connect_harness.lifecycle.fixtures import (
    FixtureFile,
    Reply,
    Request,
    StepResult,
    encode_form,
    run_fixture,
)

__all__ = [
    "LIVE_KEY",
    "TEST_KEY",
    "FlowOptions",
    "api_sender",
    "run_flow",
    "step_from_json",
    "step_json",
]

#: The keys a flow authenticates with: fakes, never a real key.
TEST_KEY = "sk_test_connect_harness_trigger"
LIVE_KEY = "sk_live_connect_harness_trigger"
#: How long a request to the fake may take: its first one loads the contracts, which a loaded
#: machine can stretch past a short delivery ``--timeout``.
API_TIMEOUT = 60.0


@dataclass(frozen=True)
class FlowOptions:
    """How ``trigger NAME`` / ``fixtures FILE`` talk to the API (the Stripe CLI's flags)."""

    live: bool = False
    account: str | None = None
    api_version: str | None = None
    timeout: float = 30.0

    def to_json(self) -> dict[str, Any]:
        return {
            "live": self.live,
            "account": self.account,
            "api_version": self.api_version,
            "timeout": self.timeout,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FlowOptions:
        account, version = data.get("account"), data.get("api_version")
        return cls(
            live=data.get("live") is True,
            account=str(account) if account else None,
            api_version=str(version) if version else None,
            timeout=float(data.get("timeout") or 30.0),
        )


def api_sender(base_url: str, options: FlowOptions) -> Callable[[Request], Reply]:
    """Send a flow's requests to ``base_url`` as the Stripe CLI sends them: form-encoded, with a
    test (``--live``: live) key, ``Stripe-Account`` and ``Stripe-Version`` when given.

    A step's ``api_base`` is not followed: every step goes to ``base_url``, the fake.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def send(request: Request) -> Reply:
        headers = {"Authorization": f"Bearer {LIVE_KEY if options.live else TEST_KEY}"}
        if options.account:
            headers["Stripe-Account"] = options.account
        if options.api_version:
            headers["Stripe-Version"] = options.api_version
        headers.update(request.headers)
        url = base_url + request.path
        data: bytes | None = None
        if request.headers.get("Content-Type", "").startswith("application/json"):
            data = json.dumps(request.params).encode("utf-8")
        else:
            form = urllib.parse.urlencode(encode_form(request.params))
            if request.method == "post":
                data = form.encode("utf-8")
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            elif form:
                url += ("&" if "?" in url else "?") + form
        call = urllib.request.Request(
            url, data=data, method=request.method.upper(), headers=headers
        )
        try:
            with opener.open(call, timeout=max(options.timeout, API_TIMEOUT)) as answer:
                return Reply(answer.status, _json_body(answer.read()))
        except urllib.error.HTTPError as err:
            with err:
                return Reply(err.code, _json_body(err.read()))
        except OSError as err:
            raise UsageError(
                f"the fake Stripe API at {base_url} does not answer ({err}); is it running?"
            ) from err
        except (ValueError, http.client.InvalidURL) as err:  # not sendable on a request line
            raise UsageError(
                f"step {request.step!r}: cannot send {request.method.upper()} {request.path!r} "
                f"({err}); an API path is ASCII without spaces"
            ) from err

    return send


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {"error": {"type": "api_error", "message": raw[:200].decode("utf-8", "replace")}}
    return body if isinstance(body, dict) else {"data": body}


def step_json(step: StepResult) -> dict[str, Any]:
    """A step of a flow, as the session answers ``trigger`` (its body: only the id)."""
    return {
        "step": step.step,
        "method": step.method,
        "path": step.path,
        "status": step.status,
        "id": step.object_id,
    }


def step_from_json(data: Mapping[str, Any]) -> StepResult:
    """A step of a session's flow answer, read back (its body: only the id)."""
    body = {"id": data["id"]} if data.get("id") else {}
    return StepResult(
        str(data["step"]), str(data["method"]), str(data["path"]), int(data["status"]), body
    )


def _rfc3339_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def run_flow(
    fixture: FixtureFile,
    base_url: str,
    options: FlowOptions,
    *,
    on_step: Callable[[StepResult], None] = lambda result: None,
) -> list[StepResult]:
    """Run ``fixture`` against the fake at ``base_url``, with this process's environment."""
    return run_fixture(
        fixture,
        api_sender(base_url, options),
        env=dict(os.environ),
        now=_rfc3339_now,
        new_uuid=lambda: str(uuid.uuid4()),
        on_step=on_step,
    )
