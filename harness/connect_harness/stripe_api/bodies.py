"""Stripe's error bodies, exactly as the fake API renders them.

Each function returns the JSON body of one kind of error Stripe answers, with Stripe's ``type``,
``code``, ``param``, ``doc_url`` and message wording, so the SDKs raise the same exception classes
with the same messages they raise in production.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "error",
    "expand_too_deep",
    "idempotency_key_too_long",
    "idempotency_mismatch",
    "invalid_api_version",
    "invalid_value",
    "missing_parameter",
    "no_access",
    "no_such",
    "not_expandable",
    "redact",
    "render",
    "unknown_parameter",
    "unrecognized",
]

_KEY_PREFIX = re.compile(r"^[a-z]+_(?:(?:test|live)_)?")
_DOCS = "https://stripe.com/docs/error-codes/"


def render(body: Mapping[str, Any]) -> str:
    """Stripe's rendering: 2-space JSON and a trailing newline."""
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def error(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    """``{"error": {...}}`` with the extra fields (``code``, ``param``, ``doc_url``) first."""
    return {"error": {**extra, "message": message, "type": kind}}


def _coded(code: str, message: str, param: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {"code": code, "doc_url": _DOCS + code.replace("_", "-")}
    body = error("invalid_request_error", message, **extra)
    if param is not None:
        body["error"]["param"] = param
        body["error"] = dict(sorted(body["error"].items()))
    return body


def redact(key: str) -> str:
    """``sk_test_****************1234``: the prefix and last four characters, as Stripe shows."""
    prefix_match = _KEY_PREFIX.match(key)
    prefix = prefix_match.group(0) if prefix_match else ""
    rest = key[len(prefix) :]
    if len(rest) <= 4:
        return prefix + "*" * len(rest)
    return prefix + "*" * (len(rest) - 4) + rest[-4:]


def no_such(noun: str, object_id: str, *, exists_in: str | None = None) -> dict[str, Any]:
    """404 ``resource_missing``: ``No such customer: 'cus_...'`` (with the other-mode hint)."""
    message = f"No such {noun}: '{object_id}'"
    if exists_in is not None:
        other = "test" if exists_in == "live" else "live"
        message += (
            f"; a similar object exists in {exists_in} mode, but a {other} mode key was used to "
            "make this request."
        )
    return _coded("resource_missing", message, "id")


def no_access(key: str, account: str) -> dict[str, Any]:
    """403 ``account_invalid``: the account is not connected, or it revoked the platform's access."""
    return error(
        "invalid_request_error",
        f"The provided key '{redact(key)}' does not have access to account '{account}' (or that "
        "account does not exist). Application access may have been revoked.",
        code="account_invalid",
        doc_url=_DOCS + "account-invalid",
    )


def unrecognized(method: str, path: str) -> dict[str, Any]:
    return error(
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we "
        "can help at https://support.stripe.com/.",
    )


def idempotency_mismatch(key: str) -> dict[str, Any]:
    return error(
        "idempotency_error",
        "Keys for idempotent requests can only be used with the same parameters they were first "
        f"used with. Try using a key other than '{key}' if you meant to execute a different "
        "request.",
    )


def idempotency_key_too_long(key: str) -> dict[str, Any]:
    return error(
        "invalid_request_error",
        f"Invalid Idempotency-Key: '{key[:20]}...' is {len(key)} characters long; keys can be at "
        "most 255 characters long.",
    )


def invalid_api_version(version: str) -> dict[str, Any]:
    return error("invalid_request_error", f"Invalid Stripe API version: {version}")


def unknown_parameter(name: str) -> dict[str, Any]:
    """400 ``parameter_unknown``: ``Received unknown parameter: X``."""
    return _coded("parameter_unknown", f"Received unknown parameter: {name}", name)


def missing_parameter(name: str) -> dict[str, Any]:
    """400 ``parameter_missing``: ``Missing required param: X.``."""
    return _coded("parameter_missing", f"Missing required param: {name}.", name)


def invalid_value(
    name: str, kind: str, value: Any, allowed: list[str] | None = None
) -> dict[str, Any]:
    """400 for a value of the wrong type or outside an enum, in Stripe's wording for each case."""
    if kind == "empty":
        return _coded(
            "parameter_invalid_empty",
            f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
            f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' "
            "from your request or supply a non-empty value.",
            name,
        )
    if kind == "integer":
        return _coded("parameter_invalid_integer", f"Invalid integer: {_text(value)}", name)
    if kind == "enum" and allowed is not None:
        if len(allowed) <= 2:
            options = " or ".join(allowed)
        else:
            options = ", ".join(allowed[:-1]) + f", or {allowed[-1]}"
        body = error("invalid_request_error", f"Invalid {name}: must be one of {options}")
    else:
        label = {"number": "decimal", "object": "hash"}.get(kind, kind)
        body = error("invalid_request_error", f"Invalid {label}: {_text(value)}")
    body["error"]["param"] = name
    body["error"] = dict(sorted(body["error"].items()))
    return body


def not_expandable(path: str) -> dict[str, Any]:
    body = error("invalid_request_error", f"This property cannot be expanded ({path}).")
    body["error"]["param"] = "expand"
    return body


def expand_too_deep(path: str) -> dict[str, Any]:
    body = error(
        "invalid_request_error",
        f"You cannot expand more than 4 levels of a property. Property: {path}",
    )
    body["error"]["param"] = "expand"
    return body


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
