"""Stripe's search query language: parse a ``query`` and match stored objects against it.

Grammar and rules from https://docs.stripe.com/search#search-query-language:

- a clause is ``field``, an operator and a value: ``email:"amy@rocketrides.io"``;
- ``:`` matches exactly, ``~`` matches a substring of at least 3 characters (string fields only);
  ``>``, ``<``, ``>=``, ``<=`` (and ``=``) compare numeric fields;
- ``-`` before a clause negates it; ``null`` as the value matches a field that has none;
- ``metadata["key"]:"value"`` matches one metadata key (single quotes work too);
- clauses are joined by spaces or ``AND`` (the default) or ``OR`` (case-insensitive); ``AND`` and
  ``OR`` are mutually exclusive in one query, and there is no grouping with parentheses.

The fields each resource supports are :data:`FIELDS` (the "Query fields for ..." tables of the
same page; see docs/fake-api-protocol.md). A field outside the table, a clause that does not parse,
``AND`` mixed with ``OR``, or a comparison on a field that is not numeric is Stripe's 400.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FIELDS", "Clause", "Query", "SearchError", "parse_query"]

#: resource (the path segment before ``/search``) -> field -> kind (string, numeric, boolean,
#: token). From https://docs.stripe.com/search#query-fields ("Query fields for Charges", ...).
FIELDS: Mapping[str, Mapping[str, str]] = {
    "charges": {
        "amount": "numeric",
        "billing_details.address.postal_code": "string",
        "created": "numeric",
        "currency": "string",
        "customer": "string",
        "disputed": "boolean",
        "metadata": "token",
        "payment_method_details.card.last4": "string",
        "payment_method_details.card.exp_month": "string",
        "payment_method_details.card.exp_year": "string",
        "payment_method_details.card.brand": "string",
        "payment_method_details.card.fingerprint": "string",
        "payment_method_details.card_present.last4": "string",
        "payment_method_details.card_present.exp_month": "string",
        "payment_method_details.card_present.exp_year": "string",
        "payment_method_details.card_present.brand": "string",
        "payment_method_details.card_present.fingerprint": "string",
        "payment_method_details.interac_present.last4": "string",
        "payment_method_details.interac_present.exp_month": "string",
        "payment_method_details.interac_present.exp_year": "string",
        "payment_method_details.interac_present.brand": "string",
        "payment_method_details.interac_present.fingerprint": "string",
        "refunded": "boolean",
        "status": "string",
    },
    "customers": {
        "created": "numeric",
        "email": "string",
        "metadata": "token",
        "name": "string",
        "phone": "string",
    },
    "invoices": {
        "created": "numeric",
        "currency": "string",
        "customer": "string",
        "last_finalization_error_code": "string",
        "last_finalization_error_type": "string",
        "metadata": "token",
        "number": "string",
        "receipt_number": "string",
        "status": "string",
        "subscription": "string",
        "total": "numeric",
    },
    "payment_intents": {
        "amount": "numeric",
        "created": "numeric",
        "currency": "string",
        "customer": "string",
        "metadata": "token",
        "status": "string",
    },
    "prices": {
        "active": "boolean",
        "currency": "string",
        "lookup_key": "string",
        "metadata": "token",
        "product": "string",
        "type": "string",
    },
    "products": {
        "active": "boolean",
        "description": "string",
        "metadata": "token",
        "name": "string",
        "shippable": "boolean",
        "url": "string",
    },
    "subscriptions": {
        "created": "numeric",
        "metadata": "token",
        "status": "string",
    },
}

_DOCS = "https://stripe.com/docs/search"

# One clause: optional "-", a field (dotted, or metadata["key"]), an operator, a value.
_CLAUSE = re.compile(
    r"""\s*(?P<neg>-)?
    (?P<field>metadata\[(?P<q>["'])(?P<key>(?:\\.|(?!(?P=q)).)*)(?P=q)\]|[A-Za-z_][A-Za-z0-9_.]*)
    (?P<op>>=|<=|:|~|>|<|=)
    (?P<value>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^\s"'()]+)""",
    re.VERBOSE,
)
_JOIN = re.compile(r"\s+(AND|OR)\s+|\s+", re.IGNORECASE)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


class SearchError(Exception):
    """A query Stripe refuses; ``message`` is Stripe's wording for it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Clause:
    negated: bool
    field: str
    #: The metadata key, for ``metadata["key"]`` clauses.
    key: str | None
    operator: str
    #: None for ``null``.
    value: str | None
    kind: str

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return self._test(obj) != self.negated

    def _test(self, obj: Mapping[str, Any]) -> bool:
        if self.key is not None:
            metadata = obj.get("metadata")
            found = metadata.get(self.key) if isinstance(metadata, Mapping) else None
        else:
            found = _lookup(obj, self.field)
        if self.value is None:
            return found is None or found == ""
        if found is None:
            return False
        if self.kind == "numeric":
            number = _as_number(found)
            wanted = float(self.value)
            if number is None:
                return False
            return {
                ":": number == wanted,
                "=": number == wanted,
                ">": number > wanted,
                "<": number < wanted,
                ">=": number >= wanted,
                "<=": number <= wanted,
            }[self.operator]
        if isinstance(found, Mapping):
            found = found.get("id")
        text = "true" if found is True else "false" if found is False else str(found)
        if self.kind == "token":
            return text == self.value
        if self.operator == "~":
            return self.value.lower() in text.lower()
        return text.lower() == self.value.lower()


@dataclass(frozen=True)
class Query:
    clauses: tuple[Clause, ...]
    any_of: bool

    def matches(self, obj: Mapping[str, Any]) -> bool:
        results = (clause.matches(obj) for clause in self.clauses)
        return any(results) if self.any_of else all(results)


def parse_query(query: str, resource: str) -> Query:
    """The parsed ``query`` for ``resource`` (``customers``...), or :class:`SearchError`."""
    fields = FIELDS.get(resource)
    text = query.strip()
    if not text:
        raise SearchError(_unparsable())
    clauses: list[Clause] = []
    joins: set[str] = set()
    position = 0
    while True:
        match = _CLAUSE.match(text, position)
        if match is None:
            raise SearchError(_unparsable())
        clauses.append(_clause(match, fields, resource))
        position = match.end()
        if position == len(text):
            break
        join = _JOIN.match(text, position)
        if join is None:
            raise SearchError(_unparsable())
        joins.add((join.group(1) or "AND").upper())
        position = join.end()
        if position == len(text):
            raise SearchError(_unparsable())
    if len(joins) > 1:
        raise SearchError(
            "The search query cannot mix AND and OR: they are mutually exclusive. Use one "
            "of them throughout the query."
        )
    return Query(tuple(clauses), joins == {"OR"})


def _clause(match: re.Match[str], fields: Mapping[str, str] | None, resource: str) -> Clause:
    field = match.group("field")
    key = match.group("key")
    name = "metadata" if key is not None else field
    kind = (fields or {}).get(name)
    if fields is not None and kind is None:
        raise SearchError(
            f"Field `{name}` is an unsupported search field for resource `{resource}`. See "
            f"{_DOCS}#query-fields-for-{resource.replace('_', '-')} for a list of supported "
            "fields."
        )
    kind = kind or "string"
    if name == "metadata" and key is None:
        raise SearchError(_unparsable())
    operator = match.group("op")
    raw = match.group("value")
    value: str | None
    if raw[0] in "\"'":
        value = re.sub(r"\\(.)", r"\1", raw[1:-1])
    else:
        value = None if raw == "null" else raw
    if operator in (">", "<", ">=", "<=", "="):
        if kind != "numeric" or value is None or not _NUMBER.match(value):
            raise SearchError(
                f"The operator `{operator}` can only be used with a number on a numeric field; "
                f"`{name}` is a {kind} field."
                if kind != "numeric"
                else f"The operator `{operator}` needs a number; got `{raw}` for `{name}`."
            )
    elif kind == "numeric" and value is not None and not _NUMBER.match(value):
        raise SearchError(f"`{name}` is a numeric field; `{raw}` is not a number.")
    if operator == "~":
        if kind not in ("string",) or value is None:
            raise SearchError(f"Substring matching (`~`) is not supported for the field `{name}`.")
        if len(value) < 3:
            raise SearchError(
                f"Substring matching (`~`) needs at least 3 characters; got `{value}` for `{name}`."
            )
    return Clause(bool(match.group("neg")), name, key, operator, value, kind)


def _unparsable() -> str:
    return (
        "We were unable to parse your search query. Try using the format "
        '`metadata["key"]:"value"` to query for metadata or `key:"value"` to query for other '
        "fields."
    )


def _lookup(obj: Mapping[str, Any], path: str) -> Any:
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return None
