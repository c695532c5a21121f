"""The HTTP request Stripe sends to a webhook endpoint, as data.

:func:`delivery_request` builds the exact request (method, URL, Stripe's header set in order, the
body bytes untouched) and :class:`DeliveryRequest` renders it three ways for humans and reports:
JSON, a ``curl`` command that replays it byte for byte, and raw HTTP/1.1 text. Nothing here does
I/O; :mod:`connect_harness.delivery` sends these requests.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from connect_harness import arguments
from connect_harness.errors import UsageError
from connect_harness.wire.signing import sign_payload
from connect_harness.wire.text_safety import refuse_unsafe_url

__all__ = [
    "DEFAULT_URL",
    "SIGNATURE_HEADER",
    "STRIPE_HEADERS",
    "DeliveryRequest",
    "SignableEvent",
    "delivery_request",
    "request_for_event",
]

DEFAULT_URL = "http://127.0.0.1:4242/webhook"
"""Where deliveries go unless told otherwise (the port ``stripe listen`` examples use)."""

STRIPE_HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Type", "application/json; charset=utf-8"),
    ("Cache-Control", "no-cache"),
    ("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
    ("Accept", "*/*; q=0.5, application/xml"),
)
"""Every header Stripe sends besides ``Stripe-Signature`` (and ``Host``/``Content-Length``)."""

SIGNATURE_HEADER = "Stripe-Signature"

# Headers curl adds on its own unless told otherwise; a request without one of them must tell curl
# to leave it out, or the replay would not be the request it claims to be.
_CURL_DEFAULT_HEADERS = ("Content-Type", "Accept", "User-Agent", "Expect")


# What a header name (a token) and a header value may not hold.
_BAD_NAME_CHAR = re.compile("[:\r\n\0 \t]")
_BAD_VALUE_CHAR = re.compile("[\r\n\0]")


def _is_header_pair(item: object) -> bool:
    return (
        isinstance(item, tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], str)
    )


@dataclass(frozen=True)
class DeliveryRequest:
    """One webhook delivery: what goes over the wire, byte for byte.

    ``headers`` keeps order and case as sent; ``Host`` and ``Content-Length`` are implied by
    ``url`` and ``body`` unless listed. Build with :func:`delivery_request`; derive variants with
    :meth:`replace`, :meth:`with_header` and :meth:`without_header`.
    """

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.body, bytes):
            raise UsageError(
                f"the request body is a {type(self.body).__name__}, not bytes; pass the exact "
                "bytes to send, e.g. text.encode('utf-8')."
            )
        arguments.text("method", self.method, example="POST")
        arguments.text("url", self.url, example="http://127.0.0.1:4242/webhook")
        if isinstance(self.headers, list):
            object.__setattr__(self, "headers", tuple(self.headers))
        if not isinstance(self.headers, tuple) or not all(map(_is_header_pair, self.headers)):
            raise UsageError(
                f"headers must be a tuple of (name, value) string pairs, not {self.headers!r:.80}; "
                "e.g. (('Stripe-Signature', 't=...'),)"
            )
        if not self.method or not self.method.isalpha():
            raise UsageError(
                f"the HTTP method {self.method!r} is not a method name; use e.g. 'POST'."
            )
        for name, value in self.headers:
            if not name or _BAD_NAME_CHAR.search(name):
                raise UsageError(
                    f"the header name {name!r} is not a valid HTTP header name; use a plain token "
                    "such as 'Stripe-Signature'."
                )
            if _BAD_VALUE_CHAR.search(value):
                raise UsageError(
                    f"the value of header {name!r} contains a line break or NUL, which would "
                    "smuggle extra headers into the request; remove it."
                )

    def header(self, name: str) -> str | None:
        """The value of the first header called ``name`` (any case), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def replace(
        self,
        *,
        method: str | None = None,
        url: str | None = None,
        headers: Iterable[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> DeliveryRequest:
        """A copy with the given fields changed."""
        return DeliveryRequest(
            method=self.method if method is None else method,
            url=self.url if url is None else url,
            headers=self.headers if headers is None else tuple(headers),
            body=self.body if body is None else body,
        )

    def without_header(self, name: str) -> DeliveryRequest:
        """A copy without any header called ``name`` (any case)."""
        wanted = name.lower()
        return self.replace(headers=[(k, v) for k, v in self.headers if k.lower() != wanted])

    def with_header(self, name: str, value: str) -> DeliveryRequest:
        """A copy where ``name`` has this one value: replaced in place if present, else appended."""
        wanted = name.lower()
        headers: list[tuple[str, str]] = []
        placed = False
        for key, old in self.headers:
            if key.lower() != wanted:
                headers.append((key, old))
            elif not placed:
                headers.append((key, value))
                placed = True
        if not placed:
            headers.append((name, value))
        return self.replace(headers=headers)

    def to_json(self) -> dict[str, Any]:
        """``{"method", "url", "headers", "body"}`` with the body as its exact UTF-8 text.

        A body that is not valid UTF-8 appears as ``"body_base64"`` instead of ``"body"``. A header
        sent more than once appears once, its values joined with ``", "`` as HTTP allows.
        """
        headers: dict[str, str] = {}
        for name, value in self.headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        rendered: dict[str, Any] = {"method": self.method, "url": self.url, "headers": headers}
        text = _utf8_or_none(self.body)
        if text is None:
            rendered["body_base64"] = base64.b64encode(self.body).decode("ascii")
        else:
            rendered["body"] = text
        return rendered

    def to_curl(self) -> str:
        """A POSIX ``sh`` command that delivers exactly these bytes and headers to ``url``.

        The body is piped from ``printf '%s'`` into ``--data-binary @-`` (``--data`` would strip
        newlines). curl's own ``Content-Type``, ``Accept`` and ``User-Agent`` are replaced by ours
        or suppressed, and ``Expect:`` is emptied so curl never waits for ``100 Continue``. A body
        that is not valid UTF-8 (or holds a NUL) cannot sit in a shell string; it is piped through
        ``base64 -d`` instead.
        """
        text = _utf8_or_none(self.body)
        if text is None or "\0" in text:
            encoded = base64.b64encode(self.body).decode("ascii")
            source = f"printf '%s' {_sh_quote(encoded)} | base64 -d"
        else:
            source = f"printf '%s' {_sh_quote(text)}"
        parts = ["curl", "-sS", "-i", "--http1.1"]
        parts += ["-X", _sh_quote(self.method), _sh_quote(self.url)]
        present = {name.lower() for name, _ in self.headers}
        for name, value in self.headers:
            # "Name:" would tell curl to drop the header; "Name;" sends it with an empty value.
            parts += ["-H", _sh_quote(f"{name}: {value}" if value else f"{name};")]
        for name in _CURL_DEFAULT_HEADERS:
            if name.lower() not in present:
                parts += ["-H", _sh_quote(f"{name}:")]
        parts += ["--data-binary", "@-"]
        return f"{source} | {' '.join(parts)}"

    def to_http(self) -> str:
        """The raw HTTP/1.1 request text: request line, headers, blank line, body (CRLF lines).

        ``Host`` and ``Content-Length`` are added unless listed. A body that is not valid UTF-8 is
        shown with ``\\xNN`` escapes; ``Content-Length`` still counts the real bytes.
        """
        parts = urlsplit(self.url)
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        present = {name.lower() for name, _ in self.headers}
        lines = [f"{self.method} {target} HTTP/1.1"]
        if "host" not in present:
            lines.append(f"Host: {parts.netloc.rpartition('@')[2]}")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if "content-length" not in present:
            lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines)
        return f"{head}\r\n\r\n{self.body.decode('utf-8', errors='backslashreplace')}"


class SignableEvent(Protocol):
    """Anything with the exact wire ``body`` and the parsed ``payload`` (e.g. an events.Event)."""

    @property
    def body(self) -> bytes: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...


def delivery_request(
    body: bytes,
    *,
    secrets: str | Sequence[str],
    timestamp: int,
    livemode: bool,
    url: str = DEFAULT_URL,
) -> DeliveryRequest:
    """The request Stripe sends to deliver ``body`` to ``url``, signed at ``timestamp``.

    One ``v1`` per secret (several model a rotation). Test-mode deliveries (``livemode=False``)
    also carry the ``v0`` signature, as Stripe's do.
    """
    if not isinstance(livemode, bool):
        raise UsageError(
            f"livemode must be True or False, not {livemode!r}; it decides whether the test-mode "
            "v0 signature is added."
        )
    _check_url(url)
    signature = sign_payload(body, secrets, timestamp=timestamp, v0=not livemode)
    return DeliveryRequest(
        method="POST",
        url=url,
        headers=(*STRIPE_HEADERS, (SIGNATURE_HEADER, signature)),
        body=bytes(body),
    )


def request_for_event(
    event: SignableEvent,
    *,
    secrets: str | Sequence[str],
    timestamp: int,
    url: str = DEFAULT_URL,
) -> DeliveryRequest:
    """:func:`delivery_request` for an event: its exact ``body``, live or test as it says."""
    livemode = event.payload.get("livemode")
    if not isinstance(livemode, bool):
        raise UsageError(
            f"the event's payload has livemode {livemode!r}, not true or false; every Stripe "
            "event says whether it is live, so set payload['livemode']."
        )
    return delivery_request(
        event.body, secrets=secrets, timestamp=timestamp, livemode=livemode, url=url
    )


# URLs that passed _check_url (a function of the URL alone): a run sends every delivery to one URL.
_CHECKED_URLS: set[str] = set()


def _check_url(url: str) -> None:
    if type(url) is str and url in _CHECKED_URLS:
        return
    _check_new_url(url)
    if type(url) is str and len(_CHECKED_URLS) < 256:
        _CHECKED_URLS.add(url)


def _check_new_url(url: str) -> None:
    if not isinstance(url, str):
        raise UsageError(
            f"url must be a string such as 'http://127.0.0.1:4242/webhook', not {url!r}"
        )
    refuse_unsafe_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port out of 0-65535 raises here)
    except ValueError as err:
        raise UsageError(
            f"the endpoint URL {url!r} is not a valid URL ({err}); use e.g. "
            "'http://127.0.0.1:4242/webhook'."
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"the endpoint URL {url!r} is not an http(s) URL with a host; "
            "use e.g. 'http://127.0.0.1:4242/webhook'."
        )
    if "[" in parts.netloc and ":" not in parts.hostname:
        # Python 3.11+ refuses '[127.0.0.1]' in urlsplit; 3.10 takes it: refuse it the same way.
        raise UsageError(
            f"the endpoint URL {url!r} is not a valid URL (square brackets hold an IPv6 address, "
            f"not {parts.hostname!r}); use e.g. 'http://127.0.0.1:4242/webhook'."
        )
    check_host(parts.hostname, url)


def check_host(host: str, url: str) -> None:
    """A host name DNS can carry (labels 1-63 characters) or an IP address; else UsageError."""
    try:
        ipaddress.ip_address(host)
        return
    except ValueError:
        pass
    try:
        host.encode("idna")
    except UnicodeError:
        raise UsageError(
            f"the host {host!r} of {url!r} is not a valid host name (each dot-separated label "
            "must be 1 to 63 characters); use e.g. 'http://127.0.0.1:4242/webhook'."
        ) from None


def _utf8_or_none(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _sh_quote(text: str) -> str:
    """Single-quote for POSIX sh: everything is literal inside, ``'`` becomes ``'\\''``."""
    return "'" + text.replace("'", "'\\''") + "'"
