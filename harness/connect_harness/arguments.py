"""Checks of the arguments the public Python API is called with.

A wrong type given to a public callable is a :class:`~connect_harness.errors.UsageError` naming the
argument, the value and what to pass instead (``livemode must be True or False, not 'yes'``), raised
where the call comes in, not a ``TypeError`` or ``AttributeError`` from deep inside. Every function
here returns the value it checked, so a call site reads ``seed = arguments.whole_number("seed", seed)``.
The ground layer, like :mod:`connect_harness.errors`: every layer may use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from connect_harness.errors import UsageError
from connect_harness.redaction import redact_credentials

__all__ = [
    "boolean",
    "callable_or_none",
    "has_attributes",
    "instance",
    "json_value",
    "mapping",
    "number",
    "seconds",
    "text",
    "texts",
    "whole_number",
]

T = TypeVar("T")

#: The longest time a seconds argument may be: a day (longer ones overflow the socket layer).
MAX_SECONDS = 86_400.0


def _fail(name: str, what: str, value: object, hint: str = "") -> UsageError:
    # The value may be (or hold) a secret: the message shows its kind, never the secret.
    shown = redact_credentials(repr(value))
    if len(shown) > 80:
        shown = f"{shown[:77]}..."
    return UsageError(f"{name} must be {what}, not {shown}{f'; {hint}' if hint else ''}")


def boolean(name: str, value: object) -> bool:
    """``value`` if it is True or False (``1`` and ``'yes'`` are not)."""
    if not isinstance(value, bool):
        raise _fail(name, "True or False", value)
    return value


def text(name: str, value: object, *, example: str, optional: bool = False) -> Any:
    """``value`` if it is a string (or None when ``optional``); ``example`` shows a good one."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        what = f"a string like {example!r}" + (" or None" if optional else "")
        raise _fail(name, what, value)
    return value


def texts(name: str, value: object, *, example: str, optional: bool = False) -> Any:
    """A tuple of strings from a list or tuple of them (a bare string is one, not its letters)."""
    if value is None and optional:
        return None
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
        isinstance(item, str) for item in value
    ):
        what = f"a string or a list of strings like [{example!r}]" + (
            " or None" if optional else ""
        )
        raise _fail(name, what, value)
    return tuple(value)


def whole_number(name: str, value: object, *, minimum: int = 0, optional: bool = False) -> Any:
    """``value`` if it is an int (not a bool) of at least ``minimum`` (or None when ``optional``)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = f"a whole number, {minimum} or more" + (" (or None)" if optional else "")
        raise _fail(name, what, value)
    return value


def seconds(name: str, value: object, *, optional: bool = False, zero: bool = False) -> Any:
    """A number of seconds above 0 (or 0 too, with ``zero``) and at most a day, as a float."""
    if value is None and optional:
        return None
    low = "0 or more" if zero else "above 0"
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or not (value >= 0 if zero else value > 0)
        or value > MAX_SECONDS
    ):
        raise _fail(name, f"a number of seconds {low} and at most {MAX_SECONDS:g}", value)
    return float(value)


def number(name: str, value: object) -> float:
    """``value`` if it is a number (int or float, not a bool, not NaN); its range is the caller's."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise _fail(name, "a number", value)
    return value


def mapping(name: str, value: object, *, example: str, optional: bool = True) -> Any:
    """``value`` if it is a mapping (a dict) (or None when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, Mapping):
        raise _fail(name, f"a dict like {example}" + (" or None" if optional else ""), value)
    return value


def instance(name: str, value: object, kinds: type[T] | tuple[type[Any], ...], *, hint: str) -> T:
    """``value`` if it is one of ``kinds``; ``hint`` says how to make one."""
    if not isinstance(value, kinds):
        names = kinds if isinstance(kinds, tuple) else (kinds,)
        what = " or ".join(f"a {kind.__name__}" for kind in names)
        raise _fail(name, what, value, hint)
    return value


def callable_or_none(name: str, value: object) -> Callable[..., Any] | None:
    """``value`` if it is a function (or None)."""
    if value is not None and not callable(value):
        raise _fail(name, "a function or None", value)
    return value


def has_attributes(name: str, value: object, attributes: Sequence[str], *, what: str) -> None:
    """``value`` has every one of ``attributes`` (a duck-typed argument); ``what`` names the kind."""
    if not all(hasattr(value, attribute) for attribute in attributes):
        raise _fail(name, what, value)


def json_value(name: str, value: Any, *, _path: str = "") -> Any:
    """``value`` if it can be sent as JSON: no NaN or infinite number (``1e99999`` reads as one),
    no lone surrogate in a string or key (it cannot be encoded as UTF-8)."""
    where = _path or "the value"
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(
            f"{name}: {where} is {value}, which JSON cannot hold; give a finite number or a string"
        )
    if isinstance(value, str):
        _utf8(name, where, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                _utf8(name, f"a key in {where}", key)
            elif key is not None and not isinstance(key, (bool, int, float)):
                raise UsageError(
                    f"{name}: a key in {where} is a {type(key).__name__}; JSON keys are strings"
                )
            json_value(name, item, _path=f"{_path}.{key}" if _path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            json_value(name, item, _path=f"{_path}[{index}]")
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise UsageError(
            f"{name}: {where} is a {type(value).__name__}, which JSON cannot hold; give a string, "
            "number, boolean, None, list or dict"
        )
    return value


def _utf8(name: str, where: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise UsageError(
            f"{name}: {where} holds {text[err.start]!r}, half of a surrogate pair, which is not "
            "text; write the character itself or its full pair (\\ud83d\\ude00)"
        ) from None
