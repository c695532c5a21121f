"""The Starlette endpoint: ``await request.body()`` (the raw bytes) before verifying."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from endpoints.core import WebhookCore


def create_app(secret: str, *, bug: str | None = None) -> Starlette:
    """A Starlette app serving POST /webhook with :class:`WebhookCore` (``bug``: one of ``core.BUGS``)."""
    core = WebhookCore(secret, bug=bug)

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        # The handler calls the Stripe API synchronously: keep it off the event loop.
        status, payload = await run_in_threadpool(
            core.handle, body, request.headers.get("stripe-signature")
        )
        return JSONResponse(payload, status_code=status)

    app = Starlette(routes=[Route("/webhook", receive, methods=["POST"])])
    app.state.webhook_core = core
    return app
