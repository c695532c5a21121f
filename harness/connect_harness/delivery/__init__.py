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

from connect_harness import arguments
from connect_harness.delivery.asgi import AsgiTarget
from connect_harness.delivery.base import DeliveryRequestLike, Response
from connect_harness.delivery.load import load_app, target_from
from connect_harness.delivery.url import UrlTarget, _deliver_url
from connect_harness.delivery.wsgi import WsgiTarget, _deliver_wsgi
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

Target = UrlTarget | WsgiTarget | AsgiTarget


def deliver(request: DeliveryRequestLike, target: Target, *, timeout: float = 30.0) -> Response:
    """Send ``request`` to ``target`` once, exactly as given, and return what came back.

    For a :class:`UrlTarget` the target's URL says where the request goes (the request's own ``url``
    is ignored); for in-process targets the request's ``url`` supplies the path and query string the
    app sees. ``timeout`` (seconds) is the socket timeout for URLs and the time an ASGI app gets to
    finish its response; a WSGI app runs in the calling thread and cannot be interrupted, so for it
    ``elapsed`` is only measured. Never follows redirects: a 3xx is the response. For a URL the
    timeout bounds the whole delivery, connecting to the last byte; at most
    :data:`~connect_harness.delivery.base.KEEP_BYTES` of the answer is kept (``Response.size`` says
    how much came).
    """
    _check_timeout(timeout)
    arguments.has_attributes(
        "request",
        request,
        ("method", "url", "headers", "body"),
        what="a DeliveryRequest (make one with delivery_request(...))",
    )
    if isinstance(target, UrlTarget):
        return _deliver_url(request, target.url, timeout)
    if isinstance(target, WsgiTarget):
        return _deliver_wsgi(request, target.app)
    if isinstance(target, AsgiTarget):
        return target._runner.deliver(request, timeout)
    raise UsageError(
        f"deliver() needs a UrlTarget, WsgiTarget or AsgiTarget as target, not {target!r}; "
        "make one with target_from(url_or_app)"
    )


#: The longest timeout a delivery takes: a day (longer ones overflow the socket layer).
MAX_TIMEOUT = 86_400.0


def _check_timeout(timeout: object) -> None:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout <= MAX_TIMEOUT
    ):
        raise UsageError(
            f"timeout {timeout!r} is not a number of seconds above 0 and at most {MAX_TIMEOUT:g}; "
            "pass e.g. timeout=30"
        )
