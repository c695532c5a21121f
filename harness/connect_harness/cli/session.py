"""The ``listen`` session: what ``trigger`` and ``resend`` talk to, and how they find it.

One ``listen`` process holds a session: a signing secret, the fake Stripe API the app calls, and a
small control server on 127.0.0.1 (the local event bus). It writes where that control server is to a
session file in the user's cache folder (``$XDG_CACHE_HOME/connect-harness/listen.json``, else
``~/.cache/connect-harness/listen.json``), so ``trigger`` finds it with no flag, as the Stripe CLI's
``trigger`` finds its ``listen``. The file holds a random token the control server asks for: another
user's process cannot inject events. Nothing here ever prints or writes the signing secret except
``listen`` itself, on the terminal that started it, as the Stripe CLI does.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from connect_harness.cli.flows import FlowOptions, step_json
from connect_harness.cli.history import History, SentEvent
from connect_harness.delivery import Response, UrlTarget, deliver
from connect_harness.errors import UsageError
from connect_harness.events.thin import ThinEvent, build_thin_event
from connect_harness.lifecycle.fixtures import FixtureFile, StepResult
from connect_harness.wire.request import delivery_request

__all__ = [
    "Delivered",
    "ListenSession",
    "cache_dir",
    "history_file",
    "read_session",
    "session_file",
    "session_secret",
]

TOKEN_HEADER = "X-Connect-Harness-Token"
SEED_HEADER = "X-Connect-Harness-Seed"
#: Where ``trigger --thin`` asks the session to build and send a thin notification.
THIN_PATH = "/thin"
#: How many lines of the endpoint's answer ``trigger`` shows.
HEAD_LINES = 5
#: How many bytes of an answer a session keeps for ``trigger`` to show.
HEAD_BYTES = 2048
#: Where ``trigger NAME`` asks the session to run a flow against its fake Stripe API.
FLOW_PATH = "/flows"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/connect-harness``, else ``~/.cache/connect-harness``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "connect-harness"


def session_file() -> Path:
    """Where a running ``listen`` says how to reach it."""
    return cache_dir() / "listen.json"


def history_file() -> Path:
    """Where ``listen`` keeps every event its sessions sent, for ``resend`` after a restart."""
    return cache_dir() / "listen-history.jsonl"


def session_secret() -> str:
    """This user's stable session secret (made once, kept in the cache folder, mode 0600).

    Like the Stripe CLI's, it stays the same from one ``listen`` to the next, so the app's
    configuration does not change every time; ``listen --print-secret`` prints it.
    """
    path = cache_dir() / "secret"
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if text.startswith("whsec_") and len(text) > len("whsec_"):
        return text
    secret = "whsec_" + secrets.token_hex(24)
    _write_private(path, secret + "\n")
    return secret


def _write_private(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary file renamed into place: a reader (or a kill -9 mid-write) never sees a
        # truncated file.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as err:
        raise UsageError(
            f"cannot write {str(path)!r}: {err.strerror}; set XDG_CACHE_HOME to a writable folder"
        ) from err


@dataclass(frozen=True)
class SessionInfo:
    """What the session file says."""

    pid: int
    control_url: str
    token: str
    stripe_api_url: str


def read_session() -> SessionInfo | None:
    """The running session's address, or None when no session file is there."""
    path = session_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return SessionInfo(
            pid=int(data["pid"]),
            control_url=str(data["control_url"]),
            token=str(data["token"]),
            stripe_api_url=str(data["stripe_api_url"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UsageError(
            f"the listen session file {str(path)!r} is unreadable ({err}); delete it and start "
            "'connect-harness listen' again"
        ) from err


@dataclass(frozen=True)
class Delivered:
    """One delivery a session made: what ``trigger``/``resend`` print."""

    id: str
    type: str
    account: str | None
    livemode: bool
    url: str
    status: int
    error: str | None
    elapsed: float
    size: int
    head: str

    def to_json(self) -> dict[str, Any]:
        """The control server's answer."""
        return {
            "id": self.id,
            "type": self.type,
            "account": self.account,
            "livemode": self.livemode,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "elapsed": self.elapsed,
            "size": self.size,
            "head": self.head,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Delivered:
        """Read the control server's answer back."""
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            account=data.get("account"),
            livemode=bool(data.get("livemode")),
            url=str(data["url"]),
            status=int(data["status"]),
            error=data.get("error"),
            elapsed=float(data.get("elapsed", 0.0)),
            size=int(data.get("size", 0)),
            head=str(data.get("head", "")),
        )


def head_of(body: bytes, lines: int = HEAD_LINES) -> str:
    """The first ``lines`` lines of an answer, as text."""
    text = body[:HEAD_BYTES].decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[:lines])


def deliver_signed(
    body: bytes, *, secret: str, livemode: bool, url: str, timeout: float
) -> tuple[Response, int]:
    """Sign ``body`` now with ``secret`` and send it to ``url``; the answer and the signing time."""
    timestamp = int(time.time())
    request = delivery_request(
        body, secrets=[secret], timestamp=timestamp, livemode=livemode, url=url
    )
    return deliver(request, UrlTarget(url), timeout=timeout), timestamp


@dataclass
class _SentEvent:
    payload: dict[str, Any]
    body: bytes
    seed: int


@dataclass
class ListenSession:
    """A running ``listen``: routes each event it is handed and prints each delivery.

    ``forward_to`` gets platform events, ``forward_connect_to`` (default ``forward_to``) Connect
    events, ``forward_thin_to`` (default ``forward_to``) thin notifications, platform or Connect:
    an event destination receives both. ``on_event``/``on_delivery`` print the Stripe CLI's two
    lines per delivery.
    """

    secret: str
    forward_to: str
    forward_connect_to: str
    register: Callable[[Mapping[str, Any], int], None]
    calls: Callable[[], list[dict[str, Any]]]
    stripe_api_url: str
    events: frozenset[str] | None = None
    timeout: float = 30.0
    forward_thin_to: str | None = None
    register_thin: Callable[[ThinEvent], None] = lambda event: None
    on_event: Callable[[Mapping[str, Any]], None] = lambda payload: None
    on_delivery: Callable[[Mapping[str, Any], Delivered], None] = lambda payload, sent: None
    #: Runs a flow against the session's fake (``listen`` sets it); its steps.
    run_flow: Callable[[FixtureFile, FlowOptions], list[StepResult]] | None = None
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    history: History | None = None
    _sent: dict[str, _SentEvent] = field(default_factory=dict)
    _restored: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _pending: queue.Queue[tuple[Mapping[str, Any], bytes] | None] = field(
        default_factory=queue.Queue
    )
    _emitted: int = 0
    _outcomes: list[dict[str, Any]] = field(default_factory=list)
    _progress: threading.Condition = field(default_factory=threading.Condition)
    _pump: threading.Thread | None = None

    def __post_init__(self) -> None:
        # What an earlier session sent (before a restart, or a kill -9) can be resent.
        if self.history is not None:
            for event_id, old in self.history.load().items():
                self._sent[event_id] = _SentEvent(dict(old.payload), old.body, old.seed)
                self._restored.add(event_id)

    def _remember(self, payload: Mapping[str, Any], body: bytes, seed: int, thin: bool) -> None:
        with self._lock:
            self._sent[str(payload["id"])] = _SentEvent(dict(payload), body, seed)
            self._restored.discard(str(payload["id"]))
        if self.history is not None:
            self.history.append(SentEvent(payload, body, seed, thin))

    def route(self, payload: Mapping[str, Any]) -> str:
        """Thin notifications go to ``forward_thin_to``, Connect events (with ``account``) to
        ``forward_connect_to``, the rest to ``forward_to``."""
        if payload.get("object") == "v2.core.event":
            return self.forward_thin_to or self.forward_to
        return self.forward_connect_to if payload.get("account") else self.forward_to

    def handle_event(self, body: bytes, seed: int) -> dict[str, Any]:
        """Deliver a new event (its exact bytes) as the session; the control server's answer."""
        try:
            payload = json.loads(body)
        except ValueError as err:
            raise UsageError(f"the event is not JSON ({err})") from err
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
            raise UsageError("the event is not a JSON object with an 'id'")
        event_type = str(payload.get("type"))
        if self.events is not None and event_type not in self.events:
            return {
                "skipped": f"listen forwards only --events {','.join(sorted(self.events))}, "
                f"not {event_type}"
            }
        self._remember(payload, body, seed, thin=False)
        self.register(payload, seed)
        return self._deliver(payload, body).to_json()

    def handle_thin(self, body: bytes) -> dict[str, Any]:
        """Build the thin notification ``trigger --thin`` describes, register it with the fake API
        (its full event and related object, for the handler's fetches) and deliver it.

        The trigger sends what to build, not the bytes: the fake needs the full event too, and
        :func:`build_thin_event` gives the same bytes for the same arguments.
        """
        try:
            spec = json.loads(body)
            thin = build_thin_event(
                str(spec["type"]),
                account=spec.get("account"),
                livemode=spec.get("livemode") is True,
                seed=int(spec.get("seed") or 0),
                created=int(spec["created"]),
                api_version=spec.get("api_version"),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise UsageError(f"the thin notification to send is not understood ({err})") from err
        self._remember(thin.payload, thin.body, thin.seed, thin=True)
        self.register_thin(thin)
        return self._deliver(thin.payload, thin.body).to_json()

    def emit(self, event: Any) -> None:
        """The fake's sink: an event it emitted (an :class:`~connect_harness.events.build.Event`),
        delivered by the session's pump in emission order.

        The fake calls this in the thread serving the request, before the answer goes out:
        delivering here would hold every API answer (the flow's and the app's) until the endpoint
        has answered, so the pump delivers from its own thread, one event at a time, in order.
        """
        with self._progress:
            self._emitted += 1
        self._pending.put((event.payload, event.body))

    def start_pump(self) -> None:
        """Start delivering what the fake emits (``serve`` does this)."""
        if self._pump is None:
            self._pump = threading.Thread(target=self._run_pump, name="listen-pump", daemon=True)
            self._pump.start()

    def _run_pump(self) -> None:
        while True:
            item = self._pending.get()
            if item is None:
                return
            payload, body = item
            try:
                outcome = self._deliver_emitted(payload, body)
            except Exception as err:  # a delivery that breaks must not stop the pump
                outcome = {"skipped": f"{payload.get('type')} not delivered: {err}"}
            with self._progress:
                self._outcomes.append(outcome)
                self._progress.notify_all()

    def _deliver_emitted(self, payload: Mapping[str, Any], body: bytes) -> dict[str, Any]:
        event_type = str(payload.get("type"))
        if self.events is not None and event_type not in self.events:
            return {
                "skipped": f"listen forwards only --events {','.join(sorted(self.events))}, "
                f"not {event_type}"
            }
        # Kept in the history too, so `resend` of an emitted event works after a restart.
        self._remember(payload, body, 0, payload.get("object") == "v2.core.event")
        return self._deliver(payload, body).to_json()

    def handle_flow(self, body: bytes) -> dict[str, Any]:
        """Run the flow ``trigger NAME`` sends against the session's fake and answer with its
        steps and the deliveries of the events the fake emitted meanwhile, in order."""
        from connect_harness.lifecycle.fixtures import FlowRefused, load_fixture

        if self.run_flow is None:
            raise UsageError("this listen session runs no flows")
        try:
            spec = json.loads(body)
            fixture = load_fixture(json.dumps(spec["fixture"]), str(spec["source"]))
            options = FlowOptions.from_json(spec.get("options") or {})
        except (ValueError, KeyError, TypeError) as err:
            raise UsageError(f"the flow to run is not understood ({err})") from err
        with self._progress:
            start = self._emitted
        try:
            steps = self.run_flow(fixture, options)
        except FlowRefused as err:
            refused: str | None = str(err)
            steps = []
        else:
            refused = None
        with self._progress:
            end = self._emitted
            self._progress.wait_for(
                lambda: len(self._outcomes) >= end, timeout=options.timeout * max(1, end - start)
            )
            outcomes = self._outcomes[start:end]
        return {
            "steps": [step_json(step) for step in steps],
            "delivered": outcomes,
            "refused": refused,
        }

    def handle_resend(self, event_id: str) -> dict[str, Any]:
        """Deliver an event this session sent before again, signed anew."""
        with self._lock:
            sent = self._sent.get(event_id)
            restored = event_id in self._restored
        if sent is not None and restored and sent.payload.get("object") == "event":
            self.register(sent.payload, sent.seed)  # this session's fake has not seen its objects
        if sent is None:
            known = ", ".join(list(self._sent)[-3:]) or "none yet"
            raise LookupError(
                f"this listen session has not sent {event_id!r} (the last it sent: {known})"
            )
        return self._deliver(sent.payload, sent.body).to_json()

    def _deliver(self, payload: Mapping[str, Any], body: bytes) -> Delivered:
        url = self.route(payload)
        livemode = payload.get("livemode") is True
        self.on_event(payload)
        response, _ = deliver_signed(
            body, secret=self.secret, livemode=livemode, url=url, timeout=self.timeout
        )
        account = payload.get("account") or payload.get("context")
        sent = Delivered(
            id=str(payload["id"]),
            type=str(payload.get("type")),
            account=str(account) if account else None,
            livemode=livemode,
            url=url,
            status=response.status,
            error=response.error,
            elapsed=response.elapsed,
            size=len(response.body),
            head=head_of(response.body),
        )
        self.on_delivery(payload, sent)
        return sent

    # --- the control server -------------------------------------------------------------------

    def serve(self) -> str:
        """Start the control server on 127.0.0.1 in a thread; its URL."""
        session = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _answer(self, status: int, document: Mapping[str, Any]) -> None:
                data = json.dumps(document).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _allowed(self) -> bool:
                given = self.headers.get(TOKEN_HEADER, "")
                if not secrets.compare_digest(given, session.token):
                    self._answer(403, {"error": "wrong session token"})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._allowed():
                    return
                if self.path == "/calls":
                    self._answer(200, {"calls": session.calls()})
                else:
                    self._answer(404, {"error": f"no {self.path}"})

            def do_POST(self) -> None:
                if not self._allowed():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    if self.path == "/events":
                        seed = int(self.headers.get(SEED_HEADER) or 0)
                        self._answer(200, session.handle_event(body, seed))
                    elif self.path == THIN_PATH:
                        self._answer(200, session.handle_thin(body))
                    elif self.path == FLOW_PATH:
                        self._answer(200, session.handle_flow(body))
                    elif self.path == "/resend":
                        self._answer(200, session.handle_resend(json.loads(body)["id"]))
                    else:
                        self._answer(404, {"error": f"no {self.path}"})
                except LookupError as err:
                    self._answer(404, {"error": str(err.args[0])})
                except (UsageError, ValueError) as err:
                    self._answer(400, {"error": str(err)})

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, name="listen-control", daemon=True).start()
        self.start_pump()
        return f"http://127.0.0.1:{server.server_address[1]}"

    def write_session_file(self, control_url: str) -> Path:
        """Say where this session is, for ``trigger`` and ``resend``."""
        path = session_file()
        document = {
            "pid": os.getpid(),
            "control_url": control_url,
            "token": self.token,
            "stripe_api_url": self.stripe_api_url,
        }
        _write_private(path, json.dumps(document, indent=2) + "\n")
        return path

    def close(self, path: Path | None) -> None:
        """Stop the control server and remove the session file if it is still ours."""
        if self._pump is not None:
            self._pending.put(None)
            self._pump.join(timeout=self.timeout)
            self._pump = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if path is not None:
            try:
                current = read_session()
            except UsageError:
                current = None
            if current is not None and current.token == self.token:
                path.unlink(missing_ok=True)
