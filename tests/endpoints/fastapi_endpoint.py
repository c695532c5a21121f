"""The FastAPI endpoint: ``await request.body()`` (the raw bytes, never a pydantic model) before
verifying; the Stripe calls run in the thread pool, off the event loop."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from endpoints.core import TEST_SECRET, WebhookCore


def create_app(
    secret: str = TEST_SECRET, *, bug: str | None = None, defer: float | None = None, **core: Any
) -> FastAPI:
    """A FastAPI app serving POST /webhook with :class:`WebhookCore` (``bug``: one of
    ``core.BUGS``; ``defer``: answer first, act that many seconds later; ``core``: other
    :class:`WebhookCore` fields, e.g. ``reads_only=True``)."""
    webhook = WebhookCore(secret, bug=bug, defer=defer, **core)
    app = FastAPI()
    app.state.webhook_core = webhook

    @app.post("/webhook")
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        status, payload = await run_in_threadpool(
            webhook.handle, body, request.headers.get("stripe-signature")
        )
        return JSONResponse(payload, status_code=status)

    return app
