"""The Django endpoint: a csrf-exempt function view reading ``request.body`` (the raw bytes).

Django keeps its settings process-wide, so they are configured once, in code, with this module as the
URLconf; ``create_app`` swaps the handler the view uses.
"""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from endpoints.core import WebhookCore

_current: dict[str, WebhookCore] = {}


@csrf_exempt
@require_POST
def webhook(request: HttpRequest) -> JsonResponse:
    """POST /webhook."""
    core = _current["core"]
    status, body = core.handle(request.body, request.headers.get("Stripe-Signature"))
    return JsonResponse(body, status=status)


urlpatterns: list[Any] = [path("webhook", webhook)]


def create_app(secret: str) -> WSGIHandler:
    """Django's WSGI handler serving POST /webhook with a correct :class:`WebhookCore`."""
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="connect-harness-tests-not-secret",
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
            APPEND_SLASH=False,
            INSTALLED_APPS=[],
            USE_TZ=True,
        )
        django.setup()
    _current["core"] = WebhookCore(secret)
    return WSGIHandler()


def current_core() -> WebhookCore:
    """The handler behind the app ``create_app`` returned last."""
    return _current["core"]
