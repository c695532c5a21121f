"""Send one webhook delivery to the endpoint under test and record what it answered.

Three kinds of target get the same bytes: a URL over real HTTP/1.1 (:class:`UrlTarget`), a WSGI
app called in this process (:class:`WsgiTarget`) and an ASGI app called in this process
(:class:`AsgiTarget`). :func:`deliver` never raises for what the endpoint does: a refused
connection, a timeout or an exception escaping the app all become a :class:`Response` with
``error`` set, because to Stripe they are all the same thing, a failed delivery.

What the endpoint sees is what a real server would hand it: the request's headers in order, plus the
``Host`` and ``Content-Length`` headers an HTTP/1.1 client always sends (unless the request carries
its own), and the body bytes untouched. Redirects are never followed.
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import difflib
import http.client
import importlib
import inspect
import io
import ipaddress
import os
import ssl
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import SplitResult, unquote, unquote_to_bytes, urlsplit

from connect_harness.errors import UsageError

__all__ = [
    "AsgiTarget",
    "DeliveryRequestLike",
    "Response",
    "Target",
    "UrlTarget",
    "WsgiTarget",
    "deliver",
    "load_app",
    "target_from",
]

# The address in-process apps see as the server and as the client: Stripe's deliveries come from
# outside, but an in-process call has no peer, and loopback is the honest answer.
_LOOPBACK = "127.0.0.1"
_CLIENT_PORT = 52_000

# How much longer than ``timeout`` we wait for an ASGI app whose event loop is blocked (a sync sleep
# inside an async view), so a wedged app cannot hang the caller forever.
_ASGI_GRACE = 1.0

# How long closing an ASGI target waits for the app's lifespan shutdown.
_LIFESPAN_SHUTDOWN_TIMEOUT = 5.0


class DeliveryRequestLike(Protocol):
    """What :func:`deliver` reads from a request: ``connect_harness.wire.DeliveryRequest`` fits."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True)
class Response:
    """What the endpoint answered to one delivery.

    ``status`` is the HTTP status, or 0 when there was no HTTP answer at all (connection refused,
    TLS failure, timeout, an ASGI lifespan startup that failed); ``error`` then says why. An
    exception escaping an in-process app is what a server turns into a 500, so it is recorded as
    status 500 (or the status the app had already sent) with ``error`` holding the exception's
    ``repr``.
    ``elapsed`` is seconds from sending to the end of the response body.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed: float
    error: str | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class UrlTarget:
    """An endpoint reachable over HTTP; validate user input with :func:`target_from` first."""

    url: str

    def describe(self) -> str:
        """A one-line description for reports."""
        return self.url

    def close(self) -> None:
        """Nothing to release: every delivery opens and closes its own connection."""


@dataclass(frozen=True)
class WsgiTarget:
    """A WSGI app (Flask, Django's ``WSGIHandler``, a bare function) called in this process."""

    app: Any
    name: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        """A one-line description for reports."""
        return f"WSGI app {self.name or _app_name(self.app)} (in process)"

    def close(self) -> None:
        """Nothing to release: WSGI apps have no lifecycle."""


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


Target = UrlTarget | WsgiTarget | AsgiTarget


def deliver(request: DeliveryRequestLike, target: Target, *, timeout: float = 30.0) -> Response:
    """Send ``request`` to ``target`` once, exactly as given, and return what came back.

    For a :class:`UrlTarget` the target's URL says where the request goes (the request's own ``url``
    is ignored); for in-process targets the request's ``url`` supplies the path and query string the
    app sees. ``timeout`` (seconds) is the socket timeout for URLs and the time an ASGI app gets to
    finish its response; a WSGI app runs in the calling thread and cannot be interrupted, so for it
    ``elapsed`` is only measured. Never follows redirects: a 3xx is the response.
    """
    if isinstance(target, UrlTarget):
        return _deliver_url(request, target.url, timeout)
    if isinstance(target, WsgiTarget):
        return _deliver_wsgi(request, target.app)
    if isinstance(target, AsgiTarget):
        return target._runner.deliver(request, timeout)
    raise TypeError(f"deliver() needs a UrlTarget, WsgiTarget or AsgiTarget, not {target!r}")


# --- choosing a target ---------------------------------------------------------------------------


def target_from(obj: object, *, allow_remote: bool = False) -> Target:
    """Turn a URL string or an app object into a :class:`Target`.

    A URL must be http(s) with a host, and the host must be a loopback address (127.0.0.0/8, ::1,
    ``localhost``) unless ``allow_remote``: forged, validly signed events should not leave the
    machine by accident. Nothing is resolved over DNS. A callable is a WSGI app if it takes
    ``(environ, start_response)`` and an ASGI app if it is a coroutine function or takes
    ``(scope, receive, send)``.
    """
    if isinstance(obj, (UrlTarget, WsgiTarget, AsgiTarget)):
        if isinstance(obj, UrlTarget):
            _check_url(obj.url, allow_remote=allow_remote)
        return obj
    if isinstance(obj, str):
        _check_url(obj, allow_remote=allow_remote)
        return UrlTarget(obj)
    return _app_target(obj, name=None, shown=repr(obj))


def load_app(spec: str) -> WsgiTarget | AsgiTarget:
    """Import ``"package.module:attr"`` and return it as a target, the way flask and uvicorn do.

    The current working directory goes on ``sys.path`` first. ``attr`` may be a dotted attribute
    path or a factory call with literal arguments (``"app:create_app()"``,
    ``"app:create_app('testing')"``).
    """
    module_name, sep, expression = spec.partition(":")
    if not sep or not module_name.strip() or not expression.strip():
        raise UsageError(
            f"cannot load the app {spec!r}: expected 'package.module:attribute' "
            "(for example 'myproject.app:app' or 'myproject.app:create_app()')"
        )
    module_name, expression = module_name.strip(), expression.strip()
    attr_path, call_args, call_kwargs = _parse_app_expression(spec, expression)

    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and (
            err.name == module_name or module_name.startswith(err.name + ".")
        ):
            raise UsageError(
                f"cannot load the app {spec!r}: there is no module named {module_name!r} "
                f"({err}); run from the directory that contains it, or install it"
            ) from err
        raise UsageError(
            f"cannot load the app {spec!r}: importing {module_name!r} failed: "
            f"{type(err).__name__}: {err}"
        ) from err
    except Exception as err:
        raise UsageError(
            f"cannot load the app {spec!r}: importing {module_name!r} failed: "
            f"{type(err).__name__}: {err}"
        ) from err

    obj: Any = module
    walked = module_name
    for part in attr_path:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            candidates = [name for name in dir(obj) if not name.startswith("_")]
            close = difflib.get_close_matches(part, candidates, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UsageError(
                f"cannot load the app {spec!r}: {walked!r} has no attribute {part!r}{hint}"
            ) from None
        except Exception as err:  # a lazy module attribute (PEP 562) that builds the app
            raise UsageError(
                f"cannot load the app {spec!r}: getting {part!r} from {walked!r} failed: "
                f"{type(err).__name__}: {err}"
            ) from err
        walked = f"{walked}.{part}"

    if call_args is not None:
        if not callable(obj):
            raise UsageError(
                f"cannot load the app {spec!r}: {walked!r} is a {type(obj).__name__}, "
                "not a factory that can be called"
            )
        try:
            obj = obj(*call_args, **call_kwargs)
        except Exception as err:
            raise UsageError(
                f"cannot load the app {spec!r}: calling the factory {walked!r} failed: "
                f"{type(err).__name__}: {err}"
            ) from err
    return _app_target(obj, name=spec, shown=repr(spec))


def _parse_app_expression(
    spec: str, expression: str
) -> tuple[list[str], list[Any] | None, dict[str, Any]]:
    """Split ``a.b`` / ``factory(arg, key=value)`` into the attribute path and literal arguments."""
    bad = UsageError(
        f"cannot load the app {spec!r}: {expression!r} is not an attribute name or a factory "
        "call with literal arguments (for example 'app' or 'create_app()')"
    )
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError as err:
        raise bad from err
    call_args: list[Any] | None = None
    call_kwargs: dict[str, Any] = {}
    if isinstance(node, ast.Call):
        try:
            call_args = [ast.literal_eval(arg) for arg in node.args]
            call_kwargs = {
                kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None
            }
        except ValueError as err:
            raise bad from err
        if len(call_kwargs) != len(node.keywords):
            raise bad
        node = node.func
    path: list[str] = []
    while isinstance(node, ast.Attribute):
        path.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise bad
    path.insert(0, node.id)
    return path, call_args, call_kwargs


def _app_target(obj: object, *, name: str | None, shown: str) -> WsgiTarget | AsgiTarget:
    kind = _app_kind(obj)
    if kind == "asgi":
        return AsgiTarget(obj, name=name)
    if kind == "wsgi":
        return WsgiTarget(obj, name=name)
    if isinstance(obj, type):
        raise UsageError(
            f"{shown} is the class {obj.__qualname__}, not an app; pass an instance "
            "(or load the factory with 'module:create_app()')"
        )
    if not callable(obj):
        raise UsageError(
            f"{shown} is a {type(obj).__name__}, not a WSGI or ASGI app; pass a URL "
            "(http://127.0.0.1:8000/webhook) or an app object"
        )
    raise UsageError(
        f"{shown} is callable but neither a WSGI app (environ, start_response) nor an ASGI app "
        "(async scope, receive, send); pass the app object itself"
    )


def _app_kind(obj: object) -> str | None:
    if isinstance(obj, type) or not callable(obj):
        return None
    if inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(obj.__call__):
        return "asgi"
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is p.empty]
    for count in (len(required), len(positional)):
        if count == 3:
            return "asgi"
        if count == 2:
            return "wsgi"
    return None


def _app_name(app: object) -> str:
    if inspect.isfunction(app) or inspect.ismethod(app):
        return f"{app.__module__}.{app.__qualname__}"
    kind = type(app)
    label = getattr(app, "name", None)
    suffix = f" {label!r}" if isinstance(label, str) else ""
    return f"{kind.__module__}.{kind.__qualname__}{suffix}"


def _check_url(url: str, *, allow_remote: bool) -> SplitResult:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise UsageError(f"cannot deliver to {url!r}: it is not a valid URL ({err})") from err
    if parts.scheme not in ("http", "https"):
        raise UsageError(
            f"cannot deliver to {url!r}: expected an http:// or https:// URL such as "
            "'http://127.0.0.1:8000/webhook'; to call an app in this process, pass the app "
            "object or load it with 'module:attribute'"
        )
    host = parts.hostname
    if not host:
        raise UsageError(
            f"cannot deliver to {url!r}: the URL has no host; write it like "
            "'http://127.0.0.1:8000/webhook'"
        )
    del port
    if not allow_remote and not _is_loopback(host):
        raise UsageError(
            f"refusing to deliver forged events to {url!r}: it is not a loopback address; "
            "pass --allow-remote if you really mean it"
        )
    return parts


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


# --- what every server adds -----------------------------------------------------------------------


def _header_bytes(value: str) -> bytes:
    """Header text as wire bytes: latin-1 where it fits (HTTP's own charset), else UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _has_header(headers: Sequence[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name for key, _ in headers)


def _wire_headers(request: DeliveryRequestLike, netloc: str) -> list[tuple[str, str]]:
    """The request's headers as an HTTP/1.1 client sends them: Host first, Content-Length last."""
    headers = list(request.headers)
    if not _has_header(headers, "host"):
        headers.insert(0, ("Host", netloc))
    if not _has_header(headers, "content-length"):
        headers.append(("Content-Length", str(len(request.body))))
    return headers


def _timed_out(timeout: float) -> str:
    return f"timed out after {timeout:g} s"


# --- over HTTP -----------------------------------------------------------------------------------


def _deliver_url(request: DeliveryRequestLike, url: str, timeout: float) -> Response:
    parts = urlsplit(url)
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    headers = list(request.headers)
    started = time.perf_counter()
    try:
        connection.putrequest(
            request.method,
            path,
            skip_host=_has_header(headers, "host"),
            skip_accept_encoding=True,
        )
        for name, value in headers:
            connection.putheader(name, _header_bytes(value))
        if not _has_header(headers, "content-length"):
            connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body)
        answer = connection.getresponse()
        body = answer.read()
        elapsed = time.perf_counter() - started
        return Response(answer.status, tuple(answer.getheaders()), body, elapsed)
    except TimeoutError:  # socket.timeout is an alias since 3.10
        return Response(0, (), b"", time.perf_counter() - started, _timed_out(timeout))
    except ConnectionRefusedError as err:
        return Response(
            0, (), b"", time.perf_counter() - started, f"connection refused by {url}: {err}"
        )
    except (OSError, http.client.HTTPException) as err:
        return Response(
            0,
            (),
            b"",
            time.perf_counter() - started,
            f"no HTTP response from {url}: {type(err).__name__}: {err}",
        )
    finally:
        connection.close()


# --- WSGI ----------------------------------------------------------------------------------------


def _split_request_url(request: DeliveryRequestLike) -> tuple[SplitResult, str, str, int]:
    parts = urlsplit(request.url)
    scheme = parts.scheme if parts.scheme in ("http", "https") else "http"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if scheme == "https" else 80
    netloc = parts.netloc or _LOOPBACK
    return parts, scheme, netloc, port


def _wsgi_environ(request: DeliveryRequestLike) -> dict[str, Any]:
    parts, scheme, netloc, port = _split_request_url(request)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(parts.path or "/").decode("latin-1"),
        "QUERY_STRING": parts.query,
        "SERVER_NAME": _LOOPBACK,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": _LOOPBACK,
        "REMOTE_PORT": str(_CLIENT_PORT),
        "CONTENT_TYPE": "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in _wire_headers(request, netloc):
        text = _header_bytes(value).decode("latin-1")
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = text
            continue
        key = f"HTTP_{key}"
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


def _deliver_wsgi(request: DeliveryRequestLike, app: Any) -> Response:
    environ = _wsgi_environ(request)
    status: list[str] = []
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    def start_response(
        status_line: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if status and exc_info is None:
            raise AssertionError("start_response was called twice without exc_info (PEP 3333)")
        status[:] = [status_line]
        headers[:] = list(response_headers)
        return chunks.append

    started = time.perf_counter()
    result: Iterable[bytes] | None = None
    error: str | None = None
    try:
        result = app(environ, start_response)
        for chunk in result:
            chunks.append(chunk)
    except Exception as exc:
        error = repr(exc)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:
                error = error or repr(exc)
    elapsed = time.perf_counter() - started
    body = b"".join(chunks)
    if error is not None and (not status or not body):
        return Response(500, (), b"", elapsed, error)
    if not status:
        return Response(
            500, (), b"", elapsed, "the WSGI app returned without calling start_response"
        )
    return Response(_status_code(status[0]), tuple(headers), body, elapsed, error)


def _status_code(status_line: str) -> int:
    try:
        return int(status_line.split(None, 1)[0])
    except (ValueError, IndexError):
        return 500


# --- ASGI ----------------------------------------------------------------------------------------

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
        chunks: list[bytes] = []

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
                return Response(status or 500, tuple(headers), b"".join(chunks), elapsed, repr(exc))
            if status is None:
                return Response(
                    500, (), b"", elapsed, "the ASGI app returned without sending a response"
                )
            error = None if finished.is_set() else "the ASGI app returned mid-response"
            return Response(status, tuple(headers), b"".join(chunks), elapsed, error)
        if finished.is_set():
            # The response is complete; whatever the app still does (background tasks) goes on,
            # as it would behind a real server, while the caller gets the answer.
            task.add_done_callback(_consume_exception)
            return Response(status or 500, tuple(headers), b"".join(chunks), elapsed)
        task.cancel()
        task.add_done_callback(_consume_exception)
        return Response(0, (), b"", elapsed, _timed_out(timeout))


def _consume_exception(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
