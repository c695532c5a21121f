"""Delivery puts the exact bytes and headers in front of a URL, a WSGI app and an ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connect_harness.delivery import (
    AsgiTarget,
    UrlTarget,
    WsgiTarget,
    deliver,
    load_app,
    target_from,
)
from connect_harness.errors import UsageError
from connect_harness.wire.request import DeliveryRequest
from endpoints.serving import free_port

BODY = '{\n  "id": "evt_1",\n  "object": "event",\n  "note": "café ☕"\n}'.encode()
HEADERS = (
    ("Content-Type", "application/json; charset=utf-8"),
    ("Cache-Control", "no-cache"),
    ("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
    ("Accept", "*/*; q=0.5, application/xml"),
    ("Stripe-Signature", "t=1700000000,v1=abc,v0=def"),
)


def make_request(url: str = "http://127.0.0.1:4242/webhook?source=test") -> DeliveryRequest:
    return DeliveryRequest(method="POST", url=url, headers=HEADERS, body=BODY)


# --- a raw HTTP server that keeps the bytes it received -------------------------------------------


class RawServer:
    """Accepts connections on 127.0.0.1, keeps each raw request, answers with a canned response."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + rest)
                conn.sendall(self.answer)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def raw_server() -> Iterator[RawServer]:
    server = RawServer(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Seen: yes\r\n"
        b"Content-Length: 8\r\nConnection: close\r\n\r\nreceived"
    )
    yield server
    server.close()


def test_url_target_receives_exact_bytes_and_headers(raw_server: RawServer) -> None:
    url = f"http://127.0.0.1:{raw_server.port}/hooks/stripe?x=1"
    response = deliver(make_request(), target_from(url))

    assert (response.status, response.body, response.error) == (200, b"received", None)
    assert response.header("x-seen") == "yes"
    assert response.elapsed >= 0
    expected = (
        f"POST /hooks/stripe?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{raw_server.port}\r\n".encode()
        + b"".join(f"{name}: {value}\r\n".encode() for name, value in HEADERS)
        + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
        + BODY
    )
    assert raw_server.requests == [expected]


def test_url_target_sends_a_host_and_content_length_given_in_the_request(
    raw_server: RawServer,
) -> None:
    request = DeliveryRequest(
        method="POST",
        url="http://ignored.example/",
        headers=(("Host", "webhooks.local"), ("Content-Length", str(len(BODY)))),
        body=BODY,
    )
    deliver(request, UrlTarget(f"http://127.0.0.1:{raw_server.port}/"))

    head = raw_server.requests[0].split(b"\r\n\r\n")[0].split(b"\r\n")
    assert head == [
        b"POST / HTTP/1.1",
        b"Host: webhooks.local",
        f"Content-Length: {len(BODY)}".encode(),
    ]


def test_url_target_does_not_follow_redirects() -> None:
    server = RawServer(
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: /webhook/\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    try:
        response = deliver(make_request(), UrlTarget(f"http://127.0.0.1:{server.port}/webhook"))
    finally:
        server.close()

    assert (response.status, response.error) == (301, None)
    assert response.header("Location") == "/webhook/"
    assert len(server.requests) == 1


def test_refused_connection_is_status_0_with_the_reason() -> None:
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}/webhook"

    response = deliver(make_request(), UrlTarget(url))

    assert (response.status, response.body) == (0, b"")
    assert response.error is not None
    assert response.error.startswith(f"connection refused by {url}: ")


def test_silent_server_times_out_as_status_0() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        response = deliver(make_request(), UrlTarget(f"http://127.0.0.1:{port}/"), timeout=0.2)

    assert (response.status, response.error) == (0, "timed out after 0.2 s")


def test_a_server_that_hangs_up_is_status_0() -> None:
    server = RawServer(b"")
    try:
        response = deliver(make_request(), UrlTarget(f"http://127.0.0.1:{server.port}/"))
    finally:
        server.close()

    assert response.status == 0
    assert response.error is not None
    assert response.error.startswith("no HTTP response from http://127.0.0.1:")


# --- WSGI -----------------------------------------------------------------------------------------


def test_flask_app_sees_the_raw_body_and_headers() -> None:
    seen: dict[str, Any] = {}
    app = flask.Flask("webhooks")

    @app.post("/webhook")
    def webhook() -> tuple[str, int]:
        seen["body"] = flask.request.get_data()
        seen["headers"] = list(flask.request.headers.items())
        seen["args"] = flask.request.args.to_dict()
        return "ok", 200

    target = target_from(app)
    response = deliver(make_request(), target)

    assert isinstance(target, WsgiTarget)
    assert target.describe() == "WSGI app flask.app.Flask 'webhooks' (in process)"
    assert (response.status, response.body, response.error) == (200, b"ok", None)
    assert seen["body"] == BODY
    assert seen["args"] == {"source": "test"}
    # A WSGI environ is a dict: the order of headers does not survive it, their text does.
    assert sorted(seen["headers"]) == sorted(
        [("Host", "127.0.0.1:4242"), *HEADERS, ("Content-Length", str(len(BODY)))]
    )


def test_bare_wsgi_function_gets_a_pep_3333_environ() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        seen["body"] = environ["wsgi.input"].read()
        start_response("202 Accepted", [("X-Handler", "bare")])
        return [b"acc", b"epted"]

    response = deliver(make_request("https://127.0.0.1/hooks/a%20b?x=1&y=2"), target_from(app))

    assert (response.status, response.headers, response.body) == (
        202,
        (("X-Handler", "bare"),),
        b"accepted",
    )
    assert seen["body"] == BODY
    assert {key: seen[key] for key in seen if key.isupper()} == {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/hooks/a b",
        "QUERY_STRING": "x=1&y=2",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "52000",
        "CONTENT_TYPE": "application/json; charset=utf-8",
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_CACHE_CONTROL": "no-cache",
        "HTTP_USER_AGENT": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "HTTP_ACCEPT": "*/*; q=0.5, application/xml",
        "HTTP_STRIPE_SIGNATURE": "t=1700000000,v1=abc,v0=def",
    }
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["wsgi.version"] == (1, 0)


def test_wsgi_header_text_is_the_latin1_reading_of_the_wire_bytes() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("200 OK", [])
        return []

    request = DeliveryRequest(
        method="POST",
        url="http://127.0.0.1/",
        headers=(("Stripe-Signature", "t=1,v1=ab☃"), ("X-Dup", "a"), ("X-Dup", "b")),
        body=b"",
    )
    deliver(request, WsgiTarget(app))

    assert seen["HTTP_STRIPE_SIGNATURE"] == "t=1,v1=ab☃".encode().decode("latin-1")
    assert seen["HTTP_X_DUP"] == "a,b"


def test_wsgi_exception_is_status_500_with_the_error() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise KeyError("stripe_account")

    response = deliver(make_request(), WsgiTarget(app))

    assert (response.status, response.body, response.error) == (
        500,
        b"",
        "KeyError('stripe_account')",
    )


def test_wsgi_result_is_closed() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"ok"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        start_response("200 OK", [])
        return Body()

    assert deliver(make_request(), WsgiTarget(app)).body == b"ok"
    assert closed == [True]


def test_flask_testing_mode_propagates_the_exception_as_500() -> None:
    app = flask.Flask("strict")
    app.testing = True

    @app.post("/webhook")
    def webhook() -> str:
        raise ValueError("no signature")

    response = deliver(make_request(), target_from(app))

    assert (response.status, response.error) == (500, "ValueError('no signature')")


# --- ASGI -----------------------------------------------------------------------------------------


def starlette_app(seen: dict[str, Any], events: list[str]) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"pool": "ready"}
        events.append("shutdown")

    async def webhook(request: Request) -> Response:
        seen["body"] = await request.body()
        seen["headers"] = request.headers.raw
        seen["query"] = dict(request.query_params)
        seen["pool"] = request.state.pool
        return PlainTextResponse("ok")

    async def crash(request: Request) -> Response:
        raise RuntimeError("handler crashed")

    return Starlette(
        routes=[
            Route("/webhook", webhook, methods=["POST"]),
            Route("/crash", crash, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def test_starlette_app_sees_raw_bytes_and_runs_lifespan_once() -> None:
    seen: dict[str, Any] = {}
    events: list[str] = []
    target = target_from(starlette_app(seen, events))
    assert isinstance(target, AsgiTarget)
    try:
        first = deliver(make_request(), target)
        second = deliver(make_request(), target)
    finally:
        target.close()

    assert (first.status, first.body, first.error) == (200, b"ok", None)
    assert second.status == 200
    assert events == ["startup", "shutdown"]
    assert seen["body"] == BODY
    assert seen["query"] == {"source": "test"}
    assert seen["pool"] == "ready"
    assert seen["headers"] == [
        (b"host", b"127.0.0.1:4242"),
        *((name.lower().encode(), value.encode()) for name, value in HEADERS),
        (b"content-length", str(len(BODY)).encode()),
    ]


def test_starlette_exception_is_its_500_with_the_error() -> None:
    target = target_from(starlette_app({}, []))
    try:
        response = deliver(make_request("http://127.0.0.1/crash"), target)
    finally:
        target.close()

    assert (response.status, response.body) == (500, b"Internal Server Error")
    assert response.error == "RuntimeError('handler crashed')"


def test_bare_asgi_callable_gets_an_http_scope_and_the_body_in_one_message() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"  # no lifespan support: the runner must carry on
        seen["scope"] = scope
        seen["first"] = await receive()
        await send({"type": "http.response.start", "status": 204, "headers": [(b"x-a", b"b")]})
        await send({"type": "http.response.body", "body": b""})
        seen["after"] = await receive()

    target = target_from(app)
    try:
        response = deliver(make_request("http://127.0.0.1:8000/a%2Fb?x=%20"), target)
    finally:
        target.close()

    assert (response.status, response.headers, response.body, response.error) == (
        204,
        (("x-a", "b"),),
        b"",
        None,
    )
    assert seen["first"] == {"type": "http.request", "body": BODY, "more_body": False}
    assert seen["after"] == {"type": "http.disconnect"}
    scope = seen["scope"]
    assert {key: scope[key] for key in scope if key != "headers"} == {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/a/b",
        "raw_path": b"/a%2Fb",
        "query_string": b"x=%20",
        "root_path": "",
        "client": ("127.0.0.1", 52000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


def test_bare_asgi_callable_with_lifespan() -> None:
    events: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["greeting"] = "hello"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await receive()
        body = scope["state"]["greeting"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"!"})

    target = AsgiTarget(app)
    try:
        responses = [deliver(make_request(), target) for _ in range(2)]
    finally:
        target.close()

    assert [r.body for r in responses] == [b"hello!", b"hello!"]
    assert events == ["lifespan.startup", "lifespan.shutdown"]


def test_failed_lifespan_startup_is_status_0() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    target = AsgiTarget(app)
    try:
        response = deliver(make_request(), target)
    finally:
        target.close()

    assert (response.status, response.error) == (
        0,
        "the ASGI app's lifespan startup failed: no database",
    )


def test_asgi_exception_before_the_response_is_status_500() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise LookupError("no such account")

    target = AsgiTarget(app)
    try:
        response = deliver(make_request(), target)
    finally:
        target.close()

    assert (response.status, response.error) == (500, "LookupError('no such account')")


def test_asgi_app_that_never_answers_times_out() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.Event().wait()

    target = AsgiTarget(app)
    try:
        response = deliver(make_request(), target, timeout=0.2)
    finally:
        target.close()

    assert (response.status, response.error) == (0, "timed out after 0.2 s")


def test_asgi_response_returns_before_background_work_finishes() -> None:
    release = threading.Event()
    finished = threading.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"queued"})
        await asyncio.get_running_loop().run_in_executor(None, release.wait)
        finished.set()

    target = AsgiTarget(app)
    try:
        response = deliver(make_request(), target)
        assert (response.status, response.body) == (200, b"queued")
        assert not finished.is_set()
        release.set()
        assert finished.wait(5)
    finally:
        release.set()
        target.close()


def test_asgi_delivery_works_from_inside_a_running_event_loop() -> None:
    seen: dict[str, Any] = {}
    target = target_from(starlette_app(seen, []))

    async def main() -> int:
        return deliver(make_request(), target).status

    try:
        assert asyncio.run(main()) == 200
    finally:
        target.close()
    assert seen["body"] == BODY


def test_concurrent_asgi_deliveries_run_concurrently() -> None:
    arrived: list[int] = []
    both_in: asyncio.Event | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal both_in
        if scope["type"] != "http":
            return
        if both_in is None:
            both_in = asyncio.Event()
        arrived.append(1)
        if len(arrived) == 2:
            both_in.set()
        await both_in.wait()  # a duplicate delivery arriving while the first is being handled
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    target = AsgiTarget(app)
    results: list[int] = []
    try:
        threads = [
            threading.Thread(target=lambda: results.append(deliver(make_request(), target).status))
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    finally:
        target.close()
    assert results == [200, 200]


# --- choosing targets -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4242/webhook",
        "http://127.8.9.10/webhook",
        "https://localhost/webhook",
        "http://LOCALHOST:8000/",
        "http://[::1]:8000/webhook",
    ],
)
def test_target_from_accepts_loopback_urls(url: str) -> None:
    assert target_from(url) == UrlTarget(url)


def test_target_from_refuses_remote_hosts_unless_allowed() -> None:
    with pytest.raises(UsageError) as info:
        target_from("https://example.com/webhook")
    assert str(info.value) == (
        "refusing to deliver forged events to 'https://example.com/webhook': it is not a loopback "
        "address; pass --allow-remote if you really mean it"
    )
    assert target_from("https://example.com/webhook", allow_remote=True) == UrlTarget(
        "https://example.com/webhook"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://127.0.0.1/hook",
            "cannot deliver to 'ftp://127.0.0.1/hook': expected an http:// or https:// URL such "
            "as 'http://127.0.0.1:8000/webhook'; to call an app in this process, pass the app "
            "object or load it with 'module:attribute'",
        ),
        (
            "http:///hook",
            "cannot deliver to 'http:///hook': the URL has no host; write it like "
            "'http://127.0.0.1:8000/webhook'",
        ),
        (
            "http://127.0.0.1:99999/",
            "cannot deliver to 'http://127.0.0.1:99999/': it is not a valid URL "
            "(Port out of range 0-65535)",
        ),
    ],
)
def test_target_from_explains_bad_urls(url: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        target_from(url)
    assert str(info.value) == message


def test_target_from_refuses_a_non_loopback_ip_that_looks_local() -> None:
    with pytest.raises(UsageError, match="not a loopback address"):
        target_from("http://10.0.0.1/webhook")
    with pytest.raises(UsageError, match="not a loopback address"):
        target_from("http://localhost.example.com/webhook")


def test_target_from_tells_wsgi_from_asgi() -> None:
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        return []

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        return None

    class SyncThreeArgs:
        def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
            return asgi(scope, receive, send)

    assert isinstance(target_from(wsgi), WsgiTarget)
    assert isinstance(target_from(asgi), AsgiTarget)
    assert isinstance(target_from(SyncThreeArgs()), AsgiTarget)
    assert isinstance(target_from(flask.Flask("x")), WsgiTarget)
    assert isinstance(target_from(Starlette()), AsgiTarget)
    assert isinstance(target_from(WSGIHandler.__new__(WSGIHandler)), WsgiTarget)
    assert isinstance(target_from(ASGIHandler.__new__(ASGIHandler)), AsgiTarget)


def test_target_from_explains_what_is_not_an_app() -> None:
    with pytest.raises(UsageError) as info:
        target_from({"app": 1})
    assert str(info.value) == (
        "{'app': 1} is a dict, not a WSGI or ASGI app; pass a URL "
        "(http://127.0.0.1:8000/webhook) or an app object"
    )
    with pytest.raises(UsageError) as info:
        target_from(flask.Flask)
    assert str(info.value) == (
        "<class 'flask.app.Flask'> is the class Flask, not an app; pass an instance (or load the "
        "factory with 'module:create_app()')"
    )

    def one_arg(request: Any) -> None:
        return None

    with pytest.raises(UsageError, match="is callable but neither a WSGI app"):
        target_from(one_arg)


# --- load_app -------------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A scratch project directory as the working directory; its modules are forgotten after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(project: Path, name: str, source: str) -> None:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))


def test_load_app_imports_from_the_working_directory(project: Path) -> None:
    write(
        project,
        "hooks_pkg/web.py",
        """
        import flask
        app = flask.Flask("web")

        async def asgi(scope, receive, send):
            pass

        def create_app(name="factory"):
            return flask.Flask(name)

        class holder:
            app = app
        """,
    )
    write(project, "hooks_pkg/__init__.py", "")

    wsgi = load_app("hooks_pkg.web:app")
    assert isinstance(wsgi, WsgiTarget)
    assert wsgi.describe() == "WSGI app hooks_pkg.web:app (in process)"
    assert isinstance(load_app("hooks_pkg.web:asgi"), AsgiTarget)
    assert isinstance(load_app("hooks_pkg.web:holder.app"), WsgiTarget)
    made = load_app("hooks_pkg.web:create_app()")
    assert isinstance(made, WsgiTarget)
    assert made.app.name == "factory"
    assert load_app("hooks_pkg.web:create_app('other')").app.name == "other"
    assert load_app("hooks_pkg.web:create_app(name='kw')").app.name == "kw"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "hooks_app",
            "cannot load the app 'hooks_app': expected 'package.module:attribute' "
            "(for example 'myproject.app:app' or 'myproject.app:create_app()')",
        ),
        (
            "hooks_app:create_app(os.environ)",
            "cannot load the app 'hooks_app:create_app(os.environ)': 'create_app(os.environ)' "
            "is not an attribute name or a factory call with literal arguments "
            "(for example 'app' or 'create_app()')",
        ),
        (
            "no_such_module_xyz:app",
            "cannot load the app 'no_such_module_xyz:app': there is no module named "
            "'no_such_module_xyz' (No module named 'no_such_module_xyz'); run from the "
            "directory that contains it, or install it",
        ),
        (
            "hooks_broken:app",
            "cannot load the app 'hooks_broken:app': importing 'hooks_broken' failed: "
            "ZeroDivisionError: division by zero",
        ),
        (
            "hooks_needs:app",
            "cannot load the app 'hooks_needs:app': importing 'hooks_needs' failed: "
            "ModuleNotFoundError: No module named 'missing_dependency_xyz'",
        ),
        (
            "hooks_app.sub:app",
            "cannot load the app 'hooks_app.sub:app': there is no module named 'hooks_app.sub' "
            "(No module named 'hooks_app.sub'; 'hooks_app' is not a package); run from the "
            "directory that contains it, or install it",
        ),
        (
            "hooks_needs_prefix:app",
            "cannot load the app 'hooks_needs_prefix:app': importing 'hooks_needs_prefix' "
            "failed: ModuleNotFoundError: No module named 'hooks_need'",
        ),
        (
            "hooks_app:ap",
            "cannot load the app 'hooks_app:ap': 'hooks_app' has no attribute 'ap'; "
            "did you mean 'app'?",
        ),
        (
            "hooks_app:settings",
            "'hooks_app:settings' is a dict, not a WSGI or ASGI app; pass a URL "
            "(http://127.0.0.1:8000/webhook) or an app object",
        ),
        (
            "hooks_app:settings()",
            "cannot load the app 'hooks_app:settings()': 'hooks_app.settings' is a dict, not a "
            "factory that can be called",
        ),
        (
            "hooks_app:failing_factory()",
            "cannot load the app 'hooks_app:failing_factory()': calling the factory "
            "'hooks_app.failing_factory' failed: RuntimeError: set STRIPE_API_KEY",
        ),
    ],
)
def test_load_app_errors_say_what_went_wrong(project: Path, spec: str, message: str) -> None:
    write(
        project,
        "hooks_app.py",
        """
        import flask
        app = flask.Flask("hooks")
        settings = {"debug": True}

        def failing_factory():
            raise RuntimeError("set STRIPE_API_KEY")
        """,
    )
    write(project, "hooks_broken.py", "1 / 0\n")
    write(project, "hooks_needs.py", "import missing_dependency_xyz\n")
    write(project, "hooks_needs_prefix.py", "import hooks_need\n")

    with pytest.raises(UsageError) as info:
        load_app(spec)
    assert str(info.value) == message


def test_load_app_wraps_an_error_raised_while_building_a_lazy_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lazy_app_mod.py").write_text(
        "def __getattr__(name):\n    raise RuntimeError('SECRET is not set; set it')\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UsageError) as err:
        load_app("lazy_app_mod:app")
    assert str(err.value) == (
        "cannot load the app 'lazy_app_mod:app': getting 'app' from 'lazy_app_mod' failed: "
        "RuntimeError: SECRET is not set; set it"
    )
