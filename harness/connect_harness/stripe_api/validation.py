"""Request parameters as Stripe reads them, and Stripe's refusals of the ones it does not take.

:func:`parse_params` turns form-encoded pairs (``a[b]=1``, ``a[]=x``, ``a[0]=x``) into nested
values; :func:`validate_params` judges them against the operation's parameter schema from the
description (a compact node table, see :mod:`connect_harness.spec.routes`) and returns Stripe's
400 body for the first problem: an unknown parameter, an empty string for something that cannot be
unset, a malformed integer or boolean, a value outside an enum, a required parameter left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from connect_harness.stripe_api import bodies

__all__ = ["expand_paths", "parse_params", "validate_params"]

_KEY = re.compile(r"^([^\[\]]*)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")
_INTEGER = re.compile(r"^-?\d+$")
_MAX_DEPTH = 32
_NUMBER = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")


def parse_params(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Nest form pairs the way Stripe does: hashes for ``[key]``, arrays for ``[]`` and ``[0]``."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        match = _KEY.match(name)
        if match is None or not match.group(1):
            root[name] = value
            continue
        parts: list[str] = [match.group(1), *_PART.findall(match.group(2))]
        if len(parts) > _MAX_DEPTH:
            # No parameter of the description nests this deep (9 levels at most): the whole
            # name is an unknown parameter, rather than a recursion the fake cannot finish.
            root[name] = value
            continue
        target: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if isinstance(target, list):
                if part == "" or not part.isdigit():
                    if last:
                        target.append(value)
                        break
                    target.append({})
                    target = target[-1]
                    continue
                position = int(part)
                while len(target) <= position:
                    target.append(None)
                if last:
                    target[position] = value
                    break
                if not isinstance(target[position], (dict, list)):
                    target[position] = _container(parts[index + 1])
                target = target[position]
                continue
            if last:
                target[part] = value
                break
            child = target.get(part)
            if not isinstance(child, (dict, list)):
                child = target[part] = _container(parts[index + 1])
            target = child
    return {key: _compact(value) for key, value in root.items()}


def _container(next_part: str) -> dict[str, Any] | list[Any]:
    return [] if next_part == "" or next_part.isdigit() else {}


def _compact(value: Any) -> Any:
    if isinstance(value, list):
        return [_compact(item) for item in value if item is not None]
    if isinstance(value, dict):
        return {key: _compact(item) for key, item in value.items()}
    return value


def validate_params(
    params: dict[str, Any], root: int, nodes: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """Stripe's 400 body for the first parameter the operation does not take as given, or None."""
    node = nodes[root]
    properties: dict[str, int] = node.get("p", {})
    for name in params:
        if name not in properties:
            return bodies.unknown_parameter(name)
    for name, value in params.items():
        problem = _check(value, properties[name], nodes, name)
        if problem is not None:
            return problem
    for name in node.get("r", ()):
        if name not in params:
            return bodies.missing_parameter(name)
    return None


#: Parameters Stripe takes "" for though its description does not mark them unsettable: the
#: Stripe CLI's customer.discount.deleted fixture removes a customer's coupon with coupon="".
_UNSETTABLE = frozenset({"coupon"})


def _check(
    value: Any, index: int, nodes: Sequence[dict[str, Any]], name: str
) -> dict[str, Any] | None:
    node = nodes[index]
    types: list[str] = node.get("t", [])
    if isinstance(value, str):
        if value == "":
            # "" asks Stripe to unset: only parameters the description says can be unset take it.
            if "u" in node or not types or name in _UNSETTABLE:
                return None
            return bodies.invalid_value(name, "empty", value)
        if not types:
            return None
        if "string" in types:
            allowed = node.get("e")
            if allowed is not None and value not in allowed:
                if "integer" in types and _INTEGER.match(value):
                    return None
                return bodies.invalid_value(name, "enum", value, list(allowed))
            return None
        if "integer" in types:
            return None if _INTEGER.match(value) else bodies.invalid_value(name, "integer", value)
        if "number" in types:
            return None if _NUMBER.match(value) else bodies.invalid_value(name, "number", value)
        if "boolean" in types:
            if value in ("true", "false"):
                return None
            return bodies.invalid_value(name, "boolean", value)
        return bodies.invalid_value(name, types[0], value)
    if isinstance(value, dict):
        if types and "object" not in types:
            if "array" in types and all(key.isdigit() for key in value):
                return None
            return bodies.invalid_value(name, types[0], value)
        properties: dict[str, int] | None = node.get("p")
        extra: int | None = node.get("a")
        if extra is not None and (name == "metadata" or name.endswith("[metadata]")):
            problem = _metadata_problem(name, value)
            if problem is not None:
                return problem
        for key, item in value.items():
            child = f"{name}[{key}]"
            if properties is not None and key in properties:
                problem = _check(item, properties[key], nodes, child)
            elif extra is not None:
                # Free keys (metadata) take "" to remove the key.
                problem = None if item == "" else _check(item, extra, nodes, child)
            elif properties is not None:
                return bodies.unknown_parameter(child)
            else:
                problem = None
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        if types and "array" not in types:
            return bodies.invalid_value(name, types[0], value)
        items: int | None = node.get("i")
        if items is None:
            return None
        for position, item in enumerate(value):
            problem = _check(item, items, nodes, f"{name}[{position}]")
            if problem is not None:
                return problem
    return None


# https://docs.stripe.com/metadata: "up to 50 keys, with key names up to 40 characters long and
# values up to 500 characters long".
_METADATA_KEYS, _METADATA_KEY_LENGTH, _METADATA_VALUE_LENGTH = 50, 40, 500


def _invalid_request(message: str, param: str) -> dict[str, Any]:
    body = bodies.error("invalid_request_error", message)
    body["error"]["param"] = param
    return body


def _metadata_problem(name: str, value: dict[str, Any]) -> dict[str, Any] | None:
    """Stripe's limits on a metadata hash (``""`` values remove keys and do not count)."""
    kept = {key: item for key, item in value.items() if item != ""}
    if len(kept) > _METADATA_KEYS:
        return _invalid_request(
            f"Invalid {name}: metadata can have at most {_METADATA_KEYS} keys; this request "
            f"has {len(kept)}. Remove keys or keep the data elsewhere.",
            name,
        )
    for key, item in value.items():
        if len(key) > _METADATA_KEY_LENGTH:
            return _invalid_request(
                f"Invalid {name}: the key '{key}' is {len(key)} characters long; metadata keys "
                f"can be at most {_METADATA_KEY_LENGTH} characters.",
                f"{name}[{key}]",
            )
        if isinstance(item, str) and len(item) > _METADATA_VALUE_LENGTH:
            return _invalid_request(
                f"Invalid {name}[{key}]: the value is {len(item)} characters long; metadata "
                f"values can be at most {_METADATA_VALUE_LENGTH} characters.",
                f"{name}[{key}]",
            )
    return None


def expand_paths(params: dict[str, Any]) -> list[str]:
    """The ``expand[]`` values of the parsed parameters (Stripe takes a list or a single string)."""
    found = params.get("expand")
    if isinstance(found, str):
        return [found] if found else []
    if isinstance(found, list):
        return [item for item in found if isinstance(item, str) and item]
    if isinstance(found, dict):
        return [item for item in found.values() if isinstance(item, str) and item]
    return []
