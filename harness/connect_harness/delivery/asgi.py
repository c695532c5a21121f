"""Delivery to an ASGI 3 app in this process: its own event loop thread, lifespan, timeouts."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from connect_harness.delivery.base import (
    _CLIENT_PORT,
    _LOOPBACK,
    DeliveryRequestLike,
    KeptBody,
    Response,
    _app_name,
    _header_bytes,
    _split_request_url,
    _timed_out,
    _wire_headers,
)

# How much longer than ``timeout`` we wait for an ASGI app whose event loop is blocked (a sync sleep
# inside an async view), so a wedged app cannot hang the caller forever.
_ASGI_GRACE = 1.0


# How long closing an ASGI target waits for the app's lifespan shutdown.
_LIFESPAN_SHUTDOWN_TIMEOUT = 5.0


@dataclass(frozen=True)
class AsgiTarget:
    """An ASGI 3 app (Starlette, FastAPI, Django's ``ASGIHandler``) called in this process.

    The app runs on an event loop in a background thread that lives as long as the target, so it
    works the same when :func:`deliver` is called from inside a running event loop, and state the
    app's lifespan startup created (connection pools bound to a loop) stays usable. Lifespan
    startup runs before the first delivery, shutdown on :meth:`close` (or at interpreter exit).
    Apps that do not speak the lifespan protocol are called without it, as uvicorn does.
    """

    app: Any
    name: str | None = field(default=None, compare=False)
    _runner: _AsgiRunner = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        runner = _AsgiRunner(self.app)
        object.__setattr__(self, "_runner", runner)
        weakref.finalize(self, runner.close)

    def describe(self) -> str:
        """A one-line description for reports."""
        return f"ASGI app {self.name or _app_name(self.app)} (in process)"

    def close(self) -> None:
        """Run the app's lifespan shutdown and stop its loop; a later delivery starts it again."""
        self._runner.close()


_SHUTDOWN_DONE = ("lifespan.shutdown.complete", "lifespan.shutdown.failed")


_Message = MutableMapping[str, Any]


_Receive = Callable[[], Awaitable[_Message]]


_Send = Callable[[_Message], Awaitable[None]]


class _AsgiRunner:
    """One event loop in a daemon thread, the app's lifespan on it, and the deliveries."""

    def __init__(self, app: Any) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._startup_error: str | None = None
        self._state: dict[str, Any] = {}
        self._lifespan_task: asyncio.Task[None] | None = None
        self._shutdown: asyncio.Event | None = None
        self._shutdown_done: asyncio.Future[None] | None = None

    def deliver(self, request: DeliveryRequestLike, timeout: float) -> Response:
        started = time.perf_counter()
        loop = self._ensure_loop()
        if not self._started:
            with self._lock:
                if not self._started:
                    self._startup_error = self._start_lifespan(
                        loop, self._startup(timeout), timeout
                    )
                    self._started = True
        if self._startup_error is not None:
            return Response(0, (), b"", time.perf_counter() - started, self._startup_error)
        future = asyncio.run_coroutine_threadsafe(self._call(request, timeout), loop)
        try:
            return future.result(timeout + _ASGI_GRACE)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Response(
                0,
                (),
                b"",
                time.perf_counter() - started,
                _timed_out(timeout) + " (the app blocks its event loop)",
            )

    def close(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            if self._started and not loop.is_closed():
                future = asyncio.run_coroutine_threadsafe(self._stop_lifespan(), loop)
                try:
                    future.result(_LIFESPAN_SHUTDOWN_TIMEOUT + _ASGI_GRACE)
                except (concurrent.futures.TimeoutError, Exception):
                    future.cancel()
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_LIFESPAN_SHUTDOWN_TIMEOUT)
            if not thread.is_alive():
                loop.close()
            self._loop = self._thread = None
            self._started = False
            self._startup_error = None
            self._state = {}
            self._lifespan_task = self._shutdown = self._shutdown_done = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._serve, args=(loop,), name="connect-harness-asgi", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())

    @staticmethod
    def _start_lifespan(
        loop: asyncio.AbstractEventLoop, startup: Coroutine[Any, Any, str | None], timeout: float
    ) -> str | None:
        future = asyncio.run_coroutine_threadsafe(startup, loop)
        try:
            return future.result(timeout + _ASGI_GRACE)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return f"the ASGI app's lifespan startup did not finish within {timeout:g} s"

    async def _startup(self, timeout: float) -> str | None:
        """Run lifespan startup; None when the app is ready (or does not speak lifespan)."""
        loop = asyncio.get_running_loop()
        startup: asyncio.Future[str | None] = loop.create_future()
        self._shutdown = shutdown = asyncio.Event()
        self._shutdown_done = shutdown_done = loop.create_future()
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self._state,
        }
        asked = False

        async def receive() -> _Message:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "lifespan.startup"}
            await shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: _Message) -> None:
            kind = message.get("type")
            if kind == "lifespan.startup.complete" and not startup.done():
                startup.set_result(None)
            elif kind == "lifespan.startup.failed" and not startup.done():
                startup.set_result(
                    f"the ASGI app's lifespan startup failed: {message.get('message', '')!s}"
                )
            elif kind in _SHUTDOWN_DONE and not shutdown_done.done():
                shutdown_done.set_result(None)

        async def lifespan() -> None:
            try:
                await self._app(scope, receive, send)
            except Exception:
                # An app that raises on the lifespan scope does not support it (ASGI spec): go on
                # without lifespan events. After startup it is a failed shutdown, nothing to report.
                pass
            finally:
                if not startup.done():
                    startup.set_result(None)
                if not shutdown_done.done():
                    shutdown_done.set_result(None)

        self._lifespan_task = loop.create_task(lifespan())
        try:
            return await asyncio.wait_for(asyncio.shield(startup), timeout)
        except asyncio.TimeoutError:
            return f"the ASGI app's lifespan startup did not finish within {timeout:g} s"

    async def _stop_lifespan(self) -> None:
        task, shutdown, done = self._lifespan_task, self._shutdown, self._shutdown_done
        if task is None or shutdown is None or done is None or task.done():
            return
        shutdown.set()
        try:
            await asyncio.wait_for(asyncio.shield(done), _LIFESPAN_SHUTDOWN_TIMEOUT)
        except asyncio.TimeoutError:
            task.cancel()

    async def _call(self, request: DeliveryRequestLike, timeout: float) -> Response:
        parts, scheme, netloc, port = _split_request_url(request)
        raw_path = parts.path or "/"
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": scheme,
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("utf-8"),
            "query_string": parts.query.encode("utf-8"),
            "root_path": "",
            "headers": [
                (name.lower().encode("latin-1"), _header_bytes(value))
                for name, value in _wire_headers(request, netloc)
            ],
            "client": (_LOOPBACK, _CLIENT_PORT),
            "server": (_LOOPBACK, port),
            "state": dict(self._state),
        }
        body_sent = False
        finished = asyncio.Event()
        status: int | None = None
        headers: list[tuple[str, str]] = []
        chunks = KeptBody()

        async def receive() -> _Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": request.body, "more_body": False}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: _Message) -> None:
            nonlocal status
            kind = message.get("type")
            if kind == "http.response.start":
                if status is not None:
                    raise RuntimeError("the ASGI app sent http.response.start twice")
                status = int(message["status"])
                headers.extend(
                    (bytes(k).decode("latin-1"), bytes(v).decode("latin-1"))
                    for k, v in message.get("headers", ())
                )
            elif kind == "http.response.body":
                if status is None:
                    raise RuntimeError("the ASGI app sent a body before http.response.start")
                if finished.is_set():
                    raise RuntimeError("the ASGI app sent a body after the response was complete")
                chunks.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    finished.set()

        started = time.perf_counter()
        task = asyncio.ensure_future(self._app(scope, receive, send))
        waiter = asyncio.ensure_future(finished.wait())
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        elapsed = time.perf_counter() - started
        waiter.cancel()
        if task in done:
            exc = task.exception()
            if exc is not None:
                return Response(
                    status or 500, tuple(headers), chunks.body, elapsed, repr(exc), chunks.size
                )
            if status is None:
                return Response(
                    500, (), b"", elapsed, "the ASGI app returned without sending a response"
                )
            error = None if finished.is_set() else "the ASGI app returned mid-response"
            return Response(status, tuple(headers), chunks.body, elapsed, error, chunks.size)
        if finished.is_set():
            # The response is complete; whatever the app still does (background tasks) goes on,
            # as it would behind a real server, while the caller gets the answer.
            task.add_done_callback(_consume_exception)
            return Response(status or 500, tuple(headers), chunks.body, elapsed, size=chunks.size)
        task.cancel()
        task.add_done_callback(_consume_exception)
        return Response(0, (), b"", elapsed, _timed_out(timeout))


def _consume_exception(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
