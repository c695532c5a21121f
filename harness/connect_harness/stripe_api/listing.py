"""List and search answers as Stripe pages them: ``limit``, cursors, ``has_more``, ``next_page``.

A list (``GET /v1/customers``) is ``{"object": "list", "data", "has_more", "url"}``, newest first;
``starting_after`` gives the page after an object, ``ending_before`` the page before it, and
``has_more`` is true only when more objects lie beyond the page in that direction
(https://docs.stripe.com/api/pagination). A search (``GET /v1/customers/search``) is
``{"object": "search_result", "data", "has_more", "next_page", "url"}``, paged with ``page`` (the
``next_page`` of the previous answer); ``total_count`` is included only when expanded
(https://docs.stripe.com/api/pagination/search). What Stripe refuses is refused the same way:
``limit`` outside 1-100, both cursors at once, a cursor naming no object of the list, a ``page``
that is not one this fake handed out, and a malformed search query
(:mod:`connect_harness.stripe_api.search`).
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping, Sequence
from typing import Any

from connect_harness.stripe_api import bodies
from connect_harness.stripe_api.search import SearchError, parse_query

__all__ = ["ListProblem", "included_list", "page_of", "paging_problem", "search_page_of"]

_PAGING = frozenset({"limit", "starting_after", "ending_before", "expand", "page", "query"})


class ListProblem(Exception):
    """A list or search request Stripe answers with a 400; ``body`` is that answer."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["error"]["message"])
        self.body = body


def _invalid(message: str, param: str, code: str | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if code is not None:
        extra = {
            "code": code,
            "doc_url": "https://stripe.com/docs/error-codes/" + code.replace("_", "-"),
        }
    body = bodies.error("invalid_request_error", message, **extra)
    body["error"]["param"] = param
    return body


def _limit(params: Mapping[str, Any]) -> int:
    raw = params.get("limit")
    if raw is None or raw == "":
        return 10
    try:
        limit = int(str(raw))
    except ValueError:
        # validate_params refuses a malformed integer first; this guards direct callers.
        raise ListProblem(
            _invalid(f"Invalid integer: {raw}", "limit", "parameter_invalid_integer")
        ) from None
    if not 1 <= limit <= 100:
        raise ListProblem(
            _invalid(
                "Invalid limit: must be between 1 and 100", "limit", "parameter_invalid_integer"
            )
        )
    return limit


def paging_problem(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """Stripe's 400 for a ``limit`` or cursor combination it refuses, before any lookup."""
    try:
        _limit(params)
    except ListProblem as problem:
        return problem.body
    after, before = params.get("starting_after"), params.get("ending_before")
    if after and before:
        return _invalid(
            "You may only specify one of these parameters: ending_before, starting_after.",
            "ending_before",
        )
    return None


def page_of(
    found: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    path: str,
    noun: str,
) -> dict[str, Any]:
    """The list page of ``found`` (every visible object, newest first) that ``params`` ask for.

    Simple equality filters (``customer=cus_...``, ``status=open``) keep the objects whose field
    of that name holds the value; a cursor is placed among all visible objects, filtered or not.
    Raises :class:`ListProblem` for what Stripe refuses.
    """
    problem = paging_problem(params)
    if problem is not None:
        raise ListProblem(problem)
    limit = _limit(params)
    ids = [obj.get("id") for obj in found]
    after, before = params.get("starting_after"), params.get("ending_before")
    cursor, param = (after, "starting_after") if after else (before, "ending_before")
    start, stop = 0, len(found)
    if isinstance(cursor, str) and cursor:
        if cursor not in ids:
            raise ListProblem(_invalid(f"No such {noun}: '{cursor}'", param, "resource_missing"))
        position = ids.index(cursor)
        if after:
            start = position + 1
        else:
            stop = position
    filters = {
        name: value
        for name, value in params.items()
        if isinstance(value, str) and name not in _PAGING
    }
    window = [obj for obj in found[start:stop] if _passes(obj, filters)]
    if before:
        page = window[-limit:]
        more = len(window) > limit
    else:
        page = window[:limit]
        more = len(window) > limit
    return {"object": "list", "data": copy.deepcopy(page), "has_more": more, "url": path}


def search_page_of(
    found: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    path: str,
) -> dict[str, Any]:
    """The search page of ``found`` (newest first) that ``query``, ``page`` and ``limit`` ask for."""
    limit = _limit(params)
    resource = path.rstrip("/").split("/")[-2]
    query = params.get("query")
    try:
        parsed = parse_query(query if isinstance(query, str) else "", resource)
    except SearchError as err:
        raise ListProblem(_invalid(err.message, "query")) from None
    matching = [obj for obj in found if parsed.matches(obj)]
    offset = _page_offset(params.get("page"))
    page = matching[offset : offset + limit]
    more = len(matching) > offset + limit
    body: dict[str, Any] = {
        "object": "search_result",
        "data": copy.deepcopy(page),
        "has_more": more,
        "next_page": _page_token(offset + limit) if more else None,
        "url": path,
    }
    if "total_count" in _expanded(params):
        body["total_count"] = len(matching)
    return body


def included_list(found: Sequence[Mapping[str, Any]], url: str) -> dict[str, Any]:
    """An expanded list field (a customer's ``sources``, a session's ``line_items``): its first
    page, as the list at ``url`` gives it by default (10 objects, newest first)."""
    return {
        "object": "list",
        "data": copy.deepcopy(list(found[:10])),
        "has_more": len(found) > 10,
        "url": url,
    }


def _expanded(params: Mapping[str, Any]) -> list[str]:
    found = params.get("expand")
    if isinstance(found, str):
        return [found]
    if isinstance(found, list):
        return [item for item in found if isinstance(item, str)]
    if isinstance(found, Mapping):
        return [item for item in found.values() if isinstance(item, str)]
    return []


_TOKEN_PREFIX = "connect_harness:"


def _page_token(offset: int) -> str:
    raw = f"{_TOKEN_PREFIX}{offset}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _page_offset(page: Any) -> int:
    if page is None or page == "":
        return 0
    text = str(page)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    if raw.startswith(_TOKEN_PREFIX) and raw[len(_TOKEN_PREFIX) :].isdigit():
        return int(raw[len(_TOKEN_PREFIX) :])
    raise ListProblem(
        _invalid(
            f"Invalid page: {text}. Pass the next_page value of a previous search result, "
            "or leave page out for the first page.",
            "page",
        )
    )


def _passes(obj: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    return all(name not in obj or _form_text(obj[name]) == value for name, value in filters.items())


def _form_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return str(value.get("id", ""))
    return "" if value is None else str(value)
